"""Aider's text output → AgentEvents. Pure.

Aider prints no JSON. It reports each edit as ``Applied edit to PATH``, each commit as
``Commit <hash> <message>`` and, after every reply,
``Tokens: 2.3k sent, 150 received. Cost: $0.01 message, $0.02 session.``
"""

from __future__ import annotations

import re
from dataclasses import replace

from colony.core.agents.events import AgentEvent, Summary, clip

TOKENS_RE = re.compile(
    r"Tokens:\s*([\d.,]+)([kKmM]?)\s+sent.*?,\s*([\d.,]+)([kKmM]?)\s+received"
    r"(?:.*?Cost:.*?\$([\d.,]+)\s+message,\s*\$([\d.,]+)\s+session)?"
)
EDIT_RE = re.compile(r"^Applied edit to (.+)$")
COMMIT_RE = re.compile(r"^Commit ([0-9a-f]{6,40}) (.*)$")
_SCALE = {"": 1, "k": 1_000, "m": 1_000_000}


def count(number: str, unit: str) -> int:
    """'2.3', 'k' → 2300."""
    return round(float(number.replace(",", "")) * _SCALE[unit.lower()])


def parse(summary: Summary, line: str) -> tuple[Summary, list[AgentEvent]]:
    line = line.strip()
    match = TOKENS_RE.search(line)
    if match:
        sent, sent_unit, got, got_unit, _, session_cost = match.groups()
        summary = replace(
            summary,
            tokens_in=(summary.tokens_in or 0) + count(sent, sent_unit),
            tokens_out=(summary.tokens_out or 0) + count(got, got_unit),
            cost=float(session_cost.replace(",", "")) if session_cost else summary.cost,
            turns=(summary.turns or 0) + 1,
        )
        data = {
            "cost": summary.cost,
            "tokens_in": summary.tokens_in,
            "tokens_out": summary.tokens_out,
        }
        return summary, [AgentEvent("result", clip(line), data=data)]
    if m := EDIT_RE.match(line):
        path = m.group(1)
        return summary, [
            AgentEvent("tool_call", f"edit: {path}", "edit", {"input": {"path": path}})
        ]
    if m := COMMIT_RE.match(line):
        return summary, [AgentEvent("tool_call", clip(line), "commit", {"commit": m.group(1)})]
    return replace(summary, result=line), [AgentEvent("text", clip(line))]
