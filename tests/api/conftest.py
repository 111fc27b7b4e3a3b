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
import json
import os
import subprocess
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
import uvicorn

from colony.api.app import create_app
from colony.api.auth import Auth, unix_routes
from colony.api.bloom import create_bloom_app
from colony.api.peer import PeerCredProtocol
from colony.client import Client
from colony.contract_responses import Answer, Colony, dump, load
from colony.core.env import DEFAULT_PATH
from colony.daemon.build import Services, build, start
from colony.daemon.http import QuietServer
from colony.daemon.paths import Paths
from colony.daemon.settings import Settings
from colony.store.queries import Store
from colony.store.tokens import Tokens
from colony.testing.fake_isolation import FakeIsolation
from colony.testing.fake_vcs import FakeVcs
from colony.vcs import Vcs
from colony.vcs.git import GitWorkspaces
from tests.api.routes import Recorder

T = TypeVar("T")
AGENTS = Path(__file__).resolve().parents[1] / "agents"
BLOOM = "http://bloom.localhost:8000"  # Bloom's origin as the fixture's Auth knows it


class CheckedClient(Client):
    """The real client, checking every answer it reads (issue 13): the JSON Mycelium sent
    has no key its dataclass lacks, and writes back from it unchanged, key for key and in
    order (what `--json` prints). Every test of this tier checks the answers it meets."""

    def _answer(
        self,
        cls: type[T],
        method: str,
        path: str,
        *,
        body: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
        wait: float | None = -1,
    ) -> T:
        sent = self._request(method, path, body=body, params=params, wait=wait)
        typed = load(cls, sent, f"{method} {path}")
        again = dump(typed)
        assert json.dumps(again) == json.dumps(sent), f"{method} {path}: {again} != {sent}"
        assert not _extras(typed), f"{method} {path}: keys the answer lacks: {_extras(typed)}"
        return typed


def _extras(value: object) -> list[str]:
    """The unknown keys anywhere in an answer."""
    if isinstance(value, list):
        return [k for v in value for k in _extras(v)]
    if not isinstance(value, Answer):
        return []
    found = list(value.extra)
    for f in value.FIELDS:
        found += _extras(getattr(value, f.name))
    return found


@dataclass
class Api:
    """A served API, its components and its fakes."""

    services: Services
    iso: FakeIsolation
    vcs: FakeVcs
    socket: Path
    loop: asyncio.AbstractEventLoop
    bloom_socket: Path  # Bloom's app (the HTTP listener's), served on a socket of its own
    stops: list[str]  # one entry per POST /daemon/stop

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the daemon's loop (to look at a component directly)."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(30)

    def client(self) -> Client:
        return CheckedClient(self.socket, timeout=10)

    def bloom(self, **kwargs: Any) -> httpx.Client:
        """Plain HTTP to Bloom's app, as a browser or a script reaches the HTTP listener."""
        transport = httpx.HTTPTransport(uds=str(self.bloom_socket))
        return httpx.Client(transport=transport, base_url=BLOOM, timeout=10, **kwargs)


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


def install_agents(folder: Path) -> Path:
    """``claude``, ``codex``, ``gemini`` and ``aider`` commands in ``folder`` that run the
    scripted agents of tests/agents; colony processes run on the host here, as the test."""
    folder.mkdir(parents=True)
    for name in ("claude", "codex", "gemini", "aider"):
        wrapper = folder / name
        wrapper.write_text(f'#!/bin/sh\nexec python3 -B {AGENTS}/fake_{name}.py "$@"\n')
        wrapper.chmod(0o755)
    return folder


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    """The API on FakeIsolation and FakeVcs."""
    vcs = FakeVcs()
    with serve(tmp_path, vcs, lambda _repo: vcs) as served:
        yield served


# Names of policies in this tier resolve through the daemon's hosts file: no DNS query leaves.
NAMES = ("ok.test", "other.test", "dns-only.test", "evil.test")


@pytest.fixture
def named_api(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Api]:
    """The API on FakeIsolation and FakeVcs, resolving :data:`NAMES` from a hosts file of the
    test's (TEST-NET addresses) before it starts."""
    hosts, resolv = tmp_path / "hosts", tmp_path / "resolv.conf"
    hosts.write_text("".join(f"198.51.100.{i} {n}\n" for i, n in enumerate(NAMES, 1)))
    resolv.write_text("nameserver 192.0.2.53\n")  # TEST-NET: never asked here
    monkeypatch.setenv("COLONY_HOSTS_FILE", str(hosts))
    monkeypatch.setenv("COLONY_RESOLV_CONF", str(resolv))
    vcs = FakeVcs()
    with serve(tmp_path, vcs, lambda _repo: vcs) as served:
        yield served


