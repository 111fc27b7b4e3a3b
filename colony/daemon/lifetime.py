"""Mycelium's lifetime: one daemon per state directory, and every exit said with its reason.

A Mycelium must never end without a word (issue 11). So:

- stop signals are handled from the first moment (a SIGTERM during start-up is logged, not
  the default silent death), other signals that would end a process silently (SIGHUP,
  SIGUSR1, SIGUSR2) are logged and ignored, and a crash in C code leaves its traceback
  (:mod:`faulthandler`);
- every exit logs ``Mycelium exited: <reason>``, or ``Mycelium exiting: <reason>`` for an
  error (one line for an error the user can act on, with the traceback for a bug);
- ``mycelium.pid`` in the state directory is locked while a daemon runs (a second one on the
  same state directory is refused) and holds its pid until a logged exit clears it: what is
  left there was a daemon that could say nothing (SIGKILL, the OOM killer), and the next one
  says so.

Example:
    >>> early_signals()
    >>> life = Lifetime(Path("/var/lib/colony"))
    >>> life.claim()          # raises ColonyError if another Mycelium runs there
    >>> life.release("stopped by SIGTERM")
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType

from colony import host
from colony.errors import ColonyError

log = logging.getLogger("colony.daemon")

PID_FILE = "mycelium.pid"
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT)
NOTED_SIGNALS = (signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2)


class Stop(BaseException):
    """A stop signal that arrived before the event loop took signals over."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"received {signal.Signals(signum).name} while starting")
        self.signum = signum


def _raise_stop(signum: int, frame: FrameType | None) -> None:
    raise Stop(signum)


def _note(signum: int, frame: FrameType | None = None) -> None:
    name = signal.Signals(signum).name
    log.warning("received %s: ignored (stop Mycelium with 'colony daemon stop' or SIGTERM)", name)


def early_signals() -> None:
    """Handle signals before anything else runs, so none ends the daemon silently."""
    for sig in STOP_SIGNALS:
        signal.signal(sig, _raise_stop)
    for sig in NOTED_SIGNALS:
        signal.signal(sig, _note)


def loop_signals(loop: asyncio.AbstractEventLoop, stop: Callable[[str], None]) -> None:
    """Hand signals to the event loop: a stop signal calls ``stop(reason)``."""
    for sig in STOP_SIGNALS:
        loop.add_signal_handler(sig, stop, f"received {sig.name}")
    for sig in NOTED_SIGNALS:
        loop.add_signal_handler(sig, _note, sig)


class Lifetime:
    """The state directory's ``mycelium.pid``: locked while this daemon runs."""

    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / PID_FILE
        self.fd: int | None = None

    def claim(self) -> None:
        """Lock the pid file and write this daemon's pid; say if the previous daemon ended
        without a word.

        Raises:
            ColonyError: another Mycelium runs with this state directory.
        """
        fd = host.lock_file(self.path)
        if fd is None:
            pid = parse_pid_file(host.read_text(self.path) or "")[0]
            who = f"pid {pid}" if pid else "another process"
            raise ColonyError(
                f"another Mycelium ({who}) uses the state directory {self.path.parent}",
                hint="stop it first ('colony daemon stop'), or give this one its own --state-dir",
            )
        self.fd = fd
        pid, started = parse_pid_file(os.pread(fd, 200, 0).decode(errors="replace"))
        if pid is not None:
            when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(started or 0))
            log.warning(
                "the previous Mycelium (pid %d, started %s) ended without a word: it was killed "
                "with SIGKILL (by hand, by a script or by the OOM killer: see 'dmesg') or the "
                "machine went down",
                pid,
                when,
            )
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()} {time.time():.0f}\n".encode(), 0)

    def release(self, reason: str, *, error: bool = False) -> None:
        """Log the exit and clear the pid: this exit was said."""
        log.log(logging.ERROR if error else logging.INFO, "Mycelium exited: %s", reason)
        if self.fd is not None:
            os.ftruncate(self.fd, 0)
            os.close(self.fd)
            self.fd = None


def socket_answers(path: Path) -> bool:
    """Whether something listens on the Unix socket ``path`` (a live daemon, even one too
    busy to accept at once); a stale socket file or none at all is False."""
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.settimeout(1.0)
    try:
        probe.connect(str(path))
    except (BlockingIOError, TimeoutError):  # a full backlog: someone listens
        return True
    except OSError:
        return False
    finally:
        probe.close()
    return True


def parse_pid_file(text: str) -> tuple[int | None, float | None]:
    """(pid, start time) from ``mycelium.pid``; (None, None) when empty or unreadable."""
    parts = text.split()
    try:
        return int(parts[0]), float(parts[1]) if len(parts) > 1 else None
    except (IndexError, ValueError):
        return None, None


def user_error(exc: BaseException) -> ColonyError | None:
    """The error the user can act on behind ``exc``: itself, or the one in a task group's
    exception group (the rest being cancellations); None for a bug."""
    if isinstance(exc, ColonyError):
        return exc
    if isinstance(exc, BaseExceptionGroup):
        leaves = [e for e in _leaves(exc) if not isinstance(e, asyncio.CancelledError)]
        if leaves and all(isinstance(e, ColonyError) for e in leaves):
            first = leaves[0]
            assert isinstance(first, ColonyError)
            return first
    return None


def _leaves(group: BaseExceptionGroup[BaseException]) -> list[BaseException]:
    out: list[BaseException] = []
    for exc in group.exceptions:
        out += _leaves(exc) if isinstance(exc, BaseExceptionGroup) else [exc]
    return out


def exit_reason(exc: BaseException) -> str:
    """One line on why the daemon ends with ``exc``."""
    error = user_error(exc)
    if error is not None:
        return str(error)
    if isinstance(exc, Stop):
        return str(exc)
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted (SIGINT)"
    if isinstance(exc, SystemExit):
        return f"SystemExit({exc.code!r}) raised inside the daemon (a bug)"
    return f"internal error: {exc!r} (a bug)"
