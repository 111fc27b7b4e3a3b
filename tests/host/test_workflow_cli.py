"""The agent, review, trash and brood commands (issue 6) through a real `colony` subprocess
against a real Mycelium: bad input gives one-line errors and changes nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import git, make_repo
from tests.host.conftest import Daemon, git_in, wait_state
from tests.host.test_trash import files
from tests.host.workflow_helpers import wait_until

ROOT = Path(__file__).resolve().parents[2]


def colony(d: Daemon, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLONY_SOCKET": str(d.socket), "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "colony", *args], capture_output=True, text=True, env=env, timeout=60
    )


def one_line_error(done: subprocess.CompletedProcess[str], start: str) -> None:
    """Exit 1, and stderr is one `error:` line (and perhaps one `hint:` line)."""
    lines = done.stderr.splitlines()
    assert done.returncode == 1, done
    assert lines[0].startswith(f"error: {start}"), lines
    assert len(lines) == 1 or (len(lines) == 2 and lines[1].startswith("hint: ")), lines


def test_bad_input_is_one_line_and_changes_nothing(
    d: Daemon, tmp_path: Path, exchange: Path
) -> None:
    """When the preset is unknown, the task empty, a colony whose agent runs is merged without
    --force, or undo names snapshot 99, each is a one-line error and nothing changes."""
    client = d.client
    assert client is not None
    repo = make_repo(
        tmp_path / "repo", {"app.py": "x\n", "colony.toml": "[agent]\npreset = 'claude'\n"}
    )
    client.spawn("c", str(repo))
    ws = Path(wait_state(client, "c", "running").workspace)
    assert colony(d, "snapshot", "c", "-m", "first").returncode == 0

    def state() -> tuple[object, ...]:
        return (
            files(ws),
            git(repo, "rev-parse", "main"),
            git_in(client, "c", "rev-parse", "colony/c"),
            git_in(client, "c", "for-each-ref", "refs/colony/"),
            len(client.agent_sessions("c").sessions),
        )

    before = state()
    one_line_error(
        colony(d, "agent", "run", "c", "fix it", "--agent", "cursor"),
        "agent: unknown preset 'cursor': expected one of aider, claude, codex, gemini",
    )
    one_line_error(colony(d, "agent", "run", "c", ""), "task: expected a non-empty task, got ''")
    one_line_error(
        colony(d, "agent", "run", "c", "fix", "--command", "my-agent --fast"),
        "command: expected a command containing '{prompt}'",
    )
    one_line_error(colony(d, "undo", "c", "--to", "99"), "--to 99: colony 'c' has snapshots 1-1")
    one_line_error(colony(d, "brood", "spawn", "", "--repo", str(repo)), "objective: expected")
    one_line_error(
        colony(d, "brood", "spawn", "x", "--count", "0", "--repo", str(repo)),
        "--count: expected an integer 1-64, got 0",
    )
    assert state() == before
    assert client.broods().broods == []
    assert [c.name for c in client.colonies().colonies] == ["c"]

    gate = exchange / "gate"
    run = colony(d, "agent", "run", "c", f"write work.txt: w\nwait-for {gate}")
    assert run.returncode == 0, run.stderr
    wait_until(lambda: (ws / "work.txt").exists(), what="the agent to write")
    during = state()
    one_line_error(
        colony(d, "merge", "c"), "cannot merge colony 'c': its agent (session 1) is still running"
    )
    one_line_error(colony(d, "undo", "c"), "cannot undo colony 'c': its agent (session 1)")
    assert state() == during
    stopped = colony(d, "agent", "stop", "c")
    assert "interrupted" in stopped.stdout


def test_commands_show_sessions_review_and_trash(d: Daemon, tmp_path: Path) -> None:
    """When an agent runs through the CLI with -f, its events print and it exits 0; ls, show,
    diff --stat, conflicts, snapshot --list, merge, rm and trash print what happened."""
    client = d.client
    assert client is not None
    repo = make_repo(
        tmp_path / "repo", {"app.py": "x\n", "colony.toml": "[agent]\npreset = 'gemini'\n"}
    )
    client.spawn("c", str(repo))
    wait_state(client, "c", "running")
    run = colony(d, "agent", "run", "c", "write hello.txt: hi\nall done", "-f")
    assert run.returncode == 0, run.stderr
    assert "→ write_file: hello.txt" in run.stdout
    assert "completed (exit 0)" in run.stdout
    assert "completed" in colony(d, "agent", "ls", "c").stdout
    shown = colony(d, "agent", "show", "c").stdout
    assert "gemini" in shown
    assert "tokens in/out" in shown
    assert colony(d, "diff", "c", "--stat").stdout.strip().startswith("hello.txt")
    assert "no file is changed" in colony(d, "conflicts").stdout
    # Snapshots 1 and 2 are the agent turn's start and end (issue 12).
    assert colony(d, "snapshot", "c").stdout.startswith("snapshot 3 of colony 'c'")
    assert "1 start" in colony(d, "snapshot", "c", "--list").stdout
    merged = colony(d, "merge", "c", "--squash", "-m", "hello")
    assert merged.returncode == 0, merged.stderr
    assert "merged colony 'c' into main (squashed)" in merged.stdout
    assert git(repo, "log", "-1", "--format=%s").strip() == "hello"
    assert colony(d, "rm", "--force", "c").returncode == 0
    listed = colony(d, "trash").stdout
    assert "colony/c" in listed
    assert colony(d, "trash", "purge", "--all").returncode == 0
    assert "the trash is empty" in colony(d, "trash", "ls").stdout
