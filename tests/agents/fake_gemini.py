#!/usr/bin/env python3
"""A scripted stand-in for Gemini CLI in headless mode (``gemini [--resume ID] -p TASK
--output-format stream-json``): it does the task (see actions.py) and prints Gemini's
documented stream-json events (``init``, ``message``, ``tool_use``, ``tool_result``,
``result``)."""

from __future__ import annotations

import json
import os
import sys
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import actions

NOW = "2025-01-01T00:00:00.000Z"


def emit(event: dict) -> None:
    print(json.dumps({**event, "timestamp": NOW}), flush=True)


def main(argv: list[str]) -> int:
    task = actions.prompt_of(argv, "-p")
    session = actions.option(argv, "--resume") or str(uuid.uuid4())
    emit({"type": "init", "session_id": session, "model": "gemini-fake"})
    emit({"type": "message", "role": "user", "content": task})
    calls = 0

    def report(step: actions.Step, output: str, is_error: bool) -> None:
        nonlocal calls
        if step.tool == "Say":
            for word in step.text.split(" "):
                emit({"type": "message", "role": "assistant", "content": word + " ", "delta": True})
            return
        calls += 1
        tool = {"Write": "write_file", "Edit": "replace", "Bash": "run_shell_command"}[step.tool]
        params = (
            {"file_path": step.target, "content": step.text}
            if step.tool != "Bash"
            else {"command": f"{step.target} {step.text}"}
        )
        emit({"type": "tool_use", "tool_name": tool, "tool_id": f"t{calls}", "parameters": params})
        emit(
            {
                "type": "tool_result",
                "tool_id": f"t{calls}",
                "status": "error" if is_error else "success",
                "output": output,
            }
        )

    outcome = actions.execute(task, report)
    if outcome == "interrupted":
        return 130
    status = "error" if outcome == "failed" else "success"
    emit({"type": "message", "role": "assistant", "content": "Done.", "delta": True})
    emit(
        {
            "type": "result",
            "status": status,
            "stats": {
                "total_tokens": 1650,
                "input_tokens": 1500,
                "output_tokens": 150,
                "duration_ms": 900,
                "tool_calls": calls,
            },
        }
    )
    return 0 if status == "success" else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
