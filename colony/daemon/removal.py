"""What becomes of a colony's files when it is removed: a final snapshot of its workspace,
then the whole workspace (files and its own repository) and the colony's directory moved
into the trash, together, so nothing of its work is lost (issue 10).

The colony's actor calls these while it handles ``remove``; the trash (issue 6) records what
they return so the colony can be restored as it was. Paths come from the store and the
state directory's layout, never from the colony's files; moving a directory never follows a
symlink inside it.
"""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from colony.errors import ColonyError

if TYPE_CHECKING:
    from collections.abc import Callable

    from colony.daemon.owner import ColonyOwner
    from colony.daemon.paths import Paths
    from colony.vcs import Vcs

KEPT_WORKSPACE = "workspace"  # where the workspace goes inside the colony's trash entry


async def final_snapshot(actor: ColonyOwner, open_vcs: Callable[[Path], Vcs]) -> str | None:
    """Record the workspace as a snapshot before it goes (issue 6), so undo can reach it."""
    if not actor.rec.workspace or not actor.rec.base or not Path(actor.rec.workspace).is_dir():
        return None
    try:
        vcs = open_vcs(Path(actor.rec.repo))
        message = f"colony {actor.name}: final snapshot before rm"
        ws = actor.workspace_record()
        inside = actor.contain.inside(ws.path)
        return await asyncio.to_thread(lambda: vcs.snapshot(ws, message, inside=inside))
    except ColonyError as exc:
        actor.log.note("colony", f"cannot take a final snapshot: {exc}")
        return None


def keep_workspace(actor: ColonyOwner, home: Path) -> str | None:
    """Make sure the workspace goes to the trash with the colony's directory: where it is
    inside that directory, or None without one. A workspace on the colony's volume is there
    already; one of the old layout (issue 10) is moved in. ``home``: the colony's directory."""
    workspace = actor.rec.workspace
    if not workspace or not Path(workspace).is_dir():
        return None
    if Path(workspace).is_relative_to(home):
        return str(Path(workspace).relative_to(home))
    shutil.move(workspace, home / KEPT_WORKSPACE)
    return KEPT_WORKSPACE


def discard_workspace(actor: ColonyOwner, open_vcs: Callable[[Path], Vcs]) -> None:
    """Undo a first spawn that failed: delete its new workspace (nobody's work is in it yet)
    and release its base in the repository."""
    if actor.rec.workspace:
        actor.contain.home.unmount_workspace(Path(actor.rec.workspace))
        shutil.rmtree(actor.rec.workspace, ignore_errors=True)
    try:
        open_vcs(Path(actor.rec.repo)).release(Path(actor.rec.repo), actor.name)
    except ColonyError as exc:
        actor.log.note("colony", f"cannot release its base in {actor.rec.repo}: {exc}")


def move_to_trash(actor: ColonyOwner, paths: Paths, now: float) -> str | None:
    """Move the colony's directory (with its workspace) into the trash; its new path, or None
    when it had none. Its private /tmp and /dev/shm are dropped: they hold no work. Its disk
    is unmounted first and goes as its image file."""
    source = paths.colony(actor.name)
    if not source.exists():
        return None
    home = actor.contain.home
    for scratch in (home.tmp, home.shm):
        shutil.rmtree(scratch, ignore_errors=True)
    home.unmount()
    paths.trash.mkdir(mode=0o700, parents=True, exist_ok=True)
    target = paths.trash / f"{actor.name}-{int(now)}"
    shutil.move(str(source), target)
    return str(target)


def saved_at(trash: str, kept: str) -> str:
    """Where the user finds the workspace in the trash: the image file of its disk (mount it
    with ``mount -o loop,ro``), or the directory itself; for an overlay (issue 15), its
    upper layer: the files the colony changed or made, its repository included."""
    image = Path(trash) / "volume.img"
    if image.exists():
        return str(image)
    upper = Path(trash) / kept / ".." / "upper"
    return str(upper.resolve()) if upper.is_dir() else str(Path(trash) / kept)
