"""The preview reverse proxy: ``http://<service>.<colony>.localhost:<port>/`` → the colony.

It speaks just enough HTTP/1.1 to route: the first request's ``Host`` picks the upstream for
the whole client connection (browsers keep one connection per origin), then bytes are piped
both ways, unchanged. Message boundaries are followed on the way through
(:class:`~colony.core.http1.Follower`), so every request is recorded and a later request on
the same connection for another preview name is refused (421) instead of reaching the wrong
colony. After a ``101 Switching Protocols`` (WebSocket) the bytes are piped untouched, so
streaming and WebSockets need no frame parsing; a request asking to switch that gets any other
answer is followed by more HTTP, which is parsed and recorded as before.

Only ports a colony declares are reached (see :mod:`colony.core.routes`). Each peer may hold a
bounded number of connections (:class:`~colony.daemon.peers.PeerLimit`), and a connection
that waits longer than ``idle_timeout`` for a request head (its first or its next) is closed.

Issue 15: the data path is asyncio Protocols (no streams, no task per direction): each
chunk read is followed and written on at once, and back-pressure pauses the other side. The
daemon runs it in worker processes (:mod:`colony.daemon.proxy_worker`, supervised by
:mod:`colony.daemon.proxy_workers`), which override the three decisions that need the
daemon: :meth:`PreviewProxy.admit`, :meth:`PreviewProxy.open` and :meth:`PreviewProxy.release`.
With ``--proxy-workers 0`` it runs in the daemon's own event loop, as here.

Example:
    >>> proxy = PreviewProxy(lambda: table, lambda up: connect_in_netns(path_of(up), up.port))
    >>> port = await proxy.start("127.0.0.1", 7080)
    >>> await proxy.close()
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections import deque
from collections.abc import Awaitable, Callable
from typing import cast

from colony import host
from colony.core.http1 import (
    HEAD_LIMIT,
    TUNNEL,
    Follower,
    Head,
    Item,
    Malformed,
    Misdirected,
    one_host,
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
    parse_host,
    resolve,
)
from colony.daemon.loopback import bind_loopback
from colony.daemon.peers import BACKLOG, DEFAULT_IDLE, PeerLimit
from colony.errors import ColonyError

__all__ = ["Opened", "PreviewProxy", "RequestRecord", "connect_in_netns"]

log = logging.getLogger(__name__)

Connect = Callable[[Upstream], Awaitable[socket.socket]]
# What the first request of a connection gets: where it goes, and either a connected socket to
# it or the whole response to send instead (a 404, the gate's answer, a 502).
Opened = tuple[Upstream | None, socket.socket | None, bytes | None]


class _Pending:
    """A request forwarded upstream whose response has not ended yet."""

    __slots__ = ("host", "may_switch", "method", "path", "started")

    def __init__(self, head: Head, host_header: str, now: float) -> None:
        self.method = head.start[0]
        self.path = head.start[1].split("?", 1)[0]  # the query string may carry secrets
        self.host = host_header
        self.started = now
        # asks to leave HTTP: Upgrade, or CONNECT
        self.may_switch = self.method == "CONNECT" or bool(head.values("upgrade"))

    def record(
        self, up: Upstream, status: int | None, sent: int, now: float, uid: int | None
    ) -> RequestRecord:
        return RequestRecord(
            up.colony,
            up.service,
            up.port,
            self.method,
            self.path,
            self.host,
            status,
            sent,
            now - self.started,
            uid,
        )


class _Client(asyncio.Protocol):
    """One client connection: its first head is awaited by :meth:`PreviewProxy._serve`, then
    a :class:`_Tunnel` takes its bytes."""

    def __init__(self, proxy: PreviewProxy) -> None:
        self.proxy = proxy
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()  # bytes before the tunnel
        self.eof = False
        self.tunnel: _Tunnel | None = None
        self.task: asyncio.Task[None] | None = None
        self.waiter: asyncio.Future[None] | None = None
        self.admitted = False  # counted by the peer limit until the connection is lost

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        self.task = asyncio.get_running_loop().create_task(self.proxy._serve(self))
        self.proxy._clients.add(self)

    def data_received(self, data: bytes) -> None:
        if self.tunnel is not None:
            self.tunnel.from_client(data)
            return
        self.buf += data
        if len(self.buf) > HEAD_LIMIT and self.transport is not None:
            self.transport.pause_reading()
        self._wake()

    def eof_received(self) -> bool:
        if self.tunnel is not None:
            return self.tunnel.client_eof()
        self.eof = True
        self._wake()
        return True

    def connection_lost(self, exc: Exception | None) -> None:
        self.eof = True
        self.proxy._clients.discard(self)
        if self.admitted and self.transport is not None:
            self.admitted = False
            self.proxy.release(self.transport)
        if self.tunnel is not None:
            self.tunnel.lost()
        self._wake()

    def pause_writing(self) -> None:
        if self.tunnel is not None:
            self.tunnel.pause(upstream=True)

    def resume_writing(self) -> None:
        if self.tunnel is not None:
            self.tunnel.resume(upstream=True)

    def _wake(self) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    async def wait(self) -> None:
        self.waiter = asyncio.get_running_loop().create_future()
        await self.waiter


class _Upstream(asyncio.Protocol):
    def __init__(self, tunnel: _Tunnel) -> None:
        self.tunnel = tunnel

    def data_received(self, data: bytes) -> None:
        self.tunnel.from_upstream(data)

    def eof_received(self) -> bool:
        self.tunnel.upstream_eof()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.tunnel.lost()

    def pause_writing(self) -> None:
        self.tunnel.pause(upstream=False)

    def resume_writing(self) -> None:
        self.tunnel.resume(upstream=False)


class _Tunnel:
    """One client connection piped to one upstream, following HTTP/1.1 message boundaries."""

    def __init__(
        self,
        proxy: PreviewProxy,
        client: asyncio.Transport,
        upstream: Upstream,
        name: tuple[str, str] | None,
        uid: int | None,
    ) -> None:
        self.proxy = proxy
        self.client = client
        self.remote: asyncio.Transport | None = None
        self.upstream = upstream
        self.name = name  # (label, colony) of the first request's Host: all others must match
        self.uid = uid
        self.loop = asyncio.get_running_loop()
        self.requests = Follower(self._request_framing, request=True)
        self.responses = Follower(self._response_framing, request=False, on_end=self._response_end)
        self.pending: deque[_Pending] = deque()
        self.status: int | None = None  # final status of the response in flight
        self.sent = 0  # bytes of the response in flight sent to the client
        self.tunneled = False  # a 101 (or CONNECT 2xx): bytes pass as they are
        self.refusal: bytes | None = None  # sent once the responses in flight are through
        self.last = self.loop.time()  # when the client last sent something
        self.done = False

    # --- the client's bytes -------------------------------------------------------------

    def _request_framing(self, head: Head) -> int:
        framing = request_framing(head)
        host_header = one_host(head)
        if parse_host(host_header, self.proxy.domain) != self.name:
            raise Misdirected(
                f"this connection is bound to another preview than {host_header[:200]}; "
                "retry on a new connection"
            )
        if head.start[0] == "CONNECT" or head.values("upgrade"):
            self.requests.hold = True  # what follows waits for the answer (issue 11)
        return framing

    def from_client(self, data: bytes) -> None:
        self.last = self.loop.time()
        self._forward(self.requests.feed(data))

    def _forward(self, items: list[Item]) -> None:
        pieces: list[bytes] = []
        for item in items:
            if item is None:
                continue
            if isinstance(item, bytes):
                pieces.append(item)
            else:
                self.pending.append(_Pending(item, one_host(item), self.loop.time()))
                pieces.append(item.raw)
        if pieces and self.remote is not None and not self.done:
            self.remote.write(pieces[0] if len(pieces) == 1 else b"".join(pieces))
        error = self.requests.error
        if error is not None and self.refusal is None:
            self.client.pause_reading()
            self._refuse(error)
        elif self.requests.hold and self.requests.holding > HEAD_LIMIT:
            self.client.pause_reading()  # until the request that may switch is answered

    def _refuse(self, error: Malformed) -> None:
        """Answer ``error``'s status once earlier responses are through, then close."""
        self.refusal = render_error_page(error.status, str(error))
        if not self.pending:
            self._send_refusal()

    def _send_refusal(self) -> None:
        assert self.refusal is not None
        self.client.write(self.refusal)
        self.close()

    def client_eof(self) -> bool:
        """The client finished sending: the upstream still answers what it got."""
        if self.pending and self.remote is not None and self.remote.can_write_eof():
            self.remote.write_eof()
            return True
        self.close()
        return False

    # --- the upstream's bytes -----------------------------------------------------------

    def _response_framing(self, head: Head) -> int:
        status = int(head.start[1])
        method = self.pending[0].method if self.pending else "GET"
        switched = status == 101 or (method == "CONNECT" and 200 <= status < 300)
        if status >= 200 or switched:
            self.status = status
            if self.pending and self.pending[0].may_switch:
                self.loop.call_soon(self._decide, switched)
        if switched:
            self.tunneled = True
            return TUNNEL
        return response_framing(head, status, method)

    def from_upstream(self, data: bytes) -> None:
        self.client.write(data)
        if self.responses.raw:  # a tunnel, or responses we cannot follow
            self.sent += len(data)
        else:
            self.responses.feed(data)

    def _response_end(self) -> None:
        self.sent += self.responses.size  # an interim (1xx) response counts with the final
        if self.status is not None and not self.tunneled:
            self._finish(self.status)

    def _decide(self, switched: bool) -> None:
        """The request that may switch was answered: what the client sent after it is a
        tunnel's bytes, or more HTTP."""
        if self.done or not self.requests.hold:
            return
        self._forward(self.requests.release(raw=switched))
        if self.refusal is None:
            self.client.resume_reading()

    def upstream_eof(self) -> None:
        self.close()

    def _finish(self, status: int | None) -> None:
        if not self.pending:  # a response nobody asked for: pass it on, record nothing
            self.sent = 0
            return
        request = self.pending.popleft()
        self.proxy.emit(
            request.record(self.upstream, status, self.sent, self.loop.time(), self.uid)
        )
        self.status, self.sent = None, 0
        if not self.pending:
            self.last = self.loop.time()
            if self.refusal is not None:
                self._send_refusal()

    # --- both ---------------------------------------------------------------------------

    def pause(self, upstream: bool) -> None:
        """A side's send buffer is full: stop reading the other side."""
        other = self.remote if upstream else self.client
        if other is not None and not other.is_closing():
            other.pause_reading()

    def resume(self, upstream: bool) -> None:
        other = self.remote if upstream else self.client
        if other is not None and not other.is_closing():
            other.resume_reading()

    def idle(self, now: float) -> bool:
        return not self.pending and now - self.last > self.proxy.idle_timeout

    def lost(self) -> None:
        self.close()

    def close(self) -> None:
        if self.done:
            return
        self.done = True
        while self.pending:  # the connection ended before these responses did
            self._finish(self.status)
        self.client.close()
        if self.remote is not None:
            self.remote.close()
        self.proxy._tunnels.discard(self)


