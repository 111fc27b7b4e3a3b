"""Agent output parsers: documented event streams → events, session id, cost and tokens."""

from __future__ import annotations

import json

import pytest

from colony.core.agents import Summary, finish, parse_line
from colony.core.agents.session import plan_status

# Claude Code `-p --output-format stream-json --verbose`, as documented: init, assistant
# messages with text / tool_use blocks, user messages with tool_result blocks, a result.
CLAUDE = [
    {
        "type": "system",
        "subtype": "init",
        "cwd": "/ws",
        "session_id": "5f1c2a0e-9d7b-4c1e-8a55-0d3f6c2b9e11",
        "tools": ["Bash", "Edit", "Read"],
        "mcp_servers": [],
        "model": "claude-sonnet-4-5",
        "permissionMode": "acceptEdits",
        "apiKeySource": "ANTHROPIC_API_KEY",
    },
    {
        "type": "assistant",
        "session_id": "5f1c2a0e-9d7b-4c1e-8a55-0d3f6c2b9e11",
        "parent_tool_use_id": None,
        "message": {
            "id": "msg_01",
            "role": "assistant",
            "model": "claude-sonnet-4-5",
            "content": [
                {"type": "thinking", "thinking": "The bug is in login()."},
                {"type": "text", "text": "I'll fix the login bug."},
                {
                    "type": "tool_use",
                    "id": "toolu_01",
                    "name": "Edit",
                    "input": {"file_path": "app.py", "old_string": "a", "new_string": "b"},
                },
            ],
            "usage": {"input_tokens": 12, "output_tokens": 80},
        },
    },
    {
        "type": "user",
        "session_id": "5f1c2a0e-9d7b-4c1e-8a55-0d3f6c2b9e11",
        "message": {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": "toolu_01",
                    "content": [{"type": "text", "text": "The file app.py has been updated."}],
                    "is_error": False,
                }
            ],
        },
    },
    {
        "type": "assistant",
        "session_id": "5f1c2a0e-9d7b-4c1e-8a55-0d3f6c2b9e11",
        "message": {
            "role": "assistant",
            "content": [
                {
                    "type": "tool_use",
                    "id": "toolu_02",
                    "name": "Bash",
                    "input": {"command": "pytest -q"},
                }
            ],
        },
    },
    {
        "type": "user",
        "session_id": "5f1c2a0e-9d7b-4c1e-8a55-0d3f6c2b9e11",
        "message": {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": "toolu_02",
                    "content": "1 failed",
                    "is_error": True,
                }
            ],
        },
    },
    {
        "type": "result",
        "subtype": "success",
        "is_error": False,
        "duration_ms": 48123,
        "duration_api_ms": 40210,
        "num_turns": 6,
        "result": "Fixed the login bug; tests pass.",
        "session_id": "5f1c2a0e-9d7b-4c1e-8a55-0d3f6c2b9e11",
        "total_cost_usd": 0.0123,
        "usage": {
            "input_tokens": 40,
            "cache_creation_input_tokens": 5000,
            "cache_read_input_tokens": 20000,
            "output_tokens": 900,
            "server_tool_use": {"web_search_requests": 0},
        },
        "permission_denials": [],
    },
]


def run(fmt: str, lines: list[str]) -> tuple[Summary, list]:
    summary, events = Summary(), []
    for line in lines:
        summary, found = parse_line(fmt, summary, line)
        events += found
    summary, found = finish(summary)
    return summary, events + found


def test_claude_stream_json_transcript() -> None:
    """When Claude's stream-json transcript is parsed, its session id, model, text, tool calls,
    tool results, cost and tokens come out."""
    summary, events = run("claude", [json.dumps(e) for e in CLAUDE])
    assert [e.kind for e in events] == [
        "init",
        "thinking",
        "text",
        "tool_call",
        "tool_result",
        "tool_call",
        "tool_result",
        "result",
    ]
    assert summary.session_id == "5f1c2a0e-9d7b-4c1e-8a55-0d3f6c2b9e11"
    assert summary.model == "claude-sonnet-4-5"
    assert summary.cost == pytest.approx(0.0123)
    assert summary.tokens_in == 40 + 5000 + 20000
    assert summary.tokens_out == 900
    assert summary.turns == 6
    assert summary.result == "Fixed the login bug; tests pass."
    assert not summary.is_error
    edit = events[3]
    assert (edit.tool, edit.text, edit.data["input"]["file_path"]) == (
        "Edit",
        "Edit: app.py",
        "app.py",
    )
    assert events[4].text == "The file app.py has been updated."
    assert events[5].text == "Bash: pytest -q"
    assert events[6].data["is_error"] is True
    assert events[7].data["cost"] == pytest.approx(0.0123)


def test_claude_error_result_and_noise() -> None:
    """When Claude reports an error result, the session is an error; stray text lines are kept
    as output and unknown event types are skipped."""
    lines = [
        "Warning: something on stderr",
        json.dumps({"type": "stream_event", "event": {"type": "content_block_delta"}}),
        json.dumps(
            {
                "type": "result",
                "subtype": "error_max_turns",
                "is_error": True,
                "session_id": "s",
                "total_cost_usd": 0.5,
                "num_turns": 30,
            }
        ),
    ]
    summary, events = run("claude", lines)
    assert [e.kind for e in events] == ["output", "result"]
    assert summary.is_error
    assert summary.session_id == "s"
    assert summary.cost == 0.5


