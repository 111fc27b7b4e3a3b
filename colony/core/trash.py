"""The trash: removed colonies, with what it takes to bring each back. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from colony.errors import NotFound


@dataclass(frozen=True)
class TrashRecord:
    """A removed colony: its branch, its final snapshot, its saved work and its data dir."""

    id: int
    name: str
    removed: float
    owner: str
    repo: str
    record: str  # JSON of the colony's stored record (config, overrides, rev, created)
    vcs: str | None = None
    branch: str | None = None
    base: str | None = None
    saved: str | None = None  # ref of its uncommitted work at removal
    snapshot: str | None = None  # ref of its final snapshot
    dir: str | None = None  # its data dir and logs, moved under <state>/trash

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in vars(self).items() if k != "record"}


def pick_entry(entries: list[TrashRecord], which: str) -> TrashRecord:
    """The entry ``which`` names: an id, or a colony name (its latest removal)."""
    if which.isdigit():
        found = [e for e in entries if e.id == int(which)]
    else:
        found = sorted((e for e in entries if e.name == which), key=lambda e: e.id)[-1:]
    if not found:
        raise NotFound(f"trash: no entry {which!r}", hint="list the trash with 'colony trash'")
    return found[0]
