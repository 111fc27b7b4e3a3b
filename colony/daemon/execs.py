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
import time
from collections.abc import Awaitable, Callable

from colony import host
from colony.core.bus_events import BusEvent, ExecEndEvent, ExecEvent
from colony.core.execs import ExecRequest
from colony.core.redact import redact_argv, redact_env
from colony.daemon import runner
from colony.daemon.actor import ColonyActor
from colony.errors import ColonyError, Conflict

_sessions = itertools.count(1)
Send = Callable[[bytes], Awaitable[None]]


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


def exec_event(session: ExecSession, user: str, at: float) -> ExecEvent:
    """The event of a session that has started; argv and env redacted."""
    return ExecEvent(
        colony=session.actor.name,
        user=user,
        argv=tuple(redact_argv(session.argv)),
        env=redact_env(session.req.env),
        cwd=session.actor.rec.workspace,
        tty=session.req.tty,
        at=at,
    )


def exec_end_event(
    started: ExecEvent, code: int | None, duration: float, at: float
) -> ExecEndEvent:
    """The end of the session ``started`` describes."""
    return ExecEndEvent(
        colony=started.colony,
        user=started.user,
        argv=started.argv,
        code=code,
        duration=duration,
        at=at,
    )


class AuditedSession:
    """A started session whose end is published (issue 5): its exit code, if it got one,
    and how long it ran."""

    def __init__(
        self,
        session: ExecSession,
        started: ExecEvent,
        publish: Callable[[BusEvent], None],
        clock: Callable[[], float],
    ) -> None:
        self.session = session
        self.started = started
        self.publish = publish
        self.clock = clock
        self.code: int | None = None
        self.t0 = time.monotonic()

    def write(self, data: bytes) -> None:
        self.session.write(data)

    def resize(self, cols: int, rows: int) -> None:
        self.session.resize(cols, rows)

    def close_stdin(self) -> None:
        self.session.close_stdin()

    async def pump(self, send: Send) -> int:
        self.code = await self.session.pump(send)
        return self.code

    async def close(self) -> None:
        await self.session.close()
        took = time.monotonic() - self.t0
        self.publish(exec_end_event(self.started, self.code, took, self.clock()))


class Execs:
    """Opens exec sessions in colonies and audits them from start to end.

    Example:
        >>> execs = Execs(myc.actor, bus.publish, time.time)  # doctest: +SKIP
        >>> session = await execs.open("web", ExecRequest(["ls"]), "alice")  # doctest: +SKIP
    """

    def __init__(
        self,
        actor: Callable[[str], ColonyActor],
        publish: Callable[[BusEvent], None],
        clock: Callable[[], float],
    ) -> None:
        self.actor = actor
        self.publish = publish
        self.clock = clock

    async def open(self, colony: str, request: ExecRequest, user: str) -> AuditedSession:
        """A started session of ``user``'s; on a ColonyError nothing is left running."""
        session = ExecSession(self.actor(colony), request)
        try:
            await session.start()
        except ColonyError:
            await session.close()
            raise
        started = exec_event(session, user, self.clock())
        self.publish(started)
        return AuditedSession(session, started, self.publish, self.clock)


__all__ = ["AuditedSession", "ExecRequest", "ExecSession", "Execs", "exec_end_event", "exec_event"]
