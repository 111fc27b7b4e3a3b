"""Mycelium's own life (issue 11): daemons that do not touch each other, one daemon per state
directory and socket, every exit said with its reason, a taken port as one line."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import uuid
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from colony.client import Client
from colony.host import state_mount
from tests.conftest import (
    TEST_NET,
    TEST_PREFIX,
    make_repo,
    passable,
    scratch_dir,
    uid_base_for,
)
from tests.host.conftest import Daemon, running_daemon, wait_for, wait_state
from tests.host.test_colonies import netns_names

ROOT = Path(__file__).resolve().parents[2]
WEB = '[services.web]\ncommand = "python3 -m http.server 3000"\nport = 3000\n'


def third(prefix: str) -> int:
    """The third octet of a test daemon's pool (as tests/host/conftest.py picks it)."""
    return 1 + zlib.crc32(prefix.encode()) % 240


def cli_env(state: Path, prefix: str, proxy_port: int) -> dict[str, str]:
    """The environment of `colony` commands that auto-start their own Mycelium."""
    return {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "COLONY_STATE_DIR": str(state),
        "COLONY_SOCKET": str(state / "mycelium.sock"),
        "COLONY_PREFIX": prefix,
        "COLONY_POOL": f"10.{TEST_NET}.{third(prefix)}.0/24",
        "COLONY_PROXY_PORT": str(proxy_port),
        "COLONY_HTTP_PORT": "off",
        "COLONY_UID_BASE": str(uid_base_for(prefix)),
    }


