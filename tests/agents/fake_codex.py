#!/usr/bin/env python3
"""A scripted stand-in for Codex (``codex exec --json [--full-auto] [resume ID] TASK``): it
does the task (see actions.py) and prints Codex's documented JSONL events
(``thread.started``, ``turn.started``, ``item.*``, ``turn.completed``)."""

from __future__ import annotations

import json
import os
import sys
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import actions


def emit(event: dict) -> None:
    print(json.dumps(event), flush=True)


def main(argv: list[str]) -> int:
    args = [a for a in argv if not a.startswith("--") and a != "exec"]
    thread = str(uuid.uuid4())
    if args and args[0] == "resume":
        thread, args = args[1], args[2:]
    task = args[-1] if args else ""
    emit({"type": "thread.started", "thread_id": thread})
    emit({"type": "turn.started"})
    n = 0

    def report(step: actions.Step, output: str, is_error: bool) -> None:
        nonlocal n
        n += 1
        if step.tool == "Say":
            emit(
                {
                    "type": "item.completed",
                    "item": {"id": f"item_{n}", "type": "reasoning", "text": step.text},
                }
            )
        elif step.tool == "Bash":
            item = {
                "id": f"item_{n}",
                "type": "command_execution",
                "command": f"bash -lc '{step.target} {step.text}'",
                "status": "in_progress",
            }
            emit({"type": "item.started", "item": item})
            emit(
                {
                    "type": "item.completed",
                    "item": {
                        **item,
                        "aggregated_output": output,
                        "exit_code": 1 if is_error else 0,
                        "status": "completed",
                    },
                }
            )
        else:
            emit(
                {
                    "type": "item.completed",
                    "item": {
                        "id": f"item_{n}",
                        "type": "file_change",
                        "status": "completed",
                        "changes": [{"path": step.target, "kind": "update"}],
                    },
                }
            )

    outcome = actions.execute(task, report)
    if outcome == "interrupted":
        return 130
    if outcome == "failed":
        emit({"type": "turn.failed", "error": {"message": "the task failed"}})
        return 1
    emit(
        {
            "type": "item.completed",
            "item": {"id": "item_last", "type": "agent_message", "text": "Done."},
        }
    )
    emit(
        {
            "type": "turn.completed",
            "usage": {"input_tokens": 2400, "cached_input_tokens": 800, "output_tokens": 120},
        }
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
