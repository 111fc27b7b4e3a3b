"""Client methods for reviewing a colony's work: diff, merge, snapshots, undo, conflicts, and
the trash of removed colonies (issue 6)."""

from __future__ import annotations

from colony.client.base import ClientBase, seg
from colony.contract_responses import (
    Colony,
    Conflicts,
    Diff,
    Merged,
    Purged,
    Snapshot,
    Snapshots,
    TrashList,
    Undone,
)


class ReviewMixin(ClientBase):
    def diff(self, name: str, stat: bool = False) -> Diff:
        path = f"/colonies/{seg(name)}/workspace/diff"
        return self._answer(Diff, "GET", path, params={"stat": "true" if stat else ""})

    def merge(
        self,
        name: str,
        *,
        into: str | None = None,
        squash: bool = False,
        force: bool = False,
        message: str | None = None,
    ) -> Merged:
        from colony.contract import Merge, to_json

        body = to_json(Merge(into, squash, force, message))
        path = f"/colonies/{seg(name)}/workspace/merge"
        return self._answer(Merged, "POST", path, body=body)

    def snapshot(self, name: str, message: str | None = None) -> Snapshot:
        from colony.contract import Snapshot as Body
        from colony.contract import to_json

        path = f"/colonies/{seg(name)}/workspace/snapshots"
        return self._answer(Snapshot, "POST", path, body=to_json(Body(message)))

    def snapshots(self, name: str) -> Snapshots:
        return self._answer(Snapshots, "GET", f"/colonies/{seg(name)}/workspace/snapshots")

    def undo(
        self, name: str, to: int | None = None, force: bool = False, session: int | None = None
    ) -> Undone:
        from colony.contract import Undo, to_json

        body = to_json(Undo(to, force, session))
        return self._answer(Undone, "POST", f"/colonies/{seg(name)}/workspace/undo", body=body)

    def conflicts(self) -> Conflicts:
        return self._answer(Conflicts, "GET", "/conflicts")

    def trash(self) -> TrashList:
        return self._answer(TrashList, "GET", "/trash")

    def trash_restore(self, which: str) -> Colony:
        """The colony brought back, starting."""
        return self._answer(Colony, "POST", f"/trash/{seg(which)}/restore")

    def trash_purge(self, which: str | None = None) -> Purged:
        """Purge entry ``which`` (an id or a colony name); None purges everything."""
        return self._answer(Purged, "DELETE", f"/trash/{seg(which)}" if which else "/trash")
