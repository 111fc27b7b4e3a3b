"""Mycelium's HTTP listener on TCP: Bloom and the token-protected API (issue 7).

A port that is taken does not stop the daemon: colonies matter more than the dashboard. The
listener is then off, and ``colony dashboard`` says why.
"""

from __future__ import annotations

import contextlib
import logging
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import uvicorn

from colony.api.auth import Auth
from colony.daemon.context import TaskStarter
from colony.daemon.ports import bind_error

log = logging.getLogger("colony.daemon")
GRACE = 2  # seconds open streams (followed logs) get when the daemon stops


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: the daemon owns signals."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@dataclass
class HttpListener:
    server: uvicorn.Server
    port: int
    task: Any

    async def close(self) -> None:
        self.server.should_exit = True
        await self.task


def start_http(
    app: Any, host: str, port: int, auth: Auth, start_task: TaskStarter
) -> HttpListener | None:
    """Bind ``host:port`` (0: any free port) and serve ``app`` there; None if binding failed.

    Sets ``auth.base_url`` so login URLs point at the bound port.
    """
    try:
        sock = socket.create_server((host, port))
    except OSError as exc:
        error = bind_error("Bloom", host, port, exc, "--http-port")  # who holds it (issue 11)
        auth.off = f"Bloom is not listening: {error}"
        log.error("%s; the API stays on the Unix socket (%s)", auth.off, error.hint)
        return None
    bound = int(sock.getsockname()[1])
    config = uvicorn.Config(
        app,
        ws="websockets-sansio",
        lifespan="off",
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=GRACE,
    )
    server = _Server(config)
    task = start_task(server.serve(sockets=[sock]))
    shown = f"[{host}]" if ":" in host else host
    auth.base_url = f"http://{shown}:{bound}"
    log.info("Bloom on %s", auth.base_url)
    return HttpListener(server, bound, task)
