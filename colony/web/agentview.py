"""Bloom's agent view (issue 18): what the colonies list says of each colony's agent (status,
last event line, cost and tokens so far) and the timeline of a session's events. Pure.

Everything an agent prints is hostile: the text made here is plain (Jinja escapes it), cut
to a size, with terminal control characters shown as ``\\xNN``.

Example:
    >>> line_of({"kind": "tool_call", "tool": "Bash", "text": "ls\\x1b[2J"})
    'tool call Bash: ls\\\\x1b[2J'
    >>> status_of(None, queued=True)
    'waiting'
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from colony.core.agents.session import SessionRecord
from colony.core.review import render_visible

MAX_LINE = 160  # characters of the list's last event line
MAX_TEXT = 4000  # characters shown of one event in the timeline
MAX_EVENTS = 200  # events of the timeline (the last ones)
MAX_TOOL = 80  # characters of a tool's name

LABELS = {
    "init": "started",
    "text": "message",
    "thinking": "thinking",
    "tool_call": "tool call",
    "tool_result": "tool result",
    "result": "result",
    "error": "error",
    "output": "output",
}

# A session's status → the list's word: "waiting" is a task waiting for its colony to run
# (a "new colony" with a task); "stopped" a session someone interrupted.
STATUS = {
    "running": "running",
    "completed": "done",
    "failed": "failed",
    "lost": "failed",
    "interrupted": "stopped",
}


def cut(text: object, size: int) -> str:
    """``text`` as plain visible text of at most ``size`` characters (then '…')."""
    shown = render_visible("" if text is None else str(text))
    return shown if len(shown) <= size else shown[: size - 1] + "…"


def one_line(text: object, size: int) -> str:
    """``text`` on one line (any run of whitespace, newlines too, is one space), cut."""
    return cut(" ".join(("" if text is None else str(text)).split()), size)


def status_of(latest: SessionRecord | None, *, queued: bool) -> str:
    """The list's agent status: waiting, running, done, failed, stopped, or '' (none yet)."""
    if queued:
        return "waiting"
    if latest is None:
        return ""
    return STATUS.get(latest.status, cut(latest.status, 20))


def line_of(event: Mapping[str, Any] | None) -> str:
    """One line of an event: its kind, tool and first line of text, cut to ``MAX_LINE``."""
    if not event:
        return ""
    kind = str(event.get("kind") or "")
    label = LABELS.get(kind, one_line(kind, 20))
    tool = one_line(event.get("tool"), MAX_TOOL) if event.get("tool") else ""
    text = str(event.get("text") or "").strip().split("\n", 1)[0]
    head = f"{label} {tool}".strip()
    return one_line(f"{head}: {text}" if text else head, MAX_LINE)


@dataclass(frozen=True)
class Totals:
    cost: float | None
    tokens_in: int | None
    tokens_out: int | None

    @property
    def text(self) -> str:
        """'$0.0123 · 1.2k in / 340 out', or '' when no session reported any."""
        parts = []
        if self.cost is not None:
            parts.append(f"${self.cost:.4f}")
        if self.tokens_in is not None or self.tokens_out is not None:
            parts.append(f"{count(self.tokens_in)} in / {count(self.tokens_out)} out")
        return " · ".join(parts)


def count(n: int | None) -> str:
    if n is None:
        return "0"
    return f"{n / 1000:.1f}k" if n >= 1000 else str(n)


def totals(sessions: Iterable[SessionRecord]) -> Totals:
    """Cost and tokens of all of a colony's sessions so far (None: none reported)."""
    cost: float | None = None
    tokens_in: int | None = None
    tokens_out: int | None = None
    for rec in sessions:
        if rec.cost is not None:
            cost = (cost or 0.0) + rec.cost
        if rec.tokens_in is not None:
            tokens_in = (tokens_in or 0) + rec.tokens_in
        if rec.tokens_out is not None:
            tokens_out = (tokens_out or 0) + rec.tokens_out
    return Totals(cost, tokens_in, tokens_out)


@dataclass(frozen=True)
class Entry:
    """One event of the timeline."""

    seq: int
    at: float | None
    kind: str  # a CSS class: one of LABELS' keys, else "other"
    label: str
    tool: str
    text: str


def timeline(events: Iterable[Mapping[str, Any]]) -> list[Entry]:
    """The timeline of a session's events (the last ``MAX_EVENTS``), as plain capped text."""
    found = list(events)[-MAX_EVENTS:]
    entries = []
    for e in found:
        kind = str(e.get("kind") or "")
        at = e.get("at")
        entries.append(
            Entry(
                seq=int(e.get("seq") or 0),
                at=float(at) if isinstance(at, int | float) else None,
                kind=kind if kind in LABELS else "other",
                label=LABELS.get(kind, one_line(kind, 20)),
                tool=one_line(e.get("tool"), MAX_TOOL) if e.get("tool") else "",
                text=cut(e.get("text"), MAX_TEXT),
            )
        )
    return entries
