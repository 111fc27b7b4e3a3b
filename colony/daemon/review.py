"""Review of a colony's work: diff against its base, merge into a branch, snapshots and undo.

Merging never touches a working tree before it is known to succeed: the colony's files are
committed in memory and merged with ``git merge-tree``; a conflict refuses the merge with the
list of files and changes nothing. See :mod:`colony.vcs.review` for the git side.

Example:
    >>> await review.merge("web", squash=True, user="ann")
    {'colony': 'web', 'into': 'main', 'commit': '1f3c…', 'squash': True, ...}
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from colony.core.bus_events import MergeEvent
from colony.core.model import State
from colony.core.review import (
    format_file_list,
    parse_snapshots,
    pick_snapshot,
    plan_sensitive,
)
from colony.errors import ColonyError, ConfigError, Conflict
from colony.vcs import Vcs, Workspace, repo_lock
from colony.vcs import review as git_review
from colony.vcs.inside import Inside
from colony.vcs.repo import Repo

if TYPE_CHECKING:
    from colony.daemon.actor import ColonyActor
    from colony.daemon.agents import AgentService
    from colony.daemon.events import EventBus
    from colony.daemon.mycelium import Mycelium

BUSY = (State.SPAWNING, State.PROVISIONING, State.BUILDING, State.STARTING, State.STOPPING)


def workspace_of(actor: ColonyActor) -> Workspace:
    """The colony's workspace, or Conflict when it has none (a failed spawn)."""
    rec = actor.rec
    if not rec.workspace or not rec.base or not Path(rec.workspace).is_dir():
        raise Conflict(
            f"colony '{rec.name}' has no workspace",
            hint=f"its spawn failed; see 'colony show {rec.name}'",
        )
    ws = Workspace(
        rec.vcs or "git",
        Path(rec.repo),
        Path(rec.workspace),
        rec.name,
        rec.branch or f"colony/{rec.name}",
        rec.base,
        rec.objects or "",
    )
    git_review.check_git(ws)
    return ws


def inside_of(actor: ColonyActor, ws: Workspace) -> Inside:
    """How git runs in the colony's workspace: as the colony, contained (issue 10)."""
    return actor.contain.inside(ws.path)


def default_target(repo: Repo, rev: str | None) -> str:
    """The branch a colony spawned at ``rev`` came from: ``rev`` if that is a branch, else
    the branch checked out in the repository.

    Raises:
        ConfigError: neither (a detached HEAD).
    """
    if rev and rev != "HEAD":
        branch = rev.removeprefix("refs/heads/")
        if repo.rev(f"refs/heads/{branch}") is not None:
            return branch
    current = repo.current_branch()
    if current is None:
        raise ConfigError(
            f"--into: {repo.root} has no branch checked out (detached HEAD)",
            hint="name the branch to merge into with --into",
        )
    return current


def target_commit(open_vcs: Callable[[Path], Vcs], repo_path: str, rev: str | None) -> str | None:
    """The commit of the branch a colony merges into by default, or None when there is none."""
    try:
        repo = open_vcs(Path(repo_path)).open(Path(repo_path))
        return repo.rev(f"refs/heads/{default_target(repo, rev)}")
    except ColonyError:
        return None