@pytest.fixture
def git_api(tmp_path: Path) -> Iterator[Api]:
    """The API on FakeIsolation and the real git workspaces (review, merge, snapshots and
    the trash need real repositories); git runs as the test, in the workspace."""
    workspaces = GitWorkspaces()
    with serve(tmp_path, FakeVcs(), lambda _repo: workspaces) as served:
        yield served


def _uvicorn(app: Any, socket: Path) -> QuietServer:
    config = uvicorn.Config(
        Recorder(app),
        uds=str(socket),
        http=PeerCredProtocol,
        ws="websockets-sansio",
        lifespan="off",
        log_level="warning",
        timeout_graceful_shutdown=1,
    )
    return QuietServer(config)


@contextlib.contextmanager
def serve(tmp_path: Path, vcs: FakeVcs, open_vcs: Callable[[Path], Vcs]) -> Iterator[Api]:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="mycelium", daemon=True)
    thread.start()
    tasks: set[asyncio.Task[Any]] = set()
    iso = FakeIsolation()
    socket, bloom_socket = tmp_path / "api.sock", tmp_path / "bloom.sock"
    stops: list[str] = []
    settings = Settings(
        state_dir=tmp_path / "state",
        socket=socket,
        prefix="ca-api",
        pool=ipaddress.IPv4Network("10.213.251.0/24"),
        http_port=None,
        colony_path=f"{install_agents(tmp_path / 'agents')}:{DEFAULT_PATH}",
    )
    store = Store(Paths(settings.state_dir).db)

    def start_task(coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(coro)
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        return task

    async def boot() -> tuple[Services, list[QuietServer]]:
        services = await build(
            settings,
            store=store,
            isolation=iso,
            open_vcs=open_vcs,
            ids=None,
            start_task=start_task,
            repo_root=lambda path: path,
        )
        await services.proxy.start("127.0.0.1", 0)
        await start(services)
        auth = Auth(Tokens(store.conn), clock=services.clock, base_url=BLOOM)
        info = {"prefix": settings.prefix, "socket": str(socket)}

        def stop() -> None:
            stops.append("stop")

        app = create_app(services, on_stop=stop, info=info, extra=unix_routes(auth))
        tcp = create_app(services, on_stop=stop, info=info)
        bloom = create_bloom_app(tcp, services, auth)
        servers = [_uvicorn(app, socket), _uvicorn(bloom, bloom_socket)]
        for server in servers:
            start_task(server.serve())
        return services, servers

    services, servers = asyncio.run_coroutine_threadsafe(boot(), loop).result(30)
    deadline = time.monotonic() + 10
    while not all(server.started for server in servers):
        assert time.monotonic() < deadline, "the API did not start"
        time.sleep(0.01)
    served = Api(services, iso, vcs, socket, loop, bloom_socket, stops)
    try:
        yield served
    finally:
        with contextlib.suppress(Exception), served.client() as client:
            for colony in client.colonies().colonies:
                client.remove(colony.name, force=True)

        async def shut() -> None:
            for server in servers:
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


def settle(client: Client, name: str, *states: str, timeout: float = 10) -> Colony:
    """The colony once it is in one of ``states``."""
    deadline = time.monotonic() + timeout
    while True:
        colony = client.colony(name)
        if colony.state in states:
            return colony
        assert time.monotonic() < deadline, f"{name} stayed {colony.state}"
        time.sleep(0.02)


# --- every route exercised (issue 13): see routes.py and test_routes_covered.py -----------

HERE = Path(__file__).resolve().parent
COVERED = "test_routes_covered.py::test_every_route_is_exercised"
TIER: dict[str, Any] = {"partial": None, "failed": []}


def _ours(item: pytest.Item) -> bool:
    return Path(item.path).resolve().parent == HERE


def pytest_deselected(items: list[pytest.Item]) -> None:
    if any(_ours(item) for item in items):
        TIER["partial"] = "some tests of tests/api were deselected (-k, -m, --lf, ...)"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Put the route check last, and note whether the whole tier was selected."""
    check = [item for item in items if item.nodeid.endswith(COVERED)]
    if not check:
        return
    items[:] = [item for item in items if item not in check] + check
    files = {Path(item.path).name for item in items if _ours(item)}
    missing = sorted(p.name for p in HERE.glob("test_*.py") if p.name not in files)
    if missing:
        TIER["partial"] = f"not every file of tests/api was selected ({', '.join(missing)})"
    elif any("::" in arg for arg in config.args):
        TIER["partial"] = "tests of tests/api were selected by node id"


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.failed and not report.nodeid.endswith(COVERED):
        TIER["failed"].append(report.nodeid)
