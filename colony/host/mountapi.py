"""The kernel's new mount API, as thin calls: detached copies of mount trees
(``open_tree``), attaching them (``move_mount``) and their attributes (``mount_setattr``),
plus the file-system context calls the workspace overlay needs. Shared by
:mod:`colony.host.overlay` (workspaces) and :mod:`colony.host.mounts` (colonies' private
views, where the calls run between fork and exec: no allocation-heavy work here).

Example:
    >>> tree = clone("/var/lib/colony/colonies/web/volume/home")   # before covers
    >>> attach(tree, "/var/lib/colony/colonies/web/volume/home")   # after them
"""

from __future__ import annotations

import ctypes
import os
import stat

OPEN_TREE = 428
MOVE_MOUNT = 429
FSOPEN = 430
FSCONFIG = 431
FSMOUNT = 432
MOUNT_SETATTR = 442
OPEN_TREE_CLONE = 1
CLOEXEC = 0o2000000
AT_FDCWD = -100
AT_EMPTY_PATH = 0x1000
AT_RECURSIVE = 0x8000
AT_SYMLINK_NOFOLLOW = 0x100
MOUNT_ATTR_RDONLY = 0x1
MOUNT_ATTR_NOSUID = 0x2
MOUNT_ATTR_NODEV = 0x4
MOUNT_ATTR_IDMAP = 0x00100000
FSCONFIG_SET_STRING = 1
FSCONFIG_SET_FD = 5
FSCONFIG_CMD_CREATE = 6
MOVE_MOUNT_F_EMPTY_PATH = 0x4
MOVE_MOUNT_T_EMPTY_PATH = 0x40
_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long


class MountAttr(ctypes.Structure):
    _fields_ = [
        ("attr_set", ctypes.c_uint64),
        ("attr_clr", ctypes.c_uint64),
        ("propagation", ctypes.c_uint64),
        ("userns_fd", ctypes.c_uint64),
    ]


def call(what: str, number: int, *args: object) -> int:
    """The system call ``number``; raises OSError whose ``strerror`` is ``what: reason``."""
    result = int(_libc.syscall(number, *args))
    if result < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")
    return result


def set_attr(tree: int, attr_set: int, userns: int = 0) -> None:
    """Set mount attributes on ``tree`` and every mount below it."""
    attr = MountAttr(attr_set, 0, 0, userns)
    call("mount_setattr", MOUNT_SETATTR, tree, b"", AT_EMPTY_PATH | AT_RECURSIVE,
         ctypes.byref(attr), ctypes.sizeof(attr))  # fmt: skip


def clone(source: str) -> tuple[int, bool]:
    """A detached copy of the mounts at and below ``source`` (like a recursive bind that is
    not attached anywhere yet: it stays usable after ``source`` is unmounted or covered), and
    whether it is a directory. A final symlink is refused, never followed.

    Raises:
        OSError: naming ``source``.
    """
    try:
        fd = os.open(source, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as exc:
        raise OSError(exc.errno, f"open {source}: {exc.strerror}") from exc
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISLNK(mode):
            raise OSError(40, f"open {source}: a symbolic link, not followed")  # ELOOP
        flags = OPEN_TREE_CLONE | CLOEXEC | AT_RECURSIVE | AT_EMPTY_PATH
        return call(f"open_tree {source}", OPEN_TREE, fd, b"", flags), stat.S_ISDIR(mode)
    finally:
        os.close(fd)


def attach(tree: int, target: str) -> None:
    """Attach the detached ``tree`` at ``target`` (an existing file or directory)."""
    call(f"move_mount on {target}", MOVE_MOUNT, tree, b"", AT_FDCWD, target.encode(),
         MOVE_MOUNT_F_EMPTY_PATH)  # fmt: skip


__all__ = ["MountAttr", "attach", "call", "clone", "set_attr"]
