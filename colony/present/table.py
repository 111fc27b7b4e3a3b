"""The ``colony ls`` table's cells as strings, and the table as plain text (issue 15).

:func:`colony.present.format_table` styles these same cells for a terminal; where no styles
are shown (a pipe), :func:`plain_table` writes the table without rich, which ``colony ls``
would otherwise load for it (:mod:`colony.cli.quick`). Loads no rich.

Example:
    >>> print(plain_table([], 0.0))
    no colonies (spawn one with 'colony spawn NAME')
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from colony.core.notices import exit_text
from colony.core.states import shown_state
from colony.present.text import format_age

if TYPE_CHECKING:
    from colony.contract_responses import Colony, Service

EMPTY = "no colonies (spawn one with 'colony spawn NAME')"
COLUMNS = ("NAME", "STATE", "SERVICES", "OWNER", "CREATED", "ADDRESS")

# One service in the SERVICES column: its label ("web:3000"), state, and the state as shown
# ("backoff (exit 1)").
ServiceCell = tuple[str, str, str]
# One colony's row: name, shown state, services, owner, created, address.
Row = tuple[str, str, list[ServiceCell], str, str, str]


def service_state_text(state: str | None, exit_code: int | None) -> str:
    """``"backoff (exit 1)"``: a service's state, with how it last exited."""
    state = state or "?"
    if exit_code is not None and state != "running":
        return f"{state} ({exit_text(exit_code)})"
    return state


def service_cells(services: Sequence[Service]) -> list[ServiceCell]:
    return [
        (
            f"{svc.name}:{svc.port}" if svc.port is not None else svc.name,
            svc.state or "?",
            service_state_text(svc.state, svc.exit_code),
        )
        for svc in services
    ]


def table_rows(colonies: Sequence[Colony], now: float) -> list[Row]:
    """The rows of the ``colony ls`` table, by name."""
    return [
        (
            col.name,
            shown_state(col.state, col.degraded),
            service_cells(col.services),
            col.owner or "-",
            format_age(col.created, now) if col.created else "-",
            col.address or "-",
        )
        for col in sorted(colonies, key=lambda c: c.name)
    ]


def plain_table(colonies: Sequence[Colony], now: float) -> str | None:
    """The ``colony ls`` table without styles, as rich writes :func:`format_table`'s Text to
    a pipe; None if a cell is not printable ASCII (rich measures and cleans those)."""
    if not colonies:
        return EMPTY
    rows = [list(COLUMNS)]
    for name, state, services, owner, created, address in table_rows(colonies, now):
        shown = ", ".join(f"{label} {text}" for label, _, text in services) or "-"
        rows.append([name, state, shown, owner, created, address])
    return plain_grid(rows)


def plain_grid(rows: Sequence[Sequence[str]]) -> str | None:
    """:func:`colony.present.grid`'s columns as rich writes them to a pipe; None if a cell
    is not printable ASCII (rich measures and cleans those)."""
    if not all(cell.isascii() and cell.isprintable() for row in rows for cell in row):
        return None
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ("".join(c.ljust(w + 2) for c, w in zip(row, widths, strict=True)) for row in rows)
    return "\n".join(line.rstrip() for line in lines)
