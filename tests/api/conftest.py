"""The API tier (issue 13): the real client and the real CLI against the real API, built by
the composition root on FakeIsolation and FakeVcs. No root, no kernel objects: it runs on any
machine in seconds.

The daemon's components run on an event loop in a thread of the test, the API is served by
uvicorn on a Unix socket in the test's directory (streams and WebSockets included), and the
client talks to it exactly as it talks to Mycelium.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import os
import subprocess
import threading
import time
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
import uvicorn

from colony.api.app import create_app
from colony.api.auth import Auth, unix_routes
from colony.api.peer import PeerCredProtocol
from colony.client import Client
from colony.daemon.build import Services, build, start
from colony.daemon.http import QuietServer
from colony.daemon.paths import Paths
from colony.daemon.settings import Settings
from colony.store.queries import Store
from colony.store.tokens import Tokens
from colony.testing.fake_isolation import FakeIsolation
from colony.testing.fake_vcs import FakeVcs

T = TypeVar("T")


@dataclass
class Api:
    """A served API, its components and its fakes."""

    services: Services
    iso: FakeIsolation
    vcs: FakeVcs
    socket: Path
    loop: asyncio.AbstractEventLoop

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the daemon's loop (to look at a component directly)."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(30)

    def client(self) -> Client:
        return Client(self.socket, timeout=10)


def make_repo(path: Path, files: dict[str, str]) -> Path:
    """A git repository with ``files`` committed (the API checks it is one)."""
    path.mkdir(parents=True)
    for name, text in files.items():
        (path / name).write_text(text)
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@colony.invalid",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@colony.invalid",
    }
    for argv in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-qm", "one"]):
        subprocess.run(["git", "-C", str(path), *argv], check=True, env=env)
    return path


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="mycelium", daemon=True)
    thread.start()
    tasks: set[asyncio.Task[Any]] = set()
    iso, vcs = FakeIsolation(), FakeVcs()
    socket = tmp_path / "api.sock"
    settings = Settings(
        state_dir=tmp_path / "state",
        socket=socket,
        prefix="ca-api",
        pool=ipaddress.IPv4Network("10.213.251.0/24"),
        http_port=None,
    )
    store = Store(Paths(settings.state_dir).db)

    def start_task(coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(coro)
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        return task

    async def boot() -> tuple[Services, QuietServer]:
        services = await build(
            settings,
            store=store,
            isolation=iso,
            open_vcs=lambda _repo: vcs,
            ids=None,
            start_task=start_task,
            repo_root=lambda path: path,
        )
        await services.proxy.start("127.0.0.1", 0)
        await start(services)
        auth = Auth(Tokens(store.conn), clock=services.clock)
        info = {"prefix": settings.prefix, "socket": str(socket)}
        app = create_app(services, on_stop=lambda: None, info=info, extra=unix_routes(auth))
        config = uvicorn.Config(
            app,
            uds=str(socket),
            http=PeerCredProtocol,
            ws="websockets-sansio",
            lifespan="off",
            log_level="warning",
            timeout_graceful_shutdown=1,
        )
        server = QuietServer(config)
        start_task(server.serve())
        return services, server

    services, server = asyncio.run_coroutine_threadsafe(boot(), loop).result(30)
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "the API did not start"
        time.sleep(0.01)
    served = Api(services, iso, vcs, socket, loop)
    try:
        yield served
    finally:
        with contextlib.suppress(Exception), served.client() as client:
            for colony in client.colonies()["colonies"]:
                client.remove(colony["name"], force=True)

        async def shut() -> None:
            server.should_exit = True
            await asyncio.sleep(0.1)
            await services.proxy.close()
            for task in list(tasks):
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(shut(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
        store.close()


def settle(client: Client, name: str, *states: str, timeout: float = 10) -> dict[str, Any]:
    """The colony once it is in one of ``states``."""
    deadline = time.monotonic() + timeout
    while True:
        colony = client.colony(name)
        if colony["state"] in states:
            return colony
        assert time.monotonic() < deadline, f"{name} stayed {colony['state']}"
        time.sleep(0.02)
