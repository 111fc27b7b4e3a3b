"""Gemini CLI's ``--output-format stream-json`` events → AgentEvents. Pure.

JSONL: ``init`` (``session_id``, ``model``), ``message`` (``role``, ``content``, ``delta``:
assistant text arrives in chunks, joined here into one event), ``tool_use`` (``tool_name``,
``tool_id``, ``parameters``), ``tool_result`` (``tool_id``, ``status``, ``output``),
``error`` and a final ``result`` (``status``, ``stats`` with token counts). Gemini reports no
cost.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from colony.core.agents.events import AgentEvent, Summary, add, clip, flush, mapping, text_of


def parse(summary: Summary, event: Mapping[str, Any]) -> tuple[Summary, list[AgentEvent]]:
    kind = event.get("type")
    if kind == "message":
        if event.get("role") == "assistant":
            text = text_of(event.get("content"))
            if event.get("delta"):
                return replace(summary, pending=summary.pending + text), []
            return flush(summary, [AgentEvent("text", clip(text))] if text else [])
        return summary, []
    if kind == "init":
        session = event.get("session_id") or event.get("sessionId")
        model = event.get("model")
        summary = replace(
            summary,
            session_id=session if isinstance(session, str) else summary.session_id,
            model=model if isinstance(model, str) else summary.model,
        )
        data: dict[str, Any] = {"session_id": summary.session_id, "model": summary.model}
        return summary, [AgentEvent("init", f"session {summary.session_id} ({model})", data=data)]
    if kind == "tool_use":
        name = str(event.get("tool_name") or "tool")
        params = mapping(event.get("parameters"))
        data = {"id": event.get("tool_id"), "input": dict(params)}
        arg = next((v for v in params.values() if isinstance(v, str) and v), "")
        text = f"{name}: {clip(arg, 300)}" if arg else name
        return flush(summary, [AgentEvent("tool_call", text, name, data)])
    if kind == "tool_result":
        is_error = event.get("status") == "error"
        data = {"id": event.get("tool_id"), "is_error": is_error}
        output = event.get("output") if not is_error else event.get("error") or event.get("output")
        return flush(summary, [AgentEvent("tool_result", clip(text_of(output)), data=data)])
    if kind == "error":
        return flush(summary, [AgentEvent("error", clip(event.get("message") or "error"))])
    if kind == "result":
        return _result(summary, event)
    return summary, []


def _result(summary: Summary, event: Mapping[str, Any]) -> tuple[Summary, list[AgentEvent]]:
    summary, events = flush(summary, [])
    stats = mapping(event.get("stats"))
    tokens_in = add(None, stats.get("input_tokens"))
    tokens_out = add(None, stats.get("output_tokens"))
    models = mapping(stats.get("models"))
    for model in models.values():  # per-model breakdown: {"tokens": {"prompt", "candidates"}}
        tokens = model.get("tokens") if isinstance(model, Mapping) else None
        if isinstance(tokens, Mapping) and not stats.get("input_tokens"):
            tokens_in = add(tokens_in, tokens.get("prompt"))
            tokens_out = add(tokens_out, tokens.get("candidates"))
    is_error = event.get("status") == "error" or bool(event.get("error"))
    err = event.get("error")
    message = err.get("message") if isinstance(err, Mapping) else None
    summary = replace(
        summary,
        tokens_in=tokens_in if tokens_in is not None else summary.tokens_in,
        tokens_out=tokens_out if tokens_out is not None else summary.tokens_out,
        is_error=is_error,
        result=message or summary.result,
    )
    data = {
        "status": event.get("status"),
        "is_error": is_error,
        "tokens_in": summary.tokens_in,
        "tokens_out": summary.tokens_out,
        "duration_ms": stats.get("duration_ms"),
        "tool_calls": stats.get("tool_calls"),
    }
    text = clip(message or str(event.get("status") or "done"))
    return summary, [*events, AgentEvent("result", text, data=data)]
