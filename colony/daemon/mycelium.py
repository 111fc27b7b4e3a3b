"""Mycelium's services: the registry of colony actors and what the API asks of them."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
import stat
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from colony.core import lifecycle
from colony.core.bus_events import GcEvent, SecretEvent, StateEvent
from colony.core.config import Config, parse_config_text
from colony.core.hostpolicy import Flags, HostPolicy, plan_effective
from colony.core.model import ColonyRecord, Slot, State, Transition, check_name, plan_index
from colony.core.notices import uncommitted_warning
from colony.core.policy import check_config_exposures
from colony.core.routes import Previews, RouteTable, plan_previews
from colony.core.secrets import SecretSpec, plan_declared
from colony.daemon import containment
from colony.daemon.actor import ColonyActor
from colony.daemon.home import ColonyHome
from colony.daemon.kit import ActorKit
from colony.daemon.messages import REQUESTS, Adopt, Remove, Spawn
from colony.daemon.paths import ORPHAN
from colony.daemon.resources import ResourceMonitor
from colony.errors import ColonyError, ConfigError, Forbidden, NotFound
from colony.host import user_name, volumes
from colony.store.trash import Trash
from colony.vcs.checkouts import checkouts_at

log = logging.getLogger("colony.mycelium")

# Removals that run at once (issue 15). Each waits on processes ending, git, the kernel
# (namespaces, cgroups, nft, unmounts' RCU grace periods) and file moves, most of it in
# worker threads and idle: many at once keep both cores busy; fewer than the daemon's worker
# threads (colony.daemon.main.WORKERS), so other requests still get one.
REMOVALS = 32


def check_owned(path: Path, uid: int, user: str, what: str) -> None:
    """Refuse a path of another user's (issue 14): a user may spawn colonies only of their own
    repositories and configuration files, which Mycelium reads as root.

    Raises:
        Forbidden: names the path, its owner and the caller.
    """
    try:
        st = path.stat()
    except OSError:
        return  # does not exist: the caller's next check says so
    if st.st_uid != uid:
        raise Forbidden(
            f"{what} {path} is not {user}'s (it belongs to {user_name(st.st_uid)})",
            hint="spawn colonies of your own repositories, or ask an admin",
        )


def read_config(repo: Path, config: str | None) -> tuple[str, str]:
    """(source name, text) of a colony's configuration; empty text when the repo has none."""
    if config:
        path = Path(config)
        if not path.is_absolute():
            path = repo / path
        try:
            return path.name, path.read_text()
        except OSError as exc:
            raise ConfigError(f"{config}: cannot read: {exc.strerror}") from exc
    path = repo / "colony.toml"
    if not path.exists():
        return "colony.toml", ""
    try:
        return "colony.toml", path.read_text()
    except OSError as exc:
        raise ConfigError(f"colony.toml: cannot read: {exc.strerror}") from exc


def _previews(actor: ColonyActor) -> Previews:
    """A colony's previews. Level none remaps service ports to host ports (issue 3): a
    service is reachable once it has its host port, never on the port it declared."""
    shared = actor.contain.level == "none"
    declared = {s.name: s.port for s in actor.cfg.services if s.port}
    upstream = actor.contain.host_ports if shared else declared
    return plan_previews(declared, upstream, actor.cfg.previews.ports, shared=shared)


def stored_flags(rec: ColonyRecord) -> Flags:
    """The flags a colony was spawned with, as stored."""
    o = json.loads(rec.overrides)
    return Flags(o.get("limits"), o.get("sandbox"), o.get("user"), tuple(o.get("sockets") or ()))


def load_colony_config(rec: ColonyRecord, policy: HostPolicy) -> Config:
    """A stored colony's configuration under the host's policy as it is now."""
    cfg = parse_config_text(rec.config_text, rec.config_source)
    return plan_effective(cfg, policy, stored_flags(rec))


def check_sockets(paths: Sequence[object]) -> list[str]:
    """``--socket`` paths: host sockets under /run/ that exist.

    Raises:
        ConfigError: naming the path and what was expected.
    """
    out = []
    for path in paths:
        if not isinstance(path, str) or not path.startswith("/run/") or ".." in path.split("/"):
            raise ConfigError(f"--socket: expected a path under /run/, got {path!r}")
        if not stat.S_ISSOCK(os.stat(path).st_mode if os.path.exists(path) else 0):
            raise ConfigError(f"--socket: expected a Unix socket, got {path!r}")
        out.append(path)
    return out


