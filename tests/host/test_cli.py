"""The colony command through a real subprocess against a real Mycelium."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import make_repo
from tests.host.conftest import Daemon
from tests.host.test_colonies import owned

ROOT = Path(__file__).resolve().parents[2]


def colony(d: Daemon, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLONY_SOCKET": str(d.socket), "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "colony", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        (
            '[services.web]\ncommand = "x"\nport = "abc"\n',
            "error: colony.toml: services.web.port: expected an integer 1-65535, got 'abc'",
        ),
        (
            '[services.a]\ncommand = "x"\nport = 3000\n[services.b]\ncommand = "y"\nport = 3000\n',
            "error: colony.toml: services.b.port: port 3000 is already used by service 'a'",
        ),
        (
            '[services.web]\ncommand = "x"\nrestart = "sometimes"\n',
            "error: colony.toml: services.web.restart: expected 'always', 'on-failure' or 'never', "
            "got 'sometimes'",
        ),
        ("[services.web]\ncommand = 5\n", "error: colony.toml: services.web.command: expected"),
        ("[services.web\n", "error: colony.toml: line 1"),
    ],
)
def test_bad_colony_toml_is_one_line_and_creates_nothing(
    daemon: Daemon, tmp_path: Path, toml: str, message: str
) -> None:
    """When colony.toml is wrong, spawn prints one error line naming the file and key path,
    exits non-zero, and nothing is created."""
    repo = make_repo(tmp_path / "repo", {"colony.toml": toml})
    done = colony(daemon, "spawn", "web", "--repo", str(repo))
    assert done.returncode == 1
    assert done.stderr.startswith(message)
    assert "Traceback" not in done.stderr
    assert [line for line in done.stderr.splitlines() if line.startswith("error:")] == [
        done.stderr.splitlines()[0]
    ]
    listed = colony(daemon, "ls", "--json")
    assert json.loads(listed.stdout)["colonies"] == []
    assert owned(daemon.prefix) == []


@pytest.mark.parametrize("name", ["../x", "a;b", "x" * 300])
def test_bad_names_are_refused(daemon: Daemon, tmp_path: Path, name: str) -> None:
    """When a colony name could escape a path or a shell, spawn refuses it in one line."""
    repo = make_repo(tmp_path / "repo", {"README": "x\n"})
    done = colony(daemon, "spawn", name, "--repo", str(repo))
    assert done.returncode == 2  # a usage error, refused before the daemon is asked
    assert "Traceback" not in done.stderr
    errors = [line for line in done.stderr.splitlines() if line.lower().startswith("error:")]
    assert len(errors) == 1
    assert "NAME" in errors[0]
    assert len(errors[0]) < 200
    assert owned(daemon.prefix) == []


def test_spawn_shows_progress_then_urls_and_ls_lists(daemon: Daemon, tmp_path: Path) -> None:
    """When a colony is spawned from the CLI, each step is shown, the preview URL is printed,
    and ls, show and url agree."""
    toml = '[services.web]\ncommand = "python3 -m http.server 3000 --bind 127.0.0.1"\nport = 3000\n'
    repo = make_repo(tmp_path / "repo", {"colony.toml": toml})
    done = colony(daemon, "spawn", "cli", cwd=repo)
    assert done.returncode == 0, done.stderr
    for step in ("spawning", "starting"):
        assert step in done.stderr
    url = done.stdout.strip().splitlines()[-1]
    assert url == f"http://web.cli.localhost:{daemon.proxy_port}/"
    table = colony(daemon, "ls").stdout
    assert table.splitlines()[0].split()[:3] == ["NAME", "STATE", "SERVICES"]
    assert "cli" in table
    assert "running" in table
    assert colony(daemon, "url", "cli", "web").stdout.strip() == url
    shown = json.loads(colony(daemon, "show", "cli", "--json").stdout)
    assert shown["branch"] == "colony/cli"
    stopped = colony(daemon, "stop", "cli")
    assert stopped.returncode == 0, stopped.stderr
    assert json.loads(colony(daemon, "show", "cli", "--json").stdout)["state"] == "stopped"
    removed = colony(daemon, "rm", "cli")
    assert removed.returncode == 0
    assert "colony trash restore cli" in removed.stdout


def test_doctor_passes_on_a_running_installation(daemon: Daemon, tmp_path: Path) -> None:
    """When Mycelium runs with a colony, `colony doctor` reports no failure and exits 0;
    the colony has the host's default limits (issue 11)."""
    repo = make_repo(tmp_path / "repo", {"README": "x\n"})
    assert colony(daemon, "spawn", "doc", "--repo", str(repo)).returncode == 0
    done = colony(daemon, "doctor", "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    checks = {c["name"]: c for c in json.loads(done.stdout)["checks"]}
    assert checks["api socket"]["status"] == "ok"
    assert checks["firewall"]["status"] == "ok"
    assert checks["colony addresses"]["status"] == "ok"
    assert checks["audit"]["status"] == "ok"
    assert checks["limits"]["status"] == "ok", checks["limits"]
    for name in ("colony identities", "colony views", "state files", "colony disks"):
        assert checks[name]["status"] == "ok", checks[name]


def test_doctor_names_a_colony_whose_files_others_can_read(daemon: Daemon, tmp_path: Path) -> None:
    """When a colony's workspace has been opened to others, `colony doctor` fails and names
    the colony and the path (issue 10: checks on a live colony)."""
    repo = make_repo(tmp_path / "repo", {"colony.toml": '[services.s]\ncommand = "sleep 99"\n'})
    assert colony(daemon, "spawn", "open", "--repo", str(repo)).returncode == 0
    client = daemon.client
    assert client is not None
    workspace = Path(client.colony("open").workspace)
    workspace.chmod(0o755)
    done = colony(daemon, "doctor", "--json")
    assert done.returncode == 1
    checks = {c["name"]: c for c in json.loads(done.stdout)["checks"]}
    assert checks["colony identities"]["status"] == "fail"
    assert f"open: {workspace} is uid" in checks["colony identities"]["detail"]
    assert checks["colony views"]["status"] == "ok"


def test_rm_of_several_removes_each_on_its_own(daemon: Daemon, tmp_path: Path) -> None:
    """When `colony rm` names several colonies (issue 15), the stopped ones go to the trash
    together with their kernel objects; an unknown name and a running one (no --force) each
    fail with their own line and stop none of the others; the exit code is 1. Then one
    forced call removes the running one."""
    toml = '[services.idle]\ncommand = "exec sleep 300"\n'
    repo = make_repo(tmp_path / "repo", {"colony.toml": toml})
    for name in ("m1", "m2", "m3"):
        done = colony(daemon, "spawn", name, "--repo", str(repo))
        assert done.returncode == 0, done.stderr
    for name in ("m1", "m3"):
        assert colony(daemon, "stop", name).returncode == 0
    removed = colony(daemon, "rm", "m1", "nosuch", "m2", "m3")
    forced = colony(daemon, "rm", "--force", "--json", "m2", "m1")
    listed = json.loads(colony(daemon, "ls", "--json").stdout)["colonies"]
    assert removed.returncode == 1
    assert removed.stdout.count("removed colony") == 2
    assert "error: colony 'nosuch' not found" in removed.stderr
    assert "colony 'm2'" in removed.stderr
    assert removed.stderr.rstrip().endswith("2 of 4 colonies not removed: nosuch, m2")
    assert forced.returncode == 1
    results = json.loads(forced.stdout)
    assert [r.get("removed") for r in results] == ["m2", None]
    assert "not found" in results[1]["error"]
    assert listed == []
    assert owned(daemon.prefix) == []