def test_codex_exec_json_transcript() -> None:
    """When Codex's exec --json events are parsed, the thread id is the session id, commands
    become tool calls and results, and tokens add up over turns."""
    events_in = [
        {"type": "thread.started", "thread_id": "0199a213-81c0-7800-8aa1-bbab2a035a53"},
        {"type": "turn.started"},
        {"type": "item.completed", "item": {"id": "item_0", "type": "reasoning", "text": "Plan"}},
        {
            "type": "item.started",
            "item": {
                "id": "item_1",
                "type": "command_execution",
                "command": "bash -lc ls",
                "status": "in_progress",
            },
        },
        {
            "type": "item.completed",
            "item": {
                "id": "item_1",
                "type": "command_execution",
                "command": "bash -lc ls",
                "aggregated_output": "app.py\n",
                "exit_code": 0,
                "status": "completed",
            },
        },
        {
            "type": "item.completed",
            "item": {
                "id": "item_2",
                "type": "file_change",
                "changes": [{"path": "app.py", "kind": "update"}],
                "status": "completed",
            },
        },
        {
            "type": "item.completed",
            "item": {"id": "item_3", "type": "agent_message", "text": "Done."},
        },
        {
            "type": "turn.completed",
            "usage": {"input_tokens": 24763, "cached_input_tokens": 24448, "output_tokens": 122},
        },
        {"type": "turn.started"},
        {
            "type": "turn.completed",
            "usage": {"input_tokens": 100, "cached_input_tokens": 0, "output_tokens": 10},
        },
    ]
    summary, events = run("codex", [json.dumps(e) for e in events_in])
    assert [e.kind for e in events] == [
        "init",
        "thinking",
        "tool_call",
        "tool_result",
        "tool_call",
        "text",
    ]
    assert summary.session_id == "0199a213-81c0-7800-8aa1-bbab2a035a53"
    assert (summary.tokens_in, summary.tokens_out, summary.cost) == (24863, 132, None)
    assert events[2].text == "shell: bash -lc ls"
    assert events[4].text == "edit: app.py"
    assert summary.result == "Done."


def test_codex_failed_turn() -> None:
    """When a Codex turn fails, the session is an error with the message."""
    line = json.dumps({"type": "turn.failed", "error": {"message": "rate limited"}})
    summary, events = run("codex", [line])
    assert summary.is_error
    assert events[0].kind == "error"
    assert events[0].text == "rate limited"


def test_gemini_stream_json_transcript() -> None:
    """When Gemini's stream-json events are parsed, streamed text chunks become one event and
    the result's stats give the tokens."""
    events_in = [
        {"type": "init", "timestamp": "t", "session_id": "abc-123", "model": "gemini-2.5-pro"},
        {"type": "message", "role": "user", "content": "fix it", "timestamp": "t"},
        {"type": "message", "role": "assistant", "content": "Looking ", "delta": True},
        {"type": "message", "role": "assistant", "content": "now.", "delta": True},
        {
            "type": "tool_use",
            "tool_name": "read_file",
            "tool_id": "r1",
            "parameters": {"file_path": "app.py"},
        },
        {"type": "tool_result", "tool_id": "r1", "status": "success", "output": "print(1)"},
        {"type": "message", "role": "assistant", "content": "Fixed.", "delta": True},
        {
            "type": "result",
            "status": "success",
            "stats": {
                "total_tokens": 250,
                "input_tokens": 200,
                "output_tokens": 50,
                "duration_ms": 3000,
                "tool_calls": 1,
            },
        },
    ]
    summary, events = run("gemini", [json.dumps(e) for e in events_in])
    assert [(e.kind, e.text) for e in events] == [
        ("init", "session abc-123 (gemini-2.5-pro)"),
        ("text", "Looking now."),
        ("tool_call", "read_file: app.py"),
        ("tool_result", "print(1)"),
        ("text", "Fixed."),
        ("result", "success"),
    ]
    assert (summary.session_id, summary.tokens_in, summary.tokens_out) == ("abc-123", 200, 50)
    assert summary.result == "Fixed."


def test_aider_text_output() -> None:
    """When Aider's text output is parsed, edits become tool calls and the Tokens/Cost line
    gives tokens and the session's cost."""
    lines = [
        "Aider v0.86.1",
        "Applied edit to app.py",
        "Commit 1a2b3c4 fix: login",
        "Tokens: 2.3k sent, 150 received. Cost: $0.01 message, $0.02 session.",
    ]
    summary, events = run("aider", lines)
    assert [e.kind for e in events] == ["text", "tool_call", "tool_call", "result"]
    assert (summary.tokens_in, summary.tokens_out, summary.cost) == (2300, 150, 0.02)


def test_auto_detects_the_format() -> None:
    """When a command template prints one of the known formats, it is recognised."""
    summary, events = run("auto", ["hello", *[json.dumps(e) for e in CLAUDE]])
    assert summary.format == "claude"
    assert events[0].kind == "output"
    assert summary.cost == pytest.approx(0.0123)


@pytest.mark.parametrize(
    ("args", "status"),
    [
        ({"stop_requested": True, "colony_gone": False, "code": -2}, "interrupted"),
        ({"stop_requested": False, "colony_gone": True, "code": -9}, "interrupted"),
        ({"stop_requested": False, "colony_gone": False, "code": 0}, "completed"),
        ({"stop_requested": False, "colony_gone": False, "code": 1}, "failed"),
        ({"stop_requested": False, "colony_gone": False, "code": None}, "lost"),
    ],
)
def test_plan_status(args: dict, status: str) -> None:
    """When an agent's process ends, its status follows from who stopped it and its code."""
    assert plan_status(**args, is_error=False, saw_result=False) == status
