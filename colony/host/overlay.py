"""A colony's workspace as an overlay: a shared read-only checkout below, the colony's own
directory above, the lower's files shown as the colony's through an idmapped mount (issue 15).

Built with the new mount API (Linux >= 6.13 for layers given as file descriptors), so no
path of the lower layer is ever attached anywhere: ``open_tree(OPEN_TREE_CLONE)`` makes a
detached copy of the checkout's mount, ``mount_setattr(MOUNT_ATTR_IDMAP | RDONLY)`` maps its
owner to the colony's uid and gid through a user namespace made for it, and ``fsopen`` /
``fsconfig(lowerdir+, fd)`` / ``fsmount`` / ``move_mount`` attach the overlay at the
workspace. Costs a few syscalls whatever the size of the checkout.

The user namespace is a ``unshare --user`` child whose maps Mycelium writes and whose
namespace it opens; the child ends before :func:`mount_overlay` returns (the mount keeps
what it needs).

Example:
    >>> mount_overlay(Path("/var/lib/colony/checkouts/k/tree"), (1000, 1000),
    ...               (1900000123, 1900000123), upper, work, target)
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import shutil
import subprocess
import threading
import time
from pathlib import Path

from colony.errors import HostError
from colony.host import mountapi


def _sys(what: str, number: int, *args: object) -> int:
    try:
        return mountapi.call(what, number, *args)
    except OSError as exc:
        raise HostError(f"cannot mount the workspace: {exc.strerror}") from exc


def _userns(uid: tuple[int, int], gid: tuple[int, int]) -> int:
    """An fd of a new user namespace mapping uid ``uid[0]`` to ``uid[1]`` (gid alike)."""
    child = subprocess.Popen(
        ["unshare", "--user", "--", "sleep", "30"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        ours = os.readlink("/proc/self/ns/user")
        deadline = time.monotonic() + 5
        while True:
            with contextlib.suppress(OSError):
                if os.readlink(f"/proc/{child.pid}/ns/user") != ours:
                    break
            if time.monotonic() > deadline or child.poll() is not None:
                raise HostError("cannot mount the workspace: no user namespace for its idmap")
            time.sleep(0.0005)
        # An idmapped mount reads a file's id as an id inside the namespace and shows the
        # id outside it: inside, the checkout's owner; outside, the colony.
        Path(f"/proc/{child.pid}/uid_map").write_text(f"{uid[0]} {uid[1]} 1\n")
        Path(f"/proc/{child.pid}/gid_map").write_text(f"{gid[0]} {gid[1]} 1\n")
        return os.open(f"/proc/{child.pid}/ns/user", os.O_RDONLY | os.O_CLOEXEC)
    finally:
        child.kill()
        child.wait()


def _open_dir(path: Path) -> int:
    try:
        return os.open(path, os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as exc:
        raise HostError(f"cannot mount the workspace: {path}: {exc.strerror}") from exc


def mount_overlay(
    lower: Path,
    owner: tuple[int, int],
    colony: tuple[int, int],
    upper: Path,
    work: Path,
    target: Path,
) -> None:
    """Mount an overlay of ``lower`` (read-only, its files of uid/gid ``owner`` shown as
    ``colony``'s) under ``upper`` (with ``work``, on the same file system) at ``target``.

    Every directory named must be root's or under root's directories only (no colony can
    swap one for a symlink): they are opened without following a final symlink.

    Raises:
        HostError: the kernel refused (one line naming the step).
    """
    fds: list[int] = []
    try:
        ns = _userns((owner[0], colony[0]), (owner[1], colony[1]))
        fds.append(ns)
        m = mountapi
        flags = m.OPEN_TREE_CLONE | m.CLOEXEC | m.AT_RECURSIVE | m.AT_SYMLINK_NOFOLLOW
        tree = _sys("open_tree", m.OPEN_TREE, m.AT_FDCWD, str(lower).encode(), flags)
        fds.append(tree)
        try:
            m.set_attr(tree, m.MOUNT_ATTR_IDMAP | m.MOUNT_ATTR_RDONLY, ns)
        except OSError as exc:
            raise HostError(f"cannot mount the workspace: {exc.strerror}") from exc
        fs = _sys("fsopen", m.FSOPEN, b"overlay", 1)
        fds.append(fs)
        up, wk = _open_dir(upper), _open_dir(work)
        fds += [up, wk]
        _sys("fsconfig lowerdir+", m.FSCONFIG, fs, m.FSCONFIG_SET_FD, b"lowerdir+", None, tree)
        _sys("fsconfig upperdir", m.FSCONFIG, fs, m.FSCONFIG_SET_FD, b"upperdir", None, up)
        _sys("fsconfig workdir", m.FSCONFIG, fs, m.FSCONFIG_SET_FD, b"workdir", None, wk)
        for key, value in (("source", "colony"),):
            _sys(f"fsconfig {key}", m.FSCONFIG, fs, m.FSCONFIG_SET_STRING, key.encode(),
                 value.encode(), 0)  # fmt: skip
        _sys("create overlay", m.FSCONFIG, fs, m.FSCONFIG_CMD_CREATE, None, None, 0)
        mnt = _sys("fsmount", m.FSMOUNT, fs, 1, m.MOUNT_ATTR_NOSUID | m.MOUNT_ATTR_NODEV)
        fds.append(mnt)
        dest = _open_dir(target)
        fds.append(dest)
        _sys(
            "move_mount",
            m.MOVE_MOUNT,
            mnt,
            b"",
            dest,
            b"",
            m.MOVE_MOUNT_F_EMPTY_PATH | m.MOVE_MOUNT_T_EMPTY_PATH,
        )
    finally:
        for fd in fds:
            os.close(fd)


PROBE = "colony-overlay-probe"  # /run/<PROBE>.<pid>: where supported() mounts its test


_probing = threading.Lock()


def supported() -> bool:
    """Whether this kernel mounts such an overlay (asked once, by mounting a tiny one in a
    directory of root's under /run): older kernels have no layers given as descriptors or no
    idmapped layers, and their colonies get a plain checkout instead. Colonies spawned at
    once ask at once: one of them probes, the others wait for its answer."""
    with _probing:
        return _probe()


@functools.cache
def _probe() -> bool:
    for stale in Path("/run").glob(f"{PROBE}.*"):  # of a Mycelium killed while probing
        pid = stale.suffix[1:]
        if not pid.isdigit() or not Path(f"/proc/{pid}").exists():
            subprocess.run(["umount", "-l", str(stale / "target")], capture_output=True)
            shutil.rmtree(stale, ignore_errors=True)
    scratch = Path("/run") / f"{PROBE}.{os.getpid()}"
    subprocess.run(["umount", "-l", str(scratch / "target")], capture_output=True)
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(mode=0o700)
    try:
        for part in ("lower", "upper", "work", "target"):
            (scratch / part).mkdir(mode=0o700)
        nobody = (65534, 65534)
        mount_overlay(
            scratch / "lower", (0, 0), nobody, scratch / "upper", scratch / "work",
            scratch / "target",
        )  # fmt: skip
        subprocess.run(["umount", str(scratch / "target")], check=True, capture_output=True)
        return True
    except (HostError, OSError, subprocess.CalledProcessError) as exc:
        logging.getLogger(__name__).warning(
            "workspaces are plain checkouts: this kernel cannot mount their overlay (%s)", exc
        )
        return False
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


__all__ = ["mount_overlay", "supported"]
