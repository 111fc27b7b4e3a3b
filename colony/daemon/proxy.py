"""The preview reverse proxy: ``http://<service>.<colony>.localhost:<port>/`` → the colony.

It speaks just enough HTTP/1.1 to route: the first request's ``Host`` picks the upstream for
the whole client connection (browsers keep one connection per origin), then bytes are piped
both ways. Message boundaries are followed on the way through, so every request is recorded
and a later request on the same connection for another upstream is refused (421) instead of
reaching the wrong colony. After a ``101 Switching Protocols`` (WebSocket) the bytes are piped
untouched, so streaming and WebSockets need no frame parsing; a request asking to switch that
gets any other answer is followed by more HTTP, which is parsed and recorded as before.

Only ports a colony declares are reached (see :mod:`colony.core.routes`). Each peer may hold a
bounded number of connections (:class:`~colony.daemon.peers.PeerLimit`), and a connection
that waits longer than ``idle_timeout`` for a request head (its first or its next) is closed.

Example:
    >>> proxy = PreviewProxy(lambda: table, lambda up: connect_in_netns(path_of(up), up.port))
    >>> port = await proxy.start("127.0.0.1", 7080)
    >>> await proxy.close()
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from colony import host
from colony.core.http1 import (
    CHUNKED,
    UNTIL_CLOSE,
    Head,
    Malformed,
    one_host,
    parse_chunk_size,
    parse_head,
    render_error_page,
    request_framing,
    response_framing,
)
from colony.core.routes import (
    RequestRecord,
    RouteTable,
    Upstream,
    explain_miss,
    explain_unreachable,
    resolve,
)
from colony.daemon.loopback import bind_loopback
from colony.daemon.peers import BACKLOG, DEFAULT_IDLE, PeerLimit
from colony.errors import ColonyError

__all__ = ["PreviewProxy", "RequestRecord", "connect_in_netns"]

log = logging.getLogger(__name__)

HEAD_LIMIT = 64 * 1024  # longest request or response head (and chunk-size line)
CHUNK = 64 * 1024

Streams = tuple[asyncio.StreamReader, asyncio.StreamWriter]
Connect = Callable[[Upstream], Awaitable[Streams]]
Write = Callable[[bytes], Awaitable[None]]

_BROKEN = (Malformed, ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError)


async def _copy_exact(reader: asyncio.StreamReader, write: Write, n: int) -> None:
    while n > 0:
        data = await reader.read(min(n, CHUNK))
        if not data:
            raise asyncio.IncompleteReadError(b"", n)
        await write(data)
        n -= len(data)


async def _copy_chunked(reader: asyncio.StreamReader, write: Write) -> None:
    while True:
        line = await reader.readuntil(b"\r\n")
        size = parse_chunk_size(line)
        await write(line)
        if size == 0:
            break
        await _copy_exact(reader, write, size + 2)  # data and its CRLF
    while (line := await reader.readuntil(b"\r\n")) != b"\r\n":  # trailers
        await write(line)
    await write(line)


async def _copy_until_eof(reader: asyncio.StreamReader, write: Write) -> None:
    while data := await reader.read(CHUNK):
        await write(data)


async def _copy_body(reader: asyncio.StreamReader, write: Write, framing: int) -> None:
    if framing == CHUNKED:
        await _copy_chunked(reader, write)
    elif framing == UNTIL_CLOSE:
        await _copy_until_eof(reader, write)
    else:
        await _copy_exact(reader, write, framing)


@dataclass(frozen=True)
class _Pending:
    """A request forwarded upstream whose response has not ended yet."""

    method: str
    path: str  # without the query string, which may carry secrets
    host: str
    started: float
    may_switch: bool = False  # asks to leave HTTP: Upgrade, or CONNECT

    @classmethod
    def of(cls, head: Head, host_header: str) -> _Pending:
        method, path = head.start[0], head.start[1].split("?", 1)[0]
        switch = bool(head.values("upgrade")) or method == "CONNECT"
        return cls(method, path, host_header, asyncio.get_running_loop().time(), switch)

    def record(self, up: Upstream, status: int | None, sent: int) -> RequestRecord:
        duration = asyncio.get_running_loop().time() - self.started
        return RequestRecord(
            up.colony,
            up.service,
            up.port,
            self.method,
            self.path,
            self.host,
            status,
            sent,
            duration,
        )


@dataclass
class _Tunnel:
    """One client connection piped to one upstream, following HTTP/1.1 message boundaries."""

    proxy: PreviewProxy
    upstream: Upstream
    client: Streams
    remote: Streams
    pending: deque[_Pending] = field(default_factory=deque)
    idle: asyncio.Event = field(default_factory=asyncio.Event)
    status: int | None = None  # final status of the response in flight
    sent: int = 0  # bytes of the response in flight sent to the client
    switched: asyncio.Future[bool] | None = None  # the answer to a request that may switch

    async def run(self, first: Head, host_header: str) -> None:
        self.idle.set()
        try:
            async with asyncio.TaskGroup() as tg:
                up = tg.create_task(self._requests(first, host_header))
                down = tg.create_task(self._responses())
                down.add_done_callback(lambda _: up.cancel())
                up.add_done_callback(lambda _: None if _half_closed(up) else down.cancel())
        finally:
            while self.pending:  # the connection ended before these responses did
                self._finish(self.status)

    async def _to_client(self, data: bytes) -> None:
        self.sent += len(data)
        self.client[1].write(data)
        await self.client[1].drain()

    async def _to_upstream(self, data: bytes) -> None:
        self.remote[1].write(data)
        await self.remote[1].drain()

    async def _requests(self, head: Head, host_header: str) -> bool:
        """Forward requests; True when the client finished cleanly and responses may follow."""
        reader = self.client[0]
        try:
            while True:
                framing = request_framing(head)  # checked before the head was accepted
                request = _Pending.of(head, host_header)
                self.pending.append(request)
                self.idle.clear()
                if request.may_switch:
                    self.switched = asyncio.get_running_loop().create_future()
                await self._to_upstream(head.raw)
                await _copy_body(reader, self._to_upstream, framing)
                # Only a 101 (or a CONNECT's 2xx) leaves HTTP; any other answer is followed by
                # more requests, which must be parsed and recorded (issue 11).
                if self.switched is not None and await self.switched:
                    await _copy_until_eof(reader, self._to_upstream)
                    break
                self.switched = None
                try:
                    raw = await self._next_head(reader)
                except asyncio.IncompleteReadError as exc:
                    if exc.partial:
                        return False
                    break
                except asyncio.LimitOverrunError:
                    return await self._refuse(431, "request head larger than 64 KiB")
                if raw is None:
                    return False  # idle too long: close, as keep-alive servers do
                try:
                    head = parse_head(raw, request=True)
                    host_header = one_host(head)
                    request_framing(head)
                except Malformed as exc:
                    return await self._refuse(400, str(exc))
                routed = resolve(self.proxy.routes(), host_header, self.proxy.domain)
                if routed is None or (routed.colony, routed.port) != self._target:
                    msg = f"this connection is bound to another preview than {host_header}"
                    return await self._refuse(421, msg + "; retry on a new connection")
        except _BROKEN:
            return False  # broken mid-body: nothing sensible to answer
        if self.pending and self.remote[1].can_write_eof():
            self.remote[1].write_eof()  # half-close: the upstream still answers what it got
            return True
        return False

    async def _next_head(self, reader: asyncio.StreamReader) -> bytes | None:
        """The next request head; None once the client was idle (no response in flight) for
        ``idle_timeout``. A response that takes long (a stream) keeps the connection open."""
        while True:
            try:
                async with asyncio.timeout(self.proxy.idle_timeout):
                    return await reader.readuntil(b"\r\n\r\n")  # keeps its buffer if cancelled
            except TimeoutError:
                if self.idle.is_set():
                    return None

    def _decide(self, switched: bool) -> None:
        """Tell the request side whether the request that may switch did."""
        if self.switched is not None and not self.switched.done():
            self.switched.set_result(switched)

    @property
    def _target(self) -> tuple[str, int]:
        return self.upstream.colony, self.upstream.port

    async def _refuse(self, status: int, message: str) -> bool:
        """Answer ``status`` once earlier responses are through, then end the connection."""
        await self.idle.wait()
        with contextlib.suppress(ConnectionError):
            self.client[1].write(render_error_page(status, message))
            await self.client[1].drain()
        return False

    async def _responses(self) -> None:
        reader, write = self.remote[0], self._to_client
        try:
            while True:
                try:
                    raw = await reader.readuntil(b"\r\n\r\n")
                except asyncio.IncompleteReadError as exc:
                    await write(exc.partial)
                    return
                except asyncio.LimitOverrunError:
                    break  # left in the buffer: pass it and the rest through untouched
                await write(raw)
                try:
                    head = parse_head(raw, request=False)
                except Malformed:
                    break  # not HTTP we can follow: pass the rest through untouched
                status = int(head.start[1])
                method = self.pending[0].method if self.pending else "GET"
                tunnel = status == 101 or (method == "CONNECT" and 200 <= status < 300)
                if status >= 200 or tunnel:
                    self.status = status
                    if self.pending and self.pending[0].may_switch:
                        self._decide(tunnel)
                if tunnel:
                    break  # recorded when the connection ends
                try:
                    await _copy_body(reader, write, response_framing(head, status, method))
                except Malformed:
                    break
                if status >= 200:
                    self._finish(status)
            await _copy_until_eof(reader, write)
        except _BROKEN:
            return

    def _finish(self, status: int | None) -> None:
        if not self.pending:  # a response nobody asked for: pass it on, record nothing
            self.sent = 0
            return
        record = self.pending.popleft().record(self.upstream, status, self.sent)
        self.status, self.sent = None, 0
        if not self.pending:
            self.idle.set()
        self.proxy.emit(record)


def _half_closed(task: asyncio.Task[bool]) -> bool:
    """Whether the request side ended cleanly with responses still to come."""
    return not task.cancelled() and task.exception() is None and task.result()


class PreviewProxy:
    """Route ``<service>.<colony>.<domain>`` connections to a colony's own loopback.

    Args:
        routes: called per connection for the current table, so it never goes stale.
        connect: opens a stream to an upstream; the daemon passes :func:`connect_in_netns`.
        on_request: called with a :class:`RequestRecord` per request that reached a colony
            (including 502s); must not block.
        peers: caps the open connections of each peer (a new cap of 256 when not given).
        idle_timeout: seconds a connection may wait for a whole request head, its first or,
            with no response in flight, its next.
        explain: the 502 page's line for an upstream that did not answer (the daemon says
            whether the colony is stopped, and which ports it listens on instead).
        gate: asked once per connection, with its first request head and the uid owning the
            client's socket: None lets it through, else the response to send instead (issue
            14: who may open a colony's previews).

    Example:
        >>> proxy = PreviewProxy(routes, connect, on_request=records.append)
        >>> await proxy.serve("127.0.0.1", 7080)  # until cancelled
    """

    def __init__(
        self,
        routes: Callable[[], RouteTable],
        connect: Connect,
        domain: str = "localhost",
        on_request: Callable[[RequestRecord], None] | None = None,
        *,
        peers: PeerLimit | None = None,
        idle_timeout: float = DEFAULT_IDLE,
        connect_timeout: float = 10.0,
        explain: Callable[[Upstream], str] | None = None,
        gate: Callable[[Upstream, Head, int | None], bytes | None] | None = None,
    ) -> None:
        self.routes = routes
        self.gate = gate
        self.explain = explain or (lambda up: explain_unreachable(up, None))
        self.connect = connect
        self.domain = domain
        self.on_request = on_request
        self.peers = peers or PeerLimit(what="preview proxy")
        self.idle_timeout = idle_timeout
        self.connect_timeout = connect_timeout
        self.port: int | None = None
        self._servers: list[asyncio.Server] = []
        self._handlers: set[asyncio.Task[None]] = set()
        self._closing = False

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        """Bind and start accepting; returns the bound port (``port=0`` picks one).

        On 127.0.0.1 the proxy also holds ``[::1]`` on the same port: browsers try it first
        for ``*.localhost`` (see :mod:`colony.daemon.loopback`).
        """
        self._closing = False
        for sock in bind_loopback(host, port, BACKLOG):
            server = await asyncio.start_server(self._handle, sock=sock, limit=HEAD_LIMIT)
            self._servers.append(server)
        self.port = int(self._servers[0].sockets[0].getsockname()[1])
        return self.port

    async def serve(self, host: str, port: int) -> None:
        """Serve until cancelled, then close every connection."""
        await self.start(host, port)
        try:
            await asyncio.gather(*(server.serve_forever() for server in self._servers))
        finally:
            await self.close()

    async def close(self) -> None:
        """Stop accepting and end open connections."""
        servers, self._servers = self._servers, []
        if not servers:
            return
        for server in servers:
            server.close()
        self._closing = True
        for task in self._handlers:
            task.cancel()
        await asyncio.gather(*self._handlers, return_exceptions=True)
        for server in servers:
            await server.wait_closed()

    def emit(self, record: RequestRecord) -> None:
        if self.on_request is None:
            return
        try:
            self.on_request(record)
        except Exception:
            log.exception("preview proxy: on_request failed for %s", record)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        if not self.peers.admit(writer.transport):  # a flood costs its sender only (issue 11)
            writer.write(render_error_page(429, self.peers.message()))
            writer.close()
            return
        self._handlers.add(task)
        try:
            await self._serve_connection((reader, writer))
        except (ConnectionError, asyncio.IncompleteReadError) as exc:
            log.debug("preview proxy: client went away: %r", exc)
        except asyncio.CancelledError:
            # close() ends connections by cancelling them; a handler task that ends cancelled
            # makes asyncio's start_server log "Exception in callback" (CPython 3.11).
            if not self._closing:
                raise
        except Exception:
            log.exception("preview proxy: connection handler failed")
        finally:
            self._handlers.discard(task)
            self.peers.release(writer.transport)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _reply(self, writer: asyncio.StreamWriter, status: int, message: str) -> int:
        page = render_error_page(status, message)
        writer.write(page)
        await writer.drain()
        return len(page)

    async def _serve_connection(self, client: Streams) -> None:
        reader, writer = client
        try:
            async with asyncio.timeout(self.idle_timeout):
                raw = await reader.readuntil(b"\r\n\r\n")
            head = parse_head(raw, request=True)
            host_header = one_host(head)
            request_framing(head)
        except asyncio.IncompleteReadError:
            return  # closed before a whole head arrived: nobody to answer
        except asyncio.LimitOverrunError:
            await self._reply(writer, 431, "request head larger than 64 KiB")
            return
        except TimeoutError:
            await self._reply(writer, 408, "no request head in time")
            return
        except Malformed as exc:
            await self._reply(writer, 400, str(exc))
            return
        table = self.routes()
        upstream = resolve(table, host_header, self.domain)
        if upstream is None:
            await self._reply(writer, 404, explain_miss(table, host_header, self.domain))
            return
        request = _Pending.of(head, host_header)
        answer = (
            None
            if self.gate is None
            else self.gate(upstream, head, self.peers.uid(writer.transport))
        )
        if answer is not None:  # refused, or a first visit's redirect
            writer.write(answer)
            await writer.drain()
            self.emit(request.record(upstream, int(answer[9:12]), len(answer)))
            return
        try:
            async with asyncio.timeout(self.connect_timeout):
                remote = await self.connect(upstream)
        except Exception as exc:
            if not isinstance(exc, OSError | ColonyError):  # TimeoutError is an OSError
                log.exception("preview proxy: connect to %s failed", upstream)
            log.debug("preview proxy: %s unreachable: %r", upstream, exc)  # recorded as 502
            sent = await self._reply(writer, 502, self.explain(upstream))
            self.emit(request.record(upstream, 502, sent))
            return
        try:
            await _Tunnel(self, upstream, client, remote).run(head, host_header)
        finally:
            remote[1].close()
            with contextlib.suppress(Exception):
                await remote[1].wait_closed()


async def _connect_at(
    netns_path: str | None, family: socket.AddressFamily, addr: str, port: int
) -> Streams:
    if netns_path is None:  # sandbox level none: the colony shares the host's loopback
        sock = socket.socket(family, socket.SOCK_STREAM)
    else:
        sock = await asyncio.to_thread(host.socket_in_netns, netns_path, family)
    try:
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, (addr, port))
        return await asyncio.open_connection(sock=sock, limit=HEAD_LIMIT)
    except BaseException:
        sock.close()
        raise


async def connect_in_netns(netns_path: str | None, port: int) -> Streams:
    """Open a stream to ``port`` on the loopback inside the network namespace ``netns_path``
    (None: the host's own, for colonies at sandbox level none).

    Tries 127.0.0.1, then ::1 (dev servers that bind "localhost" may pick either).

    Raises:
        OSError: nothing answers (ConnectionRefusedError from the 127.0.0.1 attempt).
        HostError: the namespace is gone or cannot be entered.
    """
    try:
        return await _connect_at(netns_path, socket.AF_INET, "127.0.0.1", port)
    except ConnectionRefusedError as refused:
        try:
            return await _connect_at(netns_path, socket.AF_INET6, "::1", port)
        except OSError:
            raise refused from None
