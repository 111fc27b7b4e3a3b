"""The preview proxy reaching servers bound to 127.0.0.1 inside real network namespaces."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import connect as ws_connect

from colony import host
from colony.core.routes import RouteTable, Upstream, plan_previews
from colony.daemon.proxy import PreviewProxy, connect_in_netns
from colony.daemon.proxy_workers import ProxyWorkers
from colony.errors import HostError
from tests.conftest import TEST_PREFIX, uid_base_for

WORKER_UID = uid_base_for(TEST_PREFIX + "proxy") - 1  # no user's, no colony's

pytestmark = [
    pytest.mark.host,
    pytest.mark.skipif(not host.is_root(), reason="needs root to create network namespaces"),
]

HTTP_SERVER = """
import socket, sys
from http.server import BaseHTTPRequestHandler, HTTPServer

name, addr, port = sys.argv[1], sys.argv[2], int(sys.argv[3])

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        body = name.encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass

class Server(HTTPServer):
    address_family = socket.AF_INET6 if ":" in addr else socket.AF_INET

Server((addr, port), Handler).serve_forever()
"""

WS_SERVER = """
import asyncio, contextlib, sys
from websockets.asyncio.server import serve
from websockets.exceptions import ConnectionClosed

async def echo(ws):
    with contextlib.suppress(ConnectionClosed):
        async for message in ws:
            await ws.send(message)

async def main():
    async with serve(echo, "127.0.0.1", int(sys.argv[1])) as server:
        await server.serve_forever()

asyncio.run(main())
"""


def _host_port_refused(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(5)
        try:
            sock.connect(("127.0.0.1", port))
        except ConnectionRefusedError:
            return True
    return False


@pytest.fixture
def netns() -> Iterator[dict[str, str]]:
    """Two fresh namespaces with loopback up: colony name -> netns path."""
    tag = uuid.uuid4().hex[:8]
    names = {colony: f"{TEST_PREFIX}{tag}-{colony}" for colony in ("a", "b")}
    try:
        for name in names.values():
            host.run(["ip", "netns", "add", name])
            host.run(["ip", "-n", name, "link", "set", "lo", "up"])
        yield {colony: f"/run/netns/{name}" for colony, name in names.items()}
    finally:
        for name in names.values():
            host.run(["ip", "netns", "delete", name], check=False)


@pytest.fixture
def spawned() -> Iterator[list[subprocess.Popen[bytes]]]:
    procs: list[subprocess.Popen[bytes]] = []
    try:
        yield procs
    finally:
        for proc in procs:
            host.kill(proc.pid, signal.SIGKILL, group=True)
            proc.wait()


async def _wait_listening(netns_path: str, port: int) -> None:
    for _ in range(400):
        try:
            sock = await connect_in_netns(netns_path, port)
        except ConnectionRefusedError:
            await asyncio.sleep(0.05)
            continue
        sock.close()
        return
    raise AssertionError(f"nothing listens on port {port} in {netns_path}")


@pytest.fixture(params=["in-process", "workers"])
async def proxy_port(
    request: pytest.FixtureRequest,
    netns: dict[str, str],
    spawned: list[subprocess.Popen[bytes]],
) -> AsyncIterator[int]:
    """The proxy in this event loop, or (issue 15) in two worker processes of an unprivileged
    uid that the daemon's side answers, as the daemon runs it."""
    if not _host_port_refused(3000):
        pytest.skip("something on this host listens on 127.0.0.1:3000")
    servers = [
        ("a", [HTTP_SERVER, "a", "127.0.0.1", "3000"]),
        ("b", [HTTP_SERVER, "b", "127.0.0.1", "3000"]),
        ("b", [HTTP_SERVER, "b-on-ipv6", "::1", "3002"]),
        ("a", [WS_SERVER, "3001"]),
    ]
    for colony, args in servers:
        placement = host.Placement(netns=netns[colony])
        spawned.append(host.spawn([sys.executable, "-c", *args], placement=placement))
    for colony, args in servers:
        await _wait_listening(netns[colony], int(args[-1]))
    a, b = {"web": 3000, "ws": 3001}, {"web": 3000}
    table = RouteTable(
        {
            "a": plan_previews(a, a, [4000]),  # 4000: declared, nothing listens there
            "b": plan_previews(b, b, [3002]),
            "gone": plan_previews(b, b),
        }
    )
    paths = {**netns, "gone": "/run/netns/ct-00000000-gone"}

    async def connect(up: Upstream) -> socket.socket:
        return await connect_in_netns(paths[up.colony], up.port)

    proxy = PreviewProxy(lambda: table, connect)
    if request.param == "in-process":
        try:
            yield await proxy.start("127.0.0.1", 0)
        finally:
            await proxy.close()
        return
    workers = ProxyWorkers(proxy, lambda batch: None, count=2, uid=WORKER_UID)
    try:
        yield await workers.start("127.0.0.1", 0)
    finally:
        await workers.close()


async def _get(port: int, host_header: str) -> httpx.Response:
    async with httpx.AsyncClient(trust_env=False, timeout=30) as client:
        return await client.get(f"http://127.0.0.1:{port}/", headers={"Host": host_header})


