"""One line of an agent's output into events. Pure.

Each agent CLI prints its own line format (Claude's stream-json, Codex's JSONL, Gemini's
stream-json, Aider's text). :func:`parse_line` turns one line into zero or more
:class:`AgentEvent` and updates the :class:`Summary` (agent session id, cost, tokens, final
result). Lines that are not the agent's JSON become ``output`` events, so nothing is lost.

Example:
    >>> s, events = parse_line("claude", Summary(), '{"type":"system","subtype":"init",'
    ...                        '"session_id":"abc","model":"m"}')
    >>> s.session_id, events[0].kind
    ('abc', 'init')
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from colony.core.agents import aider, claude, codex, gemini
from colony.core.agents.events import AgentEvent, Parser, Summary, clip, flush

PARSERS: dict[str, Parser] = {"claude": claude.parse, "codex": codex.parse, "gemini": gemini.parse}


def sniff(event: Mapping[str, Any]) -> str | None:
    """Which agent's JSON format an event is in, from its shape."""
    kind = event.get("type")
    if not isinstance(kind, str):
        return None
    if kind in ("system", "assistant", "user") or (kind == "result" and "subtype" in event):
        return "claude"
    if kind.startswith(("thread.", "turn.", "item.")):
        return "codex"
    if kind in ("init", "message", "tool_use", "tool_result") or (
        kind == "result" and "stats" in event
    ):
        return "gemini"
    return None


def parse_line(fmt: str, summary: Summary, line: str) -> tuple[Summary, list[AgentEvent]]:
    """Parse one output line of an agent whose format is ``fmt`` (``"auto"`` detects it)."""
    line = line.rstrip("\r\n")
    if not line.strip():
        return summary, []
    if fmt == "aider":
        return aider.parse(summary, line)
    event = _json_object(line)
    if event is None:
        return flush(summary, [AgentEvent("output", clip(line))])
    if fmt == "auto":
        fmt = summary.format or sniff(event) or "auto"
        if fmt != "auto" and summary.format is None:
            summary = replace(summary, format=fmt)
    parser = PARSERS.get(fmt)
    if parser is None:
        return flush(summary, [AgentEvent("output", clip(line))])
    return parser(summary, event)


def _json_object(line: str) -> dict[str, Any] | None:
    if not line.lstrip().startswith("{"):
        return None
    try:
        value = json.loads(line)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None
