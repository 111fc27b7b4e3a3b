#!/usr/bin/env python3
"""A scripted stand-in for Aider (``aider --message TASK --yes-always``): it does the task
(see actions.py) and prints Aider's plain-text report lines (``Applied edit to PATH``, the
``Tokens: … Cost: …`` line)."""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import actions


def main(argv: list[str]) -> int:
    task = actions.prompt_of(argv, "--message")
    print("Aider v0.0-fake", flush=True)
    if "--restore-chat-history" in argv:
        print("Restored previous conversation history.", flush=True)

    def report(step: actions.Step, output: str, is_error: bool) -> None:
        if step.tool in ("Write", "Edit"):
            print(f"Applied edit to {step.target}", flush=True)
        else:
            print(output, flush=True)

    outcome = actions.execute(task, report)
    if outcome != "done":
        return 130 if outcome == "interrupted" else 1
    print("Tokens: 2.3k sent, 150 received. Cost: $0.01 message, $0.02 session.", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
