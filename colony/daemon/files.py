"""File modifications in each colony's workspace, from inotify, as batched bus events.

One thread reads one inotify descriptor for every workspace (recursive: a watch per
directory, the workspace's own top-level ``.git`` and ``.jj`` directories left out; nested
ones are watched, issue 11) and collects changed paths; every half second the daemon
publishes them as ``{"type": "files", colony, paths, count, at}`` events of at most
:data:`CHUNK` paths each. A file counts once per batch however often it was written; a file
counts when it is closed after writing, moved or deleted (a new file that is never written,
such as a symlink, counts one batch after its creation).

A colony cannot exhaust what it shares with the host (issue 11): it gets at most
``watch_limit`` watches (directories nearest the top first), and a ``resource`` event says
when it hits that; the paths listed are rate-limited per colony
(:func:`colony.core.filerate.plan_batch`), the rest counted as ``more`` (``… and 9,412
more``); and a batch holds at most :data:`PENDING_MAX` distinct paths in memory.

Changes are recorded while something may run in the colony: in the states from provisioning
to stopping, and during exec sessions. The daemon's own work on a workspace (creating or
removing it) is left out that way.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import queue
import select
import threading
from collections import deque
from collections.abc import Callable
from pathlib import Path

from inotify_simple import INotify, flags

from colony.core.filerate import FileRate
from colony.daemon.events import Event, EventBus
from colony.daemon.filebatch import Batcher, Note

log = logging.getLogger("colony.files")

SKIP = frozenset({".git", ".jj"})  # at the workspace's top only: the VCS's own internals
WATCH_LIMIT = 8192  # inotify watches (directories) per colony
FLUSH_EVERY = 0.5
ACTIVE_STATES = frozenset({"provisioning", "building", "starting", "running", "stopping"})
MASK = (
    flags.CLOSE_WRITE
    | flags.CREATE
    | flags.DELETE
    | flags.MOVED_FROM
    | flags.MOVED_TO
    | flags.DONT_FOLLOW
    | flags.EXCL_UNLINK
)
# name -> (workspace or None, state)
Colonies = Callable[[], dict[str, tuple[str | None, str]]]


class FileWatch:
    """Watches workspaces and publishes what changed in them.

    Example:
        >>> workspaces = lambda: {"web": ("/ws/web", "running")}
        >>> start_task(FileWatch(bus, workspaces, time.time).run())  # doctest: +SKIP
    """

    def __init__(
        self,
        bus: EventBus,
        colonies: Colonies,
        clock: Callable[[], float],
        *,
        watch_limit: int = WATCH_LIMIT,
        rate: FileRate | None = None,
        note: Note | None = None,
    ) -> None:
        self.bus = bus
        self.colonies = colonies
        self.watch_limit = watch_limit
        self.batch = Batcher(bus, clock, rate or FileRate(), note)
        self.ino = INotify()
        self.commands: queue.SimpleQueue[tuple[str, str, str]] = queue.SimpleQueue()
        self.wake_r, self.wake_w = os.pipe()
        self.dirs: dict[int, tuple[str, str, str]] = {}  # wd -> (colony, workspace, dir in it)
        self.watches: dict[str, int] = {}  # colony -> watches it holds (inotify thread only)
        self.roots: dict[str, str] = {}  # colony -> workspace (as watched)
        self.active: frozenset[str] = frozenset()
        self.execs: dict[str, int] = {}
        self.full_warned = False
        self.stopped = threading.Event()

    # --- the daemon side ----------------------------------------------------------------

    async def run(self) -> None:
        """Watch until cancelled: follow lifecycle events, flush every half second."""
        thread = threading.Thread(target=self._loop, name="colony-files", daemon=True)
        thread.start()
        loop = asyncio.get_running_loop()
        timer: asyncio.TimerHandle | None = None

        def tick() -> None:
            nonlocal timer
            self.flush()
            timer = loop.call_later(FLUSH_EVERY, tick)

        try:
            async with self.bus.subscribe(maxsize=0) as events:
                self._sync()
                timer = loop.call_later(FLUSH_EVERY, tick)
                while True:
                    event = await events.get()
                    try:
                        self._on_event(event)
                    except Exception:  # a bug here must not take the daemon down
                        log.exception("file watch: cannot follow %r", event)
        finally:
            if timer is not None:
                timer.cancel()
            self.stopped.set()
            os.write(self.wake_w, b"x")
            await asyncio.to_thread(thread.join, 5)
            self.flush()
            self.ino.close()
            os.close(self.wake_r)
            os.close(self.wake_w)

    def flush(self, only: str | None = None) -> None:
        """Publish what changed since the last flush (of colony ``only``, or of all)."""
        self.batch.flush(only)

    def _on_event(self, event: Event) -> None:
        etype = event.get("type")
        name = event.get("colony")
        if not isinstance(name, str):
            return
        if etype == "exec":
            self.execs[name] = self.execs.get(name, 0) + 1
        elif etype == "exec_end":
            self.execs[name] = max(0, self.execs.get(name, 0) - 1)
        elif etype not in ("state", "removed"):
            return
        was_active = name in self.active
        self._sync(name)
        if was_active and name not in self.active:
            self.flush(only=name)  # what was written before the stop is reported with it
        if etype == "removed":
            self.batch.drop(name)

    def _sync(self, only: str | None = None) -> None:
        """Watch every workspace that exists (of colony ``only``, when an event names it:
        a colony's event costs the same however many colonies there are, issue 15); record
        changes where something may run."""
        colonies = self.colonies()
        active = set(self.active) - {only} if only else set()
        for name, (workspace, state) in colonies.items():
            if only is not None and name != only:
                continue
            if workspace is None or not Path(workspace).is_dir():
                if self.roots.pop(name, None) is not None:  # gone (a failed spawn): re-watch
                    self._command("unwatch", name, "")  # when it is made again
                continue
            if self.roots.get(name) != workspace:
                self.roots[name] = workspace
                self._command("watch", name, workspace)
            if state in ACTIVE_STATES or self.execs.get(name, 0) > 0:
                active.add(name)
        for name in [n for n in self.roots if n not in colonies and only in (None, n)]:
            del self.roots[name]
            self.execs.pop(name, None)
            self._command("unwatch", name, "")
        self.active = frozenset(active)

    def _command(self, kind: str, name: str, arg: str) -> None:
        self.commands.put((kind, name, arg))
        os.write(self.wake_w, b"x")

    # --- the inotify thread -------------------------------------------------------------

    def _loop(self) -> None:
        poller = select.poll()
        poller.register(self.ino.fileno(), select.POLLIN)
        poller.register(self.wake_r, select.POLLIN)
        while not self.stopped.is_set():
            try:
                self._step(poller)
            except Exception:  # never let one bad event end the watch
                log.exception("file watch: cannot handle inotify events")

    def _step(self, poller: select.poll) -> None:
        ready = {fd for fd, _ in poller.poll(1000)}
        if self.wake_r in ready:
            os.read(self.wake_r, 4096)
        while not self.commands.empty():
            self._do(*self.commands.get())
        if self.ino.fileno() in ready:
            for ev in self.ino.read(timeout=0):
                self._handle(ev.wd, ev.mask, ev.name)

    def _do(self, kind: str, name: str, workspace: str) -> None:
        if kind == "unwatch":
            for wd, (colony, _, _) in list(self.dirs.items()):
                if colony == name:
                    with contextlib.suppress(OSError):
                        self.ino.rm_watch(wd)
                    del self.dirs[wd]
            self.watches.pop(name, None)
            self.batch.forget(name)
        else:
            self._add_tree(name, workspace, "", report=False)

    def _add_tree(self, name: str, top: str, rel: str, *, report: bool) -> None:
        """Watch directory ``rel`` of workspace ``top`` and every directory below it, nearest
        first, up to the colony's watch limit; with ``report``, count the files found (they
        appeared before the watch did)."""
        todo = deque([(os.path.join(top, rel), rel)])
        while todo:
            path, rel_dir = todo.popleft()
            if self.watches.get(name, 0) >= self.watch_limit:
                self.batch.cap_hit(name, self.watch_limit, rel_dir or ".")
                return
            try:
                wd = self.ino.add_watch(path, MASK | flags.ONLYDIR)
            except OSError as exc:
                self._watch_failed(path, exc)
                continue
            if wd not in self.dirs:
                self.watches[name] = self.watches.get(name, 0) + 1
            self.dirs[wd] = (name, top, rel_dir)
            try:
                entries = list(os.scandir(path))
            except OSError:
                continue
            found = []
            for entry in entries:
                sub = f"{rel_dir}/{entry.name}" if rel_dir else entry.name
                if entry.is_dir(follow_symlinks=False):
                    if rel_dir or entry.name not in SKIP:
                        todo.append((entry.path, sub))
                elif report:
                    found.append(sub)
            if found and name in self.active:
                self.batch.found(name, found)

    def _watch_failed(self, path: str, exc: OSError) -> None:
        if exc.errno == 28 and not self.full_warned:  # ENOSPC: out of inotify watches
            self.full_warned = True
            log.warning(
                "cannot watch %s: out of inotify watches (fs.inotify.max_user_watches); "
                "changes below it are not audited",
                path,
            )

    def _handle(self, wd: int, mask: int, name: str) -> None:
        if mask & flags.Q_OVERFLOW:
            log.warning("inotify queue overflowed: some file changes were not seen")
            self.batch.overflow()
            return
        where = self.dirs.get(wd)
        if where is None:
            return
        colony, top, rel_dir = where
        if mask & flags.IGNORED:
            del self.dirs[wd]
            self.watches[colony] = max(0, self.watches.get(colony, 0) - 1)
            return
        path = f"{rel_dir}/{name}" if rel_dir else name
        if mask & flags.ISDIR:
            if not rel_dir and name in SKIP:  # the workspace's own .git/.jj (issue 11: only it)
                return
            if mask & (flags.CREATE | flags.MOVED_TO):
                self._add_tree(colony, top, path, report=True)
            return
        if colony in self.active:
            self.batch.changed(colony, path, created=bool(mask & flags.CREATE))
