"""Mycelium's wiring: store, backends, proxy, API server and actors in one TaskGroup.

Wires; does not decide. Stopping the daemon leaves colonies running: the next daemon adopts
them.
"""

from __future__ import annotations

import asyncio
import contextlib
import faulthandler
import ipaddress
import logging
import os
import socket
import sys
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, NoReturn

import uvicorn

from colony import host
from colony.api.app import create_app
from colony.api.auth import Auth, unix_routes
from colony.api.bloom import create_bloom_app
from colony.api.peer import PeerCredProtocol
from colony.core.access import USERS_GROUP
from colony.core.audit_events import parse_duration as parse_retention
from colony.core.audit_events import push_url
from colony.core.env import DEFAULT_PATH
from colony.core.filerate import parse_file_rate
from colony.core.identity import DEFAULT_UID_BASE, DEFAULT_UID_COUNT, check_range
from colony.core.logcap import LogCap, parse_log_cap
from colony.core.model import check_prefix
from colony.core.mounts import check_state_dir
from colony.core.preview_auth import default_mode, parse_mode
from colony.daemon import logfiles
from colony.daemon.build import build, start
from colony.daemon.home import make_root_dir
from colony.daemon.http import NAME, QuietServer, start_http
from colony.daemon.identities import Identities
from colony.daemon.lifetime import (
    Lifetime,
    Stop,
    early_signals,
    exit_reason,
    loop_signals,
    socket_answers,
    user_error,
)
from colony.daemon.paths import Paths
from colony.daemon.peers import DEFAULT_CAP, DEFAULT_IDLE, PeerLimit
from colony.daemon.ports import bind_error, check_free
from colony.daemon.preview_gate import humans
from colony.daemon.proxy_workers import ProxyWorkers
from colony.daemon.settings import Settings, load_policy, used_uids
from colony.errors import ColonyError, ConfigError
from colony.host import state_mount
from colony.isolation import Isolation
from colony.isolation.firewall import gate_port
from colony.isolation.linux import LinuxIsolation
from colony.isolation.marks import render_mark
from colony.store.queries import Store
from colony.store.tokens import Tokens
from colony.vcs import Vcs, open_vcs

log = logging.getLogger("colony.daemon")
OWN_LOG_CHECK = 30.0  # seconds between checks of the daemon's own log's size
# Threads for blocking work (asyncio.to_thread). Most of it waits on the kernel, not the CPU
# (an unmount's RCU grace period, a network namespace going, a child process): the default
# (cores + 4, six here) let a few removals' waits hold up all the others (issue 15).
WORKERS = 48


async def _cap_own_log(path: Path, cap: LogCap) -> None:
    """Rotate ``mycelium.log`` (where a command-started daemon's output goes) past the cap."""
    while True:
        rotated = await asyncio.to_thread(logfiles.rotate, path, cap)
        if rotated is not None and rotated.dropped:
            log.info("mycelium.log rotated; %d bytes dropped", rotated.dropped)
        await asyncio.sleep(OWN_LOG_CHECK)