@pytest.fixture
def state() -> Iterator[Path]:
    """A state directory below the test scratch directory (not below /tmp)."""
    scratch = scratch_dir(f"{TEST_PREFIX}life")
    try:
        yield scratch / "state"
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def colony(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "colony", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(proc: subprocess.Popen[str]) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=60)
    return proc.returncode, out, err


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_two_daemons_start_and_stop_without_touching_each_other(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """When a second Mycelium (another prefix, state dir, socket and ports; its prefix even the
    start of the first one's) starts, spawns, stops and starts again, five times, the first
    keeps running untouched: same pid, its colony running, its namespace there, nothing in its
    log about stopping."""
    base = f"{TEST_PREFIX}{uuid.uuid4().hex[:4]}"
    while third(base) == third(f"{base}-a"):  # their pools must differ
        base = f"{TEST_PREFIX}{uuid.uuid4().hex[:4]}"
    passable(tmp_path)
    first_dir, second_dir = tmp_path / "first", tmp_path / "second"
    first_dir.mkdir()
    second_dir.mkdir()
    with running_daemon(first_dir, request, prefix=f"{base}-a") as first:
        client = first.client
        assert client is not None
        assert first.proc is not None
        client.spawn("steady", str(make_repo(tmp_path / "repo", {"colony.toml": WEB})))
        wait_state(client, "steady", "running")
        pid = first.proc.pid
        # Each state dir is a mount point of its own while its daemon runs (issue 15)...
        assert state_mount.is_self_bind(first.state_dir)
        for round_ in range(5):
            with running_daemon(second_dir, request, prefix=base) as second:
                assert second.client is not None
                if round_ == 0:
                    repo = make_repo(tmp_path / "repo2", {"README": "x\n"})
                    second.client.spawn("busy", str(repo))
                    wait_state(second.client, "busy", "running")
                assert state_mount.is_self_bind(second.state_dir)
            # ...and no longer once it stopped with no colony mounts below it.
            assert not state_mount.mounted_at(second.state_dir)
            assert first.proc.poll() is None, f"the first Mycelium died in round {round_}"
            assert client.health()["pid"] == pid
            assert client.colony("steady").state == "running"
            assert f"{base}-a-steady" in netns_names(), f"round {round_} took its namespace"
        assert "stopping" not in first.log.read_text()
        assert "exited" not in first.log.read_text()


def test_a_taken_proxy_port_is_one_line_through_the_auto_start(tmp_path: Path, state: Path) -> None:
    """When the preview port is taken, the command that starts Mycelium prints one error line
    naming the port, the process that holds it and the setting that changes it, and the
    daemon's log says why it exited, without a traceback."""
    passable(tmp_path)
    holder = socket.socket()
    holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    port = int(holder.getsockname()[1])
    try:
        code, out, err = finish(
            colony(cli_env(state, f"{TEST_PREFIX}{uuid.uuid4().hex[:8]}", port), "ls")
        )
    finally:
        holder.close()
    assert (code, out) == (1, "")
    lines = err.splitlines()
    assert len(lines) == 2, err
    assert lines[0].startswith(
        f"error: Mycelium exited with code 1 while starting: cannot listen for previews on "
        f"127.0.0.1:{port}: the address is in use by pid {os.getpid()} ("
    )
    assert lines[1] == (
        "hint: stop what holds it, or set --proxy-port (env COLONY_PROXY_PORT) to another "
        "port; 0 picks a free one"
    )
    log = (state / "mycelium.log").read_text()
    assert "Traceback" not in log
    assert "ExceptionGroup" not in log
    assert f"Mycelium exited: cannot listen for previews on 127.0.0.1:{port}" in log


def test_commands_at_once_start_one_daemon_that_answers(tmp_path: Path, state: Path) -> None:
    """When three commands start Mycelium at the same moment, one daemon runs and answers on
    the socket (the others step aside, saying why, and never remove its socket), and every
    command names that daemon's pid."""
    passable(tmp_path)
    env = cli_env(state, f"{TEST_PREFIX}{uuid.uuid4().hex[:8]}", free_port())
    runs = [finish(p) for p in [colony(env, "ls") for _ in range(3)]]
    client = Client(state / "mycelium.sock", timeout=30)
    try:
        pid = client.health()["pid"]
        assert [code for code, _, _ in runs] == [0, 0, 0]
        for _, _, err in runs:
            assert err.strip().endswith(f"started Mycelium (pid {pid}, log {state}/mycelium.log)")
        log = (state / "mycelium.log").read_text()
        assert "Traceback" not in log
        assert log.count("Mycelium listening on") == 1
    finally:
        code, _, err = finish(colony(env, "daemon", "stop"))
        client.close()
    assert code == 0, err


def proxy_workers(daemon_pid: int) -> list[int]:
    """The preview proxy worker processes of the daemon ``daemon_pid`` (issue 15)."""
    found = subprocess.run(
        ["pgrep", "-P", str(daemon_pid), "-f", "colony.daemon.proxy_worker"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.split()
    return [int(pid) for pid in found]


def test_every_exit_is_logged_with_its_reason(daemon: Daemon) -> None:
    """When Mycelium gets SIGHUP it says so and carries on; when it is killed with SIGKILL the
    next Mycelium says the previous one ended without a word; SIGTERM is logged as the reason
    of the exit; a second daemon on the same state directory or socket is refused in one line
    and the first one keeps its socket."""
    assert daemon.proc is not None
    daemon.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: "received SIGHUP: ignored" in daemon.log.read_text(), 10, "the SIGHUP note")
    assert daemon.client is not None
    assert daemon.client.health()["ok"]
    killed = daemon.proc.pid
    workers = proxy_workers(killed)
    assert workers, "the preview proxy workers run"
    daemon.kill9()
    assert state_mount.is_self_bind(daemon.state_dir)  # left for the next daemon, which reuses it
    # issue 15: the workers hold the preview port; a killed daemon takes them along
    wait_for(lambda: not any(Path(f"/proc/{pid}").exists() for pid in workers), 10, "workers")
    daemon.start()
    workers = proxy_workers(daemon.proc.pid)
    assert f"the previous Mycelium (pid {killed}, started " in daemon.log.read_text()

    twin = subprocess.run(
        [sys.executable, "-m", "colony", "daemon", "run", "--state-dir", str(daemon.state_dir),
         "--socket", str(daemon.socket.with_name("other.sock")), "--proxy-port", "0",
         "--http-port", "off", "--prefix", daemon.prefix, "--pool", daemon.pool],
        capture_output=True, text=True, timeout=60, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    assert twin.returncode == 1
    assert twin.stderr.splitlines()[-2] == (
        f"error: another Mycelium (pid {daemon.proc.pid}) uses the state directory "
        f"{daemon.state_dir}"
    )
    other = daemon.state_dir.parent / "other-state"
    twin = subprocess.run(
        [sys.executable, "-m", "colony", "daemon", "run", "--state-dir", str(other),
         "--socket", str(daemon.socket), "--proxy-port", "0", "--http-port", "off",
         "--prefix", f"{TEST_PREFIX}tw", "--pool", f"10.{TEST_NET}.250.0/24"],
        capture_output=True, text=True, timeout=60, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    assert twin.returncode == 1
    assert f"error: another Mycelium is listening on the API socket {daemon.socket}" in twin.stderr
    assert daemon.client is not None
    assert daemon.client.health()["ok"], "the first daemon keeps its socket"

    daemon.stop()  # SIGTERM
    assert daemon.proc.returncode == 0
    assert workers
    assert not any(Path(f"/proc/{pid}").exists() for pid in workers)
    assert daemon.log.read_text().rstrip().endswith("Mycelium exited: received SIGTERM")
    assert (daemon.state_dir / "mycelium.pid").read_text() == ""
    assert not state_mount.mounted_at(daemon.state_dir)  # one bind, not one per start


def test_the_daemons_own_log_is_capped(daemon: Daemon) -> None:
    """When mycelium.log (where a daemon a command started writes) has grown past the log
    cap, the daemon rotates it: the file shrinks, the newest lines go to mycelium.log.1."""
    daemon.stop()
    own = daemon.state_dir / "mycelium.log"
    own.write_bytes(b"old line\n" * 300_000 + b"newest line\n")  # 2.7 MB
    daemon.extra = [*daemon.extra, "--log-size", "1M", "--log-files", "2"]
    daemon.start()
    wait_for(lambda: own.stat().st_size < 1024**2, 10, "mycelium.log rotated")
    kept = own.with_name("mycelium.log.1").read_bytes()
    assert kept.endswith(b"newest line\n")
    assert len(kept) <= 1024**2
