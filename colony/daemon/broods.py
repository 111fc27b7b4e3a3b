"""Broods: one objective, N colonies from one base commit, at most K agents at once.

A brood's driver task moves each member along ``spawning → queued → agent → checking →
done`` (or ``failed``): it waits for the member's colony to run, starts its agent when a slot
is free, runs ``[check]`` in the colony when the agent ends, and measures its diff. The
state lives in the store, so a restarted Mycelium picks every running brood up again.
``pick`` merges the chosen member and moves the others to the trash.

Example:
    >>> await broods.spawn("add a /health route", 4, repo="/src/shop", max_parallel=2)
    >>> (await broods.pick("add-a-health-route-3f2a", squash=True))["picked"]
    'add-a-health-route-3f2a-2'
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from colony import contract_responses as answers
from colony.core.agents import plan_run
from colony.core.agents.session import SessionRecord
from colony.core.broods import (
    FINISHED,
    BroodRecord,
    MemberRecord,
    MemberResult,
    brood_state,
    check_brood,
    plan_brood_name,
    plan_member_names,
    plan_starts,
    rank,
)
from colony.core.bus_events import (
    BroodDone,
    BroodMember,
    BroodPicked,
    BroodRemoved,
    BroodSpawned,
)
from colony.core.config import parse_config_text
from colony.core.model import State, check_name
from colony.daemon import runner
from colony.daemon.mycelium import check_owned, read_config
from colony.errors import ColonyError, ConfigError, Conflict
from colony.store.broods import Broods

if TYPE_CHECKING:
    from colony.daemon.agents import AgentService
    from colony.daemon.events import EventBus
    from colony.daemon.kit import TaskStarter
    from colony.daemon.mycelium import Mycelium
    from colony.daemon.paths import Paths
    from colony.daemon.review import Review
    from colony.isolation import Isolation
    from colony.store.queries import Store
    from colony.vcs import Vcs

log = logging.getLogger("colony.broods")
DEFAULT_PARALLEL = 4
POLL = 0.5  # seconds between looks when nothing wakes the driver


class BroodService:
    def __init__(
        self,
        myc: Mycelium,
        agents: AgentService,
        review: Review,
        *,
        store: Store,
        iso: Isolation,
        open_vcs: Callable[[Path], Vcs],
        repo_root: Callable[[Path], Path],
        paths: Paths,
        bus: EventBus,
        clock: Callable[[], float],
        start_task: TaskStarter,
    ) -> None:
        self.myc = myc
        self.agents = agents
        self.review = review
        self.colony_store = store
        self.iso = iso
        self.open_vcs = open_vcs
        self.repo_root = repo_root
        self.paths = paths
        self.bus = bus
        self.clock = clock
        self.start_task = start_task
        self.store = Broods(store.conn)
        self.wake: dict[str, asyncio.Event] = {}
        self.checking: set[tuple[str, str]] = set()
        self.env: dict[str, dict[str, str]] = {}  # forwarded variables, kept in memory only

    # --- spawn ----------------------------------------------------------------------------

    async def spawn(
        self,
        objective: str,
        count: int,
        *,
        repo: str,
        agent: str | None = None,
        command: str | None = None,
        max_parallel: int | None = None,
        rev: str | None = None,
        config: str | None = None,
        name: str | None = None,
        env: dict[str, str] | None = None,
        user: str = "unknown",
        user_uid: int | None = None,
    ) -> dict[str, Any]:
        """Create the brood and its colonies; agents follow as slots free up.

        Everything is checked before anything is made (objective, counts, agent, repository,
        revision, names). Given ``user_uid`` (not an admin), the repository and configuration
        file must be that user's (issue 14).
        """
        parallel = DEFAULT_PARALLEL if max_parallel is None else max_parallel
        check_brood(objective, count, parallel)
        path = Path(repo)
        if user_uid is not None:
            check_owned(path, user_uid, user, "repository")
            if config:
                check_owned(Path(config), user_uid, user, "configuration file")
        if not path.is_dir():
            raise ConfigError(f"--repo: {repo}: no such directory")
        self.open_vcs(path)
        root = self.repo_root(path)
        if user_uid is not None:
            check_owned(root, user_uid, user, "repository")
        source, text = read_config(root, config)
        plan_run(parse_config_text(text, source).agent, agent, command, objective, source)
        repository = await asyncio.to_thread(self.open_vcs(path).open, root)
        base = await asyncio.to_thread(repository.rev, rev or "HEAD")
        if base is None:
            raise ConfigError(f"--rev: expected a commit of {root}, got {rev or 'HEAD'!r}")
        is_branch = rev and await asyncio.to_thread(repository.rev, f"refs/heads/{rev}")
        target = rev if is_branch else None
        target = target or await asyncio.to_thread(repository.current_branch)
        name = (
            check_name(name, "--name") if name else plan_brood_name(objective, secrets.token_hex(2))
        )
        if self.store.find(name) is not None:
            raise Conflict(f"brood '{name}' exists", hint="pick another --name")
        colonies = plan_member_names(name, count)
        taken = [c for c in colonies if self.colony_store.find(c) is not None]
        if taken:
            raise Conflict(
                f"brood '{name}': colony '{taken[0]}' exists", hint="pick another --name"
            )
        brood = BroodRecord(
            name,
            objective,
            str(root),
            base,
            count,
            parallel,
            "running",
            user,
            self.clock(),
            target,
            agent,
            command,
        )
        members = [MemberRecord(name, c, i, "spawning") for i, c in enumerate(colonies, 1)]
        self.store.insert(brood, members)
        self.env[name] = dict(env or {})
        for i, member in enumerate(members):
            try:
                await self.myc.spawn(member.colony, str(root), rev=base, config=config, owner=user)
            except ColonyError as exc:
                if i == 0:  # the request itself is bad: nothing was made, keep nothing
                    self.store.delete(name)
                    raise
                self.store.update_member(member, state="failed", reason=str(exc))
        self.bus.publish(
            BroodSpawned(brood=name, at=self.clock(), count=count, max_parallel=parallel, user=user)
        )
        self._drive(name)
        return self.show(name)

    def _drive(self, name: str) -> None:
        self.wake[name] = asyncio.Event()
        self.start_task(self._run(name))

    async def adopt(self) -> None:
        """After a restart: drive every brood that has not finished."""
        for brood in self.store.all():
            if brood.state == "running":
                self._drive(brood.name)

    # --- the driver -----------------------------------------------------------------------

    async def _run(self, name: str) -> None:
        wake = self.wake[name]
        try:
            while True:
                brood = self.store.find(name)
                if brood is None or brood.state != "running":
                    return
                for m in self.store.members(name):
                    await self._advance(brood, m)
                members = self.store.members(name)
                ready = plan_starts([(m.colony, m.state) for m in members], brood.max_parallel)
                for m in members:
                    if m.colony in ready:
                        await self._start_agent(brood, m)
                members = self.store.members(name)
                if brood_state(m.state for m in members) == "done":
                    self.store.update(brood, state="done")
                    self.bus.publish(BroodDone(brood=name, at=self.clock()))
                    return
                wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wake.wait(), POLL)
        except Exception:  # a bug in one brood must not take the daemon down
            log.exception("brood %s: its driver failed", name)

    async def _advance(self, brood: BroodRecord, m: MemberRecord) -> None:
        actor = self.myc.actors.get(m.colony)
        if m.state in FINISHED:
            return
        if actor is None or actor.done:
            self._member(m, state="failed", reason="its colony was removed")
            return
        if m.state == "spawning":
            if actor.rec.state is State.RUNNING:
                self._member(m, state="queued")
            elif actor.rec.state is State.FAILED:
                self._member(m, state="failed", reason=f"spawn failed: {actor.rec.reason}")
        elif m.state == "agent":
            if m.session is None or m.session not in self.agents.live:
                self._member(m, state="checking")
                self._start_check(brood, m)
        elif m.state == "checking" and (brood.name, m.colony) not in self.checking:
            self._start_check(brood, m)  # the daemon restarted while it ran

    async def _start_agent(self, brood: BroodRecord, m: MemberRecord) -> None:
        try:
            rec = await self.agents.run(
                m.colony,
                brood.objective,
                preset=brood.agent,
                command=brood.command,
                env=self.env.get(brood.name),
                user=brood.owner,
                brood=brood.name,
            )
        except ColonyError as exc:
            self._member(m, state="failed", reason=f"its agent could not start: {exc}")
            return
        self._member(m, state="agent", session=rec.id)

    def _start_check(self, brood: BroodRecord, m: MemberRecord) -> None:
        self.checking.add((brood.name, m.colony))
        self.start_task(self._check(brood, m))

    async def _check(self, brood: BroodRecord, m: MemberRecord) -> None:
        """Run ``[check]`` in the member's colony and measure its diff; then it is done."""
        try:
            code, output = await self._run_check(m.colony)
            try:
                stat = await self.review.stat(m.colony)
            except ColonyError:
                stat = {"files": None, "lines": None}
            m = next(x for x in self.store.members(brood.name) if x.colony == m.colony)
            self._member(
                m,
                state="done",
                check_code=code,
                check_output=output,
                diff_files=stat["files"],
                diff_lines=stat["lines"],
            )
        except Exception as exc:
            log.exception("brood %s: checking %s failed", brood.name, m.colony)
            self._member(m, state="failed", reason=f"its check could not run: {exc}")
        finally:
            self.checking.discard((brood.name, m.colony))

    async def _run_check(self, colony: str) -> tuple[int | None, str | None]:
        actor = self.myc.actors.get(colony)
        command = actor.cfg.check.command if actor is not None else None
        if actor is None or not command or actor.rec.state is not State.RUNNING:
            return None, None
        argv, placement = await actor.process("check", ["/bin/sh", "-c", command])
        path = self.paths.log(colony, "check")
        code = await runner.run_to_end(
            argv,
            cwd=Path(actor.rec.workspace or "."),
            env=actor.env_for_exec({}),
            placement=placement,
            log_path=path,
            header=f"$ {command}",
        )
        try:
            await asyncio.to_thread(self.iso.kill, actor.slot, "check")
            await asyncio.to_thread(self.iso.remove_leaf, actor.slot, "check")
        except ColonyError as exc:
            log.warning("colony %s: cannot clean the check's cgroup: %s", colony, exc)
        actor.log.note("check", f"[check] exited {code}")
        return code, runner.tail_of(path, lines=5)

    def _member(self, m: MemberRecord, **changes: Any) -> MemberRecord:
        m = self.store.update_member(m, **changes)
        self.bus.publish(
            BroodMember(
                brood=m.brood,
                at=self.clock(),
                colony=m.colony,
                state=m.state,
                reason=m.reason,
                check_code=m.check_code,
            )
        )
        self._wake(m.brood)
        return m

    def agent_ended(self, rec: SessionRecord) -> None:
        """Wake the brood of a session that ended (the agents call this)."""
        if rec.brood:
            self._wake(rec.brood)

    def _wake(self, name: str) -> None:
        event = self.wake.get(name)
        if event is not None:
            event.set()

    # --- views, pick ----------------------------------------------------------------------

    def all(self) -> list[dict[str, Any]]:
        return [self.show(b.name) for b in self.store.all()]

    def ranked(self, name: str) -> list[tuple[MemberRecord, MemberResult]]:
        members = {m.colony: m for m in self.store.members(name)}
        results = []
        for m in members.values():
            session = self.agents.sessions.find(m.session) if m.session else None
            check = None if m.check_code is None else m.check_code == 0
            results.append(
                MemberResult(
                    m.colony,
                    m.position,
                    m.state,
                    session.status if session else None,
                    check,
                    m.diff_lines,
                    session.duration if session else None,
                    session.cost if session else None,
                )
            )
        return [(members[r.colony], r) for r in rank(results)]

    def show(self, name: str) -> dict[str, Any]:
        """The brood as the API answers it (:class:`colony.contract_responses.Brood`)."""
        b = self.store.get(name)
        members = [
            answers.Member(
                brood=m.brood,
                colony=m.colony,
                position=m.position,
                state=m.state,
                reason=m.reason,
                session=m.session,
                check_code=m.check_code,
                check_output=m.check_output,
                diff_files=m.diff_files,
                diff_lines=m.diff_lines,
                rank=i,
                status=r.status,
                check=r.check,
                duration=r.duration,
                cost=r.cost,
                exists=m.colony in self.myc.actors,
            )
            for i, (m, r) in enumerate(self.ranked(name), 1)
        ]
        brood = answers.Brood(
            name=b.name,
            objective=b.objective,
            repo=b.repo,
            base=b.base,
            count=b.count,
            max_parallel=b.max_parallel,
            state=b.state,
            owner=b.owner,
            created=b.created,
            target=b.target,
            agent=b.agent,
            command=b.command,
            picked=b.picked,
            members=members,
        )
        shown: dict[str, Any] = answers.dump(brood)
        return shown

    async def pick(
        self,
        name: str,
        colony: str | None = None,
        *,
        squash: bool = False,
        into: str | None = None,
        force: bool = False,
        user: str = "unknown",
    ) -> dict[str, Any]:
        """Merge ``colony`` (default: the best ranked) and move the other members to the trash.

        Refused, with nothing changed, while members are unfinished (without ``force``) or
        when the merge would conflict.
        """
        brood = self.store.get(name)
        if brood.state == "picked":
            raise Conflict(f"brood '{name}' was already picked ({brood.picked})")
        members = self.store.members(name)
        busy = [m.colony for m in members if m.state not in FINISHED]
        if busy and not force:
            raise Conflict(
                f"brood '{name}' is still running: {', '.join(busy)} not finished",
                hint="wait for them ('colony brood show'), or pass --force",
            )
        ranked = [m for m, _ in self.ranked(name) if m.colony in self.myc.actors]
        if colony is None:
            if not ranked:
                raise Conflict(f"brood '{name}' has no colony left to pick")
            colony = ranked[0].colony
        elif colony not in {m.colony for m in members}:
            raise ConfigError(
                f"colony: '{colony}' is not a member of brood '{name}'",
                hint=f"members: {', '.join(m.colony for m in members)}",
            )
        target = into or brood.target
        if target is None:
            raise ConfigError(
                f"--into: brood '{name}' has no branch to merge into", hint="name one with --into"
            )
        if force:
            for m in members:
                if m.colony in self.myc.actors:
                    await self.agents.stop_all(m.colony)
        merged = await self.review.merge(colony, into=target, squash=squash, force=force, user=user)
        others = [m.colony for m in members if m.colony != colony and m.colony in self.myc.actors]
        results = await self.myc.remove_many(others, True, user=user)  # concurrently (issue 15)
        _raise_failed(f"brood '{name}': merged {colony}, but", results)
        trashed = [str(r["name"]) for r in results]
        self.store.update(brood, state="picked", picked=colony)
        self.bus.publish(
            BroodPicked(
                brood=name, at=self.clock(), colony=colony, trashed=tuple(trashed), user=user
            )
        )
        return {"brood": name, "picked": colony, "merge": merged, "trashed": trashed}

    async def remove(
        self,
        name: str,
        *,
        force: bool,
        user: str,
        check: Callable[[str], None] | None = None,
    ) -> dict[str, Any]:
        """Remove brood ``name``: its colonies that still exist, concurrently and each as
        ``colony rm`` does (work to the trash; ``force``: also running ones; ``check``
        refuses a colony the caller may not remove), then the brood itself. While any of its
        colonies could not be removed the brood stays, so the removal can be asked again.

        Returns:
            ``{"brood", "removed": bool, "results": [one per colony, as remove_many's]}``.
        """
        self.store.get(name)  # NotFound for no such brood
        colonies = [m.colony for m in self.store.members(name) if m.colony in self.myc.actors]
        results = await self.myc.remove_many(colonies, force, user=user, check=check)
        removed = not any("error" in r for r in results)
        if removed:
            self.store.delete(name)  # its members go with it
            self.env.pop(name, None)
            self._wake(name)  # its driver sees it gone and ends
            self.bus.publish(
                BroodRemoved(brood=name, at=self.clock(), removed=tuple(colonies), user=user)
            )
        return {"brood": name, "removed": removed, "results": results}


def _raise_failed(doing: str, results: list[dict[str, Any]]) -> None:
    """Raise a ColonyError naming each colony of ``results`` that could not be removed."""
    failed = [f"{r['name']} ({r['error']['message']})" for r in results if "error" in r]
    if failed:
        raise ColonyError(f"{doing} could not remove {', '.join(failed)}")
