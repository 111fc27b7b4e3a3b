"""Log files on disk: read in bounded chunks, capped by copy-truncate rotation (issue 11).

Colony processes write straight to their log files (opened ``O_APPEND`` by the daemon and
passed as stdout), so they keep running and logging while Mycelium is down. Mycelium keeps
the files within their cap: when a file outgrows ``LogCap.size`` it copies the file's last
bytes to ``<file>.1`` (older copies shift to ``.2`` … and the oldest goes) and truncates the
file in place; writers carry on at the new end. Copying happens in the kernel
(``copy_file_range``), so the daemon's memory does not grow with the file.

Log directories belong to root, but paths are opened with ``O_NOFOLLOW`` all the same: a
symlink in place of a log file is never read, copied or truncated.

Example:
    >>> rotate(Path("/var/lib/colony/colonies/web/logs/web.log"), LogCap())
    Rotated(kept=10420224, dropped=93437440)
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from colony.core.logcap import LogCap

CATCH_UP = 64 * 1024  # what arrives during a copy, also kept (else it is lost with the cut)
COPY_CHUNK = 1 << 20
_FLAGS = os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK


@dataclass(frozen=True)
class Rotated:
    """What one rotation did: bytes kept in ``<file>.1`` and bytes dropped (older output of a
    file that had grown past its cap, e.g. while Mycelium was down or under a flood)."""

    kept: int
    dropped: int


def open_log(path: Path) -> int | None:
    """A read-only descriptor of a regular log file, or None (gone, or not a plain file)."""
    try:
        fd = os.open(path, os.O_RDONLY | _FLAGS)
    except OSError:
        return None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        return None
    return fd


def read_at(fd: int, offset: int, limit: int) -> bytes:
    """At most ``limit`` bytes from ``offset``."""
    try:
        return os.pread(fd, limit, offset)
    except OSError:
        return b""


def rotate(path: Path, cap: LogCap) -> Rotated | None:
    """Rotate ``path`` if it is larger than ``cap.size``; None if it was not (or is gone).

    With ``cap.files`` 1 there is no rotated file: the file is truncated.
    """
    try:
        fd = os.open(path, os.O_RDWR | _FLAGS)
    except OSError:
        return None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_size <= cap.size:
            return None
        if cap.files == 1:
            os.ftruncate(fd, 0)
            return Rotated(0, info.st_size)
        return _copy_truncate(fd, path, info, cap)
    finally:
        os.close(fd)


def _copy_truncate(fd: int, path: Path, info: os.stat_result, cap: LogCap) -> Rotated:
    _shift(path, cap.files)
    end = info.st_size
    start = max(0, end - (cap.size - CATCH_UP))
    tmp = path.with_name(f"{path.name}.1.tmp")
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    out = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _FLAGS, info.st_mode & 0o777)
    try:
        _copy(fd, out, start, end)
        grown = os.fstat(fd).st_size
        if 0 < grown - end <= CATCH_UP:  # lines written during the copy
            _copy(fd, out, end, grown)
            end = grown
        os.ftruncate(fd, 0)
    finally:
        os.close(out)
    os.replace(tmp, path.with_name(f"{path.name}.1"))
    return Rotated(kept=end - start, dropped=start + max(0, grown - end))


def _shift(path: Path, files: int) -> None:
    """``.1`` → ``.2`` … up to ``.{files - 1}``; copies beyond that (an older, larger
    ``--log-files``) are removed."""
    for number in _rotated(path):
        if number >= files - 1:
            with contextlib.suppress(FileNotFoundError):
                path.with_name(f"{path.name}.{number}").unlink()
    for number in range(files - 2, 0, -1):
        with contextlib.suppress(FileNotFoundError):
            os.replace(
                path.with_name(f"{path.name}.{number}"), path.with_name(f"{path.name}.{number + 1}")
            )


def _rotated(path: Path) -> list[int]:
    found = []
    with contextlib.suppress(OSError):
        for entry in os.scandir(path.parent):
            head, _, number = entry.name.rpartition(".")
            if head == path.name and number.isdigit():
                found.append(int(number))
    return found


def _copy(src: int, dst: int, start: int, end: int) -> None:
    """Bytes ``start``-``end`` of ``src`` appended to ``dst``, in the kernel where it can."""
    pos = start
    while pos < end:
        try:
            done = os.copy_file_range(src, dst, min(COPY_CHUNK, end - pos), pos)
        except OSError as exc:
            if exc.errno not in (errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
                raise
            data = os.pread(src, min(COPY_CHUNK, end - pos), pos)
            done = os.write(dst, data) if data else 0
        if done == 0:  # the file shrank under us
            return
        pos += done
