"""The trash: every removed colony, restorable until purged.

``colony rm`` records a final snapshot in the colony's own repository, then moves its whole
directory under ``<state>/trash``: the workspace (files, index, commits, snapshots), data
dir, home and logs; :meth:`TrashBin.record` stores what it takes to bring it back, its uid
included (no other colony gets that uid while the entry exists). :meth:`TrashBin.restore`
moves it all back, exactly as it was, and starts the colony. :meth:`TrashBin.purge` deletes an
entry for good.

Example:
    >>> await trash.restore("web")   # the latest removal of colony web
    {'name': 'web', 'state': 'spawning', ...}
"""

from __future__ import annotations

import asyncio
import json
import logging
import shutil
import sqlite3
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from colony.core.model import ColonyRecord, State, plan_index
from colony.core.trash import TrashRecord, pick_entry
from colony.daemon.messages import Start
from colony.daemon.paths import ORPHAN
from colony.daemon.removal import KEPT_WORKSPACE
from colony.errors import ColonyError, ConfigError, Conflict, NotFound
from colony.store.sessions import Sessions
from colony.store.trash import Trash

if TYPE_CHECKING:
    from ipaddress import IPv4Network

    from colony.daemon.mycelium import Mycelium
    from colony.daemon.paths import Paths
    from colony.store.queries import Store
    from colony.vcs import Vcs

log = logging.getLogger("colony.trash")
KEPT = ("owner", "created", "rev", "config_source", "config_text", "overrides", "uid", "objects")


