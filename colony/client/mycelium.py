"""The whole client of Mycelium, and getting one: starting Mycelium first if need be."""

from __future__ import annotations

import contextlib
import sys
import time
from pathlib import Path
from typing import Any

from colony.client.agents import AgentsMixin
from colony.client.audit import AuditMixin
from colony.client.auth import AuthMixin
from colony.client.base import USER_START_HINT, DaemonUnavailable, default_state_dir
from colony.client.broods import BroodsMixin
from colony.client.colonies import ColoniesMixin
from colony.client.doctor import DoctorMixin
from colony.client.hosts import HostsMixin
from colony.client.network import NetworkMixin
from colony.client.review import ReviewMixin
from colony.client.secrets import SecretsMixin
from colony.client.shares import SharesMixin
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
    SharesMixin,
    SecretsMixin,
):
    """The Mycelium API on a Unix socket.

    Example:
        >>> with Client("/var/lib/colony/mycelium.sock") as client:
        ...     client.spawn("web", "/home/me/shop").state
        'spawning'
    """


def _answers(client: Client) -> bool:
    try:
        client.health()
    except DaemonUnavailable:
        return False
    return True


def _last_error(path: Path) -> tuple[str, str | None]:
    """The daemon's last ``error:`` line in its log (else its last line), and the ``hint:``
    that follows it."""
    from colony import host  # not on the hot path (issue 15)

    lines = [line.strip() for line in (host.read_text(path) or "").splitlines() if line.strip()]
    errors = [i for i, line in enumerate(lines) if line.startswith("error: ")]
    if not errors:
        return (lines or ["no output"])[-1], None
    after = lines[errors[-1] + 1 : errors[-1] + 2]
    hint = after[0].removeprefix("hint: ") if after and after[0].startswith("hint: ") else None
    return lines[errors[-1]].removeprefix("error: "), hint


def _pid_file(state_dir: Path) -> int | None:
    from colony import host  # not on the hot path (issue 15)

    parts = (host.read_text(state_dir / "mycelium.pid") or "").split()
    return int(parts[0]) if parts and parts[0].isdigit() else None


def _ended_silently(state_dir: Path) -> int | None:
    """The pid of a Mycelium that ended without clearing its ``mycelium.pid`` (issue 11)."""
    from colony import host  # not on the hot path (issue 15)

    pid = _pid_file(state_dir)
    return pid if pid is not None and not host.alive(pid) else None


def _running(state_dir: Path) -> int | None:
    """The pid of the Mycelium that holds ``state_dir`` now, if one does."""
    from colony import host  # not on the hot path (issue 15)

    pid = _pid_file(state_dir)
    return pid if pid is not None and host.alive(pid) else None


def _wait_gone(pid: int, started: int | None, timeout: float) -> bool:
    """Whether process ``pid`` (started at ``started``) has exited within ``timeout``."""
    from colony import host  # not on the hot path (issue 15)

    deadline = time.monotonic() + timeout
    while host.alive(pid, started):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def stop_daemon(socket_path: str | Path, timeout: float) -> int | None:
    """Ask the Mycelium on ``socket_path`` to stop and return its pid once its process has
    exited, not merely closed its socket: until then it holds its ports and state directory,
    and a Mycelium started meanwhile would fail on them (issue 12). None: none was running.

    Raises:
        ColonyError: it is still running after ``timeout`` seconds.
    """
    from colony import host  # not on the hot path (issue 15)

    with Client(socket_path) as client:
        try:
            pid = int(client.health()["pid"])
        except DaemonUnavailable:
            return None
        started = host.start_time(pid)  # None: not in our pid namespace; the socket tells
        with contextlib.suppress(DaemonUnavailable):  # it may exit before it answers
            client.stop_daemon()
        deadline = time.monotonic() + timeout
        while _answers(client) and time.monotonic() < deadline:
            time.sleep(0.1)
        if started is None and not _answers(client):
            return pid
        if started is not None and _wait_gone(pid, started, deadline - time.monotonic()):
            return pid
    log = default_state_dir() / "mycelium.log"
    doing = "still answers" if _answers(client) else "no longer answers but has not exited"
    raise ColonyError(
        f"Mycelium (pid {pid}) {doing} {timeout:g}s after it was asked to stop",
        hint=f"see its log ({log}); 'kill -9 {pid}' ends it (colonies keep running)",
    )


def _stopping(state_dir: Path, client: Client) -> int | None:
    """A Mycelium that holds ``state_dir`` but does not answer: one on its way out, or one
    still starting. Waits up to START_TIMEOUT for it to answer or exit; returns its pid if it
    does neither."""
    from colony import host  # not on the hot path (issue 15)

    pid = _running(state_dir)
    if pid is None:
        return None
    started = host.start_time(pid)
    deadline = time.monotonic() + START_TIMEOUT
    while host.alive(pid, started) and not _answers(client):
        if time.monotonic() > deadline:
            return pid
        time.sleep(0.1)
    return None


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
        from colony import host  # only when Mycelium does not answer (issue 15)

        state_dir = default_state_dir()
        log = state_dir / "mycelium.log"
        # A Mycelium that is stopping still holds the ports and the state directory: wait for
        # it to go, rather than start one that fails on them (issue 12).
        stuck = _stopping(state_dir, client)
        if stuck is not None:
            raise ColonyError(
                f"cannot start Mycelium: the one running (pid {stuck}) neither answers on "
                f"{client.socket_path} nor exits",
                hint=f"see its log ({log}); 'kill -9 {stuck}' ends it (colonies keep running)",
            )
        if _answers(client):  # it was starting, and now answers
            return client
        if not host.is_root():  # only root can run Mycelium (issue 14)
            raise DaemonUnavailable(
                f"Mycelium is not running (nothing answers on {client.socket_path})",
                hint=USER_START_HINT,
            )
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
        gone = _ended_silently(state_dir)
        with out:
            proc = host.spawn(argv, cwd="/", stdout=out)
        _STARTED.append(proc)
        deadline = time.monotonic() + START_TIMEOUT
        pid = proc.pid
        while not _answers(client):
            code = proc.poll()
            if code is not None:
                # Another command started one at the same moment: it holds the state
                # directory, and ours stepped aside (issue 11); wait for that one.
                other = _running(state_dir)
                if other is None:
                    error, hint = _last_error(log)
                    raise ColonyError(
                        f"Mycelium exited with code {code} while starting: {error}",
                        hint=hint or f"see its log: {log}",
                    )
                pid = other
            if time.monotonic() > deadline:
                raise ColonyError(
                    f"Mycelium (pid {pid}) did not answer on {client.socket_path} "
                    f"within {START_TIMEOUT:g}s",
                    hint=f"see its log: {log}",
                )
            time.sleep(0.1)
    except BaseException:
        client.close()
        raise
    if not quiet:
        pid = int(client.health().get("pid") or pid)  # ours, or one started at the same moment
        if gone is not None:
            print(f"Mycelium (pid {gone}) had ended without a word; see {log}", file=sys.stderr)
        print(f"started Mycelium (pid {pid}, log {log})", file=sys.stderr)
    return client
