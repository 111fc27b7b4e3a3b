"""The preview proxy against real HTTP and WebSocket servers on loopback (no root)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import httpx
import pytest
from websockets.asyncio.client import connect as ws_connect
from websockets.asyncio.server import ServerConnection
from websockets.asyncio.server import serve as ws_serve
from websockets.exceptions import ConnectionClosed

from colony.core.routes import Previews, RequestRecord, RouteTable, Upstream, plan_previews
from colony.daemon.peers import PeerLimit
from colony.daemon.proxy import PreviewProxy, connect_in_netns

BIG = bytes(range(256)) * 4096  # 1 MiB
Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@dataclass
class Upstreams:
    """Test HTTP servers that name themselves, keyed by name, plus their port."""

    ports: dict[str, int] = field(default_factory=dict)
    connections: dict[str, int] = field(default_factory=dict)


async def _read_body(reader: asyncio.StreamReader, headers: dict[str, str]) -> bytes:
    if headers.get("transfer-encoding", "").lower() == "chunked":
        body = b""
        while size := int((await reader.readuntil(b"\r\n")).split(b";")[0], 16):
            body += (await reader.readexactly(size + 2))[:-2]
        while await reader.readuntil(b"\r\n") != b"\r\n":
            pass
        return body
    return await reader.readexactly(int(headers.get("content-length", "0")))


def _http_app(name: str, ups: Upstreams) -> Handler:
    """A tiny keep-alive HTTP/1.1 server whose answers name it."""

    async def respond(
        writer: asyncio.StreamWriter, method: str, target: str, body: bytes, host: str | None
    ) -> None:
        if target == "/big":
            payload = BIG
        elif target == "/echo":
            payload = body
        elif target == "/stream":  # chunked, in pieces
            writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
            for i in range(0, len(BIG), 100_000):
                piece = BIG[i : i + 100_000]
                writer.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                await writer.drain()
            writer.write(b"0\r\n\r\n")
            return
        else:
            payload = f"{name} {method} {target} host={host}".encode()
        status = b"404 Not Found" if target == "/missing" else b"200 OK"
        writer.write(b"HTTP/1.1 %s\r\nContent-Length: %d\r\n\r\n" % (status, len(payload)))
        if method != "HEAD":
            writer.write(payload)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        ups.connections[name] = ups.connections.get(name, 0) + 1
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except asyncio.IncompleteReadError:
                    return
                lines = head.decode("latin-1").split("\r\n")
                method, target, _ = lines[0].split(" ")
                headers = {}
                for line in lines[1:]:
                    key, _, value = line.partition(":")
                    if key:
                        headers[key.lower()] = value.strip()
                body = await _read_body(reader, headers)
                await respond(writer, method, target, body, headers.get("host"))
                await writer.drain()
        except ConnectionError:
            return
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    return handle


async def _echo(ws: ServerConnection) -> None:
    with contextlib.suppress(ConnectionClosed):  # the proxy may cut it (test_close_...)
        async for message in ws:
            await ws.send(message)


def previews(services: dict[str, int], extra: tuple[int, ...] = ()) -> Previews:
    """Colony a's and b's previews as the daemon plans them (every service on its own port)."""
    return plan_previews(services, services, extra)


def _free_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
async def ups() -> AsyncIterator[Upstreams]:
    ups = Upstreams()
    servers = []
    for name in ("alpha", "beta"):
        server = await asyncio.start_server(_http_app(name, ups), "127.0.0.1", 0)
        servers.append(server)
        ups.ports[name] = server.sockets[0].getsockname()[1]
    ws_server = await ws_serve(_echo, "127.0.0.1", 0)
    ups.ports["ws"] = next(iter(ws_server.sockets)).getsockname()[1]
    ups.ports["dead"] = _free_port()
    try:
        yield ups
    finally:
        ws_server.close()
        await ws_server.wait_closed()
        for server in servers:
            server.close()
            await server.wait_closed()


@dataclass
class Proxied:
    proxy: PreviewProxy
    port: int
    records: list[RequestRecord]
    ups: Upstreams

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"


@pytest.fixture
async def proxied(ups: Upstreams, caplog: pytest.LogCaptureFixture) -> AsyncIterator[Proxied]:
    table = RouteTable(
        {
            # colony a declares beta's port too, as [previews] ports = [...] would
            "a": previews({"web": ups.ports["alpha"], "ws": ups.ports["ws"]}, (ups.ports["beta"],)),
            "b": previews({"web": ups.ports["beta"]}),
            "dead": previews({"web": ups.ports["dead"]}),
        }
    )

    async def connect(up: Upstream) -> socket.socket:
        return await connect_in_netns(None, up.port)

    records: list[RequestRecord] = []
    peers = PeerLimit(3, "preview proxy", owner=lambda sock: 1000)  # every client is uid 1000
    proxy = PreviewProxy(lambda: table, connect, on_request=records.append, peers=peers)
    proxy.idle_timeout = 2.0  # short, for test_idle_connections_are_closed
    port = await proxy.start("127.0.0.1", 0)
    try:
        yield Proxied(proxy, port, records, ups)
    finally:
        await proxy.close()
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == [], "the proxy or asyncio logged errors"


def _client() -> httpx.AsyncClient:
    return httpx.AsyncClient(trust_env=False, timeout=30)


async def _until(check: Callable[[], bool]) -> None:
    for _ in range(1000):
        if check():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not reached")


async def test_each_host_reaches_its_own_server(proxied: Proxied) -> None:
    """When two colonies are asked for, each Host reaches its own server, Host kept."""
    for host, name in [("web.a.localhost", "alpha"), ("WEB.B.localhost:7080", "beta")]:
        async with _client() as client:  # one client per origin, as a browser does
            resp = await client.get(proxied.url("/x?q=1"), headers={"Host": host})
        assert resp.status_code == 200
        assert resp.text == f"{name} GET /x?q=1 host={host}"


async def test_port_label_reaches_that_port(proxied: Proxied) -> None:
    """When the label is a port the colony declares, that port of the colony answers."""
    host = f"{proxied.ups.ports['beta']}.a.localhost"
    async with _client() as client:
        resp = await client.get(proxied.url(), headers={"Host": host})
    assert resp.text.startswith("beta GET /")


async def test_undeclared_port_404(proxied: Proxied) -> None:
    """When the label is a port the colony does not declare (one that listens, here), the
    answer is 404 saying how to declare it, and nothing reaches that port (issue 11)."""
    host = f"{proxied.ups.ports['alpha']}.b.localhost"
    async with _client() as client:
        resp = await client.get(proxied.url(), headers={"Host": host})
    assert resp.status_code == 404
    assert f"does not preview port {proxied.ups.ports['alpha']}" in resp.text
    assert "[previews] ports" in resp.text
    assert proxied.ups.connections == {}
    assert proxied.records == []


async def test_websocket_echo(proxied: Proxied) -> None:
    """When a WebSocket is opened through the proxy, messages echo and the 101 is recorded."""
    big = os.urandom(200_000)  # random: permessage-deflate must not shrink it
    uri = f"ws://ws.a.localhost:{proxied.port}/chat"
    async with ws_connect(uri, host="127.0.0.1", port=proxied.port, proxy=None) as ws:
        for message in ("hello", "world", big):
            await ws.send(message)
            assert await ws.recv() == message
    await _until(lambda: len(proxied.records) == 1)
    record = proxied.records[0]
    assert (record.colony, record.service, record.status) == ("a", "ws", 101)
    assert (record.method, record.path) == ("GET", "/chat")
    assert record.bytes_out > len(big)


async def test_unknown_host_404(proxied: Proxied) -> None:
    """When the Host is no preview, the answer is 404 naming the host (escaped), unrecorded."""
    async with _client() as client:
        resp = await client.get(proxied.url(), headers={"Host": "db.a.localhost"})
        assert resp.status_code == 404
        assert "colony &#x27;a&#x27; has no service &#x27;db&#x27; with a port" in resp.text
        for host in [
            "web.zz.localhost",
            "localhost",
            f"127.0.0.1:{proxied.port}",
        ]:
            resp = await client.get(proxied.url(), headers={"Host": host})
            assert resp.status_code == 404
            assert resp.headers["content-type"] == "text/html; charset=utf-8"
            assert f"no colony preview at {host}" in resp.text
            assert "alpha" not in resp.text
        resp = await client.get(proxied.url(), headers={"Host": "<b>.zz.localhost"})
        assert "&lt;b&gt;.zz.localhost" in resp.text
        assert "<b>" not in resp.text
    assert proxied.records == []


async def test_dead_upstream_502(proxied: Proxied) -> None:
    """When the colony's service does not answer, the answer is 502 naming it, and recorded."""
    port = proxied.ups.ports["dead"]
    async with _client() as client:
        resp = await client.get(proxied.url("/page"), headers={"Host": "web.dead.localhost"})
    assert resp.status_code == 502
    assert f"colony &#x27;dead&#x27; service &#x27;web&#x27; (port {port})" in resp.text
    assert "is not answering" in resp.text
    [record] = proxied.records
    assert (record.colony, record.service, record.port, record.status) == ("dead", "web", port, 502)
    assert (record.path, record.host) == ("/page", "web.dead.localhost")