class Daemon:
    """One Mycelium: preflight, the composition root's components, the listeners, and
    the signals that stop it. ``isolation`` and ``open_vcs`` are the host backends (the
    real ones unless given)."""

    def __init__(
        self,
        settings: Settings,
        life: Lifetime,
        *,
        isolation: Isolation | None = None,
        open_vcs: Callable[[Path], Vcs] = open_vcs,
    ) -> None:
        self.settings = settings
        self.life = life
        self.isolation = isolation
        self.open_vcs = open_vcs
        self.stopping = asyncio.Event()
        self.reason = "stopped"  # why it stops, for the log
        self.tasks: set[asyncio.Task[Any]] = set()
        self.bound: tuple[int, int] | None = None  # (st_dev, st_ino) of the socket we made

    def stop(self, reason: str) -> None:
        if not self.stopping.is_set():
            self.reason = reason
        self.stopping.set()

    def _preflight(self) -> None:
        """Refuse to start, touching nothing, where another daemon or process is in the way:
        the state directory, the API socket, the preview port (issue 11)."""
        s = self.settings
        check_prefix(s.prefix, s.pool)
        why = check_state_dir(str(s.state_dir.absolute()))
        if why:
            raise ConfigError(f"--state-dir: {why}", hint="use a directory such as /var/lib/colony")
        os.umask(0o077)  # the state directory's files are root's alone (issue 10)
        before, after = host.raise_open_files()  # connections are descriptors (issue 11)
        log.info("open files limit %d%s", after, f" (was {before})" if after != before else "")
        make_root_dir(s.state_dir, 0o711)  # colonies at level none pass through to their own
        self.life.claim()
        if socket_answers(s.socket):
            raise ColonyError(
                f"another Mycelium is listening on the API socket {s.socket}",
                hint="stop it first ('colony daemon stop'), or give this one its own --socket",
            )
        check_free(s.proxy_host, s.proxy_port, "previews", "--proxy-port")

    async def run(self) -> None:
        s = self.settings
        loop = asyncio.get_running_loop()
        loop.set_default_executor(ThreadPoolExecutor(WORKERS, thread_name_prefix="mycelium"))
        loop_signals(loop, self.stop)
        self._preflight()
        # issue 15: colony processes detach everything below the state dir in one step
        bound = self.isolation is None and os.geteuid() == 0
        if bound:
            await asyncio.to_thread(state_mount.bind_self, s.state_dir)
        paths = Paths(s.state_dir)
        store = Store(paths.db)
        # the range's last uid is the preview proxy workers' own (issue 15), never a colony's
        ids = Identities(s.uids, used=lambda: used_uids(store) | {s.uids.last})
        ids.claim()
        iso = self.isolation or LinuxIsolation(
            mark=render_mark(s.prefix, str(s.state_dir.resolve()))
        )
        await asyncio.to_thread(iso.prepare, s.prefix, s.pool)
        try:
            async with asyncio.TaskGroup() as tg:

                def start_task(coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
                    task = tg.create_task(coro)
                    self.tasks.add(task)
                    task.add_done_callback(self.tasks.discard)
                    return task

                services = await build(
                    s, store=store, isolation=iso, open_vcs=self.open_vcs, ids=ids,
                    start_task=start_task,
                )  # fmt: skip
                myc, proxy = services.colonies, services.proxy
                workers = None
                if s.proxy_workers:  # issue 15: the data path in processes of its own
                    workers = ProxyWorkers(
                        proxy,
                        services.preview_records.add_batch,
                        count=s.proxy_workers,
                        uid=s.uids.last,
                    )
                try:
                    if workers is not None:
                        proxy_port = await workers.start(s.proxy_host, s.proxy_port)
                    else:
                        proxy_port = await proxy.start(s.proxy_host, s.proxy_port)
                except OSError as exc:  # taken since the preflight check
                    raise bind_error(
                        "previews", s.proxy_host, s.proxy_port, exc, "--proxy-port"
                    ) from exc
                try:  # issue 16: where colonies' tables redirect TCP 80/443 decided by name
                    await services.egress.start("0.0.0.0", gate_port(s.prefix))
                except OSError as exc:  # closed, not open: those connections are reset
                    log.error(
                        "the egress gate cannot listen on port %d (%s): colonies whose "
                        "policy names hosts cannot reach TCP 80/443",
                        gate_port(s.prefix),
                        exc.strerror,
                    )
                # issue 11: the log a started daemon writes is capped like every other
                start_task(_cap_own_log(paths.root / "mycelium.log", s.log_cap))
                removed = await start(services)
                if removed:
                    log.info("removed %d objects that belonged to no colony", len(removed))
                info: dict[str, Any] = {
                    "prefix": s.prefix,
                    "state_dir": str(s.state_dir),
                    "domain": s.domain,
                    "pool": str(s.pool),
                    "socket": str(s.socket),
                }
                auth = Auth(Tokens(store.conn), clock=services.clock)
                asked = "asked to stop through the API ('colony daemon stop')"
                app = create_app(
                    services, on_stop=lambda: self.stop(asked), info=info, extra=unix_routes(auth)
                )
                server = self._server(app)
                web = None
                if s.http_port is not None:  # issue 7: Bloom + the API on TCP, token-protected
                    by_token = "asked to stop through the API on the TCP listener"
                    tcp = create_app(services, on_stop=lambda: self.stop(by_token), info=info)
                    bloom = create_bloom_app(tcp, services, auth)
                    web = start_http(
                        bloom,
                        s.http_host,
                        s.http_port,
                        auth,
                        start_task,
                        name=s.http_name,
                        peers=PeerLimit(s.peer_connections, "Bloom"),
                        idle_timeout=s.idle_timeout,
                    )
                info["http_url"] = auth.base_url
                serving = start_task(server.serve(sockets=[self._listen()]))
                log.info("Mycelium listening on %s, previews on port %d", s.socket, proxy_port)
                await self.stopping.wait()
                log.info("Mycelium stopping (%s); colonies keep running", self.reason)
                server.should_exit = True
                await serving
                if web is not None:
                    await web.close()
                await proxy.close()
                await services.egress.close()
                if workers is not None:
                    await workers.close()
                for task in list(self.tasks):
                    task.cancel()
            if myc.empty():
                await asyncio.to_thread(iso.unprepare, s.prefix, s.pool)
        finally:
            ids.release()
            store.close()
            self._unlink_socket()
            if bound:
                state_mount.unbind_self(s.state_dir)

    def _listen(self) -> socket.socket:
        """The API socket: root's and the group ``colony``'s (0660), whose members each act
        as themselves (the API checks every request against the caller's role, issue 14);
        root's alone (0600) where the group does not exist."""
        path = self.settings.socket
        path.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            path.unlink()  # stale: the preflight found nobody answering there
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        gid = host.group_id(USERS_GROUP)
        # The mode comes from the umask at bind: no window with a wider one, and no chmod
        # that would follow a symlink put in the socket's place.
        old = os.umask(0o177 if gid is None else 0o117)
        try:
            sock.bind(str(path))
        finally:
            os.umask(old)
        if gid is not None:
            os.chown(path, 0, gid, follow_symlinks=False)
        sock.listen(128)
        made = path.stat()
        self.bound = (made.st_dev, made.st_ino)
        return sock

    def _unlink_socket(self) -> None:
        """Remove the socket file if it is still the one this daemon made: a daemon that failed
        to start, or one whose path another daemon took since, leaves it (issue 11: removing
        it made the other daemon unreachable, as if it had died)."""
        try:
            now = self.settings.socket.stat()
        except FileNotFoundError:
            return
        if self.bound == (now.st_dev, now.st_ino):
            self.settings.socket.unlink()

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
        return QuietServer(config)


def run_daemon(
    *,
    state_dir: str | Path,
    socket: str | Path,
    proxy_port: int = 7080,
    prefix: str = "colony",
    pool: str = "10.213.0.0/16",
    domain: str = "localhost",
    http_port: int | None = 8000,
    http_name: str = NAME,
    peer_connections: int = DEFAULT_CAP,
    proxy_workers: int | None = None,
    idle_timeout: float = DEFAULT_IDLE,
    audit_push: str | None = None,
    audit_retention: str | None = None,
    log_size: str = "10M",
    log_files: str = "3",
    watch_limit: int = 8192,
    files_rate: str = "100",
    files_burst: str = "10000",
    uid_base: int = DEFAULT_UID_BASE,
    uid_count: int = DEFAULT_UID_COUNT,
    policy: str | None = None,
    preview_auth: str | None = None,
) -> None:
    """Run Mycelium in the foreground until SIGTERM/SIGINT or ``POST /daemon/stop``.

    Every way out is logged with its reason (issue 11): see :mod:`colony.daemon.lifetime`.
    """
    early_signals()  # first of all: no signal may end the daemon without a word
    faulthandler.enable()  # a crash in C code leaves its traceback in the log
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    life = Lifetime(Path(state_dir))
    try:
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
            http_name=http_name,
            peer_connections=peer_connections,
            proxy_workers=(os.cpu_count() or 1) if proxy_workers is None else proxy_workers,
            idle_timeout=idle_timeout,
            audit_push=push_url(audit_push) if audit_push else None,
            audit_retention=parse_retention(audit_retention, "--audit-retention")
            if audit_retention
            else None,
            log_cap=parse_log_cap(log_size, log_files),
            watch_limit=watch_limit,
            file_rate=parse_file_rate(files_rate, files_burst),
            uids=check_range(uid_base, uid_count),
            policy=load_policy(policy),
            colony_path=os.environ.get("COLONY_PATH") or DEFAULT_PATH,
            preview_auth=parse_mode(preview_auth) if preview_auth else default_mode(humans()),
        )
        daemon = Daemon(settings, life)
        asyncio.run(daemon.run())
    except BaseException as exc:
        _ended(life, exc)
    life.release(daemon.reason)


def _ended(life: Lifetime, exc: BaseException) -> NoReturn:
    """Log why the daemon ends with ``exc``; raise what the CLI shows (one line for an error
    the user can act on, an exit code for a signal, the traceback already logged for a bug)."""
    error = user_error(exc)
    if error is None and not isinstance(exc, Stop | KeyboardInterrupt):
        log.error("Mycelium failed", exc_info=exc)
    life.release(exit_reason(exc), error=True)
    if error is not None:
        raise error from None
    if isinstance(exc, Stop):
        raise SystemExit(128 + exc.signum) from None
    raise SystemExit(130 if isinstance(exc, KeyboardInterrupt) else 1) from None
