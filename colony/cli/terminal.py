"""``colony exec`` and ``colony shell``: a command inside a colony, wired to our terminal."""

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
from typing import IO, NoReturn

import click

from colony.cli.app import _client, _pairs_option, main, name_argument
from colony.client import Client, ExecSession
from colony.errors import ColonyError


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


def _run_exec(
    client: Client, name: str, argv: list[str] | None, env: dict[str, str], use_tty: bool
) -> int:
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


@main.command("exec")
@click.option(
    "--env",
    multiple=True,
    metavar="K=V",
    callback=_pairs_option("K=V"),
    help="Set an environment variable, repeatable.",
)
@click.option(
    "--tty/--no-tty",
    "use_tty",
    default=None,
    help="Run in a terminal [default: when stdin and stdout are terminals].",
)
@name_argument
@click.argument("command", nargs=-1, required=True)
@click.pass_context
def exec_command(
    ctx: click.Context,
    env: dict[str, str],
    use_tty: bool | None,
    name: str,
    command: tuple[str, ...],
) -> NoReturn:
    """Run a command inside a colony.

    Stdin is forwarded; the exit code is the command's.

    \b
    Example:
      colony exec --env DEBUG=1 web -- pytest -q
    """
    if use_tty is None:
        use_tty = sys.stdin.isatty() and sys.stdout.isatty()
    ctx.exit(_run_exec(_client(ctx), name, list(command), env, use_tty))


@main.command()
@name_argument
@click.pass_context
def shell(ctx: click.Context, name: str) -> NoReturn:
    """Open a terminal inside a colony.

    Runs the [terminal] command of colony.toml (bash by default).

    \b
    Example:
      colony shell web
    """
    if not sys.stdin.isatty():
        raise ColonyError(
            "colony shell needs a terminal on stdin",
            hint=f"run commands with 'colony exec {name} -- CMD'",
        )
    ctx.exit(_run_exec(_client(ctx), name, None, {}, True))
