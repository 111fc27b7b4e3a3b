"""Cgroups of colonies: v1/v2 detection, directories, process listing, kill, limits, usage.

Detection is pure (:mod:`colony.isolation.layout`), so pure v1, hybrid and pure v2 machines
are unit-tested from fixtures. Each colony gets the directory
``<prefix>/<name>`` in every hierarchy used, and each process group of it (a service, setup,
an exec) a leaf below that, so every process and all its descendants are tracked.

Example:
    >>> layout = load_layout()
    >>> cg = Cgroups(layout)
    >>> cg.create("colony/web")
    >>> cg.leaf_dirs("colony/web/svc-api")
    ['/sys/fs/cgroup/pids/colony/web/svc-api', ...]
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time

from colony import host
from colony.errors import HostError
from colony.isolation.layout import (
    Layout,
    Mount,
    detect,
    unified_mount,
)
from colony.isolation.limits import (
    CPU_PERIOD_US,
    OPTIONAL,
    Limits,
    add_counts,
    fallback,
    parse_counters,
    parse_usage,
    render_limits,
)
from colony.isolation.marks import XATTR

KILL_TIMEOUT = 2.0
# A killed cgroup stays busy until its last processes are reaped: with eight removals at once
# on two loaded cores that took longer than KILL_TIMEOUT (bench-scale, 300 colonies).
RMDIR_BUSY = 15.0
# Locks for the counts of retired leaves, one per colony (by a hash of its name): one lock
# for all made every removal wait on every other's rmdir, which may wait RMDIR_BUSY seconds
# (issue 15: 500 removed at once).
COUNTING_LOCKS = 64


def load_layout() -> Layout:
    """Detect this machine's cgroup layout."""
    mountinfo = host.read_text("/proc/self/mountinfo") or ""
    point = unified_mount(mountinfo)
    controllers = (host.read_text(f"{point}/cgroup.controllers") or "") if point else ""
    return detect(mountinfo, controllers)