async def test_each_colony_answers_with_its_own_name(proxy_port: int) -> None:
    """When two colonies serve on their own 127.0.0.1:3000, each Host reaches its own."""
    assert (await _get(proxy_port, "web.a.localhost")).text == "a"
    assert (await _get(proxy_port, "web.b.localhost")).text == "b"
    assert (await _get(proxy_port, "3000.b.localhost")).text == "b"
    assert _host_port_refused(3000)


async def test_ipv6_loopback_server(proxy_port: int) -> None:
    """When a dev server listens on ::1 only inside the colony, it is still reached."""
    assert (await _get(proxy_port, "3002.b.localhost")).text == "b-on-ipv6"


async def test_websocket_echo_in_netns(proxy_port: int) -> None:
    """When a WebSocket goes to a colony's echo server, messages come back."""
    uri = f"ws://ws.a.localhost:{proxy_port}/"
    async with ws_connect(uri, host="127.0.0.1", port=proxy_port, proxy=None) as ws:
        for message in ("hello", b"\x00\x01" * 50_000):
            await ws.send(message)
            assert await ws.recv() == message


async def test_missing_port_and_missing_netns_502(proxy_port: int) -> None:
    """When nothing listens in the colony, or its namespace is gone, the answer is 502."""
    for host_header in ("4000.a.localhost", "web.gone.localhost"):
        resp = await _get(proxy_port, host_header)
        assert resp.status_code == 502
        assert "is not answering" in resp.text


async def test_connect_in_netns_refused() -> None:
    """When nothing listens on the port inside the namespace, connect raises ConnectionRefused."""
    name = f"{TEST_PREFIX}{uuid.uuid4().hex[:8]}"
    host.run(["ip", "netns", "add", name])
    try:
        host.run(["ip", "-n", name, "link", "set", "lo", "up"])
        with pytest.raises(ConnectionRefusedError):
            await connect_in_netns(f"/run/netns/{name}", 3000)
    finally:
        host.run(["ip", "netns", "delete", name], check=False)


async def test_connect_in_missing_netns() -> None:
    """When the namespace does not exist, connect raises HostError naming the path."""
    with pytest.raises(HostError, match="ct-00000000-nope"):
        await connect_in_netns("/run/netns/ct-00000000-nope", 3000)


async def test_workers_drop_root_restart_and_die_with_their_parent(
    netns: dict[str, str], spawned: list[subprocess.Popen[bytes]]
) -> None:
    """Issue 15: the workers run as their own uid with no capabilities; one killed is
    started again and previews keep working; close() ends them all."""
    placement = host.Placement(netns=netns["a"])
    spawned.append(
        host.spawn(
            [sys.executable, "-c", HTTP_SERVER, "a", "127.0.0.1", "3000"], placement=placement
        )
    )
    await _wait_listening(netns["a"], 3000)
    a = {"web": 3000}
    table = RouteTable({"a": plan_previews(a, a)})

    async def connect(up: Upstream) -> socket.socket:
        return await connect_in_netns(netns[up.colony], up.port)

    workers = ProxyWorkers(
        PreviewProxy(lambda: table, connect), lambda b: None, count=2, uid=WORKER_UID
    )
    port = await workers.start("127.0.0.1", 0)
    try:
        pids = workers.pids()
        assert len(pids) == 2
        for pid in pids:
            for _ in range(400):  # until it has dropped root, before it serves anything
                status = Path(f"/proc/{pid}/status").read_text()
                uids = next(line for line in status.splitlines() if line.startswith("Uid:"))
                if uids.split()[1:] == [str(WORKER_UID)] * 4:
                    break
                await asyncio.sleep(0.05)
            assert uids.split()[1:] == [str(WORKER_UID)] * 4
            caps = next(line for line in status.splitlines() if line.startswith("CapEff:"))
            assert int(caps.split()[1], 16) == 0
        assert (await _get(port, "web.a.localhost")).text == "a"
        os.kill(pids[0], signal.SIGKILL)
        for _ in range(200):
            if len(workers.pids()) == 2 and pids[0] not in workers.pids():
                break
            await asyncio.sleep(0.05)
        assert pids[0] not in workers.pids()
        assert len(workers.pids()) == 2
        for _ in range(6):  # whichever worker accepts, it answers
            assert (await _get(port, "web.a.localhost")).text == "a"
        pids = workers.pids()
    finally:
        await workers.close()
    for pid in pids:
        assert not Path(f"/proc/{pid}").exists()


async def test_second_preview_on_one_connection_421_and_streaming(proxy_port: int) -> None:
    """On one keep-alive connection, requests for the same preview are answered in order and
    one for another colony gets 421 (in the daemon's loop and in the workers alike)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", proxy_port)
    try:
        for host_header in ("web.a.localhost", "web.a.localhost:7080", "web.b.localhost"):
            writer.write(f"GET / HTTP/1.1\r\nHost: {host_header}\r\n\r\n".encode())
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(), 30)  # the proxy closes after the 421
    finally:
        writer.close()
        await writer.wait_closed()
    assert answer.count(b"HTTP/1.0 200 OK\r\n") + answer.count(b"HTTP/1.1 200 OK\r\n") == 2
    assert answer.count(b"\r\n\r\na") == 2
    assert b"421 Misdirected Request" in answer
    assert b"web.b.localhost" in answer
