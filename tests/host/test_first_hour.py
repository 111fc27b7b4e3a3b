"""The first hour without surprises (issue 12): what `colony` says when something is off,
through the real CLI against a real Mycelium."""

from __future__ import annotations

import html
import json
import os
import shutil
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from colony import host
from colony.client import Client
from colony.core.env import DEFAULT_PATH
from tests.conftest import TEST_PREFIX, make_repo, passable, scratch_dir
from tests.host.conftest import Daemon, running_daemon, wait_for, wait_state
from tests.host.test_agents import project, spawn_all
from tests.host.test_daemon_life import cli_env as life_env
from tests.host.test_daemon_life import colony as life_colony
from tests.host.test_daemon_life import finish, free_port

ROOT = Path(__file__).resolve().parents[2]


def cli_env(d: Daemon) -> dict[str, str]:
    return {**os.environ, "COLONY_SOCKET": str(d.socket), "PYTHONPATH": str(ROOT)}


def colony(d: Daemon, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "colony", *args],
        capture_output=True, text=True, env=cli_env(d), cwd=cwd, timeout=60,
    )  # fmt: skip


def started(d: Daemon, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "colony", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=cli_env(d),
    )  # fmt: skip


def interrupt(proc: subprocess.Popen[str]) -> tuple[int, str]:
    """Ctrl-C a running CLI: its exit code and what it printed on stderr."""
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    return proc.returncode, err


def test_spawn_prints_config_typos_with_the_key_meant(daemon: Daemon, tmp_path: Path) -> None:
    """When colony.toml has misspelt keys and a misspelt [services] table, spawn prints a
    warning for each, naming the key meant, and one saying the colony runs no service."""
    toml = '[setup]\ncomands = ["true"]\n[service.web]\ncommand = "sleep 99"\nrestrat = "never"\n'
    repo = make_repo(tmp_path / "repo", {"colony.toml": toml})
    done = colony(daemon, "spawn", "typo", "--repo", str(repo))
    assert done.returncode == 0, done.stderr
    warnings = [line for line in done.stderr.splitlines() if line.startswith("warning:")]
    assert warnings == [
        "warning: colony.toml: service: unknown key, ignored (did you mean 'services'?)",
        "warning: colony.toml: setup.comands: unknown key, ignored (did you mean 'commands'?)",
        "warning: colony.toml: no services: the colony runs none ([service] ignored; "
        "services are [services.NAME] tables)",
    ]
    assert "uncommitted" not in done.stderr  # a clean repository


def test_spawn_warns_that_uncommitted_changes_are_not_in_the_colony(
    daemon: Daemon, tmp_path: Path
) -> None:
    """When the repository has uncommitted changes, spawn warns that the colony starts from
    the last commit without them; --json carries the warning too."""
    repo = make_repo(tmp_path / "repo", {"app.py": "print(1)\n", "colony.toml": ""})
    (repo / "app.py").write_text("print(2)\n")
    (repo / "new.py").write_text("x = 1\n")
    done = colony(daemon, "spawn", "dirty", "--repo", str(repo), "--json")
    assert done.returncode == 0, done.stderr
    warnings = json.loads(done.stdout)["warnings"]
    assert len(warnings) == 1
    assert warnings[0].startswith(f"{repo}: 2 uncommitted files (app.py, new.py) are not in")
    assert "starts from the last commit" in warnings[0]
    workspace = Path(json.loads(done.stdout)["workspace"])
    assert (workspace / "app.py").read_text() == "print(1)\n"


def test_ctrl_c_during_spawn_says_the_spawn_goes_on(daemon: Daemon, tmp_path: Path) -> None:
    """When the user presses Ctrl-C while spawn shows progress, it exits 130 saying the
    colony is still spawning and how to cancel it; the colony goes on."""
    toml = '[setup]\ncommands = ["sleep 300"]\n[services.web]\ncommand = "sleep 99"\nrestrat = 1\n'
    repo = make_repo(tmp_path / "repo", {"colony.toml": toml})
    proc = started(daemon, "spawn", "slow", "--repo", str(repo))
    try:
        assert proc.stderr is not None
        assert proc.stderr.readline().startswith("warning:")  # the request is answered
        client = daemon.client
        assert client is not None
        wait_state(client, "slow", "provisioning")  # running its setup
        code, err = interrupt(proc)
    finally:
        proc.kill()
        proc.wait()
    assert code == 130
    assert (
        "colony 'slow' is still spawning in the background; 'colony rm --force slow' to cancel"
        in err
    )
    assert "Traceback" not in err
    assert client.colony("slow").state == "provisioning"


def test_ctrl_c_while_following_an_agent_says_it_runs_on(
    d: Daemon, tmp_path: Path, exchange: Path
) -> None:
    """When the user presses Ctrl-C during `colony agent run -f`, it exits 130 saying the
    agent is still running and how to stop it; the agent goes on."""
    client = d.client
    assert client is not None
    spawn_all(client, project(tmp_path), ("busy",))
    gate = exchange / "never-opened"
    proc = started(d, "agent", "run", "busy", f"write a.txt: a\nwait-for {gate}", "-f")
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline()  # following: the first event is shown
        code, err = interrupt(proc)
    finally:
        proc.kill()
        proc.wait()
    assert code == 130
    assert "agent session 1 of colony 'busy' is still running; 'colony agent stop busy'" in err
    assert client.agent_sessions("busy").sessions[-1].status == "running"


@pytest.fixture
def private_path_daemon(
    tmp_path: Path, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Daemon]:
    """Mycelium whose colonies' PATH starts with a directory they may not search (as
    ``/root/.local/bin`` is): exec then fails with EACCES rather than ENOENT."""
    scratch = scratch_dir("cb-private")
    private = scratch / "bin"
    private.mkdir(mode=0o700)
    monkeypatch.setenv("COLONY_PATH", f"{private}:{DEFAULT_PATH}")
    try:
        with running_daemon(tmp_path, request) as d:
            yield d
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