class Mycelium:
    """Owns every colony actor. Front ends reach it only through the API."""

    def __init__(self, kit: ActorKit, repo_root: Callable[[Path], Path]) -> None:
        self.kit = kit
        self.env = kit.env
        self.repo_root = repo_root  # toplevel of a repository
        self.actors: dict[str, ColonyActor] = {}
        self.removals = asyncio.Semaphore(REMOVALS)
        self.resources = ResourceMonitor(  # issue 3
            kit.iso, kit.bus, kit.clock, lambda: list(self.actors.values())
        )

    # --- actors ---------------------------------------------------------------------------

    def _launch(self, actor: ColonyActor) -> None:
        self.actors[actor.name] = actor
        self.kit.start_task(self._supervise(actor))

    async def _supervise(self, actor: ColonyActor) -> None:
        """Run an actor; if it crashes, log it and start a fresh one from the store.

        A crash in one colony's actor never touches the others.
        """
        name = actor.name
        while True:
            try:
                await actor.run()
                break
            except Exception:
                log.exception("colony %s: actor crashed; restarting it", name)
                rec = self.kit.store.find(name)
                if rec is None:
                    break
                actor = ColonyActor(self.kit, rec, load_colony_config(rec, self.env.policy))
                self.actors[name] = actor
                actor.tell(Adopt())
        if self.actors.get(name) is actor:
            del self.actors[name]

    def _store_secrets(self, name: str, specs: list[SecretSpec], owner: str) -> None:
        """colony.toml's secrets with the values the CLI sent (issue 17), before the colony's
        first process: it starts with their placeholders and its CA."""
        if not specs or self.kit.secrets is None:
            return
        if self.kit.cas is not None:
            self.kit.cas.ensure(name)
        for spec in specs:
            secret = self.kit.secrets.set(name, spec)
            event = SecretEvent(
                colony=name, user=owner, variable=spec.key, hosts=list(secret.hosts),
                at=self.kit.clock(),
            )  # fmt: skip
            self.kit.bus.publish(event)

    def actor(self, name: str) -> ColonyActor:
        actor = self.actors.get(name)
        if actor is None:
            raise NotFound(f"colony '{name}' not found", hint="list colonies with 'colony ls'")
        return actor

    def launch(self, rec: ColonyRecord) -> ColonyActor:
        """Run an actor for a colony just stored (one restored from the trash, issue 6)."""
        actor = ColonyActor(self.kit, rec, load_colony_config(rec, self.env.policy))
        self._launch(actor)
        return actor

    async def adopt_all(self) -> list[dict[str, str]]:
        """On start: take over every stored colony, then remove what belongs to none."""
        for rec in self.kit.store.colonies():
            try:
                cfg = load_colony_config(rec, self.env.policy)
            except ColonyError as exc:
                log.error("colony %s: stored configuration no longer parses: %s", rec.name, exc)
                cfg = parse_config_text("", rec.config_source)
            actor = ColonyActor(self.kit, rec, cfg)
            self._launch(actor)
            actor.tell(Adopt())
        return await self.gc()

    # --- requests ---------------------------------------------------------------------

    async def spawn(
        self,
        name: str,
        repo: str,
        *,
        rev: str | None = None,
        config: str | None = None,
        limits: dict[str, str] | None = None,
        sandbox: str | None = None,
        user: str | None = None,
        sockets: list[str] | None = None,
        secrets: dict[str, Any] | None = None,
        owner: str = "unknown",
        owner_uid: int | None = None,
    ) -> dict[str, Any]:
        """Validate everything, record the colony, and let its actor build it.

        Nothing is created on the host before the request is known to be good. Given
        ``owner_uid`` (a caller who is not an admin, issue 14), the repository and the
        configuration file must be that user's own: Mycelium reads them as root.
        """
        check_name(name, "name")
        self._check_free(name)
        path = Path(repo)
        if owner_uid is not None:
            check_owned(path, owner_uid, owner, "repository")
            if config:
                check_owned(Path(config), owner_uid, owner, "configuration file")
        if not path.is_dir():
            raise NotFound(f"repository {repo}: no such directory")
        vcs = self.kit.open_vcs(path)
        root = self.repo_root(path)
        if owner_uid is not None:
            check_owned(root, owner_uid, owner, "repository")
        source, text = read_config(root, config)
        cfg = parse_config_text(text, source)
        declared = plan_declared(cfg.secrets, secrets or {})  # issue 17
        flags = Flags(limits, sandbox, user, tuple(check_sockets(sockets or [])))
        cfg = plan_effective(cfg, self.env.policy, flags)  # issue 10: the host decides
        # issue 3 and 10: a user to run as, bwrap if needed
        containment.validate(owner, cfg, self.env.policy.allowed_users)
        check_config_exposures(cfg)  # issue 4: expose_to names services that have ports
        planned, base = await asyncio.to_thread(vcs.plan, root, name, rev)  # the revision exists
        # `git status` of the user's repository costs O(files) (issue 15): it runs while the
        # colony is made; only the answer (its warning) waits for it.
        dirty = asyncio.ensure_future(asyncio.to_thread(planned.uncommitted if not rev else list))
        try:
            objects = planned.objects
            if self.env.ids is not None and cfg.sandbox.user is None:
                some = self.env.ids.range.first  # any uid of the range: one that owns nothing
                containment.check_objects(objects, cfg.sandbox.level, some, (some,))
            self._check_free(name)  # again: another request may have taken it while we awaited
            index = plan_index(self.kit.store.used_indexes(), self.env.pool)
            # No await from here to the insert: the uid is taken once it is stored.
            uid = self.env.ids.allocate() if self.env.ids is not None else None
            now = self.kit.clock()
            overrides = json.dumps(
                {"limits": limits or None, "sandbox": sandbox, "user": user, "sockets": sockets}
            )
            rec = ColonyRecord(
                name=name,
                index=index,
                state=State.SPAWNING,
                owner=owner,
                created=now,
                updated=now,
                repo=str(root),
                rev=rev,
                config_source=source,
                config_text=text,
                overrides=overrides,
                uid=uid,
                base=base,
                objects=str(objects),
            )
            self.kit.store.insert(rec)
            self._store_secrets(name, declared, owner)
            actor = ColonyActor(self.kit, rec, cfg)
            self._launch(actor)
            self.kit.bus.publish(
                StateEvent(colony=name, transition=Transition(State.SPAWNING, now), user=owner)
            )
            actor.log.note("colony", "spawning")
            actor.tell(Spawn(), user=owner)
            answer = actor.to_json()  # as it was spawned, whatever it reached meanwhile
            try:
                changed = await dirty
            except ColonyError:
                changed = []
            found = uncommitted_warning(changed, str(root), source)
            warnings = [*cfg.warnings, *([found] if found else [])]
            for warning in warnings:
                actor.log.note("colony", f"warning: {warning}")
            return {**answer, "warnings": warnings}  # issue 12: shown by `colony spawn`
        finally:
            if not dirty.done():
                dirty.cancel()

    def _check_free(self, name: str) -> None:
        """Refuse a name a colony (even a failed one) or a trash entry has (issue 12)."""
        existing = self.kit.store.find(name)
        trashed = [e.id for e in Trash(self.kit.store.conn).entries() if e.name == name]
        lifecycle.check_spawn(name, existing.state if existing else None, trashed)

    async def request(self, name: str, kind: str, user: str | None = None) -> dict[str, Any]:
        """stop, start or restart; returns once the actor has accepted the request. When
        there was nothing to do (a start of a running colony, a stop of a stopped one), the
        colony comes with ``"already": STATE``.

        ``user`` (who asked) goes on the events the request causes, for the audit log.
        """
        actor = self.actor(name)
        message = REQUESTS.get(kind)
        if message is None:
            raise NotFound(f"no action '{kind}': expected {', '.join(REQUESTS)}")
        changed: bool | None = await actor.ask(message(), user=user)
        if changed is False:  # already there: the colony says so, and nothing happened
            return {**actor.to_json(), "already": str(actor.rec.state)}
        return actor.to_json()

    async def remove(self, name: str, force: bool, user: str | None = None) -> dict[str, Any]:
        """Remove colony ``name``: its work goes to the trash. At most :data:`REMOVALS` run at
        once, however many are asked for (issue 15); the others wait their turn."""
        actor = self.actor(name)
        async with self.removals:
            return await actor.ask(Remove(force=force), user=user)

    async def remove_many(
        self,
        names: Iterable[str],
        force: bool,
        user: str | None = None,
        check: Callable[[str], None] | None = None,
    ) -> list[dict[str, Any]]:
        """Remove every colony of ``names`` (each once) concurrently, :data:`REMOVALS` at a
        time; one result per name in their order: ``{"name", **remove's}``, or ``{"name",
        "error": {type, message, hint}}`` for a name that could not be removed (no such
        colony, running without ``force``, refused by ``check``). One failure stops none of
        the others."""

        async def one(name: str) -> dict[str, Any]:
            try:
                if check is not None:
                    check(name)
                return {"name": name, **await self.remove(name, force, user)}
            except ColonyError as exc:
                return {"name": name, "error": exc.to_json()}

        return list(await asyncio.gather(*(one(n) for n in dict.fromkeys(names))))

    def colonies(self) -> list[dict[str, Any]]:
        return [a.to_json() for a in sorted(self.actors.values(), key=lambda a: a.rec.created)]

    def colony(self, name: str) -> dict[str, Any]:
        return self.actor(name).to_json()

    def urls(self, name: str) -> dict[str, str]:
        actor = self.actor(name)
        return {s.name: actor.url(s.name) for s in actor.cfg.services if s.port is not None}

    def routes(self) -> RouteTable:
        """What the preview proxy may reach: only what each colony declares (issue 11)."""
        return RouteTable({name: _previews(a) for name, a in self.actors.items()})

    def netns_path(self, name: str) -> str | None:
        """The colony's network namespace; None when it shares the host's (level none)."""
        return self.actor(name).contain.netns_path

    # --- garbage ----------------------------------------------------------------------

    async def gc(self, user: str | None = None) -> list[dict[str, str]]:
        """Remove kernel objects and workspaces that belong to no colony of the store. A
        kernel object goes only if it carries this daemon's mark, never for its name alone
        (issue 11: someone else's ``<prefix>-x`` stays). A workspace is never deleted: it moves
        to the trash. A gc that a user asked for or that removed something is published (for
        the audit log)."""
        kit, prefix, pool = self.kit, self.env.prefix, self.env.pool
        known = {r.name: r for r in kit.store.colonies()}
        observed = await asyncio.to_thread(kit.iso.observe, prefix)
        veths = {Slot(prefix, r.name, r.index, pool).veth for r in known.values()}
        removed: list[dict[str, str]] = []
        for kind, names in observed.by_kind():
            keep = veths if kind == "veth" else set(known)
            for orphan in sorted(names - keep):
                if await asyncio.to_thread(kit.iso.remove_orphan, prefix, kind, orphan):
                    removed.append({"kind": kind, "name": orphan})
                else:
                    log.info("gc: left %s %s alone: it was not made by this Mycelium", kind, orphan)
        removed += await asyncio.to_thread(self._gc_files, set(known))
        removed += await asyncio.to_thread(self._gc_checkouts, set(known))
        for entry in removed:
            log.info("gc: removed %s %s", entry["kind"], entry["name"])
        if user is not None or removed:
            kit.bus.publish(GcEvent(removed=tuple(removed), at=kit.clock(), user=user or None))
        return removed

    def _gc_files(self, known: set[str]) -> list[dict[str, str]]:
        """Workspaces and colony directories of no colony go to the trash (a disk unmounted
        first); nothing is deleted."""
        paths = self.kit.paths
        removed = []
        for kind, parent in (
            ("workspace", paths.root / "workspaces"),
            ("colony", paths.root / "colonies"),
        ):
            if not parent.is_dir():
                continue
            for path in sorted(parent.iterdir()):
                if path.name in known:
                    continue
                volumes.unmount(path / "volume" / "workspace")  # its overlay (issue 15)
                volumes.unmount(path / "volume", busy_for=2.0)
                paths.trash.mkdir(mode=0o700, parents=True, exist_ok=True)
                target = paths.trash / f"{path.name}{ORPHAN}{int(self.kit.clock())}"
                shutil.move(str(path), target)
                removed.append({"kind": kind, "name": str(path)})
        return removed

    def _gc_checkouts(self, known: set[str]) -> list[dict[str, str]]:
        """Shared checkouts no colony's workspace is an overlay of (issue 15): deleted (a
        colony restored from the trash gets its checkout made again)."""
        paths = self.kit.paths
        used = {ColonyHome(paths, name).checkout_key() for name in known}
        gone = checkouts_at(paths.checkouts).remove_unused(k for k in used if k)
        return [{"kind": "checkout", "name": key} for key in gone]

    def empty(self) -> bool:
        return not self.actors
