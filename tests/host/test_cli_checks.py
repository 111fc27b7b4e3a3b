"""Issue 12: every command tells the truth, checks before it creates, and waits for what it
says. The real colony command against a real Mycelium."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from pathlib import Path

from tests.conftest import make_repo
from tests.host.conftest import Daemon
from tests.host.test_cli import ROOT, colony
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
    stopped = colony(daemon, "stop", "crash")  # nothing of it runs: nothing to do, no error
    assert stopped.returncode == 0, stopped.stderr
    assert "colony 'crash' is failed: nothing to stop" in stopped.stderr


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


def test_start_and_stop_are_idempotent(daemon: Daemon, tmp_path: Path) -> None:
    """When a colony already runs, start says so and succeeds, as stop does for a stopped
    one; neither changes anything."""
    repo = make_repo(tmp_path / "repo", {"colony.toml": SERVED})
    assert colony(daemon, "spawn", "idem", cwd=repo).returncode == 0
    started = colony(daemon, "start", "idem")
    assert started.returncode == 0, started.stderr
    assert "colony 'idem' is already running" in started.stderr
    assert json.loads(colony(daemon, "start", "idem", "--json").stdout)["already"] == "running"
    assert colony(daemon, "stop", "idem").returncode == 0
    stopped = colony(daemon, "stop", "idem")
    assert stopped.returncode == 0, stopped.stderr
    assert "colony 'idem' is already stopped" in stopped.stderr
    [shown] = listed(daemon)
    assert shown["state"] == "stopped"


def test_rm_takes_several_names_and_reports_each(daemon: Daemon, tmp_path: Path) -> None:
    """When rm is given several names, each is removed and reported; one that cannot be
    removed is named, the others still go, and the exit code is 1."""
    repo = make_repo(tmp_path / "repo", {"README": "x\n"})
    for name in ("ra", "rb"):
        assert colony(daemon, "spawn", name, cwd=repo).returncode == 0
    done = colony(daemon, "rm", "--force", "ra", "nosuch", "rb")
    assert done.returncode == 1
    assert "removed colony 'ra'" in done.stdout
    assert "removed colony 'rb'" in done.stdout
    assert "error: colony 'nosuch' not found" in done.stderr
    assert "1 of 3 colonies not removed: nosuch" in done.stderr
    assert listed(daemon) == []
    assert sorted(e["name"] for e in trashed(daemon)) == ["ra", "rb"]
    as_json = colony(daemon, "rm", "nosuch", "other", "--json")
    assert as_json.returncode == 1
    assert [r["name"] for r in json.loads(as_json.stdout)] == ["nosuch", "other"]


def test_trash_restore_waits_and_reports_a_failure(
    daemon: Daemon, tmp_path: Path, exchange: Path
) -> None:
    """When a restored colony fails to start, trash restore waits for it and exits 1 with the
    step and the reason; a good one is running when restore returns."""
    marker = exchange / "broken"  # outside /tmp, which each colony has its own of
    toml = SERVED + f'[build]\ncommands = ["test ! -e {marker}"]\n'
    repo = make_repo(tmp_path / "repo", {"colony.toml": toml})
    assert colony(daemon, "spawn", "back", cwd=repo).returncode == 0
    assert colony(daemon, "rm", "--force", "back").returncode == 0
    restored = colony(daemon, "trash", "restore", "back")
    assert restored.returncode == 0, restored.stderr
    [back] = listed(daemon)
    assert back["state"] == "running"
    assert colony(daemon, "rm", "--force", "back").returncode == 0
    marker.write_text("")
    [entry] = trashed(daemon)
    failed = colony(daemon, "trash", "restore", str(entry["id"]))
    assert failed.returncode == 1
    assert errors(failed.stderr)[0].startswith("error: colony 'back' failed at building")
    assert "Traceback" not in failed.stderr


def test_trash_purge_all_leaves_nothing_behind(daemon: Daemon, tmp_path: Path) -> None:
    """When the whole trash is purged (--yes, or without a terminal), every entry, its
    directory and its refs in the repository are gone, and so is what gc moved there."""
    repo = make_repo(tmp_path / "repo", {"README": "x\n"})
    for name in ("pa", "pb", "pc"):
        assert colony(daemon, "spawn", name, cwd=repo).returncode == 0
        (repo / "README").write_text(f"{name}\n")
        assert colony(daemon, "rm", "--force", name).returncode == 0
    assert len(trashed(daemon)) == 3
    stray = daemon.state_dir / "colonies" / "stray"  # a directory of no colony: gc trashes it
    stray.mkdir(parents=True)
    (stray / "notes").write_text("x\n")
    assert colony(daemon, "gc").returncode == 0
    assert json.loads(colony(daemon, "trash", "--json").stdout)["strays"] != []
    done = colony(daemon, "trash", "purge", "--all", "--yes")
    assert done.returncode == 0, done.stderr
    assert "(moved to the trash by gc)" in done.stdout
    assert trashed(daemon) == []
    assert list((daemon.state_dir / "trash").iterdir()) == []
    refs = subprocess.run(
        ["git", "-C", str(repo), "for-each-ref", "refs/colony/"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert refs == ""


def test_trash_purge_all_asks_on_a_terminal(daemon: Daemon, tmp_path: Path) -> None:
    """When purge --all runs on a terminal without --yes, it lists the entries and asks; a
    'no' deletes nothing."""
    repo = make_repo(tmp_path / "repo", {"README": "x\n"})
    assert colony(daemon, "spawn", "keep", cwd=repo).returncode == 0
    assert colony(daemon, "rm", "--force", "keep").returncode == 0
    env = {**os.environ, "COLONY_SOCKET": str(daemon.socket), "PYTHONPATH": str(ROOT)}
    main, other = pty.openpty()
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "colony", "trash", "purge", "--all"],
            stdin=other,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        os.write(main, b"n\n")
        _, err = proc.communicate(timeout=60)
    finally:
        os.close(main)
        os.close(other)
    assert proc.returncode == 1
    assert "keep" in err
    assert "for good?" in err
    assert "error: trash purge: nothing deleted" in err
    assert [e["name"] for e in trashed(daemon)] == ["keep"]


def test_a_service_that_gives_up_makes_the_colony_degraded(
    daemon: Daemon, tmp_path: Path, exchange: Path
) -> None:
    """When a service gives up after the colony started, the colony stays running but shows
    as degraded (ls, show, --json, an event) until a restart brings the service back."""
    client = daemon.client
    assert client is not None
    gate = exchange / "die"
    toml = (
        f'[services.worker]\ncommand = "while [ ! -e {gate} ]; do sleep 0.1; done; exit 1"\n'
        "retries = 0\n"
    )
    repo = make_repo(tmp_path / "repo", {"colony.toml": toml})
    assert colony(daemon, "spawn", "sick", cwd=repo).returncode == 0
    assert listed(daemon)[0]["degraded"] == []
    with client.events("sick") as events:
        gate.write_text("")
        while (event := events.recv(timeout=30)) is not None and event["type"] != "health":
            pass
    assert event is not None
    assert (event["state"], event["degraded"]) == ("degraded", ["worker"])
    [shown] = listed(daemon)
    assert (shown["state"], shown["degraded"]) == ("running", ["worker"])
    assert colony(daemon, "ls").stdout.splitlines()[1].split()[1] == "degraded"
    assert "degraded (running; gave up: worker)" in colony(daemon, "show", "sick").stdout
    gate.unlink()
    restarted = colony(daemon, "restart", "sick")
    assert restarted.returncode == 0, restarted.stderr
    [shown] = listed(daemon)
    assert (shown["state"], shown["degraded"]) == ("running", [])
    assert colony(daemon, "ls").stdout.splitlines()[1].split()[1] == "running"
