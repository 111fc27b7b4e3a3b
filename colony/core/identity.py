"""Every colony's own identity (SPEC §7, issue 10): a uid and gid of its own, from a range the
host gives Mycelium. Pure: parsing of /etc/passwd, /etc/group, /etc/subuid and /etc/subgid,
the choice of a free uid, the passwd and group files a colony sees, and the POSIX ACL that
keeps a colony's owner in its files.

Two colonies never share a uid, so one can never read, write, signal or trace another's
files and processes, and the audit log knows which colony did what.

Example:
    >>> rng = UidRange(1_900_000_000, 65_536)
    >>> plan_uid({1_900_000_000}, rng)
    1900000001
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from dataclasses import dataclass

from colony.errors import ConfigError, Conflict

DEFAULT_UID_BASE = 1_900_000_000  # in systemd's unused 1879048192-2147352575 (UIDS-GIDS.md)
DEFAULT_UID_COUNT = 65_536


@dataclass(frozen=True)
class UidRange:
    """``count`` uids (and the gids of the same numbers) from ``first``."""

    first: int
    count: int = DEFAULT_UID_COUNT

    @property
    def last(self) -> int:
        return self.first + self.count - 1

    def __contains__(self, uid: object) -> bool:
        return isinstance(uid, int) and self.first <= uid <= self.last

    def overlaps(self, first: int, last: int) -> bool:
        return first <= self.last and last >= self.first

    def __str__(self) -> str:
        return f"{self.first}-{self.last}"


def check_range(first: int, count: int) -> UidRange:
    """Raise ConfigError unless the range is usable: above every system and login uid, below
    the ids some tools treat as negative."""
    if count < 1 or count > 1 << 24:
        raise ConfigError(f"--uid-count: expected 1-16777216, got {count}")
    if first < 65_536 or first + count > 2**31 - 1:
        raise ConfigError(
            f"--uid-base: expected a uid from 65536 such that the range ends below 2^31, "
            f"got {first} (+{count})"
        )
    return UidRange(first, count)


def parse_ids(text: str) -> list[tuple[str, int]]:
    """(name, id) of each line of a passwd(5) or group(5) file; malformed lines skipped."""
    out = []
    for line in text.splitlines():
        fields = line.split(":")
        if len(fields) >= 3 and fields[2].isdigit():
            out.append((fields[0], int(fields[2])))
    return out


def parse_subids(text: str) -> list[tuple[str, int, int]]:
    """(owner, first, count) of each line of a subuid(5) or subgid(5) file."""
    out = []
    for line in text.splitlines():
        fields = line.strip().split(":")
        if len(fields) == 3 and fields[1].isdigit() and fields[2].isdigit():
            out.append((fields[0], int(fields[1]), int(fields[2])))
    return out


def find_clashes(rng: UidRange, files: dict[str, str]) -> list[str]:
    """What in ``files`` (path -> text of /etc/passwd, /etc/group, /etc/subuid, /etc/subgid)
    already uses an id of ``rng``, described one per entry."""
    found = []
    for path, text in sorted(files.items()):
        if path.endswith(("subuid", "subgid")):
            for owner, first, count in parse_subids(text):
                if rng.overlaps(first, first + count - 1):
                    found.append(f"{path}: {owner}'s {first}-{first + count - 1}")
        else:
            found += [f"{path}: {name} ({i})" for name, i in parse_ids(text) if i in rng]
    return found


def plan_uid(used: Iterable[int], rng: UidRange) -> int:
    """The lowest uid of ``rng`` not in ``used``.

    Raises:
        Conflict: every uid of the range is taken.
    """
    taken = set(used)
    for uid in range(rng.first, rng.last + 1):
        if uid not in taken:
            return uid
    raise Conflict(
        f"every uid of the colony range {rng} is taken ({rng.count} colonies and trash entries)",
        hint="purge trash entries ('colony trash purge'), or give Mycelium a larger --uid-count",
    )


def user_name(colony: str) -> str:
    """The user name a colony's uid has inside the colony."""
    return f"colony-{colony}"


def render_passwd(host: str, name: str, uid: int, home: str, shell: str) -> str:
    """The host's passwd with the colony's user added (and any line of its uid dropped)."""
    lines = [row for row in host.splitlines() if row and row.split(":")[2:3] != [str(uid)]]
    lines.append(f"{name}:x:{uid}:{uid}:Colony {name}:{home}:{shell}")
    return "\n".join(lines) + "\n"


def render_group(host: str, name: str, gid: int) -> str:
    """The host's group file with the colony's own group added."""
    lines = [row for row in host.splitlines() if row and row.split(":")[2:3] != [str(gid)]]
    lines.append(f"{name}:x:{gid}:")
    return "\n".join(lines) + "\n"


# --- POSIX ACLs (the xattrs system.posix_acl_access and system.posix_acl_default) ---------

_ACL_VERSION = 2
_USER_OBJ, _USER, _GROUP_OBJ, _MASK, _OTHER = 0x01, 0x02, 0x04, 0x10, 0x20
_NO_ID = 0xFFFFFFFF


def render_acl(mode: int, users: Iterable[int]) -> bytes:
    """The ACL of a directory of ``mode`` that also grants rwx to each uid in ``users``.

    The same bytes serve as the directory's default ACL, so files the colony creates inside
    inherit the grant.

    Example:
        >>> len(render_acl(0o700, [1000]))  # header + 5 entries of 8 bytes
        44
    """
    extra = sorted(set(users))
    entries = [(_USER_OBJ, (mode >> 6) & 7, _NO_ID)]
    entries += [(_USER, 7, uid) for uid in extra]
    entries += [(_GROUP_OBJ, (mode >> 3) & 7, _NO_ID)]
    if extra:
        entries.append((_MASK, 7, _NO_ID))
    entries.append((_OTHER, mode & 7, _NO_ID))
    body = b"".join(struct.pack("<HHI", tag, perm, uid) for tag, perm, uid in entries)
    return struct.pack("<I", _ACL_VERSION) + body


__all__ = [
    "DEFAULT_UID_BASE",
    "DEFAULT_UID_COUNT",
    "UidRange",
    "check_range",
    "find_clashes",
    "parse_ids",
    "parse_subids",
    "plan_uid",
    "render_acl",
    "render_group",
    "render_passwd",
    "user_name",
]
