"""The trash: every removed colony, restorable until purged.

``colony rm`` records a final snapshot of the workspace, saves its uncommitted work, keeps
its branch and moves its data dir and logs under ``<state>/trash``; :meth:`TrashBin.record`
then stores what it takes to bring it back. :meth:`TrashBin.restore` checks the branch out
again, puts the workspace's files back exactly as they were, returns the data dir and starts
the colony. :meth:`TrashBin.purge` deletes an entry for good.

Example:
    >>> await trash.restore("web", user="ann")   # the latest removal of colony web
    {'name': 'web', 'state': 'spawning', ...}
"""

from __future__ import annotations

import asyncio
import json
import logging
import shutil
import sqlite3
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from colony.core.model import ColonyRecord, State, plan_index
from colony.core.trash import TrashRecord, pick_entry
from colony.daemon.review import give_back
from colony.errors import ConfigError, Conflict, NotFound
from colony.store.sessions import Sessions
from colony.store.trash import Trash
from colony.vcs import repo_lock
from colony.vcs import review as git_review

if TYPE_CHECKING:
    from colony.daemon.mycelium import Mycelium

log = logging.getLogger("colony.trash")
KEPT = ("owner", "created", "rev", "config_source", "config_text", "overrides")


class TrashBin:
    def __init__(self, myc: Mycelium) -> None:
        self.myc = myc
        self.ctx = myc.ctx
        self.trash = Trash(myc.ctx.store.conn)

    def record(self, rec: ColonyRecord, result: dict[str, Any]) -> None:
        """Store a removal (called by the colony's actor before its record goes).

        Never raises: the removal is already half done, and its refs and files are kept anyway.
        """
        stored = {k: v for k, v in asdict(rec).items() if k in KEPT}
        entry = TrashRecord(
            0,
            rec.name,
            self.ctx.clock(),
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

    def entries(self) -> list[dict[str, Any]]:
        return [e.to_json() for e in self.trash.entries()]

    # --- restore --------------------------------------------------------------------------

    async def restore(self, which: str) -> dict[str, Any]:
        """Bring a trashed colony back (its latest removal, or entry ``which`` by id)."""
        entry = pick_entry(self.trash.entries(), which)
        name = entry.name
        if self.ctx.store.find(name) is not None:
            raise Conflict(
                f"cannot restore colony '{name}': a colony of that name exists",
                hint=f"remove it first with 'colony rm {name}'",
            )
        if entry.vcs not in (None, "git") or not entry.branch or not entry.base:
            raise ConfigError(
                f"cannot restore colony '{name}': only git workspaces can be restored"
            )
        repo = Path(entry.repo)
        if not repo.is_dir():
            raise NotFound(f"cannot restore colony '{name}': repository {repo} is gone")
        home = self.ctx.paths.colony(name)
        if home.exists():
            raise Conflict(
                f"cannot restore colony '{name}': {home} exists",
                hint="move it away, then restore again",
            )
        rec = await asyncio.to_thread(self._bring_back, entry, home)
        try:
            self.ctx.store.insert(rec)
        except sqlite3.IntegrityError as exc:
            raise Conflict(f"cannot restore colony '{name}': it was just created again") from exc
        self.trash.delete(entry.id)
        actor = self.myc.launch(rec)
        actor.log.note("colony", f"restored from the trash (entry {entry.id})")
        await asyncio.to_thread(give_back, actor, Path(str(rec.workspace)))
        await actor.ask("start")
        return actor.to_json()

    def _bring_back(self, entry: TrashRecord, home: Path) -> ColonyRecord:
        """Workspace, files and data dir of ``entry``; undone if any step fails."""
        assert entry.branch
        assert entry.base
        repo = Path(entry.repo)
        path = self.ctx.paths.workspace(entry.name)
        path.parent.mkdir(parents=True, exist_ok=True)
        with repo_lock(repo):
            ws = git_review.attach(repo, entry.name, entry.branch, path, entry.base)
        try:
            tip = entry.snapshot or (entry.saved and git_review.rev(repo, entry.saved))
            if tip:
                git_review.restore(ws, tip)
            if entry.dir and Path(entry.dir).is_dir():
                home.parent.mkdir(parents=True, exist_ok=True)
                shutil.move(entry.dir, home)
            self.ctx.paths.data(entry.name).mkdir(parents=True, exist_ok=True)
        except BaseException:
            with repo_lock(repo):
                git_review.detach(repo, path)
            if home.exists() and entry.dir and not Path(entry.dir).exists():
                shutil.move(home, entry.dir)
            raise
        kept = json.loads(entry.record)
        now = self.ctx.clock()
        index = plan_index(self.ctx.store.used_indexes(), self.ctx.pool)
        return ColonyRecord(
            name=entry.name,
            index=index,
            state=State.STOPPED,
            updated=now,
            repo=entry.repo,
            vcs="git",
            branch=entry.branch,
            base=entry.base,
            workspace=str(ws.path),
            workspace_created=True,
            **{**kept, "created": kept.get("created", now)},
        )

    # --- purge ----------------------------------------------------------------------------

    async def purge(self, which: str | None) -> list[dict[str, Any]]:
        """Delete trash entry ``which`` (None: all): its files, and its branch and refs when no
        other entry or colony of that name needs them."""
        entries = self.trash.entries()
        chosen = entries if which is None else [pick_entry(entries, which)]
        return [await asyncio.to_thread(self._purge, e) for e in chosen]

    def _purge(self, entry: TrashRecord) -> dict[str, Any]:
        if entry.dir:
            shutil.rmtree(entry.dir, ignore_errors=True)
        others = [
            e
            for e in self.trash.entries()
            if e.name == entry.name and e.id != entry.id and e.repo == entry.repo
        ]
        live = self.ctx.store.find(entry.name)
        refs: list[str] = []
        repo = Path(entry.repo)
        if not others and (live is None or live.repo != entry.repo) and repo.is_dir():
            with repo_lock(repo):
                refs = git_review.delete_refs(repo, entry.name, entry.branch)
        Sessions(self.ctx.store.conn).delete_colony(entry.name, until=entry.removed)
        self.trash.delete(entry.id)
        return {"id": entry.id, "name": entry.name, "deleted_refs": refs, "dir": entry.dir}
