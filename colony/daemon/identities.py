"""The uids of colonies (issue 10): a range of the host's that no user and no other Mycelium
uses, and one uid of it per colony, kept while the colony or its trash entry exists.

At start, Mycelium checks the range against ``/etc/passwd``, ``/etc/group``, ``/etc/subuid``
and ``/etc/subgid``, and claims it with a lock file under ``/run/colony-uids`` that it holds
while it runs: a second Mycelium (another prefix or state directory) given an overlapping
range refuses to start instead of sharing uids.

Example:
    >>> ids = Identities(UidRange(1_900_000_000), used=lambda: {1_900_000_000})
    >>> ids.claim()
    >>> ids.allocate()
    1900000001
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Callable, Iterable
from pathlib import Path

from colony.core.identity import UidRange, find_clashes, plan_uid
from colony.errors import ConfigError

LOCK_DIR = Path("/run/colony-uids")
ID_FILES = ("/etc/passwd", "/etc/group", "/etc/subuid", "/etc/subgid")


def _read(path: str) -> str:
    try:
        return Path(path).read_text(errors="replace")
    except OSError:
        return ""


class Identities:
    """Mycelium's uid range and the uids of its colonies."""

    def __init__(
        self,
        rng: UidRange,
        used: Callable[[], Iterable[int]],
        lock_dir: Path = LOCK_DIR,
    ) -> None:
        self.range = rng
        self.used = used  # uids of live colonies and trash entries
        self.lock_dir = lock_dir
        self._lock: int | None = None

    def claim(self) -> None:
        """Check the range against the host's users and claim it for this Mycelium.

        Raises:
            ConfigError: a user, group or subordinate range of the host, or another running
                Mycelium, uses part of it.
        """
        clashes = find_clashes(self.range, {p: _read(p) for p in ID_FILES})
        if clashes:
            raise ConfigError(
                f"--uid-base: the colony uid range {self.range} is in use: "
                + "; ".join(clashes[:3]),
                hint="pick a free range with --uid-base (COLONY_UID_BASE)",
            )
        self.lock_dir.mkdir(mode=0o755, exist_ok=True)
        for other in sorted(self.lock_dir.glob("*.lock")):
            first, _, last = other.stem.partition("-")
            if not (first.isdigit() and last.isdigit()):
                continue
            if self.range.overlaps(int(first), int(last)) and _held(other):
                raise ConfigError(
                    f"--uid-base: another Mycelium uses uids {first}-{last}, which overlap "
                    f"{self.range}",
                    hint="give each Mycelium its own range with --uid-base (COLONY_UID_BASE)",
                )
        path = self.lock_dir / f"{self.range.first}-{self.range.last}.lock"
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise ConfigError(
                f"--uid-base: another Mycelium uses the colony uid range {self.range}",
                hint="give each Mycelium its own range with --uid-base (COLONY_UID_BASE)",
            ) from None
        self._lock = fd

    def release(self) -> None:
        if self._lock is not None:
            path = self.lock_dir / f"{self.range.first}-{self.range.last}.lock"
            with contextlib.suppress(OSError):
                path.unlink()
            os.close(self._lock)
            self._lock = None

    def allocate(self) -> int:
        """A uid for a new colony: the lowest of the range no colony or trash entry has."""
        return plan_uid(self.used(), self.range)


def _held(path: Path) -> bool:
    """Whether a running process holds the lock file ``path``; a stale one is removed."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    with contextlib.suppress(OSError):
        path.unlink()
    return False


__all__ = ["Identities"]
