"""A colony's disk: a size-limited ext4 file system in a sparse image file on a loop device
(issue 11).

Chosen by measurement on a stock Debian 12 root file system (ext4 without the ``project``
and ``quota`` features, so no project quotas without reformatting the host's disk): making a
20 GiB image takes ~10 ms and 4.4 MB of disk, mounting it ~5 ms. The image is root's (0600)
in a directory no colony can reach; the colony only ever writes through the mounted file
system, so the kernel never parses an image a colony wrote by hand.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import os
import time
from pathlib import Path

from colony.errors import HostError
from colony.host import run

MKFS = (
    "mkfs.ext4",
    "-q",
    "-F",
    "-m",
    "0",  # no blocks reserved for root: the whole quota is the colony's
    "-E",
    # A new sparse file reads as zeros: nothing to zero now or later (4.4 MB per image).
    "lazy_itable_init=1,lazy_journal_init=1,root_owner=0:0",
    "-L",
    "colony",
)
MOUNT_OPTIONS = "loop,nosuid,nodev,noatime"
MNT_DETACH = 0x2
LOOP_MAJOR = 7  # block devices /dev/loopN
UMOUNT_NOFOLLOW = 0x8  # a symlink at the mount point is never followed
_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


def make_volume(image: Path, size: int) -> None:
    """A new image of ``size`` bytes at ``image`` (which must not exist), formatted.

    Raises:
        HostError: the file exists or cannot be made, or mkfs failed (nothing is left).
    """
    try:
        fd = os.open(image, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    except OSError as exc:
        raise HostError(f"cannot create disk image {image}: {exc.strerror}") from exc
    try:
        os.ftruncate(fd, size)
    finally:
        os.close(fd)
    try:
        # A journal of 4 MiB on small disks (where it would eat the quota), 64 MiB on others.
        journal = 4 if size < 1024**3 else 64
        run([*MKFS, "-J", f"size={journal}", str(image)], timeout=60)
    except HostError:
        with contextlib.suppress(OSError):
            image.unlink()
        raise


def mount_volume(image: Path, at: Path) -> None:
    """Mount ``image`` on directory ``at`` (nosuid, nodev).

    Raises:
        HostError: names the image and what mount said (no loop device, a damaged image).
    """
    run(["mount", "-t", "ext4", "-o", MOUNT_OPTIONS, str(image), str(at)], timeout=60)


def unmount(at: Path, busy_for: float = 0.0) -> None:
    """Unmount the volume at ``at``; its loop device goes with it. A file system still busy
    after ``busy_for`` seconds (a process of the colony that outlived its cgroup) is
    detached lazily.

    ``busy_for``: right after an overlay on the volume was unmounted, the kernel lets go of
    its layers a tick later (a delayed release of internal mounts), not at once.

    Raises:
        HostError: ``at`` is mounted and could not be detached.
    """
    deadline = time.monotonic() + busy_for
    backing = _backing(at)
    # umount2 itself, not umount(8): no process to start and no mount table to parse per
    # call, which with hundreds of colonies made every removal slower (issue 15).
    while os.path.ismount(at):
        err = _umount2(at, 0)
        if err in (0, errno.EINVAL, errno.ENOENT):  # gone, or not a mount point (any more)
            continue
        if err != errno.EBUSY:
            raise HostError(f"cannot unmount {at}: {os.strerror(err)}")
        if time.monotonic() >= deadline:
            err = _umount2(at, MNT_DETACH)
            if err not in (0, errno.EINVAL, errno.ENOENT):
                raise HostError(f"cannot detach {at}: {os.strerror(err)}")
            return
        time.sleep(0.01)
    # The overlay's own hold on the file system goes a tick after it was unmounted: until
    # then the loop device (and the image) stays in use.
    while backing and os.path.exists(backing) and time.monotonic() < deadline:
        time.sleep(0.005)


def _umount2(at: Path, flags: int) -> int:
    """``umount2(at, flags)``, never following a symlink at ``at``: 0, or the errno."""
    if _libc.umount2(os.fsencode(at), flags | UMOUNT_NOFOLLOW) == 0:
        return 0
    return ctypes.get_errno()


def _backing(at: Path) -> str | None:
    """The sysfs file that exists while the loop device mounted at ``at`` is in use; None
    when ``at`` is no loop device's mount. From the device number: no mount table to read."""
    if not os.path.ismount(at):
        return None
    try:
        dev = os.lstat(at).st_dev
    except OSError:
        return None
    if os.major(dev) != LOOP_MAJOR:
        return None
    return f"/sys/dev/block/{os.major(dev)}:{os.minor(dev)}/loop/backing_file"
