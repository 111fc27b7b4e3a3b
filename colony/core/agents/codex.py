"""Codex's ``codex exec --json`` events → AgentEvents. Pure.

JSONL: ``thread.started`` (``thread_id``, the id ``codex exec resume`` takes),
``turn.started``, ``item.started`` / ``item.updated`` / ``item.completed`` with an ``item``
(``agent_message``, ``reasoning``, ``command_execution``, ``file_change``, ``mcp_tool_call``,
``web_search``, ``todo_list``, ``error``), ``turn.completed`` with ``usage``
(``input_tokens``, ``cached_input_tokens``, ``output_tokens``), ``turn.failed`` and ``error``.
Codex reports no cost.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from colony.core.agents.events import AgentEvent, Summary, add, clip, items, mapping


def parse(summary: Summary, event: Mapping[str, Any]) -> tuple[Summary, list[AgentEvent]]:
    kind = event.get("type")
    if kind in ("thread.started", "thread.resumed"):
        thread = event.get("thread_id")
        if isinstance(thread, str):
            summary = replace(summary, session_id=thread)
        return summary, [AgentEvent("init", f"thread {thread}", data={"session_id": thread})]
    if kind == "turn.completed":
        usage = mapping(event.get("usage"))
        return replace(
            summary,
            tokens_in=add(summary.tokens_in, usage.get("input_tokens")),
            tokens_out=add(summary.tokens_out, usage.get("output_tokens")),
            turns=(summary.turns or 0) + 1,
        ), []
    if kind in ("turn.failed", "error"):
        err = event.get("error")
        message = err.get("message") if isinstance(err, Mapping) else event.get("message")
        summary = replace(summary, is_error=True, result=clip(message or kind))
        return summary, [AgentEvent("error", clip(message or kind))]
    item = event.get("item")
    if kind in ("item.started", "item.completed") and isinstance(item, Mapping):
        return _item(summary, item, done=kind == "item.completed")
    return summary, []


def _item(
    summary: Summary, item: Mapping[str, Any], done: bool
) -> tuple[Summary, list[AgentEvent]]:
    kind = item.get("type") or item.get("item_type")
    data: dict[str, Any] = {"id": item.get("id")}
    if kind == "command_execution":
        command = str(item.get("command") or "")
        if not done:
            return summary, [
                AgentEvent(
                    "tool_call",
                    f"shell: {clip(command, 300)}",
                    "shell",
                    {**data, "input": {"command": command}},
                )
            ]
        code = item.get("exit_code")
        data |= {"exit_code": code, "is_error": code not in (0, None)}
        return summary, [
            AgentEvent("tool_result", clip(item.get("aggregated_output") or ""), data=data)
        ]
    if not done:
        return summary, []
    if kind == "agent_message":
        text = str(item.get("text") or "")
        return replace(summary, result=text), [AgentEvent("text", clip(text))]
    if kind == "reasoning":
        return summary, [AgentEvent("thinking", clip(item.get("text") or ""))]
    if kind == "file_change":
        changes = items(item.get("changes"))
        paths = [str(c.get("path")) for c in changes if isinstance(c, Mapping)]
        data["input"] = {"changes": changes}
        return summary, [AgentEvent("tool_call", "edit: " + ", ".join(paths), "edit", data)]
    if kind in ("mcp_tool_call", "web_search"):
        name = str(item.get("tool") or kind)
        what = item.get("query") or item.get("server") or ""
        return summary, [
            AgentEvent("tool_call", f"{name}: {clip(what, 300)}".rstrip(": "), name, data)
        ]
    if kind == "error":
        return summary, [AgentEvent("error", clip(item.get("message") or "error"))]
    return summary, []
