"""Mycelium's HTTP listener on TCP: Bloom and the token-protected API (issue 7).

A port that is taken does not stop the daemon: colonies matter more than the dashboard. The
listener is then off, and ``colony dashboard`` says why.

It binds 127.0.0.1 (and ``[::1]`` on the same port: browsers try it first, see
:mod:`colony.daemon.loopback`) but is reached by a name of its own (``bloom.localhost``), so
that Bloom's cookie is not sent to every server on 127.0.0.1 (issue 11). Each peer may hold a
bounded number of connections, and a connection that sends no request head in time is closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

from colony.api.auth import Auth
from colony.core.http1 import render_error_page
from colony.daemon.kit import TaskStarter
from colony.daemon.loopback import bind_loopback
from colony.daemon.peers import BACKLOG, DEFAULT_IDLE, PeerLimit
from colony.daemon.ports import bind_error

log = logging.getLogger("colony.daemon")
GRACE = 2  # seconds open streams (followed logs) get when the daemon stops
NAME = "bloom.localhost"


class QuietServer(uvicorn.Server):
    """uvicorn without its own signal handling: the daemon owns signals."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def capped_protocols(peers: PeerLimit, idle: float) -> tuple[type[Any], type[Any]]:
    """uvicorn's HTTP and WebSocket protocols, counting each connection against ``peers``
    until it ends (a WebSocket takes its HTTP connection over), and closing a connection
    whose first request head has not come within ``idle`` seconds."""

    class Http(H11Protocol):
        refused = False

        head_timer: asyncio.TimerHandle | None = None

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            if not peers.admit(transport):
                self.refused = True
                transport.write(render_error_page(429, peers.message()))
                transport.close()
                return
            super().connection_made(transport)
            self.head_timer = self.loop.call_later(idle, self._head_timeout)

        def _head_timeout(self) -> None:
            # No request yet (a WebSocket has its own protocol by now): uvicorn would wait on.
            if self.cycle is None and self.transport.get_protocol() is self:
                self.transport.close()

        def data_received(self, data: bytes) -> None:
            if not self.refused:
                super().data_received(data)

        def connection_lost(self, exc: Exception | None) -> None:
            peers.release(self.transport)
            if self.head_timer is not None:
                self.head_timer.cancel()
            if not self.refused:
                super().connection_lost(exc)

    class WebSocket(WebSocketsSansIOProtocol):
        def connection_lost(self, exc: Exception | None) -> None:
            peers.release(self.transport)
            super().connection_lost(exc)

    return Http, WebSocket


@dataclass
class HttpListener:
    server: uvicorn.Server
    port: int
    task: Any

    async def close(self) -> None:
        self.server.should_exit = True
        await self.task


def start_http(
    app: Any,
    host: str,
    port: int,
    auth: Auth,
    start_task: TaskStarter,
    *,
    name: str = NAME,
    peers: PeerLimit | None = None,
    idle_timeout: float = DEFAULT_IDLE,
) -> HttpListener | None:
    """Bind ``host:port`` (0: any free port) and serve ``app`` there; None if binding failed.

    Sets ``auth.base_url`` to ``http://<name>:<bound port>``: Bloom's origin, where login URLs
    point.
    """
    try:
        sockets = bind_loopback(host, port, BACKLOG)
    except OSError as exc:
        error = bind_error("Bloom", host, port, exc, "--http-port")  # who holds it (issue 11)
        auth.off = f"Bloom is not listening: {error}"
        log.error("%s; the API stays on the Unix socket (%s)", auth.off, error.hint)
        return None
    bound = int(sockets[0].getsockname()[1])
    http, ws = capped_protocols(peers or PeerLimit(what="Bloom"), idle_timeout)
    config = uvicorn.Config(
        app,
        http=http,
        ws=ws,
        lifespan="off",
        log_level="warning",
        access_log=False,
        timeout_keep_alive=int(max(1, idle_timeout)),
        backlog=BACKLOG,
        timeout_graceful_shutdown=GRACE,
    )
    server = QuietServer(config)
    task = start_task(server.serve(sockets=sockets))
    auth.base_url = f"http://{name}:{bound}"
    shown = f"[{host}]" if ":" in host else host
    log.info("Bloom on %s (listening on %s:%d)", auth.base_url, shown, bound)
    return HttpListener(server, bound, task)
