"""The task language of the scripted agents: they stand in for real agent CLIs in tests.

A task is lines of actions, run in order in the current directory (the colony's workspace):

    write PATH: TEXT        write TEXT (``\\n`` for newlines) to PATH, creating directories
    append PATH: TEXT       append TEXT and a newline
    delete PATH             remove a file
    wait-for PATH           wait until PATH exists (a test lets the agent go on)
    count DIR               count this agent as running in DIR until it ends (concurrency)
    fail                    end with an error
    when SUFFIX: ACTION     only if $COLONY_NAME ends with SUFFIX

Anything else is just said.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Step:
    tool: str  # Write, Edit, Bash, Say
    target: str
    text: str = ""


def parse(task: str) -> list[Step]:
    steps = []
    name = os.environ.get("COLONY_NAME", "")
    for raw in task.splitlines():
        line = raw.strip()
        if line.startswith("when "):
            cond, _, line = line[5:].partition(": ")
            if not name.endswith(cond.strip()):
                continue
        verb, _, rest = line.partition(" ")
        if verb in ("write", "append"):
            path, _, text = rest.partition(": ")
            steps.append(Step("Write" if verb == "write" else "Edit", path.strip(), text))
        elif verb in ("delete", "wait-for", "count", "fail"):
            steps.append(Step("Bash", verb, rest.strip()))
        elif line:
            steps.append(Step("Say", "", line))
    return steps


class Counter:
    """Agents running at once, across processes: DIR/running and DIR/max under a lock."""

    def __init__(self, folder: str) -> None:
        self.folder = Path(folder)
        os.umask(0)  # each colony has its own uid: the counter files are everyone's

    def _change(self, delta: int) -> None:
        with open(self.folder / "lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            running_file = self.folder / "running"
            running = int(running_file.read_text() or 0) if running_file.exists() else 0
            running += delta
            running_file.write_text(str(running))
            top_file = self.folder / "max"
            top = int(top_file.read_text() or 0) if top_file.exists() else 0
            top_file.write_text(str(max(top, running)))
            with open(self.folder / "log", "a") as log:
                log.write(f"{os.environ.get('COLONY_NAME')} {'+' if delta > 0 else '-'}\n")


def run(steps: list[Step], report: Callable[[Step, str, bool], None]) -> Iterator[Counter]:
    """Do each step, calling ``report(step, output, is_error)``; yields counters to release."""
    for step in steps:
        if step.tool in ("Write", "Edit"):
            path = Path(step.target)
            path.parent.mkdir(parents=True, exist_ok=True)
            text = step.text.replace("\\n", "\n")
            if step.tool == "Write":
                path.write_text(text + ("" if text.endswith("\n") else "\n"))
            else:
                with path.open("a") as f:
                    f.write(text + "\n")
            report(step, f"wrote {path}", False)
        elif step.target == "delete":
            Path(step.text).unlink(missing_ok=True)
            report(step, f"deleted {step.text}", False)
        elif step.target == "wait-for":
            while not Path(step.text).exists():
                time.sleep(0.05)
            report(step, f"found {step.text}", False)
        elif step.target == "count":
            counter = Counter(step.text)
            counter._change(+1)
            report(step, "counted", False)
            yield counter
        elif step.target == "fail":
            report(step, "failing as asked", True)
            raise SystemExit(1)
        else:
            report(step, step.text, False)


def release(counters: list[Counter]) -> None:
    for counter in counters:
        counter._change(-1)


def execute(task: str, report: Callable[[Step, str, bool], None]) -> str:
    """Run the task's steps; "done", "failed" (a fail step) or "interrupted" (SIGINT).

    Counters are released whatever the outcome, so a brood's running count stays exact.
    """
    counters: list[Counter] = []
    try:
        for counter in run(parse(task), report):
            counters.append(counter)
    except KeyboardInterrupt:
        return "interrupted"
    except SystemExit:
        return "failed"
    finally:
        release(counters)
    return "done"


def prompt_of(argv: list[str], flag: str) -> str:
    return argv[argv.index(flag) + 1] if flag in argv else ""


def option(argv: list[str], flag: str) -> str | None:
    return argv[argv.index(flag) + 1] if flag in argv else None
