"""Claude Code's ``--output-format stream-json`` events → AgentEvents. Pure.

One JSON object per line: ``system`` (subtype ``init`` carries ``session_id`` and ``model``),
``assistant`` (a message whose content holds ``text``, ``thinking`` and ``tool_use`` blocks),
``user`` (``tool_result`` blocks), and a final ``result`` with ``total_cost_usd``, ``usage``,
``num_turns``, ``is_error`` and the answer in ``result``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from colony.core.agents.events import (
    AgentEvent,
    Summary,
    add,
    clip,
    mapping,
    number,
    text_of,
)

INPUT_KEYS = ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")


def parse(summary: Summary, event: Mapping[str, Any]) -> tuple[Summary, list[AgentEvent]]:
    kind = event.get("type")
    if isinstance(event.get("session_id"), str) and summary.session_id is None:
        summary = replace(summary, session_id=event["session_id"])
    if kind == "system":
        return _system(summary, event)
    if kind == "assistant":
        return summary, _assistant(event.get("message"))
    if kind == "user":
        return summary, _user(event.get("message"))
    if kind == "result":
        return _result(summary, event)
    return summary, []  # stream_event and future types: nothing to record


def _system(summary: Summary, event: Mapping[str, Any]) -> tuple[Summary, list[AgentEvent]]:
    if event.get("subtype") != "init":
        return summary, []
    model = event.get("model") if isinstance(event.get("model"), str) else None
    summary = replace(summary, model=model or summary.model)
    data = {"session_id": summary.session_id, "model": model, "cwd": event.get("cwd")}
    return summary, [AgentEvent("init", f"session {summary.session_id} ({model})", data=data)]


def _blocks(message: object) -> list[Mapping[str, Any]]:
    if not isinstance(message, Mapping):
        return []
    content = message.get("content")
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    return [b for b in content if isinstance(b, Mapping)] if isinstance(content, list) else []


def _assistant(message: object) -> list[AgentEvent]:
    out = []
    for block in _blocks(message):
        kind = block.get("type")
        if kind == "text" and block.get("text"):
            out.append(AgentEvent("text", clip(block["text"])))
        elif kind == "thinking" and block.get("thinking"):
            out.append(AgentEvent("thinking", clip(block["thinking"])))
        elif kind == "tool_use":
            name = str(block.get("name") or "tool")
            tool_input = mapping(block.get("input"))
            data = {"id": block.get("id"), "input": _clip_input(tool_input)}
            out.append(AgentEvent("tool_call", _describe(name, tool_input), name, data))
    return out


def _user(message: object) -> list[AgentEvent]:
    out = []
    for block in _blocks(message):
        if block.get("type") != "tool_result":
            continue
        is_error = bool(block.get("is_error"))
        data = {"id": block.get("tool_use_id"), "is_error": is_error}
        out.append(AgentEvent("tool_result", clip(text_of(block.get("content"))), data=data))
    return out


def _result(summary: Summary, event: Mapping[str, Any]) -> tuple[Summary, list[AgentEvent]]:
    usage = mapping(event.get("usage"))
    tokens_in = None
    for key in INPUT_KEYS:
        tokens_in = add(tokens_in, usage.get(key))
    cost = number(event.get("total_cost_usd"))
    if cost is None:
        cost = number(event.get("cost_usd"))  # older releases
    turns = event.get("num_turns")
    result = event.get("result") if isinstance(event.get("result"), str) else None
    is_error = bool(event.get("is_error")) or str(event.get("subtype", "")).startswith("error")
    summary = replace(
        summary,
        cost=cost if cost is not None else summary.cost,
        tokens_in=tokens_in if tokens_in is not None else summary.tokens_in,
        tokens_out=add(None, usage.get("output_tokens")) or summary.tokens_out,
        result=result,
        is_error=is_error,
        turns=turns if isinstance(turns, int) else summary.turns,
    )
    data = {
        "subtype": event.get("subtype"),
        "is_error": is_error,
        "cost": summary.cost,
        "tokens_in": summary.tokens_in,
        "tokens_out": summary.tokens_out,
        "turns": summary.turns,
        "duration_ms": event.get("duration_ms"),
    }
    return summary, [
        AgentEvent("result", clip(result or str(event.get("subtype") or "")), data=data)
    ]


def _describe(tool: str, tool_input: Mapping[str, Any]) -> str:
    """A one-line summary of a tool call: the tool and its most telling argument."""
    for key in ("command", "file_path", "path", "pattern", "url", "query", "description"):
        value = tool_input.get(key)
        if isinstance(value, str) and value:
            return f"{tool}: {clip(value.splitlines()[0] if value.strip() else value, 300)}"
    return tool


def _clip_input(tool_input: Mapping[str, Any]) -> dict[str, Any]:
    return {k: (clip(v, 1000) if isinstance(v, str) else v) for k, v in tool_input.items()}
