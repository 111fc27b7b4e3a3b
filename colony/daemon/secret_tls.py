"""The egress gate's secret injection (issue 17): a TLS connection of a colony to one of its
secrets' hosts is terminated with a certificate of the colony's CA, each request head gets
the secrets' values in place of their placeholders, and the request goes on over a new TLS
connection to the real host, verified as any client would (the host's CAs; for tests also
``COLONY_UPSTREAM_CA``).

Only request heads are rewritten (HTTP/1.1, as the gate's certificate offers through ALPN);
bodies and responses pass as they are. A head that still carries a placeholder of a secret
not for this host is refused with ``403`` and reported as a possible leak.

Example:
    >>> gate = SecretGate(store, ColonyCAs(paths), os.environ.get("COLONY_UPSTREAM_CA"))
    >>> gate.wants("web", "api.anthropic.com", 443)  # doctest: +SKIP
    True
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
from collections.abc import Callable

from colony.core.http1 import Follower, Head, render_error_page, request_framing
from colony.core.secrets import Injection, allowed_hosts, find_placeholder, for_host, inject
from colony.daemon.secret_ca import ColonyCAs
from colony.daemon.secrets import SecretStore

HANDSHAKE_TIMEOUT = 10.0
ANSWER_TIMEOUT = 300.0  # seconds an answer may take once the colony sent all


class TlsServerSide:
    """The server end of a TLS connection over a socket whose first bytes were already read
    (the ClientHello the gate sniffed)."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        sock: socket.socket,
        ctx: ssl.SSLContext,
        first: bytes,
    ) -> None:
        self.loop, self.sock = loop, sock
        self.incoming, self.outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.tls = ctx.wrap_bio(self.incoming, self.outgoing, server_side=True)
        self.incoming.write(first)

    async def _flush(self) -> None:
        data = self.outgoing.read()
        if data:
            await self.loop.sock_sendall(self.sock, data)

    async def _fill(self) -> bool:
        data = await self.loop.sock_recv(self.sock, 64 * 1024)
        if not data:
            self.incoming.write_eof()
            return False
        self.incoming.write(data)
        return True

    async def handshake(self) -> None:
        while True:
            try:
                self.tls.do_handshake()
            except ssl.SSLWantReadError:
                await self._flush()
                if not await self._fill():
                    raise ConnectionResetError("the colony closed during the handshake") from None
                continue
            await self._flush()
            return

    async def recv(self) -> bytes:
        """Decrypted bytes; b"" at the end."""
        while True:
            try:
                return self.tls.read(64 * 1024)
            except ssl.SSLWantReadError:
                await self._flush()
                if not await self._fill():
                    return b""
            except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
                return b""

    async def send(self, data: bytes) -> None:
        self.tls.write(data)
        await self._flush()

    async def close(self) -> None:
        with contextlib.suppress(ssl.SSLError, OSError):
            self.tls.unwrap()
        with contextlib.suppress(OSError):
            await self._flush()


def upstream_context(extra_ca: str | None) -> ssl.SSLContext:
    """Verification of the real host as any client does it; ``extra_ca`` (tests) trusted too."""
    ctx = ssl.create_default_context()
    if extra_ca:
        ctx.load_verify_locations(cafile=extra_ca)
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx


async def intercept(
    conn: socket.socket,
    first: bytes,
    upstream: socket.socket,
    *,
    host: str,
    server: ssl.SSLContext,
    client: ssl.SSLContext,
    injections: Callable[[], list[Injection]],
    placeholders: Callable[[], set[str]],
    on_leak: Callable[[str], str],
) -> None:
    """Serve one intercepted connection until either side ends it. ``injections`` and
    ``placeholders`` are read at each request (a rotated value applies at once);
    ``on_leak(placeholder)`` records a refused request and returns the line it is told."""
    loop = asyncio.get_running_loop()
    colony = TlsServerSide(loop, conn, server, first)
    await asyncio.wait_for(colony.handshake(), HANDSHAKE_TIMEOUT)
    reader, writer = await asyncio.wait_for(
        asyncio.open_connection(sock=upstream, ssl=client, server_hostname=host),
        HANDSHAKE_TIMEOUT,
    )
    try:

        async def requests() -> bool:
            """True: the colony sent all it had (its answer may still come)."""
            follower = Follower(request_framing, request=True)
            while data := await colony.recv():
                out = []
                for item in follower.feed(data):
                    if isinstance(item, Head):
                        head = inject(item.raw, injections())
                        leaked = find_placeholder(head, placeholders())
                        if leaked is not None:
                            await colony.send(render_error_page(403, on_leak(leaked)))
                            return False
                        out.append(head)
                    elif isinstance(item, bytes):
                        out.append(item)
                if follower.error is not None:
                    error = follower.error
                    await colony.send(render_error_page(error.status, str(error)))
                    return False
                if out:
                    writer.write(b"".join(out))
                    await writer.drain()
            return True

        async def responses() -> None:
            while data := await reader.read(64 * 1024):
                await colony.send(data)

        tasks = [asyncio.ensure_future(requests()), asyncio.ensure_future(responses())]
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        sent = tasks[0]
        if sent in done and not sent.cancelled() and sent.exception() is None and sent.result():
            with contextlib.suppress(TimeoutError, Exception):
                await asyncio.wait_for(asyncio.shield(tasks[1]), ANSWER_TIMEOUT)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    finally:
        await colony.close()
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()


class SecretGate:
    """What the egress gate asks about secrets: which connections to intercept, the
    values to put in, and the placeholders that must not leave."""

    def __init__(self, store: SecretStore, cas: ColonyCAs, upstream_ca: str | None = None) -> None:
        self.store, self.cas = store, cas
        self.client = upstream_context(upstream_ca)

    def wants(self, colony: str, host: str | None, port: int) -> bool:
        """Whether a TLS connection of ``colony`` to ``host:port`` carries its secrets."""
        if host is None or port != 443:
            return False
        return host in allowed_hosts(self.store.of(colony).values())

    def leak(self, colony: str, data: bytes, host: str | None = None) -> str | None:
        """The key of a secret of ``colony`` whose placeholder ``data`` carries although
        ``host`` is not one of its hosts (None: no such)."""
        foreign = self._foreign(colony, host)
        found = find_placeholder(data, foreign)
        return None if found is None else foreign[found]

    def _foreign(self, colony: str, host: str | None) -> dict[str, str]:
        return {s.placeholder: s.key for s in self.store.of(colony).values() if host not in s.hosts}

    async def run(
        self,
        conn: socket.socket,
        first: bytes,
        upstream: socket.socket,
        colony: str,
        host: str,
        on_leak: Callable[[str], str],
    ) -> None:
        """Intercept one connection (see :func:`intercept`); ``on_leak(key)`` records it."""
        await intercept(
            conn,
            first,
            upstream,
            host=host,
            server=await asyncio.to_thread(self.cas.server_context, colony, host),
            client=self.client,
            injections=lambda: for_host(self.store.of(colony).values(), host),
            placeholders=lambda: set(self._foreign(colony, host)),
            on_leak=lambda placeholder: on_leak(self._foreign(colony, host)[placeholder]),
        )