async def test_records_carry_status(proxied: Proxied) -> None:
    """When requests pass, each is recorded with method, path (no query), host and status."""
    async with _client() as client:
        await client.get(proxied.url("/ok?token=secret"), headers={"Host": "web.a.localhost"})
        await client.get(proxied.url("/missing"), headers={"Host": "web.a.localhost"})
    async with _client() as client:
        await client.post(proxied.url("/echo"), content=b"hi", headers={"Host": "web.b.localhost"})
    await _until(lambda: len(proxied.records) == 3)
    got = [(r.colony, r.service, r.method, r.path, r.status) for r in proxied.records]
    assert got == [
        ("a", "web", "GET", "/ok", 200),
        ("a", "web", "GET", "/missing", 404),
        ("b", "web", "POST", "/echo", 200),
    ]
    assert all(r.host.endswith(".localhost") and r.bytes_out > 0 for r in proxied.records)
    assert all(r.duration_s >= 0 for r in proxied.records)


async def test_big_bodies_stream_intact(proxied: Proxied) -> None:
    """When 1 MiB goes either way, with a length or chunked, it arrives intact."""
    headers = {"Host": "web.a.localhost"}
    async with _client() as client:
        resp = await client.get(proxied.url("/big"), headers=headers)
        assert resp.content == BIG
        resp = await client.get(proxied.url("/stream"), headers=headers)
        assert resp.content == BIG
        resp = await client.post(proxied.url("/echo"), content=BIG, headers=headers)
        assert resp.content == BIG

        async def pieces() -> AsyncIterator[bytes]:
            for i in range(0, len(BIG), 300_000):
                yield BIG[i : i + 300_000]

        resp = await client.post(proxied.url("/echo"), content=pieces(), headers=headers)
        assert resp.content == BIG
    await _until(lambda: len(proxied.records) == 4)
    assert [r.status for r in proxied.records] == [200] * 4
    assert all(r.bytes_out > len(BIG) for r in proxied.records)


