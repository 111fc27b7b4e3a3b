"""Unmounting a colony's disk (issue 15): ``umount2`` itself, the loop device released with
it, and a symlink at the mount point never followed. Real images, loop devices and mounts."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from colony.host import volumes

MiB = 1024**2


def loop_of(at: Path) -> str:
    dev = os.lstat(at).st_dev
    return f"/sys/dev/block/{os.major(dev)}:{os.minor(dev)}/loop/backing_file"


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    """A mounted 64 MiB volume: (its image, its mount point); unmounted at the end."""
    image, at = tmp_path / "volume.img", tmp_path / "volume"
    at.mkdir()
    volumes.make_volume(image, 64 * MiB)
    volumes.mount_volume(image, at)
    try:
        yield image, at
    finally:
        if os.path.ismount(at):
            subprocess.run(["umount", "--lazy", str(at)], check=False)


def test_unmount_releases_the_loop_device_and_keeps_the_files(
    disk: tuple[Path, Path], tmp_path: Path
) -> None:
    image, at = disk
    (at / "work.txt").write_text("mine\n")
    backing = loop_of(at)
    assert Path(backing).read_text().strip() == str(image)

    volumes.unmount(at, busy_for=2.0)
    assert not os.path.ismount(at)
    assert not os.path.exists(backing)  # the loop device went with it
    volumes.unmount(at)  # not mounted any more: nothing to do

    volumes.mount_volume(image, at)  # the work is in the image
    try:
        assert (at / "work.txt").read_text() == "mine\n"
    finally:
        volumes.unmount(at)


def test_unmount_never_follows_a_symlink_at_the_mount_point(
    disk: tuple[Path, Path], tmp_path: Path
) -> None:
    """A colony that swapped a mount point for a symlink to another mount gets nothing
    unmounted through it."""
    _, at = disk
    link = tmp_path / "link"
    link.symlink_to(at)
    volumes.unmount(link)
    assert os.path.ismount(at)
