"""Turns decisions into processes: start a command inside a colony, watch it exit, wait for a
port to answer. The only daemon module that starts colony processes."""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from colony import host
from colony.host import Placement

ExitCallback = Callable[[int | None], None]


@dataclass
class Running:
    """A process the daemon started or adopted, and how to learn of its exit."""

    pid: int
    started: int | None
    proc: host.Process[bytes] | None  # None when adopted from an earlier daemon
    exited: asyncio.Future[int | None]


def start(
    argv: list[str],
    *,
    cwd: Path,
    env: dict[str, str],
    placement: Placement,
    log_path: Path,
    header: str | None = None,
) -> Running:
    """Start ``argv`` inside a colony, its output appended to ``log_path``.

    Runs on the event loop: a worker thread would outlive a start cancelled by stop or rm,
    and leak the process it forks.

    Raises:
        HostError: the program could not start.
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        if header:
            log.write(header.encode() + b"\n")
            log.flush()
        proc = host.spawn(argv, cwd=cwd, env=env, placement=placement, stdout=log)
    return watch(proc.pid, proc)


def adopt(pid: int, started: int | None) -> Running | None:
    """Watch a process started by an earlier daemon, if it is still the same process."""
    if not host.alive(pid, started):
        return None
    return watch(pid, None, started)


def watch(pid: int, proc: host.Process[bytes] | None, started: int | None = None) -> Running:
    """Resolve ``Running.exited`` with the exit code (None if unknown) when ``pid`` ends."""
    loop = asyncio.get_running_loop()
    exited: asyncio.Future[int | None] = loop.create_future()
    if started is None:
        started = host.start_time(pid)
    fd = host.pidfd_open(pid)

    def done() -> None:
        if fd is not None:
            loop.remove_reader(fd)
            os.close(fd)
        code = proc.poll() if proc is not None else None
        if proc is not None and code is None:
            code = proc.wait()
        if not exited.done():
            exited.set_result(code)

    if fd is None:
        loop.call_soon(done)
    else:
        loop.add_reader(fd, done)
    return Running(pid, started, proc, exited)


async def run_to_end(
    argv: list[str],
    *,
    cwd: Path,
    env: dict[str, str],
    placement: Placement,
    log_path: Path,
    header: str,
) -> int:
    """Run a setup or build command to its end and return its exit code."""
    running = start(argv, cwd=cwd, env=env, placement=placement, log_path=log_path, header=header)
    try:
        code = await running.exited
    except asyncio.CancelledError:
        if not running.exited.done():  # once reaped, the pid may be someone else's
            host.kill(running.pid, 9, group=True)
        raise
    return -1 if code is None else code


async def port_open(netns_path: str | None, port: int) -> bool:
    """Whether something accepts TCP connections on the colony's 127.0.0.1:``port``; with
    ``netns_path`` None, on the host's (sandbox level none)."""
    loop = asyncio.get_running_loop()
    try:
        if netns_path is None:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        else:
            sock = await asyncio.to_thread(host.socket_in_netns, netns_path)
    except Exception:
        return False
    sock.setblocking(False)
    try:
        await asyncio.wait_for(loop.sock_connect(sock, ("127.0.0.1", port)), 1.0)
        return True
    except (OSError, TimeoutError):
        return False
    finally:
        sock.close()


def tail_of(path: Path, lines: int = 3) -> str:
    """The last lines of a log file, joined on one line, for a failure reason."""
    try:
        with path.open("rb") as f:
            f.seek(max(0, f.seek(0, 2) - 4096))
            data = f.read().decode(errors="replace")
    except OSError:
        return ""
    rows = [r.strip() for r in data.splitlines() if r.strip()]
    # Only the output of the last command: each command's output starts with a "$ " header.
    starts = [i for i, r in enumerate(rows) if r.startswith("$ ")]
    if starts:
        rows = rows[starts[-1] + 1 :]
    return " | ".join(rows[-lines:])