async def test_keep_alive_many_requests(proxied: Proxied) -> None:
    """When many requests share one connection, all are answered over one upstream connection."""
    headers = {"Host": "web.b.localhost"}
    async with _client() as client:
        for i in range(50):
            resp = await client.get(proxied.url(f"/{i}"), headers=headers)
            assert resp.text == f"beta GET /{i} host=web.b.localhost"
        resp = await client.head(proxied.url("/head"), headers=headers)
        assert resp.status_code == 200
        resp = await client.get(proxied.url("/after-head"), headers=headers)
        assert resp.text.startswith("beta GET /after-head")
    assert proxied.ups.connections == {"beta": 1}
    await _until(lambda: len(proxied.records) == 52)
    assert [r.path for r in proxied.records][-3:] == ["/49", "/head", "/after-head"]


async def test_other_host_on_same_connection_421(proxied: Proxied) -> None:
    """When a kept-alive connection asks for another colony, it gets 421, never the other one."""
    async with _client() as client:
        resp = await client.get(proxied.url(), headers={"Host": "web.a.localhost"})
        assert resp.text.startswith("alpha")
        resp = await client.get(proxied.url(), headers={"Host": "web.b.localhost"})
        assert resp.status_code == 421
        assert "beta" not in resp.text
        resp = await client.get(proxied.url(), headers={"Host": "web.b.localhost"})
        assert resp.text.startswith("beta")
    assert "beta" in proxied.ups.connections


