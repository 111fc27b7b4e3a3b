"""Layout shared by every view: ages, durations, clock times and columns of Text."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # loaded by the functions that make Text: `colony ls` to a pipe needs none
    from datetime import tzinfo

    from rich.text import Text


def format_age(then: float, now: float) -> str:
    """``"just now"``, ``"42s ago"``, ``"2m ago"``, ``"3h ago"``, ``"4d ago"``."""
    seconds = int(max(0.0, now - then))
    if seconds < 1:
        return "just now"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit} ago"
    return f"{seconds}s ago"


def format_duration(seconds: float) -> str:
    """``"340ms"``, ``"2.1s"``, ``"3m05s"``, ``"2h10m"``."""
    seconds = max(0.0, seconds)
    if round(seconds * 1000) < 1000:
        return f"{round(seconds * 1000)}ms"
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def grid(rows: Sequence[Sequence[Text]], indent: int = 0) -> Text:
    """Left-aligned columns two spaces apart."""
    from rich.text import Text

    widths = [max(row[i].cell_len for row in rows) for i in range(len(rows[0]))]
    lines = []
    for row in rows:
        line = Text(" " * indent)
        for cell, width in zip(row, widths, strict=False):
            line.append_text(cell)
            line.append(" " * (width - cell.cell_len + 2))
        line.rstrip()
        lines.append(line)
    return Text("\n").join(lines)


def header(*names: str) -> list[Text]:
    from rich.text import Text

    return [Text(name, style="bold") for name in names]


def format_clock(at: float, tz: tzinfo | None, *, date: bool = False) -> str:
    from datetime import datetime  # only `colony show` shows one (issue 15)

    moment = datetime.fromtimestamp(at, tz)
    if date:
        return moment.strftime("%Y-%m-%d %H:%M:%S")
    return moment.strftime("%H:%M:%S.") + f"{moment.microsecond // 1000:03d}"


def dash(value: object) -> str:
    return "-" if value is None or value == "" else str(value)
