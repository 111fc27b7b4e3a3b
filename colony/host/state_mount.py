"""The state directory as a mount point of its own: a private bind of itself, as iproute2
makes ``/run/netns`` (issue 15).

Every colony's disk and workspace overlay is mounted below the state directory, and every
process of a colony starts by detaching them all from its private view
(:mod:`colony.host.mounts`). Below a mount point of its own, that is one ``umount2`` taking
the whole subtree along; below a plain directory it is one call per colony mount, each
waiting for an RCU grace period, which made every process start slower as colonies
accumulated (~80 ms with 150 colonies on a 2-core machine). The bind is private: the
colonies' mounts propagate nowhere.

Made when Mycelium starts and nothing is mounted below the directory yet (a bind over
existing mounts would hide them); undone when it stops with no colony left. A state
directory that is already a mount point (a file system of its own) is left alone.

Example:
    >>> bind_self(Path("/var/lib/colony"))      # True: it is a mount point now
    >>> unbind_self(Path("/var/lib/colony"))    # on stop, with no colony mounts below
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from colony.host import run

log = logging.getLogger(__name__)


def _rows() -> list[list[str]]:
    try:
        text = Path("/proc/self/mountinfo").read_text()
    except OSError:
        return []
    return [line.split(" ") for line in text.splitlines()]


def _unescape(field: str) -> str:
    return field.encode().decode("unicode_escape")


def mounted_at(path: Path) -> bool:
    """Whether something is mounted at ``path`` (``os.path.ismount`` misses a bind of a
    directory of the same file system)."""
    return any(len(row) > 4 and _unescape(row[4]) == str(path) for row in _rows())


def is_self_bind(path: Path) -> bool:
    """Whether ``path`` is a bind of itself: a mount point whose mount shows, of the same
    file system as the mount it sits on, exactly the directory it covers."""
    rows = _rows()
    by_id = {row[0]: row for row in rows if len(row) > 4}
    top = str(path)
    mine = [row for row in rows if len(row) > 4 and _unescape(row[4]) == top]
    if not mine:
        return False
    row = mine[-1]  # the one on top
    parent = by_id.get(row[1])
    if parent is None or parent[2] != row[2]:  # another file system
        return False
    parent_point, parent_root = _unescape(parent[4]), _unescape(parent[3])
    relative = os.path.relpath(top, parent_point)
    return os.path.normpath(os.path.join(parent_root, relative)) == _unescape(row[3])


def _mounted_below(path: Path) -> bool:
    prefix = str(path).rstrip("/") + "/"
    return any(len(row) > 4 and _unescape(row[4]).startswith(prefix) for row in _rows())


def bind_self(path: Path) -> bool:
    """Make ``path`` a private mount point of its own, if it is not one and nothing is
    mounted below it; whether it is a self-bind now."""
    if mounted_at(path):
        return is_self_bind(path)
    if _mounted_below(path):
        log.warning(
            "%s holds mounts but is no mount point: each colony process start detaches them "
            "one by one (slower with many colonies) until Mycelium starts with none",
            path,
        )
        return False
    run(["mount", "--bind", str(path), str(path)], timeout=30)
    run(["mount", "--make-private", str(path)], timeout=30)
    return True


def unbind_self(path: Path) -> None:
    """Undo :func:`bind_self` when nothing is mounted below ``path`` any more."""
    if is_self_bind(path) and not _mounted_below(path):
        done = run(["umount", "--lazy", str(path)], check=False, timeout=30)
        if done.returncode != 0:
            log.warning("cannot unmount the state directory's own bind %s", path)


__all__ = ["bind_self", "is_self_bind", "mounted_at", "unbind_self"]
