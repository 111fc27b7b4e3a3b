"""Mycelium's wiring: store, backends, proxy, API server and actors in one TaskGroup.

Wires; does not decide. Stopping the daemon leaves colonies running: the next daemon adopts
them.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import os
import signal
import socket
import sys
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvicorn

from colony.api.app import create_app
from colony.api.auth import Auth, unix_routes
from colony.api.bloom import create_bloom_app
from colony.api.peer import PeerCredProtocol
from colony.core.audit_events import parse_duration as parse_retention
from colony.core.audit_events import plan_request_event, push_url
from colony.core.env import DEFAULT_PATH
from colony.core.hostpolicy import DEFAULT_POLICY_FILE, HostPolicy, parse_host_policy
from colony.core.identity import DEFAULT_UID_BASE, DEFAULT_UID_COUNT, UidRange, check_range
from colony.core.model import check_prefix
from colony.core.mounts import check_state_dir
from colony.daemon.auditing import start_audit
from colony.daemon.context import Context
from colony.daemon.home import make_root_dir
from colony.daemon.http import start_http
from colony.daemon.identities import Identities
from colony.daemon.mycelium import Mycelium
from colony.daemon.network import start_network
from colony.daemon.paths import Paths
from colony.daemon.proxy import PreviewProxy, connect_in_netns
from colony.daemon.workflow import Workflow
from colony.errors import ColonyError, ConfigError
from colony.isolation.linux import LinuxIsolation
from colony.store.queries import Store
from colony.store.tokens import Tokens
from colony.store.trash import Trash
from colony.vcs import open_vcs

log = logging.getLogger("colony.daemon")
DEFAULT_POOL = ipaddress.IPv4Network("10.213.0.0/16")


@dataclass(frozen=True)
class Settings:
    state_dir: Path
    socket: Path
    proxy_port: int = 7080
    proxy_host: str = "127.0.0.1"
    prefix: str = "colony"
    pool: ipaddress.IPv4Network = DEFAULT_POOL
    domain: str = "localhost"
    http_port: int | None = 8000  # Bloom and the API on TCP; None: off
    http_host: str = "127.0.0.1"
    audit_push: str | None = None  # VictoriaLogs jsonline URL (issue 5)
    audit_retention: float | None = None  # seconds of audit log kept; None: all
    uids: UidRange = field(default_factory=lambda: UidRange(DEFAULT_UID_BASE, DEFAULT_UID_COUNT))
    colony_path: str = DEFAULT_PATH  # PATH of colony processes
    policy: HostPolicy = field(default_factory=HostPolicy)  # what the host decides (issue 10)


def load_policy(path: str | None) -> HostPolicy:
    """The host policy file (``--policy``; default /etc/colony/policy.toml, if it exists).

    Raises:
        ConfigError: the file named by --policy is missing, or the file is malformed.
    """
    source = path or DEFAULT_POLICY_FILE
    try:
        text = Path(source).read_text()
    except FileNotFoundError:
        if path is None:
            return HostPolicy()
        raise ConfigError(f"--policy: {path}: no such file") from None
    except OSError as exc:
        raise ConfigError(f"--policy: cannot read {source}: {exc.strerror}") from exc
    found = parse_host_policy(text, source)
    for warning in found.warnings:
        log.warning("%s", warning)
    return found


def used_uids(store: Store) -> set[int]:
    """uids of live colonies and of trash entries: none of them goes to a new colony."""
    live = {r.uid for r in store.colonies() if r.uid is not None}
    kept = {u for u in Trash(store.conn).uids() if u is not None}
    return live | kept


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: the daemon owns signals."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class Daemon:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.stopping = asyncio.Event()
        self.tasks: set[asyncio.Task[Any]] = set()

    async def run(self) -> None:
        s = self.settings
        check_prefix(s.prefix, s.pool)
        why = check_state_dir(str(s.state_dir.absolute()))
        if why:
            raise ConfigError(f"--state-dir: {why}", hint="use a directory such as /var/lib/colony")
        os.umask(0o077)  # the state directory's files are root's alone (issue 10)
        make_root_dir(s.state_dir, 0o711)  # colonies at level none pass through to their own
        paths = Paths(s.state_dir)
        store = Store(paths.db)
        ids = Identities(s.uids, used=lambda: used_uids(store))
        ids.claim()
        iso = LinuxIsolation()
        await asyncio.to_thread(iso.prepare, s.prefix, s.pool)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stopping.set)
        try:
            async with asyncio.TaskGroup() as tg:

                def start_task(coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
                    task = tg.create_task(coro)
                    self.tasks.add(task)
                    task.add_done_callback(self.tasks.discard)
                    return task

                ctx = Context(
                    store=store,
                    iso=iso,
                    open_vcs=open_vcs,
                    paths=paths,
                    prefix=s.prefix,
                    pool=s.pool,
                    start_task=start_task,
                    domain=s.domain,
                    host_env=dict(os.environ),
                    colony_path=s.colony_path,
                    ids=ids,
                    policy=s.policy,
                )
                # issue 4: network policies, connection records (NFLOG), names re-resolved
                ctx.net = start_network(store, iso, ctx.bus, s.prefix, start_task)
                myc = Mycelium(ctx)
                # issue 5: the audit log records every event from here on
                ctx.audit = await start_audit(
                    ctx, myc, push=s.audit_push, retention=s.audit_retention
                )
                proxy = PreviewProxy(
                    routes=myc.routes,
                    connect=lambda up: connect_in_netns(myc.netns_path(up.colony), up.port),
                    on_request=lambda r: ctx.bus.publish(plan_request_event(r, ctx.clock())),
                    domain=s.domain,
                )
                ctx.proxy_port = await proxy.start(s.proxy_host, s.proxy_port)
                workflow = Workflow(myc)  # issue 6: agents, review, trash, broods
                removed = await myc.adopt_all()
                if removed:
                    log.info("removed %d objects that belonged to no colony", len(removed))
                await workflow.start()
                info: dict[str, Any] = {
                    "prefix": s.prefix,
                    "state_dir": str(s.state_dir),
                    "domain": s.domain,
                    "pool": str(s.pool),
                    "socket": str(s.socket),
                }
                auth = Auth(Tokens(store.conn), clock=ctx.clock)
                app = create_app(myc, on_stop=self.stopping.set, info=info, extra=unix_routes(auth))
                server = self._server(app)
                web = None
                if s.http_port is not None:  # issue 7: Bloom + the API on TCP, token-protected
                    tcp = create_app(myc, on_stop=self.stopping.set, info=info)
                    bloom = create_bloom_app(tcp, myc, auth)
                    web = start_http(bloom, s.http_host, s.http_port, auth, start_task)
                info["http_url"] = auth.base_url
                start_task(ctx.logs.run())
                start_task(myc.resources.run())  # usage samples and resource events (issue 3)
                serving = start_task(server.serve(sockets=[self._listen()]))
                log.info("Mycelium listening on %s, previews on port %d", s.socket, ctx.proxy_port)
                await self.stopping.wait()
                log.info("Mycelium stopping; colonies keep running")
                server.should_exit = True
                await serving
                if web is not None:
                    await web.close()
                await proxy.close()
                for task in list(self.tasks):
                    task.cancel()
            if myc.empty():
                await asyncio.to_thread(iso.unprepare, s.prefix, s.pool)
        finally:
            ids.release()
            store.close()
            with contextlib.suppress(FileNotFoundError):
                s.socket.unlink()

    def _listen(self) -> socket.socket:
        """The API socket, readable and writable by root only: whoever can talk to Mycelium
        can run commands in colonies."""
        path = self.settings.socket
        path.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.bind(str(path))
        os.chmod(path, 0o600)
        sock.listen(128)
        return sock

    def _server(self, app: Any) -> uvicorn.Server:
        config = uvicorn.Config(
            app,
            http=PeerCredProtocol,
            ws="websockets-sansio",
            lifespan="off",
            log_level="warning",
            access_log=False,
            # Followed streams (`colony logs -f`, `colony audit -f`) never end by themselves:
            # give them 2 s, then end them, or the daemon would not stop while one is open.
            timeout_graceful_shutdown=2,
        )
        return _Server(config)


def run_daemon(
    *,
    state_dir: str | Path,
    socket: str | Path,
    proxy_port: int = 7080,
    prefix: str = "colony",
    pool: str = "10.213.0.0/16",
    domain: str = "localhost",
    http_port: int | None = 8000,
    audit_push: str | None = None,
    audit_retention: str | None = None,
    uid_base: int = DEFAULT_UID_BASE,
    uid_count: int = DEFAULT_UID_COUNT,
    policy: str | None = None,
) -> None:
    """Run Mycelium in the foreground until SIGTERM/SIGINT or ``POST /daemon/stop``."""
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    if os.geteuid() != 0:
        raise ColonyError(
            "Mycelium needs root: it creates network namespaces, veths and cgroups",
            hint="run 'sudo colony daemon start'",
        )
    try:
        network = ipaddress.IPv4Network(pool)
    except ValueError as exc:
        raise ColonyError(
            f"--pool: expected an IPv4 network such as 10.213.0.0/16, got {pool!r}"
        ) from exc
    settings = Settings(
        state_dir=Path(state_dir),
        socket=Path(socket),
        proxy_port=proxy_port,
        prefix=prefix,
        pool=network,
        domain=domain,
        http_port=http_port,
        audit_push=push_url(audit_push) if audit_push else None,
        audit_retention=parse_retention(audit_retention, "--audit-retention")
        if audit_retention
        else None,
        uids=check_range(uid_base, uid_count),
        policy=load_policy(policy),
        colony_path=os.environ.get("COLONY_PATH") or DEFAULT_PATH,
    )
    asyncio.run(Daemon(settings).run())
