"""The mark a Mycelium puts on every kernel object it makes, so gc removes only its own.

A name with the daemon's prefix is not proof of ownership: anyone can make a namespace
``colony-out``, and one prefix can be the start of another (``ct-a`` and ``ct-a-b``). So each
object carries a mark naming the Mycelium that made it, by its prefix and its state directory
(issue 11), where the kind of object has room for one:

- the host side of a veth: its alias, ``<netns> <mark>``;
- a network namespace: the alias of its ``lo``, ``<mark>``;
- an nft table: its comment ends with ``<mark>``;
- a cgroup directory (in every hierarchy): the extended attribute :data:`XATTR`.

``colony gc`` (and every daemon start) removes an object only when the store knows no colony
for it *and* it carries this daemon's mark.

Example:
    >>> render_mark("colony", "/var/lib/colony")
    'mycelium:colony:b8af1f4ada9b'
"""

from __future__ import annotations

import hashlib

XATTR = "trusted.colony.owner"  # trusted.*: only root can read or set it


def render_mark(prefix: str, state_dir: str) -> str:
    """The mark of the Mycelium with ``prefix`` and ``state_dir`` (an absolute path)."""
    digest = hashlib.sha256(f"{prefix}\0{state_dir}".encode()).hexdigest()[:12]
    return f"mycelium:{prefix}:{digest}"


def render_alias(netns: str, mark: str) -> str:
    """A colony veth's alias: its namespace's name, then the mark."""
    return f"{netns} {mark}" if mark else netns


def alias_netns(alias: str | None) -> str | None:
    """The namespace named by a colony veth's alias (with or without a mark)."""
    return alias.split()[0] if alias and alias.split() else None


def has_mark(text: str | None, mark: str) -> bool:
    """Whether an alias or a comment carries ``mark`` (as a word of its own)."""
    return bool(mark) and text is not None and mark in text.split()
