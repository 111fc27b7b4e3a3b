"""Bloom's TCP listener (uvicorn) with its per-peer cap and head timeout, on real sockets."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket
from websockets.asyncio.client import connect as ws_connect

from colony.api.auth import Auth
from colony.daemon.http import HttpListener, start_http
from colony.daemon.peers import PeerLimit
from colony.store.db import connect
from colony.store.tokens import Tokens


@dataclass
class Listening:
    listener: HttpListener
    peers: PeerLimit

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.listener.port}"


@pytest.fixture
async def listening(tmp_path: Path) -> AsyncIterator[Listening]:
    async def hello(request: Request) -> PlainTextResponse:
        return PlainTextResponse("hello")

    async def hold(ws: WebSocket) -> None:
        await ws.accept()
        await ws.receive_text()  # until the client goes
        await ws.close()

    app = Starlette(routes=[Route("/", hello), WebSocketRoute("/ws", hold)])
    auth = Auth(Tokens(connect(tmp_path / "mycelium.db")), clock=lambda: 0.0)
    peers = PeerLimit(2, "Bloom", owner=lambda sock: 1000)  # every client is uid 1000
    tasks: list[asyncio.Task[Any]] = []

    def start_task(coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        tasks.append(asyncio.ensure_future(coro))
        return tasks[-1]

    listener = start_http(app, "127.0.0.1", 0, auth, start_task, peers=peers, idle_timeout=1)
    assert listener is not None
    assert auth.base_url == f"http://bloom.localhost:{listener.port}"
    try:
        yield Listening(listener, peers)
    finally:
        await listener.close()


async def test_a_connection_without_a_request_is_closed(listening: Listening) -> None:
    """When a client connects and sends nothing (or half a head), the listener closes it after
    the idle timeout, instead of holding it for ever."""
    for data in (b"", b"GET / HTTP/1.1\r\nHost: x"):
        reader, writer = await asyncio.open_connection("127.0.0.1", listening.listener.port)
        writer.write(data)
        async with asyncio.timeout(30):  # a bound for a hang, not a timing assertion
            assert await reader.read() == b""
        writer.close()


async def test_each_peer_has_a_connection_cap_websockets_included(listening: Listening) -> None:
    """When one peer holds as many connections as the cap (two WebSockets here, which outlive
    the head timeout), its next one is answered 429; once a WebSocket ends, its count goes
    down and requests pass again."""
    uri = f"ws://127.0.0.1:{listening.listener.port}/ws"
    first = await ws_connect(uri, proxy=None)
    second = await ws_connect(uri, proxy=None)
    await asyncio.sleep(1.5)  # past the head timeout: a WebSocket is not cut by it
    async with asyncio.timeout(10):
        await (await first.ping())
    async with httpx.AsyncClient(base_url=listening.url, timeout=10) as http:
        refused = await http.get("/")
        assert refused.status_code == 429
        assert "too many open connections from your user" in refused.text
    await second.close()
    for _ in range(500):
        if listening.peers.counts["uid 1000"] == 1:
            break
        await asyncio.sleep(0.01)
    async with httpx.AsyncClient(base_url=listening.url, timeout=10) as http:
        assert (await http.get("/")).text == "hello"
    await first.close()