async def _raw_exchange(port: int, data: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(data)
        await writer.drain()
        return await reader.read()
    finally:
        writer.close()
        await writer.wait_closed()


async def test_pipelined_requests_and_half_close(proxied: Proxied) -> None:
    """When requests are pipelined and the client half-closes, every response still arrives."""
    reader, writer = await asyncio.open_connection("127.0.0.1", proxied.port)
    try:
        head = "{} /{} HTTP/1.1\r\nHost: web.a.localhost\r\n{}\r\n"
        writer.write(head.format("GET", "one", "").encode())
        writer.write(head.format("POST", "echo", "Content-Length: 5\r\n").encode() + b"hello")
        writer.write(head.format("HEAD", "three", "").encode())
        writer.write(head.format("GET", "four", "").encode())
        writer.write_eof()
        answer = await reader.read()
    finally:
        writer.close()
        await writer.wait_closed()
    assert answer.count(b"HTTP/1.1 200 OK\r\n") == 4
    assert b"alpha GET /one" in answer
    assert b"\r\n\r\nhello" in answer
    assert b"three" not in answer
    assert answer.endswith(b"alpha GET /four host=web.a.localhost")
    await _until(lambda: len(proxied.records) == 4)
    assert [(r.method, r.status) for r in proxied.records] == [
        ("GET", 200),
        ("POST", 200),
        ("HEAD", 200),
        ("GET", 200),
    ]


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"GARBAGE\r\n\r\n",
        b"GET / HTTP/1.1\r\n\r\n",  # no Host
        b"GET / HTTP/1.1\r\nHost: web.a.localhost\r\nHost: web.b.localhost\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost : web.a.localhost\r\n\r\n",
        b"GET / HTTP/2.0\r\nHost: web.a.localhost\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: web.a.localhost\r\nContent-Length: 1\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: web.a.localhost\r\nContent-Length: x\r\n\r\n",
    ],
)
async def test_malformed_request_400(proxied: Proxied, request_bytes: bytes) -> None:
    """When the request head is malformed or its framing ambiguous, the answer is 400."""
    answer = await _raw_exchange(proxied.port, request_bytes)
    assert answer.startswith(b"HTTP/1.1 400 Bad Request\r\n")
    assert proxied.ups.connections == {}


async def test_requests_after_a_refused_upgrade_are_recorded(proxied: Proxied) -> None:
    """When a request asks to upgrade and the answer is not 101, the requests after it on the
    same connection are parsed, answered and recorded like any other (issue 11), and one for
    another colony is still refused."""
    reader, writer = await asyncio.open_connection("127.0.0.1", proxied.port)
    try:
        upgrade = "Upgrade: websocket\r\nConnection: Upgrade\r\n"
        head = "GET /{} HTTP/1.1\r\nHost: {}.localhost\r\n{}\r\n"
        writer.write(head.format("up", "web.a", upgrade).encode())
        await writer.drain()
        first = await reader.readuntil(b"host=web.a.localhost")  # answered 200, not 101
        assert first.startswith(b"HTTP/1.1 200 OK\r\n")
        for path in ("two", "three", "four"):
            writer.write(head.format(path, "web.a", "").encode())
        writer.write(head.format("five", "web.b", "").encode())
        writer.write_eof()
        rest = await reader.read()
    finally:
        writer.close()
        await writer.wait_closed()
    assert rest.count(b"HTTP/1.1 200 OK\r\n") == 3
    assert b"alpha GET /four" in rest
    assert b"HTTP/1.1 421 " in rest
    assert b"beta" not in rest
    await _until(lambda: len(proxied.records) == 4)
    assert [(r.path, r.status) for r in proxied.records] == [
        ("/up", 200),
        ("/two", 200),
        ("/three", 200),
        ("/four", 200),
    ]


