#!/usr/bin/env python3
"""A scripted stand-in for Claude Code in print mode (``claude -p TASK --output-format
stream-json --verbose [--resume ID]``): it does the task (see actions.py) and prints
Claude's documented stream-json events, one JSON object per line, ending with ``result``.
On SIGINT it stops at once and exits 130, like an interrupted run."""

from __future__ import annotations

import json
import os
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import actions


def emit(event: dict) -> None:
    print(json.dumps(event), flush=True)


def main(argv: list[str]) -> int:
    task = actions.prompt_of(argv, "-p")
    session = actions.option(argv, "--resume") or str(uuid.uuid4())
    started = time.monotonic()
    emit(
        {
            "type": "system",
            "subtype": "init",
            "cwd": os.getcwd(),
            "session_id": session,
            "tools": ["Bash", "Edit", "Read", "Write"],
            "mcp_servers": [],
            "model": "claude-fake-1",
            "permissionMode": "acceptEdits",
            "apiKeySource": "none",
        }
    )
    emit(
        {
            "type": "assistant",
            "session_id": session,
            "parent_tool_use_id": None,
            "message": {
                "id": "msg_1",
                "type": "message",
                "role": "assistant",
                "model": "claude-fake-1",
                "content": [{"type": "text", "text": f"Working on: {task.splitlines()[0]}"}],
                "usage": {"input_tokens": 100, "output_tokens": 10},
            },
        }
    )
    turns = 1

    def report(step: actions.Step, output: str, is_error: bool) -> None:
        nonlocal turns
        turns += 1
        tool_id = f"toolu_{turns}"
        tool_input = (
            {"file_path": step.target, "content": step.text}
            if step.target and step.tool != "Bash"
            else {"command": f"{step.target} {step.text}"}
        )
        if step.tool == "Say":
            emit(
                {
                    "type": "assistant",
                    "session_id": session,
                    "message": {
                        "role": "assistant",
                        "content": [{"type": "text", "text": step.text}],
                    },
                }
            )
            return
        emit(
            {
                "type": "assistant",
                "session_id": session,
                "message": {
                    "role": "assistant",
                    "content": [
                        {"type": "tool_use", "id": tool_id, "name": step.tool, "input": tool_input}
                    ],
                },
            }
        )
        emit(
            {
                "type": "user",
                "session_id": session,
                "message": {
                    "role": "user",
                    "content": [
                        {
                            "type": "tool_result",
                            "tool_use_id": tool_id,
                            "content": output,
                            "is_error": is_error,
                        }
                    ],
                },
            }
        )

    outcome = actions.execute(task, report)
    if outcome == "interrupted":
        return 130
    is_error = outcome == "failed"
    text = "I could not finish." if is_error else "Done."
    emit(
        {
            "type": "assistant",
            "session_id": session,
            "message": {"role": "assistant", "content": [{"type": "text", "text": text}]},
        }
    )
    emit(
        {
            "type": "result",
            "subtype": "error_during_execution" if is_error else "success",
            "is_error": is_error,
            "duration_ms": int((time.monotonic() - started) * 1000),
            "duration_api_ms": 1200,
            "num_turns": turns,
            "result": text,
            "session_id": session,
            "total_cost_usd": round(0.01 + 0.002 * turns, 4),
            "usage": {
                "input_tokens": 1000 * turns,
                "cache_creation_input_tokens": 200,
                "cache_read_input_tokens": 300,
                "output_tokens": 50 * turns,
            },
        }
    )
    return 1 if is_error else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
