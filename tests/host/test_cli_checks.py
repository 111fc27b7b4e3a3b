"""Issue 12: every command tells the truth, checks before it creates, and waits for what it
says. The real colony command against a real Mycelium."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import make_repo
from tests.host.conftest import Daemon
from tests.host.test_cli import colony
from tests.host.test_colonies import owned

SERVED = '[services.web]\ncommand = "python3 -m http.server 3000 --bind 127.0.0.1"\nport = 3000\n'


def errors(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("error:")]


def listed(d: Daemon) -> list[dict]:
    return json.loads(colony(d, "ls", "--json").stdout)["colonies"]


def trashed(d: Daemon) -> list[dict]:
    return json.loads(colony(d, "trash", "--json").stdout)["trash"]


def test_spawn_refuses_the_name_of_a_failed_colony(daemon: Daemon, tmp_path: Path) -> None:
    """When a colony failed, spawning its name again is refused in one line with the way to
    free it, and the failed colony stays as it was (nothing goes to the trash)."""
    repo = make_repo(tmp_path / "repo", {"colony.toml": '[build]\ncommands = ["exit 3"]\n'})
    first = colony(daemon, "spawn", "crash", cwd=repo)
    assert first.returncode == 1
    [before] = listed(daemon)
    assert before["state"] == "failed"
    again = colony(daemon, "spawn", "crash", cwd=repo)
    assert again.returncode == 1
    assert errors(again.stderr) == ["error: colony 'crash' already exists (failed)"]
    assert "colony rm crash" in again.stderr
    assert "colony trash purge crash" in again.stderr
    assert "Traceback" not in again.stderr
    [after] = listed(daemon)
    assert (after["state"], after["created"]) == ("failed", before["created"])
    assert trashed(daemon) == []


def test_spawn_checks_revision_and_trash_before_recording(daemon: Daemon, tmp_path: Path) -> None:
    """When the revision does not exist or the name is still in the trash, spawn refuses in
    one line naming the fix, records nothing, and the trashed colony can still be restored."""
    repo = make_repo(tmp_path / "repo", {"colony.toml": SERVED})
    bad = colony(daemon, "spawn", "intr", "--rev", "nosuchbranch", cwd=repo)
    assert bad.returncode == 1
    [line] = errors(bad.stderr)
    assert "revision 'nosuchbranch' not found" in line
    assert listed(daemon) == []
    assert owned(daemon.prefix) == []
    assert colony(daemon, "spawn", "intr", cwd=repo).returncode == 0
    assert colony(daemon, "rm", "--force", "intr").returncode == 0
    again = colony(daemon, "spawn", "intr", cwd=repo)
    assert again.returncode == 1
    [line] = errors(again.stderr)
    assert line.startswith("error: colony 'intr' is in the trash (entry ")
    assert "colony trash restore intr" in again.stderr
    assert "colony trash purge intr" in again.stderr
    assert listed(daemon) == []
    assert owned(daemon.prefix) == []
    restored = colony(daemon, "trash", "restore", "intr")
    assert restored.returncode == 0, restored.stderr
    [back] = listed(daemon)
    assert back["name"] == "intr"