async def test_idle_connections_are_closed(proxied: Proxied) -> None:
    """When a connection sends no request head, or stays idle after its answer, the proxy
    closes it after idle_timeout (408 for a head that never came)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", proxied.port)
    async with asyncio.timeout(30):  # a bound for a hang, not a timing assertion
        assert (await reader.read()).startswith(b"HTTP/1.1 408 ")
    writer.close()
    reader, writer = await asyncio.open_connection("127.0.0.1", proxied.port)
    writer.write(b"GET /x HTTP/1.1\r\nHost: web.a.localhost\r\n\r\n")
    async with asyncio.timeout(30):
        answer = await reader.read()  # the answer, then EOF once idle
    writer.close()
    assert answer.startswith(b"HTTP/1.1 200 OK")
    assert answer.endswith(b"host=web.a.localhost")


async def test_each_peer_has_a_connection_cap(proxied: Proxied) -> None:
    """When one peer holds as many connections as the cap allows, its next one is answered
    429 and closed; once one of its connections ends, it may open another."""
    held = [await asyncio.open_connection("127.0.0.1", proxied.port) for _ in range(3)]
    answer = await _raw_exchange(proxied.port, b"")
    assert answer.startswith(b"HTTP/1.1 429 Too Many Requests\r\n")
    assert b"too many open connections from your user (at most 3 per peer)" in answer
    held.pop()[1].close()
    await _until(lambda: sum(proxied.proxy.peers.counts.values()) == 2)
    async with _client() as client:
        resp = await client.get(proxied.url(), headers={"Host": "web.a.localhost"})
    assert resp.text.startswith("alpha")
    for _, writer in held:
        writer.close()


async def test_oversized_head_431(proxied: Proxied) -> None:
    """When the request head is larger than 64 KiB, the answer is 431."""
    head = b"GET / HTTP/1.1\r\nHost: web.a.localhost\r\nX-Big: " + b"x" * 70_000 + b"\r\n\r\n"
    answer = await _raw_exchange(proxied.port, head)
    assert answer.startswith(b"HTTP/1.1 431 ")


async def test_close_ends_open_connections(proxied: Proxied) -> None:
    """When the proxy closes, open connections (a WebSocket here) end too."""
    uri = f"ws://ws.a.localhost:{proxied.port}/"
    async with ws_connect(uri, host="127.0.0.1", port=proxied.port, proxy=None) as ws:
        await ws.send("ping")
        assert await ws.recv() == "ping"
        await proxied.proxy.close()
        await ws.wait_closed()
    await _until(lambda: [r.status for r in proxied.records] == [101])


async def test_serve_runs_until_cancelled(ups: Upstreams) -> None:
    """When serve() is cancelled, the port is released."""

    async def connect(up: Upstream) -> socket.socket:
        return await connect_in_netns(None, up.port)

    table = RouteTable({"a": previews({"web": ups.ports["alpha"]})})
    proxy = PreviewProxy(lambda: table, connect)
    port = _free_port()
    async with asyncio.TaskGroup() as tg:
        task = tg.create_task(proxy.serve("127.0.0.1", port))
        await _until(lambda: proxy.port == port)
        async with _client() as client:
            resp = await client.get(
                f"http://127.0.0.1:{port}/", headers={"Host": "web.a.localhost"}
            )
        assert resp.text.startswith("alpha")
        task.cancel()
    with pytest.raises(ConnectionRefusedError):
        await asyncio.open_connection("127.0.0.1", port)
