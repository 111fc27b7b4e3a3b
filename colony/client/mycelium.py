"""The whole client of Mycelium, and getting one: starting Mycelium first if need be."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from colony import host
from colony.client.agents import AgentsMixin
from colony.client.audit import AuditMixin
from colony.client.auth import AuthMixin
from colony.client.base import DaemonUnavailable, default_state_dir
from colony.client.broods import BroodsMixin
from colony.client.colonies import ColoniesMixin
from colony.client.doctor import DoctorMixin
from colony.client.hosts import HostsMixin
from colony.client.network import NetworkMixin
from colony.client.review import ReviewMixin
from colony.client.streams import StreamsMixin
from colony.client.usage import UsageMixin
from colony.errors import ColonyError

START_TIMEOUT = 10.0

# Popen objects of daemons this process started: kept so their __del__ does not warn that a
# (deliberately detached) child is still running.
_STARTED: list[Any] = []


class Client(
    ColoniesMixin,
    StreamsMixin,
    NetworkMixin,
    UsageMixin,
    AuditMixin,
    AgentsMixin,
    ReviewMixin,
    BroodsMixin,
    AuthMixin,
    HostsMixin,
    DoctorMixin,
):
    """The Mycelium API on a Unix socket.

    Example:
        >>> with Client("/var/lib/colony/mycelium.sock") as client:
        ...     client.spawn("web", "/home/me/shop")["state"]
        'spawning'
    """


def _answers(client: Client) -> bool:
    try:
        client.health()
    except DaemonUnavailable:
        return False
    return True


def _last_error(path: Path) -> str:
    """The daemon's last ``error:`` line in its log (else its last line)."""
    lines = [line.strip() for line in (host.read_text(path) or "").splitlines() if line.strip()]
    errors = [line.removeprefix("error: ") for line in lines if line.startswith("error: ")]
    return (errors or lines or ["no output"])[-1]


def ensure_daemon(socket_path: str | Path, *, quiet: bool = False) -> Client:
    """A client of the Mycelium on ``socket_path``, starting Mycelium first if it is not running.

    A started daemon runs detached (own session) with its output in ``<state dir>/mycelium.log``;
    unless ``quiet``, one line on stderr says so.

    Raises:
        ColonyError: the daemon exited or did not answer within 10 s.
    """
    client = Client(socket_path)
    try:
        if _answers(client):
            return client
        state_dir = default_state_dir()
        log = state_dir / "mycelium.log"
        argv = [sys.executable, "-m", "colony", "daemon", "run"]
        argv += ["--state-dir", str(state_dir), "--socket", str(client.socket_path)]
        try:
            state_dir.mkdir(parents=True, exist_ok=True)
            out = log.open("ab")
        except OSError as exc:
            raise ColonyError(
                f"cannot start Mycelium: cannot write its log {log}: {exc.strerror}",
                hint="set COLONY_STATE_DIR to a directory you can write",
            ) from exc
        with out:
            proc = host.spawn(argv, cwd="/", stdout=out)
        _STARTED.append(proc)
        deadline = time.monotonic() + START_TIMEOUT
        while not _answers(client):
            code = proc.poll()
            if code is not None:
                raise ColonyError(
                    f"Mycelium exited with code {code} while starting: {_last_error(log)}",
                    hint=f"see its log: {log}",
                )
            if time.monotonic() > deadline:
                raise ColonyError(
                    f"Mycelium (pid {proc.pid}) did not answer on {client.socket_path} "
                    f"within {START_TIMEOUT:g}s",
                    hint=f"see its log: {log}",
                )
            time.sleep(0.1)
    except BaseException:
        client.close()
        raise
    if not quiet:
        print(f"started Mycelium (pid {proc.pid}, log {log})", file=sys.stderr)
    return client
