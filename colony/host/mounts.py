"""Performs a colony's mount plan (:mod:`colony.core.mounts`) in a new mount namespace.

Runs in the child between fork and exec, as root, after it joined the colony's network
namespace (a fresh sysfs shows the namespace it is mounted from) and before it drops to the
colony's identity. Only syscalls and small reads; no locks, no threads.

Bind sources are taken first, before anything is detached or covered, as detached copies of
their mounts (``open_tree``, the final component opened without following a symlink) that are
attached later: a symlink a colony planted can never redirect a bind, and no source has to
stay attached while everything else below the state directory is detached. With the state
directory a mount point of its own (Mycelium makes it one, :func:`colony.host.volumes.bind_self`),
that detach is one ``umount2`` whatever the number of colonies: each ``umount2`` that removes
mounts waits for an RCU grace period, so detaching every other colony's disk one by one made
every process start of a colony slower as colonies accumulated (issue 15).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
from collections.abc import Sequence

from colony.core.mounts import Bind, Detach, MountOp, Mqueue, Proc, Sysfs, Tmpfs
from colony.host import mountapi

CLONE_NEWNS = 0x00020000
CLONE_NEWIPC = 0x08000000
MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_REMOUNT = 0x20
MS_BIND = 0x1000
MS_REC = 0x4000
MS_SLAVE = 1 << 19
MNT_DETACH = 0x2
_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


class MountFailed(OSError):
    """One operation of the plan failed; ``str()`` names it."""


def _check(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise MountFailed(err, f"{what}: {os.strerror(err)}")


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str = "") -> None:
    _check(
        _libc.mount(
            source.encode() if source else None,
            target.encode(),
            fstype.encode() if fstype else None,
            flags,
            data.encode() if data else None,
        ),
        f"mount {fstype or 'bind'} on {target}",
    )


def _mount_table() -> list[str]:
    """Every mount point of this namespace, outermost first."""
    with open("/proc/self/mountinfo", "rb") as f:
        rows = f.read().decode(errors="replace").splitlines()
    points = {fields[4].replace("\\040", " ") for fields in (row.split(" ", 5) for row in rows)
              if len(fields) > 4}  # fmt: skip
    return sorted(points, key=len)


class _Detacher:
    """Detaches the mounts at or below paths. The mount table is read once, at the first
    detach (with many colonies it has thousands of rows, and each process start of a colony
    runs this); the plan's mounts made in between are never below a later detach's path."""

    def __init__(self) -> None:
        self.table: list[str] | None = None
        self.gone: list[str] = []  # detached, with everything below them

    def __call__(self, path: str) -> None:
        # Detaching the outermost takes everything below it along; what is left (mounts
        # below a path that is no mount point itself) goes one by one. Failures only mean
        # "not mounted". Plain string tests: this runs between fork and exec.
        if self.table is None:
            self.table = _mount_table()
        prefix = path.rstrip("/") + "/"
        for point in self.table:
            if point != path and not point.startswith(prefix):
                continue
            if any(point == g or point.startswith(g + "/") for g in self.gone):
                continue  # went with a mount above it
            if _libc.umount2(point.encode(), MNT_DETACH) == 0:
                self.gone.append(point.rstrip("/"))


def _make_target(target: str, is_dir: bool) -> None:
    if os.path.lexists(target):
        return
    os.makedirs(os.path.dirname(target), mode=0o755, exist_ok=True)
    if is_dir:
        os.mkdir(target, 0o755)
    else:
        os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644))


def _bind(op: Bind, tree: int, is_dir: bool) -> None:
    _make_target(op.target, is_dir)
    try:
        mountapi.attach(tree, op.target)
    except OSError as exc:
        raise MountFailed(exc.errno, exc.strerror) from exc
    flags = MS_BIND | MS_REMOUNT | MS_NOSUID | MS_NODEV | (MS_RDONLY if op.readonly else 0)
    _mount(None, op.target, None, flags)


def enter_view(ops: Sequence[MountOp]) -> None:
    """Unshare the mount and IPC namespaces and build the view ``ops`` describe.

    Raises:
        MountFailed: naming the operation that failed (the caller must not exec then).
    """
    _check(_libc.unshare(CLONE_NEWNS | CLONE_NEWIPC), "unshare mount namespace")
    _mount(None, "/", None, MS_REC | MS_SLAVE)
    # Copy the sources in the new namespace, before anything is detached or covered; each
    # bind attaches a copy of its own (one source may be bound twice, as /tmp and /var/tmp).
    sources: list[tuple[int, bool]] = []
    try:
        for op in ops:
            if isinstance(op, Bind):
                try:
                    sources.append(mountapi.clone(op.source))
                except OSError as exc:
                    raise MountFailed(exc.errno, exc.strerror) from exc
        binds = iter(sources)
        detach = _Detacher()
        for op in ops:
            if isinstance(op, Detach):
                detach(op.path)
            elif isinstance(op, Tmpfs):
                _make_target(op.path, True)
                options = f"mode={op.mode:o},size={op.size}"
                _mount("tmpfs", op.path, "tmpfs", MS_NOSUID | MS_NODEV, options)
            elif isinstance(op, Sysfs):
                _mount("sysfs", op.path, "sysfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC)
            elif isinstance(op, Proc):
                _mount("proc", op.path, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, "hidepid=2")
            elif isinstance(op, Mqueue):
                if os.path.isdir(op.path):
                    _mount("mqueue", op.path, "mqueue", MS_NOSUID | MS_NODEV | MS_NOEXEC)
            else:
                _bind(op, *next(binds))
    finally:
        for fd, _ in sources:
            os.close(fd)


__all__ = ["MountFailed", "enter_view"]
