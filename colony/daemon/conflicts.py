"""Files changed in two or more colonies, and the event raised the moment that happens.

What each colony changed comes from git (its base against its workspace, untracked files
too), less what the branch it merges into already has: merged work drops out. It is looked
at again when the bus says the colony's files changed
(``{"type": "files"}`` from the workspace watcher), when one of its agents ends, and, on a
timer, when the branch it merges into moved or it was never looked at. Looking costs a git
run inside the colony, so nothing looks at every colony over and over (issue 15: with 100
colonies a look at all of them every 2 s kept both cores busy and spawns took seconds); the
looks run on two threads of their own, so they never hold up the daemon's other work.
A file that a second (or further) colony touches raises
``{"type": "conflict", "path", "colonies", "repo", "at"}``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from colony.core.bus_events import ConflictEvent
from colony.core.review import FileConflict, new_conflicts, plan_conflicts
from colony.daemon.review import target_commit
from colony.errors import ColonyError
from colony.vcs import review as git_review

if TYPE_CHECKING:
    from colony.daemon.actor import ColonyActor
    from colony.daemon.events import EventBus
    from colony.daemon.mycelium import Mycelium
    from colony.vcs import Vcs

log = logging.getLogger("colony.conflicts")
INTERVAL = 2.0  # seconds between checks of the branches colonies merge into
LOOKERS = 2  # threads running git inside colonies
DEBOUNCE = 0.1  # seconds to gather file events before looking


class ConflictWatch:
    def __init__(
        self,
        myc: Mycelium,
        *,
        open_vcs: Callable[[Path], Vcs],
        bus: EventBus,
        clock: Callable[[], float],
        interval: float = INTERVAL,
    ) -> None:
        self.myc = myc
        self.open_vcs = open_vcs
        self.bus = bus
        self.clock = clock
        self.interval = interval
        self.changed: dict[str, tuple[str, set[str]]] = {}
        self.known: list[FileConflict] | None = None  # None until the first look
        self.targets: dict[tuple[str, str | None], str | None] = {}  # (repo, rev) → its target
        self.lock = asyncio.Lock()
        self.pool = ThreadPoolExecutor(LOOKERS, thread_name_prefix="conflicts")

    async def run(self) -> None:
        """Watch until cancelled. A failing look is logged, never fatal."""
        loop = asyncio.get_running_loop()
        try:
            async with self.bus.subscribe() as queue:
                last_check = loop.time()
                while True:
                    names = await self._wait(queue, last_check + self.interval - loop.time())
                    if names is None or loop.time() - last_check >= self.interval:
                        last_check = loop.time()  # a busy bus must not starve the check
                        names = (names or set()) | await self._stale()
                    if not names and self.known is not None:
                        continue
                    try:
                        await self.sweep(names if self.known is not None else None)
                    except Exception:
                        log.exception("looking for conflicts failed")
        finally:
            self.pool.shutdown(wait=False, cancel_futures=True)

    async def _stale(self) -> set[str]:
        """Colonies whose merge target moved since they were looked at, and those never
        looked at; one cheap git call per (repository, rev), none inside colonies."""
        actors = [a for a in list(self.myc.actors.values()) if _reviewable(a)]
        keys = list({(a.rec.repo, a.rec.rev) for a in actors})
        commits = await self._targets(keys)
        moved = {k for k in keys if self.targets.get(k, commits[k]) != commits[k]}
        self.targets.update(commits)
        return {
            a.name for a in actors if (a.rec.repo, a.rec.rev) in moved or a.name not in self.changed
        }

    async def _targets(
        self, keys: list[tuple[str, str | None]]
    ) -> dict[tuple[str, str | None], str | None]:
        loop = asyncio.get_running_loop()
        commits = await asyncio.gather(
            *(
                loop.run_in_executor(self.pool, target_commit, self.open_vcs, r, rev)
                for r, rev in keys
            )
        )
        return dict(zip(keys, commits, strict=True))

    async def _wait(self, queue: asyncio.Queue[dict[str, Any]], left: float) -> set[str] | None:
        """Colonies to look at again (None: all), after the next event or ``left`` seconds."""
        try:
            event = await asyncio.wait_for(queue.get(), max(0.0, left))
        except TimeoutError:
            return None
        names: set[str] = set()
        deadline = asyncio.get_running_loop().time() + DEBOUNCE
        while True:
            if _touches_files(event):
                names.add(str(event.get("colony")))
            elif event.get("type") == "removed":
                self.changed.pop(str(event.get("colony")), None)
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                return names
            try:
                event = await asyncio.wait_for(queue.get(), left)
            except TimeoutError:
                return names

    async def sweep(self, names: set[str] | None = None) -> list[FileConflict]:
        """Look again at ``names`` (None: every colony) and raise events for new conflicts."""
        async with self.lock:
            actors = {a.name: a for a in list(self.myc.actors.values()) if _reviewable(a)}
            for gone in set(self.changed) - set(actors):
                del self.changed[gone]
            todo = [a for n, a in actors.items() if names is None or n in names]
            # Each colony's work is compared with the branch it merges into, looked up once a
            # sweep per (repository, rev): a change already there is merged, not a candidate.
            targets = await self._targets(list({(a.rec.repo, a.rec.rev) for a in todo}))
            self.targets.update(targets)
            loop = asyncio.get_running_loop()
            found = await asyncio.gather(
                *(
                    loop.run_in_executor(self.pool, _changed, a, targets[(a.rec.repo, a.rec.rev)])
                    for a in todo
                )
            )
            for actor, paths in zip(todo, found, strict=True):
                if paths is not None:
                    self.changed[actor.name] = (actor.rec.repo, paths)
            conflicts = plan_conflicts(self.changed)
            fresh = new_conflicts(self.known, conflicts) if self.known is not None else []
            self.known = conflicts
            now = self.clock()
            for c in fresh:
                self.bus.publish(
                    ConflictEvent(path=c.path, colonies=tuple(c.colonies), repo=c.repo, at=now)
                )
                for name in c.colonies:
                    if name in actors:
                        others = ", ".join(x for x in c.colonies if x != name)
                        actors[name].log.note(
                            "colony", f"conflict: {c.path} also changed in {others}"
                        )
            return conflicts

    async def current(self) -> list[FileConflict]:
        """The conflicts as they are now (looks at every colony first)."""
        return await self.sweep(None)

    def paths_of(self, name: str) -> set[str]:
        return set(self.changed.get(name, ("", set()))[1])


def _touches_files(event: dict[str, Any]) -> bool:
    kind = event.get("type")
    return kind == "files" or (kind == "agent" and event.get("kind") in ("tool_result", "ended"))


def _reviewable(actor: ColonyActor) -> bool:
    rec = actor.rec
    made = bool(rec.workspace) and bool(rec.base) and rec.workspace_created
    return not actor.done and made and (rec.vcs or "git") == "git"


def _changed(actor: ColonyActor, target: str | None) -> set[str] | None:
    from colony.daemon.review import inside_of, workspace_of

    try:
        ws = workspace_of(actor)
        return git_review.changed_paths(ws, inside=inside_of(actor, ws), target=target)
    except ColonyError:  # its workspace is going away, or its repository is broken
        return None