class PreviewProxy:
    """Route ``<service>.<colony>.<domain>`` connections to a colony's own loopback.

    Args:
        routes: called per connection for the current table, so it never goes stale.
        connect: opens a connected socket to an upstream; the daemon passes
            :func:`connect_in_netns`.
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
        self._clients: set[_Client] = set()
        self._tunnels: set[_Tunnel] = set()
        self._sweeper: asyncio.Task[None] | None = None

    async def start(
        self, host: str = "127.0.0.1", port: int = 0, socks: list[socket.socket] | None = None
    ) -> int:
        """Bind and start accepting; returns the bound port (``port=0`` picks one).

        On 127.0.0.1 the proxy also holds ``[::1]`` on the same port: browsers try it first
        for ``*.localhost`` (see :mod:`colony.daemon.loopback`). ``socks``: listening
        sockets bound already (a worker's, handed over by the daemon).
        """
        loop = asyncio.get_running_loop()
        for sock in socks if socks is not None else bind_loopback(host, port, BACKLOG):
            server = await loop.create_server(lambda: _Client(self), sock=sock, backlog=BACKLOG)
            self._servers.append(server)
        self.port = int(self._servers[0].sockets[0].getsockname()[1])
        self._sweeper = loop.create_task(self._sweep())
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
        if self._sweeper is not None:
            self._sweeper.cancel()
        for tunnel in list(self._tunnels):
            tunnel.close()
        tasks = [c.task for c in self._clients if c.task is not None]
        for client in list(self._clients):
            if client.transport is not None:
                client.transport.close()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for server in servers:
            await server.wait_closed()

    async def _sweep(self) -> None:
        """Close connections idle (no request in flight) for longer than ``idle_timeout``."""
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(min(1.0, self.idle_timeout / 4))
            now = loop.time()
            for tunnel in [t for t in self._tunnels if t.idle(now)]:
                tunnel.close()

    def emit(self, record: RequestRecord) -> None:
        if self.on_request is None:
            return
        try:
            self.on_request(record)
        except Exception:
            log.exception("preview proxy: on_request failed for %s", record)

    # --- what the daemon decides (a worker asks it) -------------------------------------

    async def admit(self, transport: asyncio.Transport) -> tuple[bool, int | None]:
        """Whether the peer of a new connection may open one more; the uid owning it."""
        return self.peers.admit(transport), self.peers.uid(transport)

    def release(self, transport: asyncio.Transport) -> None:
        self.peers.release(transport)

    def refused(self) -> bytes:
        """The answer to a connection beyond its peer's cap."""
        return render_error_page(429, self.peers.message())

    async def open(
        self, transport: asyncio.Transport | None, raw: bytes, uid: int | None
    ) -> Opened:
        """Route the connection of ``transport`` by its first request head ``raw`` (parsed
        and checked already) for the local user ``uid``: the upstream and a connected socket
        to it, or the response to send instead."""
        head = parse_head(raw, request=True)
        host_header = one_host(head)
        table = self.routes()
        upstream = resolve(table, host_header, self.domain)
        if upstream is None:
            return None, None, render_error_page(404, explain_miss(table, host_header, self.domain))
        answer = None if self.gate is None else self.gate(upstream, head, uid)
        if answer is not None:  # refused, or a first visit's redirect
            return upstream, None, answer
        try:
            async with asyncio.timeout(self.connect_timeout):
                return upstream, await self.connect(upstream), None
        except Exception as exc:
            if not isinstance(exc, OSError | ColonyError):  # TimeoutError is an OSError
                log.exception("preview proxy: connect to %s failed", upstream)
            log.debug("preview proxy: %s unreachable: %r", upstream, exc)  # recorded as 502
            return upstream, None, render_error_page(502, self.explain(upstream))

    # --- one connection -----------------------------------------------------------------

    async def _serve(self, client: _Client) -> None:
        transport = client.transport
        assert transport is not None
        try:
            admitted, uid = await self.admit(transport)
            if not admitted:  # a flood costs its sender only (issue 11)
                transport.write(self.refused())
                transport.close()
                return
            if transport.is_closing():
                self.release(transport)
                return
            client.admitted = True
            await self._route(client, transport, uid)
        except asyncio.CancelledError:
            transport.abort()
        except (ConnectionError, OSError) as exc:
            log.debug("preview proxy: client went away: %r", exc)
            transport.close()
        except Exception:
            log.exception("preview proxy: connection handler failed")
            transport.close()

    async def _first_head(self, client: _Client) -> bytes | None:
        """The connection's first request head, checked; None once it was answered."""
        transport = client.transport
        assert transport is not None
        try:
            async with asyncio.timeout(self.idle_timeout):
                while (end := client.buf.find(b"\r\n\r\n", 0, HEAD_LIMIT)) < 0:
                    if len(client.buf) >= HEAD_LIMIT:
                        return self._answer(transport, 431, "request head larger than 64 KiB")
                    if client.eof:
                        transport.close()  # closed before a whole head arrived: nobody to answer
                        return None
                    await client.wait()
        except TimeoutError:
            return self._answer(transport, 408, "no request head in time")
        raw = bytes(client.buf[: end + 4])
        try:
            head = parse_head(raw, request=True)
            one_host(head)
            request_framing(head)
        except Malformed as exc:
            return self._answer(transport, 400, str(exc))
        return raw

    def _answer(self, transport: asyncio.Transport, status: int, message: str) -> bytes | None:
        """Send our own ``status`` page and close; None (no head to go on with)."""
        transport.write(render_error_page(status, message))
        transport.close()
        return None

    async def _route(self, client: _Client, transport: asyncio.Transport, uid: int | None) -> None:
        raw = await self._first_head(client)
        if raw is None:
            return
        upstream, sock, answer = await self.open(transport, raw, uid)
        if sock is None:
            assert answer is not None
            transport.write(answer)
            transport.close()
            if upstream is not None:  # a 404 reached no colony: nothing to record
                head = parse_head(raw, request=True)
                request = _Pending(head, one_host(head), asyncio.get_running_loop().time())
                now = asyncio.get_running_loop().time()
                self.emit(request.record(upstream, int(answer[9:12]), len(answer), now, uid))
            return
        assert upstream is not None
        name = parse_host(one_host(parse_head(raw, request=True)), self.domain)
        tunnel = _Tunnel(self, transport, upstream, name, uid)
        try:
            remote, _ = await asyncio.get_running_loop().create_connection(
                lambda: _Upstream(tunnel), sock=sock
            )
        except BaseException:
            sock.close()
            raise
        if transport.is_closing():
            remote.close()
            return
        tunnel.remote = remote
        self._tunnels.add(tunnel)
        client.tunnel = tunnel
        data, client.buf = bytes(client.buf), bytearray()
        transport.resume_reading()
        tunnel.from_client(data)
        if client.eof:
            tunnel.client_eof()


async def _connect_at(
    netns_path: str | None, family: socket.AddressFamily, addr: str, port: int
) -> socket.socket:
    if netns_path is None:  # sandbox level none: the colony shares the host's loopback
        sock = socket.socket(family, socket.SOCK_STREAM)
    else:
        sock = await asyncio.to_thread(host.socket_in_netns, netns_path, family)
    try:
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, (addr, port))
        return sock
    except BaseException:
        sock.close()
        raise


async def connect_in_netns(netns_path: str | None, port: int) -> socket.socket:
    """A socket connected to ``port`` on the loopback inside the network namespace
    ``netns_path`` (None: the host's own, for colonies at sandbox level none).

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
