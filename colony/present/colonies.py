"""Colonies as the API describes them (:class:`colony.contract_responses.Colony`), as Text:
their state, services, limits, the ``colony ls`` table and the ``colony show`` page."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from rich.text import Text

from colony.contract_responses import Colony, Containment, Limits, SecretInfo, Service
from colony.core.resources import format_size
from colony.core.states import shown_state
from colony.present.table import (
    COLUMNS,
    ServiceCell,
    service_cells,
    service_state_text,
    table_rows,
)
from colony.present.table import EMPTY as EMPTY
from colony.present.text import dash, format_age, format_clock, format_duration, grid, header

if TYPE_CHECKING:
    from datetime import tzinfo

STATE_STYLES = {
    "running": "green",
    "degraded": "bold yellow",
    "stopped": "dim",
    "stopping": "yellow",
    "failed": "bold red",
}
SERVICE_STYLES = {
    "running": "green",
    "backoff": "yellow",
    "stopping": "yellow",
    "stopped": "dim",
    "exited": "dim",
    "fatal": "bold red",
}


def format_state(state: str) -> Text:
    return Text(state, style=STATE_STYLES.get(state, "cyan"))


def format_service_state(state: str | None, exit_code: int | None) -> Text:
    """``"backoff (exit 1)"``: a service's state (colored), with how it last exited."""
    return Text(
        service_state_text(state, exit_code), style=SERVICE_STYLES.get(state or "?", "cyan")
    )


def format_colony_state(colony: Colony) -> Text:
    """A colony's state as front ends show it: ``degraded`` while a service gave up."""
    return format_state(shown_state(colony.state, colony.degraded))


def format_services(services: Sequence[Service]) -> Text:
    """``"web:3000 running, worker running"`` (states colored), or ``"-"``."""
    return _services_text(service_cells(services))


def _services_text(cells: Sequence[ServiceCell]) -> Text:
    if not cells:
        return Text("-")
    out = Text()
    for i, (label, state, shown) in enumerate(cells):
        if i:
            out.append(", ")
        out.append(f"{label} ")
        out.append(shown, style=SERVICE_STYLES.get(state, "cyan"))
    return out


def format_table(colonies: Sequence[Colony], now: float) -> Text:
    """The ``colony ls`` table: NAME, STATE, SERVICES, OWNER, CREATED, ADDRESS
    (:func:`colony.present.table.plain_table` without styles)."""
    if not colonies:
        return Text(EMPTY)
    rows = [header(*COLUMNS)]
    for name, state, services, owner, created, address in table_rows(colonies, now):
        rows.append(
            [
                Text(name),
                format_state(state),
                _services_text(services),
                Text(owner),
                Text(created),
                Text(address),
            ]
        )
    return grid(rows)


def _state_line(state: str, step: str | None, reason: str | None) -> Text:
    text = format_state(state)
    if step:
        text.append(f" at {step}" if state == "failed" else f" ({step})")
    if reason:
        text.append(f": {reason}")
    return text


def format_colony(colony: Colony, now: float, tz: tzinfo | None = None) -> Text:
    """``colony show``: state, places, services and the timeline of one colony."""
    c = colony
    out = Text.assemble((c.name, "bold"), "  ")
    if format_colony_state(c).plain == "degraded":  # issue 12: running, but a service gave up
        out.append_text(format_colony_state(c))
        out.append(f" (running; gave up: {', '.join(c.degraded)})")
    else:
        out.append_text(_state_line(c.state, c.step, c.reason))
    repo = c.repo + (f" @ {c.rev}" if c.rev else "")
    fields = [
        ("owner", c.owner),
        (
            "created",
            c.created
            and f"{format_clock(c.created, tz, date=True)} ({format_age(c.created, now)})",
        ),
        ("repo", c.repo and repo + (f" ({c.vcs})" if c.vcs else "")),
        ("workspace", c.workspace),
        ("branch", c.branch and c.branch + (f" (base {c.base[:12]})" if c.base else "")),
        ("data dir", c.data_dir),
        ("db", c.db),
        ("address", c.address and c.address + (f" (netns {c.netns})" if c.netns else "")),
        ("sandbox", format_sandbox(c)),
        ("runs as", format_user(c.containment)),
        ("limits", format_limits(c.limits, c.containment)),
        ("secrets", format_secrets(c.secrets or [])),
    ]
    rows = [[Text(label, style="dim"), Text(str(value))] for label, value in fields if value]
    if rows:
        out.append("\n")
        out.append_text(grid(rows, indent=2))
    if c.services:
        out.append("\n\n")
        out.append("services\n", style="bold")
        table = [header("NAME", "PORT", "STATE", "PID", "RESTARTS", "URL")]
        for svc in c.services:
            table.append(
                [Text(svc.name), Text(_port(svc)), format_service_state(svc.state, svc.exit_code)]
                + [Text(dash(value)) for value in (svc.pid, svc.restarts, svc.url)]
            )
        out.append_text(grid(table, indent=2))
    transitions = c.transitions
    if transitions:
        out.append("\n\n")
        out.append("transitions\n", style="bold")
        table = []
        for i, tr in enumerate(transitions):
            until = transitions[i + 1].at if i + 1 < len(transitions) else None
            took = format_duration((until or now) - tr.at) + ("" if until else " so far")
            detail = ": ".join(x for x in (tr.step, tr.reason) if x)
            table.append(
                [
                    Text(format_clock(tr.at, tz), style="dim"),
                    format_state(tr.state),
                    Text(took),
                    Text(detail),
                ]
            )
        out.append_text(grid(table, indent=2))
    return out


def format_sandbox(colony: Colony) -> str:
    """``"strict: moderate + mount namespace: …"`` (issue 3), or the bare level."""
    level, text = colony.sandbox, colony.containment.description
    return f"{level}: {text}" if level and text else level


def format_secrets(secrets: list[SecretInfo]) -> str:
    """``API_KEY → api.example.com; TOKEN → a.example, b.example`` (issue 17): no values."""
    return "; ".join(f"{s.key} → {', '.join(s.hosts)}" for s in secrets)


def format_user(containment: Containment) -> str:
    """``"nobody (uid 65534): owner root: colonies never run as root"``; or why it cannot."""
    user = containment.user
    if user is None:
        return containment.user_error or ""
    return f"{user.name} (uid {user.uid}): {user.why}; no_new_privs"


def format_limits(limits: Limits, containment: Containment) -> str:
    """``"cpu 0.5 cores, memory 128M (swap 0), pids 64"``; ``"none"`` when unlimited."""
    parts = []
    if (cpu := limits.cpu) is not None:
        parts.append(f"cpu {cpu} core" + ("" if cpu == 1 else "s"))
    if limits.memory is not None:
        parts.append(f"memory {format_size(limits.memory)}")
    if limits.swap is not None:
        parts.append(f"swap {format_size(limits.swap)}")
    if limits.pids is not None:
        parts.append(f"pids {limits.pids}")
    if limits.io_weight is not None:
        parts.append(f"io_weight {limits.io_weight}")
    if limits.disk is not None:
        used = containment.disk
        shown = f" ({format_size(used.used)} used)" if used else ""
        parts.append(f"disk {format_size(limits.disk)}{shown}")
    text = ", ".join(parts) or "none (unlimited)"
    if unapplied := containment.unapplied_limits:
        text += f"; not offered by this kernel: {', '.join(unapplied)}"
    return text


def _port(svc: Service) -> str:
    """``"3000"``, or ``"3000 (host 41234)"`` at sandbox level none (issue 3)."""
    if svc.host_port is not None:
        return f"{svc.port} (host {svc.host_port})"
    return dash(svc.port)
