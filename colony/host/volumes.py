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
    device = _source(at)
    while os.path.ismount(at):
        done = run(["umount", str(at)], check=False, timeout=60)
        if done.returncode == 0 or not os.path.ismount(at):
            break
        if time.monotonic() >= deadline:
            run(["umount", "--lazy", str(at)], timeout=60)
            return
        time.sleep(0.01)
    # The overlay's own hold on the file system goes a tick after it was unmounted: until
    # then the loop device (and the image) stays in use.
    backing = f"/sys/block/{os.path.basename(device)}/loop/backing_file" if device else None
    while backing and os.path.exists(backing) and time.monotonic() < deadline:
        time.sleep(0.005)


def _source(at: Path) -> str | None:
    """The device mounted at ``at`` (``/dev/loop7``), if it is a loop device."""
    try:
        rows = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return None
    for row in rows:
        left, _, right = row.partition(" - ")
        fields = left.split(" ")
        if len(fields) > 4 and fields[4] == str(at):
            source = right.split(" ")[1] if len(right.split(" ")) > 1 else ""
            return source if source.startswith("/dev/loop") else None
    return None


def mounts_under(root: Path) -> list[Path]:
    """Mount points at or below ``root``, deepest first (as they must be unmounted)."""
    top = str(root).rstrip("/")
    found = []
    try:
        lines = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return []
    for line in lines:
        fields = line.split(" ")
        if len(fields) > 4:
            point = fields[4].encode().decode("unicode_escape")
            if point == top or point.startswith(top + "/"):
                found.append(Path(point))
    return sorted(found, key=lambda p: len(p.parts), reverse=True)


__all__ = ["make_volume", "mount_volume", "mounts_under", "unmount"]
