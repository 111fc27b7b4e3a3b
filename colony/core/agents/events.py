"""Parsed agent output: events and the running summary of a session, and the helpers every
agent's parser shares. Pure. :mod:`colony.core.agents.parse` turns lines into events.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

TEXT_LIMIT = 4000  # characters of one event's text kept
KINDS = ("init", "text", "thinking", "tool_call", "tool_result", "result", "error", "output")


@dataclass(frozen=True)
class AgentEvent:
    """One thing an agent did or said."""

    kind: str  # one of KINDS
    text: str = ""
    tool: str | None = None
    data: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "text": self.text, "tool": self.tool, "data": dict(self.data)}


@dataclass(frozen=True)
class Summary:
    """What a session has reported so far."""

    format: str | None = None  # the detected format when the run's format is "auto"
    session_id: str | None = None
    model: str | None = None
    cost: float | None = None  # USD, as the agent reports it
    tokens_in: int | None = None
    tokens_out: int | None = None
    result: str | None = None
    is_error: bool = False
    turns: int | None = None
    pending: str = ""  # streamed assistant text not yet emitted (Gemini deltas)


Parser = Callable[[Summary, Mapping[str, Any]], tuple[Summary, list[AgentEvent]]]


def clip(text: object, limit: int = TEXT_LIMIT) -> str:
    s = text if isinstance(text, str) else json.dumps(text, default=str)
    return s if len(s) <= limit else s[: limit - 1] + "…"


def add(a: int | None, b: object) -> int | None:
    """``a + b`` where either may be missing; non-integers count as missing."""
    if isinstance(b, bool) or not isinstance(b, int | float):
        return a
    return (a or 0) + int(b)


def mapping(value: object) -> Mapping[str, Any]:
    """``value`` if it is a JSON object, else an empty one."""
    return value if isinstance(value, Mapping) else {}


def items(value: object) -> list[Any]:
    """``value`` if it is a JSON array, else an empty one."""
    return value if isinstance(value, list) else []


def number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def text_of(value: object) -> str:
    """Text of a content value: a string, or a list of ``{"type": "text", "text": ...}``."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        parts = [p.get("text", "") for p in value if isinstance(p, dict)]
        return "\n".join(p for p in parts if isinstance(p, str) and p)
    return "" if value is None else clip(value)


def flush(summary: Summary, events: list[AgentEvent]) -> tuple[Summary, list[AgentEvent]]:
    """Emit buffered assistant text before ``events``."""
    if not summary.pending:
        return summary, events
    text = AgentEvent("text", clip(summary.pending))
    return replace(summary, pending="", result=summary.pending), [text, *events]


def finish(summary: Summary) -> tuple[Summary, list[AgentEvent]]:
    """What is left to emit when the agent's output ends."""
    return flush(summary, [])
