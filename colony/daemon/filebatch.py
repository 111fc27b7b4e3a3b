"""What changed in the workspaces since the last flush, and how it is published.

The inotify thread of :class:`colony.daemon.files.FileWatch` adds changes; the event loop
flushes them every half second as ``{"type": "files", colony, paths, count, at}`` events of at
most :data:`CHUNK` paths, plus ``more`` (changed paths counted but not listed) when the
colony's rate limit held some back (:func:`colony.core.filerate.plan_batch`, issue 11).
Memory is bounded: at most :data:`PENDING_MAX` distinct paths per colony and batch; changes
beyond that are only counted.

Example:
    >>> batch = Batcher(bus, time.time, FileRate())
    >>> batch.changed("web", "app.py", created=False)   # from the inotify thread
    >>> batch.flush()                                    # from the loop: one files event
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable

from colony.core.bus_events import FilesEvent, ResourceEvent
from colony.core.filerate import Budget, FileRate, plan_batch
from colony.daemon.events import EventBus

CHUNK = 1000
PENDING_MAX = 20_000

Note = Callable[[str, str], None]  # (colony, line) into the colony's log


class Batcher:
    """Changed paths per colony, shared by the inotify thread and the event loop."""

    def __init__(
        self,
        bus: EventBus,
        clock: Callable[[], float],
        rate: FileRate,
        note: Note | None = None,
    ) -> None:
        self.bus = bus
        self.clock = clock
        self.rate = rate
        self.note = note
        self.lock = threading.Lock()
        self.pending: dict[str, set[str]] = {}
        self.fresh: dict[str, dict[str, int]] = {}  # created, not yet closed: path -> flush no.
        self.extra: dict[str, int] = {}  # changes beyond PENDING_MAX: counted, not named
        self.capped: dict[str, tuple[int, str]] = {}  # colony -> (watch limit, first dir left)
        self.told: set[str] = set()  # colonies whose watch limit hit was published
        self.budgets: dict[str, Budget] = {}  # loop side only
        self.flushes = 0
        self.overflowed = False

    # --- the inotify thread ---------------------------------------------------------------

    def changed(self, colony: str, path: str, *, created: bool) -> None:
        """A file was created (counted one flush later unless written first), or closed after
        writing, moved or deleted."""
        with self.lock:
            if created:
                fresh = self.fresh.setdefault(colony, {})
                if len(fresh) < PENDING_MAX:
                    fresh[path] = self.flushes
                else:
                    self.extra[colony] = self.extra.get(colony, 0) + 1
                return
            self._add(colony, (path,))
            waiting = self.fresh.get(colony)
            if waiting:
                waiting.pop(path, None)

    def found(self, colony: str, paths: Iterable[str]) -> None:
        """Files found in a directory that appeared before its watch did."""
        with self.lock:
            self._add(colony, paths)

    def _add(self, colony: str, paths: Iterable[str]) -> None:
        pending = self.pending.setdefault(colony, set())
        for path in paths:
            if len(pending) < PENDING_MAX or path in pending:
                pending.add(path)
            else:
                self.extra[colony] = self.extra.get(colony, 0) + 1

    def overflow(self) -> None:
        with self.lock:
            self.overflowed = True

    def cap_hit(self, colony: str, limit: int, where: str) -> None:
        with self.lock:
            self.capped.setdefault(colony, (limit, where))

    def forget(self, colony: str) -> None:
        """The colony's workspace is no longer watched."""
        with self.lock:
            self.fresh.pop(colony, None)
            self.capped.pop(colony, None)
            self.told.discard(colony)

    # --- the event loop -------------------------------------------------------------------

    def flush(self, only: str | None = None) -> None:
        """Publish what changed since the last flush (of colony ``only``, or of all); with
        ``only``, also whatever its rate limit still holds."""
        with self.lock:
            if only is None:
                self.flushes += 1
            names = {*self.pending, *self.fresh, *self.extra} if only is None else {only}
            taken = {name: self._take(name, only is not None) for name in names}
            extra = {name: self.extra.pop(name, 0) for name in names}
            overflowed, self.overflowed = self.overflowed, False
            capped = {n: c for n, c in self.capped.items() if n not in self.told}
            self.told.update(capped)
        now = self.clock()
        for name, (limit, where) in sorted(capped.items()):
            self._cap_event(name, limit, where, now)
        held = {n for n, b in self.budgets.items() if b.held}
        for name in sorted(names | held):
            paths = sorted(taken.get(name, ()))
            budget, listed, more = plan_batch(
                self.budgets.get(name),
                len(paths),
                now,
                self.rate,
                unnamed=extra.get(name, 0),
                final=name == only,
            )
            self.budgets[name] = budget
            self._publish(name, paths[:listed], more, now, overflowed)

    def drop(self, colony: str) -> None:
        """Forget the colony's rate budget (it is gone; flush it first)."""
        self.budgets.pop(colony, None)

    def _take(self, name: str, everything: bool) -> set[str]:
        paths = self.pending.pop(name, set())
        stale = self.fresh.get(name, {})
        for path, seen in list(stale.items()):
            if everything or seen < self.flushes - 1:
                paths.add(path)
                del stale[path]
        return paths

    def _publish(
        self, name: str, paths: list[str], more: int, now: float, overflowed: bool
    ) -> None:
        chunks = [paths[i : i + CHUNK] for i in range(0, len(paths), CHUNK)]
        if more and not chunks:
            chunks = [[]]
        for number, chunk in enumerate(chunks, 1):
            last = number == len(chunks)
            self.bus.publish(
                FilesEvent(
                    colony=name,
                    paths=tuple(chunk),
                    count=len(chunk),
                    at=now,
                    more=more if more and last else None,
                    overflow=overflowed,
                )
            )

    def _cap_event(self, name: str, limit: int, where: str, now: float) -> None:
        detail = (
            f"inotify watch limit of {limit:,} directories reached at {where}: changes in "
            "the directories beyond it are not audited"
        )
        self.bus.publish(ResourceEvent(colony=name, kind="limit", detail=detail, at=now))
        if self.note is not None:
            self.note(name, f"resource limit: {detail}")