@pytest.mark.parametrize("agent", ["claude", "gemini"])
def test_agent_not_installed_is_named_with_how_to_install_it(
    private_path_daemon: Daemon, tmp_path: Path, agent: str
) -> None:
    """When the preset's CLI is not on the colony's PATH, `colony agent run` says so, how to
    install it and which other presets there are, and leaves no session behind."""
    if shutil.which(agent, path=DEFAULT_PATH):
        pytest.skip(f"{agent} is installed on this machine")
    d = private_path_daemon
    client = d.client
    assert client is not None
    spawn_all(client, project(tmp_path, agent), ("noagent",))
    done = colony(d, "agent", "run", "noagent", "fix it")
    assert done.returncode == 1
    lines = done.stderr.splitlines()
    assert lines[0].startswith(f"error: {agent}: not found on the colony's PATH (")
    assert "npm install -g" in lines[1]
    assert "--agent" in lines[1]
    assert "EACCES" not in done.stderr
    assert client.agent_sessions("noagent").sessions == []
    assert wait_state(client, "noagent", "running").state == "running"


@pytest.fixture
def state() -> Iterator[Path]:
    """A state directory of a Mycelium the CLI starts, below the test scratch directory."""
    scratch = scratch_dir(f"{TEST_PREFIX}life")
    try:
        yield scratch / "state"
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def test_daemon_stop_returns_once_mycelium_has_exited(tmp_path: Path, state: Path) -> None:
    """When Mycelium is stopped while a shell is open in a colony, `colony daemon stop`
    returns only once its process has exited, and the next command starts a new one that
    answers (not one that fails on the ports the old one still held)."""
    passable(tmp_path)
    env = life_env(state, f"{TEST_PREFIX}{uuid.uuid4().hex[:8]}", free_port())
    repo = make_repo(tmp_path / "repo", {"colony.toml": '[services.s]\ncommand = "sleep 300"\n'})
    client = Client(state / "mycelium.sock", timeout=30)
    try:
        code, _, err = finish(life_colony(env, "spawn", "held", "--repo", str(repo)))
        assert code == 0, err
        pid = client.health()["pid"]
        with client.exec_session("held", ["sleep", "300"], tty=True, cols=80, rows=24):
            code, out, err = finish(life_colony(env, "daemon", "stop"))
            assert (code, out.strip()) == (0, f"stopped Mycelium (pid {pid})"), err
            assert not host.alive(pid)
        code, _, err = finish(life_colony(env, "ls"))
        assert code == 0, err
        assert "started Mycelium" in err
        assert client.health()["pid"] != pid
    finally:
        finish(life_colony(env, "rm", "--force", "held"))  # starts a Mycelium if need be
        finish(life_colony(env, "daemon", "stop"))
        client.close()


def test_preview_502_says_stopped_or_names_the_port_listened_on(
    daemon: Daemon, tmp_path: Path
) -> None:
    """When a preview's port has nothing listening, the 502 names the port the colony does
    listen on; once the colony is stopped, it says so and how to start it."""
    toml = (
        '[services.app]\ncommand = "python3 -m http.server 8001 --bind 127.0.0.1"\n'
        "[previews]\nports = [5173]\n"
    )
    repo = make_repo(tmp_path / "repo", {"colony.toml": toml})
    client = daemon.client
    assert client is not None
    client.spawn("lost", str(repo))
    assert wait_state(client, "lost", "running", "failed").state == "running"

    def page() -> str:
        url = f"http://127.0.0.1:{daemon.proxy_port}/"
        resp = httpx.get(url, headers={"Host": "5173.lost.localhost"}, timeout=10)
        assert resp.status_code == 502
        return html.unescape(resp.text)

    def names_the_port() -> str | None:
        text = page()
        return text if "8001" in text else None

    text = wait_for(names_the_port, what="the port in the 502")
    assert "nothing listens on port 5173 inside the colony; it listens on 8001" in text
    client.stop("lost")
    wait_state(client, "lost", "stopped")
    assert "colony 'lost' is stopped, so port 5173 is not answering; start it with " in page()


def test_spawn_without_name_takes_the_prefix_and_a_free_number(
    daemon: Daemon, tmp_path: Path
) -> None:
    """When spawn is given no NAME, the colony is named after [colony] name with the first
    free number, as colony.toml says."""
    repo = make_repo(tmp_path / "repo", {"colony.toml": '[colony]\nname = "flaskr"\n'})
    names = []
    for _ in range(2):
        done = colony(daemon, "spawn", "--no-wait", "--json", cwd=repo)
        assert done.returncode == 0, done.stderr
        names.append(json.loads(done.stdout)["name"])
    assert names == ["flaskr-1", "flaskr-2"]


def test_a_service_on_the_wrong_port_is_named_with_the_port_it_chose(
    daemon: Daemon, tmp_path: Path
) -> None:
    """When a service listens on another port than the one declared, the spawn fails naming
    the port it does listen on."""
    toml = (
        '[services.web]\ncommand = "python3 -m http.server 8001 --bind 127.0.0.1"\n'
        "port = 3000\nready_timeout = 3\n"
    )
    client = daemon.client
    assert client is not None
    client.spawn("wrong", str(make_repo(tmp_path / "repo", {"colony.toml": toml})))
    failed = wait_state(client, "wrong", "failed")
    assert failed.reason == (
        "service 'web' did not answer on port 3000 within 3s; it listens on 8001 "
        "(set port in [services.web] to match)"
    )
