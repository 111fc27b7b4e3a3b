"""Interactive and one-shot commands inside a colony, bridged over a WebSocket.

Frames: the client sends ``b"\\x00" + stdin``, ``{"type": "resize"}`` and ``{"type": "eof"}``;
the daemon sends ``b"\\x01" + stdout``, ``b"\\x02" + stderr`` and finally
``{"type": "exit", "code": N}``. With ``tty`` the command gets a PTY and all output is stdout.
"""

from __future__ import annotations

import asyncio
import fcntl
import itertools
import os
import shlex
import signal
import struct
import termios
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from colony import host
from colony.daemon import runner
from colony.daemon.actor import ColonyActor
from colony.errors import ConfigError, Conflict

_sessions = itertools.count(1)
Send = Callable[[bytes], Awaitable[None]]


@dataclass
class ExecRequest:
    argv: list[str] | None
    env: dict[str, str] = field(default_factory=dict)
    tty: bool = False
    cols: int = 80
    rows: int = 24

    @classmethod
    def from_json(cls, data: Any) -> ExecRequest:
        if not isinstance(data, dict):
            raise ConfigError("exec: expected a JSON object to start the session")
        argv = data.get("argv")
        if argv is not None and (
            not isinstance(argv, list) or not argv or not all(isinstance(a, str) for a in argv)
        ):
            raise ConfigError(f"exec: argv: expected a non-empty list of strings, got {argv!r}")
        env = data.get("env") or {}
        if not isinstance(env, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in env.items()
        ):
            raise ConfigError("exec: env: expected an object of strings")
        return cls(
            argv,
            env,
            bool(data.get("tty")),
            _size(data, "cols", 80),
            _size(data, "rows", 24),
        )


def _size(data: dict[str, Any], key: str, default: int) -> int:
    """A terminal dimension: what TIOCSWINSZ takes (an unsigned short), not zero."""
    value = data.get(key) or default
    if not isinstance(value, int) or isinstance(value, bool) or not 0 < value < 65536:
        raise ConfigError(f"exec: {key}: expected an integer 1-65535, got {value!r}")
    return value


def set_winsize(fd: int, cols: int, rows: int) -> None:
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


class ExecSession:
    """One command running inside a colony, with its streams."""

    def __init__(self, actor: ColonyActor, req: ExecRequest) -> None:
        if not actor.rec.isolated or not actor.rec.workspace:
            raise Conflict(
                f"colony '{actor.name}' is {actor.rec.state}; it has no environment to run in",
                hint=f"start it with 'colony start {actor.name}'",
            )
        self.actor = actor
        self.req = req
        self.leaf = f"exec-{next(_sessions)}"
        self.argv = req.argv or shlex.split(actor.cfg.terminal)
        self.master: int | None = None
        self.proc: host.Process[bytes] | None = None
        self.running: runner.Running | None = None

    async def start(self) -> None:
        actor = self.actor
        argv, placement = await actor.process(self.leaf, self.argv, tty=self.req.tty)
        env = actor.env_for_exec(self.req.env)
        cwd = actor.rec.workspace
        if self.req.tty:
            env.setdefault("TERM", "xterm-256color")
            self.master, slave = os.openpty()
            set_winsize(self.master, self.req.cols, self.req.rows)
            if placement.uid is not None:  # the terminal belongs to the colony's user
                os.fchown(slave, placement.uid, -1 if placement.gid is None else placement.gid)
            try:
                self.proc = host.spawn(argv, cwd=cwd, env=env, placement=placement, pty_slave=slave)
            finally:
                os.close(slave)
        else:
            self.proc = host.spawn(
                argv,
                cwd=cwd,
                env=env,
                placement=placement,
                stdin=host.PIPE,
                stdout=host.PIPE,
                stderr=host.PIPE,
            )
        self.running = runner.watch(self.proc.pid, self.proc)

    def write(self, data: bytes) -> None:
        if self.master is not None:
            os.write(self.master, data)
        elif self.proc is not None and self.proc.stdin is not None and not self.proc.stdin.closed:
            try:
                self.proc.stdin.write(data)
                self.proc.stdin.flush()
            except BrokenPipeError:
                pass

    def close_stdin(self) -> None:
        if self.master is not None:
            os.write(self.master, b"\x04")
        elif self.proc is not None and self.proc.stdin is not None:
            self.proc.stdin.close()

    def resize(self, cols: int, rows: int) -> None:
        if self.master is not None:
            set_winsize(self.master, cols, rows)

    async def pump(self, send: Send) -> int:
        """Forward output until the command has exited and its streams are drained."""
        assert self.proc is not None
        assert self.running is not None
        streams: list[tuple[int, bytes]] = []
        if self.master is not None:
            streams.append((self.master, b"\x01"))
        else:
            assert self.proc.stdout is not None
            assert self.proc.stderr is not None
            streams += [(self.proc.stdout.fileno(), b"\x01"), (self.proc.stderr.fileno(), b"\x02")]
        copies = asyncio.gather(*(self._copy(fd, tag, send) for fd, tag in streams))
        code = await self.running.exited
        try:
            # Output written just before the exit is still in the pipes; a detached
            # grandchild holding them open must not keep the session alive.
            await asyncio.wait_for(asyncio.shield(copies), 1.0)
        except TimeoutError:
            copies.cancel()
            await asyncio.gather(copies, return_exceptions=True)
        return -1 if code is None else code

    async def _copy(self, fd: int, tag: bytes, send: Send) -> None:
        assert self.running is not None
        loop = asyncio.get_running_loop()
        os.set_blocking(fd, False)
        ready = asyncio.Event()
        loop.add_reader(fd, ready.set)
        try:
            while True:
                await ready.wait()
                ready.clear()
                try:
                    data = os.read(fd, 65536)
                except BlockingIOError:
                    continue
                except OSError:  # EIO: the PTY's other side closed
                    break
                if not data:
                    break
                await send(tag + data)
        finally:
            loop.remove_reader(fd)

    async def close(self) -> None:
        """Kill whatever the session left running and release its cgroup leaf."""
        if self.proc is not None and self.proc.poll() is None:
            host.kill(self.proc.pid, signal.SIGKILL, group=True)
        actor = self.actor
        await asyncio.to_thread(actor.kit.iso.kill, actor.slot, self.leaf)
        await asyncio.to_thread(actor.kit.iso.remove_leaf, actor.slot, self.leaf)
        if self.running is not None:
            await asyncio.wait([self.running.exited], timeout=2)
        if self.master is not None:
            os.close(self.master)
        if self.proc is not None:
            for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
                if stream is not None:
                    stream.close()
