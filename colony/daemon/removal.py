"""What becomes of a colony's files when it is removed: a final snapshot of its workspace,
the workspace removed through its VCS, and the colony's directory moved into the trash.

The colony's actor calls these while it handles ``remove``; the trash (issue 6) records what
they return so the colony can be restored.
"""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from colony.errors import ColonyError

if TYPE_CHECKING:
    from colony.daemon.actor import ColonyActor


async def final_snapshot(actor: ColonyActor) -> str | None:
    """Record the workspace as a snapshot before it goes (issue 6), so rm loses nothing."""
    if not actor.rec.workspace or not Path(actor.rec.workspace).is_dir():
        return None
    try:
        vcs = actor.ctx.open_vcs(Path(actor.rec.repo))
        message = f"colony {actor.name}: final snapshot before rm"
        return await asyncio.to_thread(vcs.snapshot, actor.workspace_record(), message)
    except ColonyError as exc:
        actor.log.note("colony", f"cannot take a final snapshot: {exc}")
        return None


async def remove_workspace(actor: ColonyActor) -> str | None:
    """Remove the workspace; where it was saved (a path or a ref), or None without one."""
    if not actor.rec.workspace:
        return None
    ws = actor.workspace_record()
    try:
        vcs = actor.ctx.open_vcs(Path(actor.rec.repo))
        return await asyncio.to_thread(vcs.remove, ws)
    except ColonyError as exc:
        # The repository is gone or broken: keep the directory itself with the trash.
        actor.log.note("colony", f"cannot remove workspace through {ws.kind}: {exc}")
        target = actor.ctx.paths.colony(actor.name) / "workspace"
        if Path(ws.path).exists():
            shutil.move(str(ws.path), target)
        return str(target)


def move_to_trash(actor: ColonyActor) -> str | None:
    """Move the colony's directory into the trash; its new path, or None when it had none."""
    paths = actor.ctx.paths
    source = paths.colony(actor.name)
    if not source.exists():
        return None
    paths.trash.mkdir(parents=True, exist_ok=True)
    target = paths.trash / f"{actor.name}-{int(actor.ctx.clock())}"
    shutil.move(str(source), target)
    return str(target)
