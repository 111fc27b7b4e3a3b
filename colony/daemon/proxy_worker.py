"""One preview proxy worker process (issue 15): the data path, off the daemon's event loop.

The daemon (:mod:`colony.daemon.proxy_workers`) binds the preview port and starts one worker
per core with ``python -m colony.daemon.proxy_worker``, handing it the listening sockets and
one end of a ``SOCK_SEQPACKET`` socket pair. The worker drops to its own uid (no groups, no
capabilities) before it reads a byte from a client, then runs
:class:`~colony.daemon.proxy.PreviewProxy` on uvloop. It parses hostile HTTP, so it is given
nothing it could misuse: it cannot enter a colony's namespace nor reach a colony's address
(the host's firewall refuses non-root senders); the daemon decides and connects, over the
socket pair, once per client connection:

- ``admit`` (with a copy of the client's socket): the peer's connection cap, and its uid;
- ``open`` (the first request head): routing, the preview gate (issue 14) and the connection
  inside the colony's namespace, whose socket comes back with the answer (SCM_RIGHTS);
- ``release`` when the connection ends; ``batch`` each second: the requests it carried, in
  batches (:class:`~colony.core.routes.RequestTally`) for the audit log.

Everything else (each request and response, WebSockets, streams) stays in the worker. It
exits when the daemon goes: the socket pair's end of file, and the kernel's parent-death
signal for a ``kill -9``.
"""

from __future__ import annotations

import argparse
import asyncio
import ctypes
import json
import os
import signal
import socket
import sys
from typing import Any

from colony.core.http1 import render_error_page
from colony.core.routes import RequestTally, RouteTable, Upstream
from colony.daemon.proxy import Opened, PreviewProxy

PR_SET_PDEATHSIG = 1
MAX_MESSAGE = 256 * 1024
FLUSH_EVERY = 1.0


class Channel:
    """Requests to the daemon over the socket pair, each answered by id."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.next_id = 0
        self.waiting: dict[int, asyncio.Future[tuple[dict[str, Any], socket.socket | None]]] = {}
        self.closed = asyncio.get_running_loop().create_future()
        sock.setblocking(False)
        asyncio.get_running_loop().add_reader(sock.fileno(), self._readable)

    def send(self, message: dict[str, Any], fd: int | None = None) -> None:
        data = json.dumps(message).encode()
        if fd is None:
            self.sock.setblocking(True)  # small messages: a full buffer waits for the daemon
            try:
                self.sock.send(data)
            finally:
                self.sock.setblocking(False)
        else:
            self.sock.setblocking(True)
            try:
                socket.send_fds(self.sock, [data], [fd])
            finally:
                self.sock.setblocking(False)

    async def ask(
        self, message: dict[str, Any], fd: int | None = None
    ) -> tuple[dict[str, Any], socket.socket | None]:
        self.next_id += 1
        message["id"] = self.next_id
        future = asyncio.get_running_loop().create_future()
        self.waiting[self.next_id] = future
        try:
            self.send(message, fd)
            answer: tuple[dict[str, Any], socket.socket | None] = await future
            return answer
        finally:
            self.waiting.pop(message["id"], None)

    def _readable(self) -> None:
        while True:
            try:
                data, fds, _, _ = socket.recv_fds(self.sock, MAX_MESSAGE, 1)
            except BlockingIOError:
                return
            except OSError:
                data, fds = b"", []
            if not data:  # the daemon went away
                asyncio.get_running_loop().remove_reader(self.sock.fileno())
                if not self.closed.done():
                    self.closed.set_result(None)
                return
            answer = json.loads(data)
            sock = socket.socket(fileno=fds[0]) if fds else None
            future = self.waiting.get(answer.get("id"))
            if future is None or future.done():
                if sock is not None:
                    sock.close()
                continue
            future.set_result((answer, sock))


class WorkerProxy(PreviewProxy):
    """The proxy with the daemon's decisions asked over a :class:`Channel`."""

    def __init__(self, channel: Channel, **kwargs: Any) -> None:
        super().__init__(lambda: RouteTable({}), _no_connect, **kwargs)
        self.channel = channel
        self.ids: dict[asyncio.Transport, int] = {}  # open connections: their id at the daemon
        self._refusal = b""

    async def admit(self, transport: asyncio.Transport) -> tuple[bool, int | None]:
        sock = transport.get_extra_info("socket")
        answer, _ = await self.channel.ask({"op": "admit"}, sock.fileno())
        if not answer.get("ok"):
            self._refusal = str(answer.get("page", "")).encode("latin-1")
            return False, None
        self.ids[transport] = int(answer["conn"])
        uid = answer.get("uid")  # for the records; the gate uses the daemon's own copy
        return True, None if uid is None else int(uid)

    def release(self, transport: asyncio.Transport) -> None:
        conn = self.ids.pop(transport, None)
        if conn is not None and not self.channel.closed.done():
            self.channel.send({"op": "release", "conn": conn})

    def refused(self) -> bytes:
        return self._refusal

    async def open(
        self, transport: asyncio.Transport | None, raw: bytes, uid: int | None
    ) -> Opened:
        conn = self.ids.get(transport) if transport is not None else None
        message = {"op": "open", "conn": conn, "head": raw.decode("latin-1")}
        answer, sock = await self.channel.ask(message)
        up = answer.get("upstream")
        upstream = None if up is None else Upstream(str(up[0]), int(up[1]), up[2])
        page = answer.get("answer")
        if sock is None and page is None:
            page = render_error_page(502, "the preview proxy could not route this").decode()
        return upstream, sock, None if page is None else str(page).encode("latin-1")


async def _no_connect(up: Upstream) -> socket.socket:
    raise OSError(f"a worker does not connect by itself: {up}")


def drop_privileges(uid: int) -> None:
    """Become ``uid`` (its own group, no others), for good, and die with the parent."""
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)  # cleared by the uid change: again


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="a preview proxy worker (started by Mycelium)")
    parser.add_argument("--control", type=int, required=True)
    parser.add_argument("--listen", type=int, action="append", required=True)
    parser.add_argument("--uid", type=int, required=True)
    parser.add_argument("--parent", type=int, required=True)
    parser.add_argument("--domain", default="localhost")
    parser.add_argument("--idle-timeout", type=float, required=True)
    args = parser.parse_args(argv)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a ^C to the daemon: it stops us itself
    # Everything is imported before the uid changes: Colony's files (and its Python) may sit
    # where the worker's uid cannot read them, say a checkout under /root.
    import uvloop

    drop_privileges(args.uid)
    if os.getppid() != args.parent:  # the daemon died before the signal was set
        return 1
    control = socket.socket(fileno=args.control)
    listen = [socket.socket(fileno=fd) for fd in args.listen]
    uvloop.run(serve(control, listen, args.domain, args.idle_timeout))
    return 0


async def serve(
    control: socket.socket, listen: list[socket.socket], domain: str, idle_timeout: float
) -> None:
    """Proxy until the daemon closes its end of ``control``."""
    channel = Channel(control)
    tally = RequestTally()
    proxy = WorkerProxy(channel, domain=domain, on_request=tally.add, idle_timeout=idle_timeout)
    await proxy.start(socks=listen)
    try:
        while not channel.closed.done():
            await asyncio.wait([channel.closed], timeout=FLUSH_EVERY)
            for batch in tally.drain():
                if not channel.closed.done():
                    channel.send({"op": "batch", "batch": batch.to_json()})
    finally:
        await proxy.close()


if __name__ == "__main__":
    sys.exit(main())
