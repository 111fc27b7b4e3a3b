"""Helpers for the multi-agent workflow tests (issue 6): scripted agents on PATH, waiting for
sessions and events. The scripted agents (tests/agents) stand in for the real CLIs only."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path

from colony.client import Client, EventStream
from colony.contract_responses import Session
from tests.host.conftest import wait_for as wait_until

AGENTS = Path(__file__).resolve().parents[1] / "agents"
PRESETS = ("claude", "codex", "gemini", "aider")


def install_fake_agents(folder: Path) -> Path:
    """Copy the scripted agents to ``folder`` and put ``claude``, ``codex``, ``gemini`` and
    ``aider`` commands running them in ``folder/bin``; returns that bin directory.

    Copies, so colony processes (an unprivileged user) can read them wherever the checkout is.
    """
    scripts = folder / "agents"
    scripts.mkdir(parents=True)
    for source in AGENTS.glob("*.py"):
        shutil.copy(source, scripts / source.name)
    bin_dir = folder / "bin"
    bin_dir.mkdir()
    for name in PRESETS:
        wrapper = bin_dir / name
        wrapper.write_text(f'#!/bin/sh\nexec /usr/bin/python3 -B {scripts}/fake_{name}.py "$@"\n')
        wrapper.chmod(0o755)
    for path in (folder, scripts, bin_dir, *scripts.iterdir()):
        path.chmod(path.stat().st_mode | 0o755 if path.is_dir() else 0o644)
    return bin_dir


def path_with(bin_dir: Path) -> str:
    return f"{bin_dir}:{os.environ.get('PATH', '/usr/bin:/bin')}"


def wait_ended(client: Client, colony: str, session: int, timeout: float = 30) -> Session:
    """The session once it is no longer running."""

    def ended() -> Session | None:
        rec = client.agent_session(colony, session)
        return rec if rec.status != "running" else None

    return wait_until(ended, timeout, f"agent session {session} of {colony} to end")  # type: ignore[return-value]


def wait_event(events: EventStream, match: Callable[[dict], bool], timeout: float = 30) -> dict:
    """The next event ``match`` accepts."""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError("timed out waiting for an event")
        event = events.recv(timeout=left)
        if event is not None and match(event):
            return event
