"""A terminal attached to a command in a colony: the one piece ``colony exec``/``shell`` and
Stem share (raw mode, resizes, stdin pumped into the exec session, output back out)."""

from __future__ import annotations

import contextlib
import os
import select
import shutil
import signal
import sys
import termios
import threading
import tty
from collections.abc import Iterator
from types import FrameType
from typing import IO

from colony.client.mycelium import Client
from colony.client.streams import ExecSession


def _fileno(stream: IO[bytes]) -> int | None:
    try:
        return stream.fileno()
    except (OSError, ValueError):  # io.UnsupportedOperation is both
        return None


def _terminal_size(fd: int | None) -> tuple[int, int]:
    try:
        size = os.get_terminal_size(fd if fd is not None else 0)
    except OSError:
        size = shutil.get_terminal_size()
    return size.columns, size.lines


@contextlib.contextmanager
def _raw_terminal(fd: int | None) -> Iterator[None]:
    """Keys go to the colony unchanged (Ctrl-C included); the terminal is restored after."""
    if fd is None:
        yield
        return
    saved = termios.tcgetattr(fd)
    tty.setraw(fd)
    try:
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


@contextlib.contextmanager
def _forward_resize(session: ExecSession, fd: int | None) -> Iterator[None]:
    if fd is None:
        yield
        return

    def on_winch(signum: int, frame: FrameType | None) -> None:
        session.resize(*_terminal_size(fd))

    previous = signal.signal(signal.SIGWINCH, on_winch)
    try:
        yield
    finally:
        signal.signal(signal.SIGWINCH, previous)


def _pump_stdin(session: ExecSession, stream: IO[bytes], done: threading.Event) -> None:
    """Forward our stdin to the command until it ends; at end of file, close its stdin."""
    fd = _fileno(stream)
    try:
        while not done.is_set():
            if fd is None:
                data = stream.read1(65536) if hasattr(stream, "read1") else stream.read(65536)
            elif select.select([fd], [], [], 0.1)[0]:
                data = os.read(fd, 65536)
            else:
                continue
            if not data:
                session.close_stdin()
                return
            session.send_stdin(data)
    except (OSError, ValueError):
        session.close_stdin()


def exit_status(code: int | None) -> int:
    """A command's exit code as ours: a signal death (-N) becomes 128+N, like a shell."""
    if code is None:
        return 1
    if code < 0:
        return min(128 - code, 255)
    return min(code, 255)


def run_exec(
    client: Client, name: str, argv: list[str] | None, env: dict[str, str], use_tty: bool
) -> int:
    """Run ``argv`` (None: the colony's shell) in colony ``name`` attached to this process's
    stdin, stdout and stderr (raw, with resizes forwarded, when ``use_tty`` on a terminal);
    the exit status, as a shell would give it."""
    stdin, stdout, stderr = sys.stdin.buffer, sys.stdout.buffer, sys.stderr.buffer
    fd = _fileno(stdin)
    local_tty = fd if use_tty and fd is not None and os.isatty(fd) else None
    cols, rows = _terminal_size(local_tty)
    session = client.exec_session(name, argv, env=env, tty=use_tty, cols=cols, rows=rows)
    done = threading.Event()
    with session, _raw_terminal(local_tty), _forward_resize(session, local_tty):
        threading.Thread(target=_pump_stdin, args=(session, stdin, done), daemon=True).start()
        try:
            while (chunk := session.recv()) is not None:
                out = stdout if chunk[0] == "stdout" else stderr
                out.write(chunk[1])
                out.flush()
        finally:
            done.set()
    return exit_status(session.exit_code)


__all__ = ["exit_status", "run_exec"]