class Review:
    def __init__(
        self,
        myc: Mycelium,
        agents: AgentService,
        *,
        open_vcs: Callable[[Path], Vcs],
        bus: EventBus,
        clock: Callable[[], float],
    ) -> None:
        self.myc = myc
        self.agents = agents
        self.open_vcs = open_vcs
        self.bus = bus
        self.clock = clock

    def _quiet(self, actor: ColonyActor, force: bool, what: str) -> None:
        """Refuse to ``what`` a colony whose work is still changing, unless ``force``."""
        if force:
            return
        name = actor.name
        busy = self.agents.running_in(name)
        if busy is not None:
            raise Conflict(
                f"cannot {what} colony '{name}': its agent (session {busy.id}) is still running",
                hint=f"wait for it, stop it with 'colony agent stop {name}', or pass --force",
            )
        if actor.rec.state in BUSY:
            raise Conflict(
                f"cannot {what} colony '{name}' while it is {actor.rec.state}",
                hint="wait until it settles, or pass --force",
            )

    # --- diff -----------------------------------------------------------------------------

    async def diff(self, name: str, stat: bool = False) -> dict[str, Any]:
        actor = self.myc.actor(name)
        ws = workspace_of(actor)
        inside = inside_of(actor, ws)
        text, counts = await asyncio.to_thread(
            lambda: git_review.diff(ws, inside=inside, stat=stat)
        )
        return {
            "colony": name,
            "base": ws.base,
            "branch": ws.branch,
            "diff": text,
            "stat": counts.to_json(),
            "sensitive": plan_sensitive(counts.paths),
        }

    async def work(self, name: str) -> dict[str, Any]:
        """The commits on the colony's branch since its base (newest first) and the paths
        its workspace has uncommitted changes in (Bloom's review page, issue 18)."""
        actor = self.myc.actor(name)
        ws = workspace_of(actor)
        inside = inside_of(actor, ws)
        commits, uncommitted = await asyncio.to_thread(
            lambda: git_review.branch_work(ws, inside=inside)
        )
        return {
            "colony": name,
            "commits": [c.to_json() for c in commits],
            "uncommitted": uncommitted,
        }

    async def stat(self, name: str) -> dict[str, Any]:
        return (await self.diff(name, stat=True))["stat"]  # type: ignore[no-any-return]

    # --- merge ----------------------------------------------------------------------------

    def default_target(self, actor: ColonyActor) -> str:
        return default_target(self.open_vcs(Path(actor.rec.repo)).open(Path(actor.rec.repo)),
                              actor.rec.rev)  # fmt: skip

    async def merge(
        self,
        name: str,
        *,
        into: str | None = None,
        squash: bool = False,
        force: bool = False,
        message: str | None = None,
        user: str = "unknown",
    ) -> dict[str, Any]:
        """Merge the colony's work (its branch and uncommitted files) into ``into``.

        Raises:
            Conflict: the merge would conflict (the message lists the files), its agent still
                runs (without ``force``), or the target's checkout has changes in the way.
        """
        actor = self.myc.actor(name)
        ws = workspace_of(actor)
        self._quiet(actor, force, "merge")
        target: str = into if into else await asyncio.to_thread(self.default_target, actor)
        if target == ws.branch:
            raise ConfigError(f"--into: '{target}' is the colony's own branch")
        task = self._last_task(name)
        work = f"colony {name}: {task}" if task else f"colony {name}: work in its workspace"
        with_lock = repo_lock(ws.repo)
        inside = inside_of(actor, ws)

        def run() -> dict[str, Any]:
            repo = self.open_vcs(ws.repo).open(ws.repo)
            with with_lock:
                plan = git_review.plan_merge(repo, ws, target, work, inside=inside)
                changed = git_review.changed_between(repo, ws.base, plan.tip)
                if plan.conflicts:
                    raise Conflict(
                        f"merging colony '{name}' into '{target}' would conflict in "
                        f"{len(plan.conflicts)} file(s): {format_file_list(list(plan.conflicts))}",
                        hint=f"nothing was changed; resolve it in the colony (colony exec {name} "
                        f"-- git merge {target}) or merge another colony",
                        files=list(plan.conflicts),
                    )
                sensitive = plan_sensitive(changed)
                if plan.up_to_date:
                    return {"merged": False, "commit": plan.target, "previous": plan.target,
                            "sensitive": sensitive}  # fmt: skip
                # Everything that can refuse is checked before anything is committed or moved.
                blocking = git_review.blocking_files(repo, plan)
                if blocking:
                    where = repo.worktree_of(target)
                    raise Conflict(
                        f"cannot merge colony '{name}' into '{target}': local changes in {where} "
                        f"would be overwritten in {len(blocking)} file(s): "
                        f"{format_file_list(blocking)}",
                        hint=f"nothing was changed; commit or stash them in {where}, then merge "
                        "again",
                    )
                text = message or (work if squash else f"Merge colony '{name}' into {target}")
                done = git_review.apply_merge(
                    repo, ws, plan, squash=squash, message=text, inside=inside
                )
            return {"merged": True, **done, "sensitive": sensitive}

        result = await asyncio.to_thread(run)
        result |= {"colony": name, "into": target, "squash": squash}
        if result["merged"]:
            self.bus.publish(
                MergeEvent(
                    colony=name,
                    into=target,
                    user=user,
                    commit=result["commit"],
                    squash=squash,
                    at=self.clock(),
                )
            )
            actor.log.note("colony", f"merged into {target} ({str(result['commit'])[:12]})")
        return result

    def _last_task(self, name: str) -> str | None:
        sessions = self.agents.sessions.for_colony(name)
        if not sessions:
            return None
        first = sessions[-1].task.strip().splitlines()[0]
        return first[:72]

    # --- snapshots ------------------------------------------------------------------------

    def _snapshots(self, actor: ColonyActor, ws: Workspace) -> list[Any]:
        text = git_review.list_snapshot_refs(ws.name, inside=inside_of(actor, ws))
        return parse_snapshots(text, ws.name)

    async def snapshots(self, name: str) -> list[dict[str, Any]]:
        actor = self.myc.actor(name)
        ws = workspace_of(actor)
        found = await asyncio.to_thread(self._snapshots, actor, ws)
        return [s.to_json() for s in found]

    async def snapshot(self, name: str, message: str | None = None) -> dict[str, Any]:
        """Record the workspace's files as snapshot N without touching its branch."""
        actor = self.myc.actor(name)
        ws = workspace_of(actor)
        text = message or f"colony {name}: snapshot"
        vcs = self.open_vcs(ws.repo)
        inside = inside_of(actor, ws)

        def run() -> dict[str, Any]:
            commit = vcs.snapshot(ws, text, inside=inside)
            found = [s for s in self._snapshots(actor, ws) if s.commit == commit]
            result: dict[str, Any] = found[-1].to_json()
            return {**result, "colony": name}

        return await asyncio.to_thread(run)

    async def undo(
        self, name: str, to: int | None = None, force: bool = False, session: int | None = None
    ) -> dict[str, Any]:
        """Make the workspace's files those of snapshot ``to`` (default: the latest), or
        those from before agent session ``session`` started.

        The state it replaces is recorded as a snapshot first, so an undo can be undone.
        """
        actor = self.myc.actor(name)
        ws = workspace_of(actor)
        self._quiet(actor, force, "undo")
        vcs = self.open_vcs(ws.repo)
        inside = inside_of(actor, ws)

        def run() -> dict[str, Any]:
            target = pick_snapshot(self._snapshots(actor, ws), to, name, session)
            message = f"colony {name}: before undo to snapshot {target.number}"
            before = vcs.snapshot(ws, message, inside=inside)
            git_review.restore(target.commit, inside=inside)
            saved = [s for s in self._snapshots(actor, ws) if s.commit == before]
            return {
                "colony": name,
                "restored": target.to_json(),
                "saved": saved[-1].to_json() if saved else None,
            }

        result = await asyncio.to_thread(run)
        actor.log.note("colony", f"workspace restored to snapshot {result['restored']['number']}")
        return result
