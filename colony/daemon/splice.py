"""Bytes between two connected sockets, both ways, through kernel pipes (``splice(2)``):
they never enter Python. Driven by the event loop's readiness callbacks, one pipe per
direction; a direction that ends (EOF) half-closes the other socket's writing side.

Example:
    >>> await Splice(loop, client, upstream).run()  # until both directions end
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import socket

PIPE_SIZE = 1 << 20  # asked of each pipe (fs.pipe-max-size, by default); pages come as used
CHUNK = 64 * 1024  # what a pipe holds if it keeps the default size
FLAGS = os.SPLICE_F_MOVE | os.SPLICE_F_NONBLOCK
F_SETPIPE_SZ = 1031


class _Direction:
    """``src`` → pipe → ``dst``; it reads again only once the pipe is empty."""

    def __init__(self, splice: Splice, src: socket.socket, dst: socket.socket) -> None:
        self.splice, self.src, self.dst = splice, src.fileno(), dst.fileno()
        self.dst_sock = dst
        self.r, self.w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        try:  # fewer, larger splices: bulk transfers cost fewer wake-ups
            self.chunk = fcntl.fcntl(self.w, F_SETPIPE_SZ, PIPE_SIZE)
        except OSError:
            self.chunk = CHUNK
        self.pending = 0
        self.reading = self.writing = False
        self.done = False

    def start(self) -> None:
        self._want_read()

    def _want_read(self) -> None:
        if self.writing:
            self.splice.loop.remove_writer(self.dst)
            self.writing = False
        if not self.reading:
            self.splice.loop.add_reader(self.src, self._read)
            self.reading = True

    def _want_write(self) -> None:
        if self.reading:
            self.splice.loop.remove_reader(self.src)
            self.reading = False
        if not self.writing:
            self.splice.loop.add_writer(self.dst, self._write)
            self.writing = True

    def _read(self) -> None:
        try:
            n = os.splice(self.src, self.w, self.chunk, flags=FLAGS)
        except BlockingIOError:
            return
        except OSError:
            self.splice.fail()
            return
        if n == 0:
            self._end()
            return
        self.pending += n
        self._write()

    def _write(self) -> None:
        while self.pending:
            try:
                n = os.splice(self.r, self.dst, self.pending, flags=FLAGS)
            except BlockingIOError:
                self._want_write()
                return
            except OSError:
                self.splice.fail()
                return
            self.pending -= n
        self._want_read()

    def _end(self) -> None:
        self.stop()
        with contextlib.suppress(OSError):
            self.dst_sock.shutdown(socket.SHUT_WR)
        self.done = True
        self.splice.ended()

    def stop(self) -> None:
        if self.reading:
            self.splice.loop.remove_reader(self.src)
        if self.writing:
            self.splice.loop.remove_writer(self.dst)
        self.reading = self.writing = False

    def close(self) -> None:
        self.stop()
        for fd in (self.r, self.w):
            with contextlib.suppress(OSError):
                os.close(fd)


class Splice:
    """Both directions between ``a`` and ``b`` (non-blocking, connected); :meth:`run` returns
    when both ended or one failed. The sockets stay the caller's to close."""

    def __init__(self, loop: asyncio.AbstractEventLoop, a: socket.socket, b: socket.socket):
        self.loop = loop
        self.finished: asyncio.Future[None] = loop.create_future()
        self.ways = (_Direction(self, a, b), _Direction(self, b, a))

    async def run(self) -> None:
        try:
            for way in self.ways:
                way.start()
            await self.finished
        finally:
            for way in self.ways:
                way.close()

    def ended(self) -> None:
        if all(way.done for way in self.ways) and not self.finished.done():
            self.finished.set_result(None)

    def fail(self) -> None:
        for way in self.ways:
            way.stop()
        if not self.finished.done():
            self.finished.set_result(None)