class TrashBin:
    def __init__(
        self,
        myc: Mycelium,
        *,
        store: Store,
        open_vcs: Callable[[Path], Vcs],
        paths: Paths,
        pool: IPv4Network,
        clock: Callable[[], float],
    ) -> None:
        self.myc = myc
        self.store = store
        self.open_vcs = open_vcs
        self.paths = paths
        self.pool = pool
        self.clock = clock
        self.trash = Trash(store.conn)

    def record(self, rec: ColonyRecord, result: dict[str, Any]) -> None:
        """Store a removal (called by the colony's actor before its record goes).

        Never raises: the removal is already half done, and its refs and files are kept anyway.
        """
        stored = {k: v for k, v in asdict(rec).items() if k in KEPT}
        entry = TrashRecord(
            0,
            rec.name,
            self.clock(),
            rec.owner,
            rec.repo,
            json.dumps(stored),
            vcs=rec.vcs,
            branch=result.get("branch"),
            base=rec.base,
            saved=result.get("saved"),
            snapshot=result.get("snapshot"),
            dir=result.get("trash"),
        )
        try:
            result["trash_id"] = self.trash.insert(entry).id
        except sqlite3.Error:
            log.exception("colony %s: cannot record it in the trash", rec.name)

    def entries(self, owner: str | None = None) -> list[dict[str, Any]]:
        """Every entry, or ``owner``'s only (issue 14: a user sees their own)."""
        return [e.to_json() for e in self._of(owner)]

    def _of(self, owner: str | None) -> list[TrashRecord]:
        entries = self.trash.entries()
        return entries if owner is None else [e for e in entries if e.owner == owner]

    def strays(self) -> list[str]:
        """Directories ``colony gc`` moved into the trash (workspaces and colony directories
        of no colony, named ``NAME-orphan-TIME``): no entry records them, so only a purge of
        everything deletes them (issue 12: it left them behind)."""
        root = self.paths.trash
        if not root.is_dir():
            return []
        return sorted(str(p) for p in root.iterdir() if ORPHAN in p.name)

    # --- restore --------------------------------------------------------------------------

    async def restore(self, which: str, owner: str | None = None) -> dict[str, Any]:
        """Bring a trashed colony back (its latest removal, or entry ``which`` by id); only
        ``owner``'s entries when given."""
        entry = pick_entry(self._of(owner), which)
        name = entry.name
        if self.store.find(name) is not None:
            raise Conflict(
                f"cannot restore colony '{name}': a colony of that name exists",
                hint=f"remove it first with 'colony rm {name}'",
            )
        if not entry.dir or not _kept(Path(entry.dir)) or "uid" not in json.loads(entry.record):
            raise ConfigError(
                f"cannot restore colony '{name}': trash entry {entry.id} has no workspace of "
                "its own (removed by an older Colony)",
                hint=f"its data and logs are in {entry.dir}",
            )
        repo = Path(entry.repo)
        if not repo.is_dir():
            raise NotFound(f"cannot restore colony '{name}': repository {repo} is gone")
        for path in (self.paths.colony(name), self.paths.legacy_workspace(name)):
            if path.exists():
                raise Conflict(
                    f"cannot restore colony '{name}': {path} exists",
                    hint="move it away, then restore again",
                )
        rec = await asyncio.to_thread(self._bring_back, entry)
        try:
            self.store.insert(rec)
        except sqlite3.IntegrityError as exc:
            await asyncio.to_thread(self._put_back, entry)
            raise Conflict(f"cannot restore colony '{name}': it was just created again") from exc
        self.trash.delete(entry.id)
        actor = self.myc.launch(rec)
        actor.log.note("colony", f"restored from the trash (entry {entry.id})")
        await actor.ask(Start())
        return actor.to_json()

    def _bring_back(self, entry: TrashRecord) -> ColonyRecord:
        """Move the entry's directory (with its workspace, or its disk's image) back; the
        record of the colony. Its disk is mounted again when it starts."""
        assert entry.dir
        home = self.paths.colony(entry.name)
        home.parent.mkdir(mode=0o711, parents=True, exist_ok=True)
        legacy = (Path(entry.dir) / KEPT_WORKSPACE).is_dir()
        workspace = self.paths.workspace(entry.name)
        shutil.move(entry.dir, home)
        if legacy:  # removed before issue 11: the workspace lived beside the colony's dir
            workspace = self.paths.legacy_workspace(entry.name)
            workspace.parent.mkdir(mode=0o711, parents=True, exist_ok=True)
            try:
                shutil.move(str(home / KEPT_WORKSPACE), workspace)
            except BaseException:
                shutil.move(str(home), entry.dir)
                raise
        kept = json.loads(entry.record)
        now = self.clock()
        index = plan_index(self.store.used_indexes(), self.pool)
        return ColonyRecord(
            name=entry.name,
            index=index,
            state=State.STOPPED,
            updated=now,
            repo=entry.repo,
            vcs="git",
            branch=entry.branch,
            base=entry.base,
            workspace=str(workspace),
            workspace_created=True,
            provisioned=True,
            **{**kept, "created": kept.get("created", now)},
        )

    def _put_back(self, entry: TrashRecord) -> None:
        """Undo :meth:`_bring_back`."""
        assert entry.dir
        home = self.paths.colony(entry.name)
        legacy = self.paths.legacy_workspace(entry.name)
        if legacy.is_dir():
            shutil.move(str(legacy), home / KEPT_WORKSPACE)
        shutil.move(str(home), entry.dir)

    # --- purge ----------------------------------------------------------------------------

    async def purge(self, which: str | None, owner: str | None = None) -> list[dict[str, Any]]:
        """Delete trash entry ``which`` (None: all): its files, and the pin of its base in the
        repository when no other entry or colony of that name needs it. Given ``owner``, only
        their entries, and never gc's strays (they are nobody's)."""
        entries = self._of(owner)
        chosen = entries if which is None else [pick_entry(entries, which)]
        purged = [await asyncio.to_thread(self._purge, e) for e in chosen]
        for stray in self.strays() if which is None and owner is None else []:
            await asyncio.to_thread(shutil.rmtree, stray, True)
            purged.append({"id": None, "name": Path(stray).name, "deleted_refs": [], "dir": stray})
        return purged

    def _purge(self, entry: TrashRecord) -> dict[str, Any]:
        if entry.dir:
            shutil.rmtree(entry.dir, ignore_errors=True)  # fd-based: follows no symlink
        others = [
            e
            for e in self.trash.entries()
            if e.name == entry.name and e.id != entry.id and e.repo == entry.repo
        ]
        live = self.store.find(entry.name)
        released: list[str] = []
        repo = Path(entry.repo)
        if not others and (live is None or live.repo != entry.repo) and repo.is_dir():
            try:
                self.open_vcs(repo).release(repo, entry.name)
                released.append(f"refs/colony/base/{entry.name}")
            except ColonyError as exc:
                log.warning("trash purge %s: cannot release its base: %s", entry.name, exc)
        Sessions(self.store.conn).delete_colony(entry.name, until=entry.removed)
        self.trash.delete(entry.id)
        return {"id": entry.id, "name": entry.name, "deleted_refs": released, "dir": entry.dir}


def _kept(entry: Path) -> bool:
    """Whether a trash entry holds a workspace: on its disk's image, in its volume directory,
    or (removed before issue 11) beside them."""
    return any(
        p.exists()
        for p in (entry / "volume.img", entry / "volume" / "workspace", entry / KEPT_WORKSPACE)
    )