class Cgroups:
    """Directories of colonies in every hierarchy of a :class:`Layout`.

    Paths are relative to each hierarchy's root: ``<prefix>``, ``<prefix>/<name>`` or
    ``<prefix>/<name>/<leaf>``.
    """

    def __init__(self, layout: Layout) -> None:
        self.layout = layout
        # v1 counts OOM kills and refused forks in the leaf where they happen; a removed leaf
        # (an ended exec) leaves its counts here, under its colony, so they never go back.
        self.retired: dict[str, dict[str, int]] = {}
        # a leaf is counted in the tree or retired, never both: per colony, see _counting
        self._locks = [threading.Lock() for _ in range(COUNTING_LOCKS)]

    def dirs(self, rel: str) -> list[str]:
        """The directory of ``rel`` in every hierarchy, tracking first."""
        return [f"{m.path}/{rel}" for m in self.layout.mounts]

    def prepare(self, prefix: str) -> None:
        """Create the ``<prefix>`` parents; on v2 let colonies below it use the controllers."""
        for mount in self.layout.mounts:
            host.make_dir(f"{mount.path}/{prefix}", exist_ok=True)
            if mount.version == 2:
                wanted = [c for c, m in self.layout.by_controller.items() if m is mount]
                self._enable(mount.path, wanted)
                self._enable(f"{mount.path}/{prefix}", wanted)

    def _enable(self, path: str, controllers: list[str]) -> None:
        # Best effort: a delegated or containerised hierarchy may refuse (EBUSY, EACCES); the
        # colony still gets tracked, and set_limits then fails naming the missing file.
        enabled = set((host.read_text(f"{path}/cgroup.subtree_control") or "").split())
        for ctrl in controllers:
            if ctrl not in enabled:
                with contextlib.suppress(HostError):
                    host.write_text(f"{path}/cgroup.subtree_control", f"+{ctrl}")

    def unprepare(self, prefix: str) -> None:
        """Remove the ``<prefix>`` parents that are empty; leave any that still hold colonies."""
        for path in self.dirs(prefix):
            if not host.list_dir(path, dirs_only=True):
                host.remove_dir(path)

    def create(self, rel: str) -> list[str]:
        """Create ``rel`` in every hierarchy; return the dirs made (undo removes only those).

        Raises:
            HostError: a directory already exists (an orphan: 'colony gc' removes it) or
                cannot be made. Dirs made before the failure are removed again.
        """
        made: list[str] = []
        try:
            for path in self.dirs(rel):
                host.make_dir(path)
                made.append(path)
        except HostError:
            for path in reversed(made):
                host.remove_dir(path)
            raise
        return made

    def tree(self, path: str) -> list[str]:
        """``path`` and every cgroup below it, leaves first ([] if ``path`` is gone)."""
        out: list[str] = []
        for name in host.list_dir(path, dirs_only=True):
            out.extend(self.tree(f"{path}/{name}"))
        if host.exists(path):
            out.append(path)
        return out

    def procs(self, rel: str) -> list[int]:
        """Every pid in ``rel`` and below, in the tracking hierarchy."""
        pids: list[int] = []
        for path in self.tree(f"{self.layout.tracking.path}/{rel}"):
            text = host.read_text(f"{path}/cgroup.procs") or ""
            pids.extend(int(p) for p in text.split())
        return sorted(set(pids))

    def kill(self, rel: str, sig: int = signal.SIGKILL, timeout: float = KILL_TIMEOUT) -> None:
        """Signal every process in ``rel``; with SIGKILL, until none is left.

        A process that forked a detached grandchild cannot escape: the grandchild is still in
        the cgroup. v2 uses cgroup.kill; v1 freezes the cgroup first (when the freezer
        hierarchy is there) so nothing forks between listing and killing.

        Raises:
            HostError: with SIGKILL, processes are still there after ``timeout`` seconds.
        """
        if sig != signal.SIGKILL:
            for pid in self.procs(rel):
                host.kill(pid, sig)
            return
        tracking = self.layout.tracking.path
        if not host.exists(f"{tracking}/{rel}"):
            return
        if host.exists(f"{tracking}/{rel}/cgroup.kill"):
            host.write_text(f"{tracking}/{rel}/cgroup.kill", "1")
        else:
            self._frozen_kill(rel)
        deadline = time.monotonic() + timeout
        pause = 0.001
        while pids := self.procs(rel):
            if time.monotonic() > deadline:
                raise HostError(
                    f"cannot empty cgroup {tracking}/{rel}: pids {pids[:10]} survive SIGKILL",
                    hint="processes in uninterruptible sleep (state D) die when their I/O ends",
                )
            for pid in pids:
                host.kill(pid, signal.SIGKILL)
            time.sleep(pause)
            pause = min(pause * 2, 0.05)

    def _frozen_kill(self, rel: str) -> None:
        freezer = self.layout.by_controller.get("freezer")
        state = f"{freezer.path}/{rel}/freezer.state" if freezer else None
        if state is None or not host.exists(state):
            for pid in self.procs(rel):
                host.kill(pid, signal.SIGKILL)
            return
        host.write_text(state, "FROZEN")
        try:
            deadline = time.monotonic() + 0.5
            while (host.read_text(state) or "").strip() == "FREEZING":
                if time.monotonic() > deadline:
                    break  # a task in D state delays freezing: kill what we can anyway
                time.sleep(0.001)
            for pid in self.procs(rel):
                host.kill(pid, signal.SIGKILL)
        finally:
            host.write_text(state, "THAWED")

    def thaw(self, rel: str) -> None:
        """Thaw ``rel`` if a v1 freezer left it frozen: a Mycelium killed inside
        :meth:`_frozen_kill` leaves the leaf frozen, and a process joining it would hang."""
        freezer = self.layout.by_controller.get("freezer")
        state = f"{freezer.path}/{rel}/freezer.state" if freezer else None
        if state is not None and (host.read_text(state) or "THAWED").strip() != "THAWED":
            host.write_text(state, "THAWED")

    def remove(self, rel: str) -> None:
        """Kill every process in ``rel``, then remove its cgroups in every hierarchy."""
        self.kill(rel)
        parent, _, _ = rel.rpartition("/")
        with self._counting(rel):
            if parent.count("/") == 1:  # a leaf "<prefix>/<name>/<leaf>" of a colony
                counts = self._v1_counters(rel)
                self.retired[parent] = add_counts(self.retired.get(parent, {}), counts)
            else:
                self.retired.pop(rel, None)
            for top in self.dirs(rel):
                for path in self.tree(top):
                    host.remove_dir(path, busy_for=RMDIR_BUSY)

    def _counting(self, rel: str) -> threading.Lock:
        """The lock for the counts of the colony ``rel`` (``<prefix>/<name>[/<leaf>]``) is in."""
        return self._locks[hash("/".join(rel.split("/")[:2])) % COUNTING_LOCKS]

    def mark(self, dirs: list[str], mark: str) -> None:
        """Put the daemon's mark on cgroup directories it made (gc's proof of ownership)."""
        for path in dirs:
            host.set_xattr(path, XATTR, mark)

    def marked(self, rel: str, mark: str) -> bool:
        """Whether any directory of ``rel`` carries ``mark``."""
        return any(host.get_xattr(path, XATTR) == mark for path in self.dirs(rel))

    def names(self, prefix: str) -> set[str]:
        """Names below ``<prefix>`` in any hierarchy (colonies, known or not)."""
        found: set[str] = set()
        for path in self.dirs(prefix):
            found.update(host.list_dir(path, dirs_only=True))
        return found

    def _file(self, rel: str, name: str) -> str | None:
        """Path of control file ``name`` of ``rel``, in the hierarchy of its controller."""
        prefix = name.split(".")[0]
        mount = self.layout.by_controller.get("io" if prefix == "blkio" else prefix)
        if mount is None and self.layout.tracking.version == 2:
            mount = self.layout.tracking  # v2 keeps cpu.stat etc. in every cgroup
        return None if mount is None else f"{mount.path}/{rel}/{name}"

    def set_limits(self, rel: str, limits: Limits) -> list[str]:
        """Apply ``limits`` to the colony cgroup ``rel``.

        Returns:
            The control files this kernel does not offer (swap accounting off, no I/O weight
            scheduler), whose limits were left out.
        """
        missing: list[str] = []
        for name, value in render_limits(limits, self.layout):
            path = self._file(rel, name)
            if path is None:
                continue
            if name in OPTIONAL and not host.exists(path):
                alt = fallback(name, value)
                alt_path = self._file(rel, alt[0]) if alt else None
                if alt is None or alt_path is None or not host.exists(alt_path):
                    missing.append(name)
                    continue
                path, value = alt_path, alt[1]
            host.write_text(path, value)
        return missing

    def usage(self, rel: str) -> dict[str, int]:
        """CPU time (usec), memory (bytes), processes, I/O bytes and event counters of ``rel``.

        Keys as :func:`parse_usage` and :func:`parse_counters`; missing files are left out.
        """
        v2 = {c for c, m in self.layout.by_controller.items() if m.version == 2}
        names = [
            "cpu.stat" if "cpu" in v2 or self.layout.tracking.version == 2 else "cpuacct.usage",
            "memory.current" if "memory" in v2 else "memory.usage_in_bytes",
            "pids.current",
            "io.stat" if "io" in v2 else "blkio.throttle.io_service_bytes_recursive",
        ]
        files = {n: host.read_text(p) for n in names if (p := self._file(rel, n))}
        return {**parse_usage(files), **self.counters(rel)}

    def counters(self, rel: str) -> dict[str, int]:
        """OOM kills and limit hits of ``rel`` (v1 counts them where they happen: summed)."""
        total: dict[str, int] = {}
        for ctrl, v2_name in (("memory", "memory.events"), ("pids", "pids.events")):
            mount = self.layout.by_controller.get(ctrl)
            if mount is not None and mount.version == 2:
                text = host.read_text(f"{mount.path}/{rel}/{v2_name}")
                total = add_counts(total, parse_counters({v2_name: text}))
        with self._counting(rel):
            retired = self.retired.get(rel, {})
            return add_counts(add_counts(total, retired), self._v1_counters(rel))

    def _v1_counters(self, rel: str) -> dict[str, int]:
        total: dict[str, int] = {}
        for ctrl, names in (
            ("memory", ("memory.oom_control", "memory.failcnt")),
            ("pids", ("pids.events",)),
        ):
            mount = self.layout.by_controller.get(ctrl)
            if mount is None or mount.version != 1:
                continue
            for path in self.tree(f"{mount.path}/{rel}"):
                files = {n: host.read_text(f"{path}/{n}") for n in names}
                total = add_counts(total, parse_counters(files))
        return total


__all__ = [
    "CPU_PERIOD_US",
    "Cgroups",
    "Layout",
    "Limits",
    "Mount",
    "load_layout",
    "parse_counters",
    "parse_usage",
    "render_limits",
]
