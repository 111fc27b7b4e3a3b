"""Client methods for reviewing a colony's work: diff, merge, snapshots, undo, conflicts, and
the trash of removed colonies (issue 6)."""

from __future__ import annotations

from colony.client.base import ClientBase, Json, seg
from colony.contract_responses import Colony, load


class ReviewMixin(ClientBase):
    def diff(self, name: str, stat: bool = False) -> Json:
        """``{"colony", "base", "branch", "diff", "stat": {...}}``."""
        path = f"/colonies/{seg(name)}/workspace/diff"
        return self._request("GET", path, params={"stat": "true" if stat else ""})

    def merge(
        self,
        name: str,
        *,
        into: str | None = None,
        squash: bool = False,
        force: bool = False,
        message: str | None = None,
    ) -> Json:
        from colony.contract import Merge, to_json

        body = to_json(Merge(into, squash, force, message))
        return self._request("POST", f"/colonies/{seg(name)}/workspace/merge", body=body)

    def snapshot(self, name: str, message: str | None = None) -> Json:
        from colony.contract import Snapshot, to_json

        path = f"/colonies/{seg(name)}/workspace/snapshots"
        return self._request("POST", path, body=to_json(Snapshot(message)))

    def snapshots(self, name: str) -> Json:
        """``{"snapshots": [{"number", "ref", "commit", "message", "at", "session", "turn"}]}``."""
        return self._request("GET", f"/colonies/{seg(name)}/workspace/snapshots")

    def undo(
        self, name: str, to: int | None = None, force: bool = False, session: int | None = None
    ) -> Json:
        from colony.contract import Undo, to_json

        body = to_json(Undo(to, force, session))
        return self._request("POST", f"/colonies/{seg(name)}/workspace/undo", body=body)

    def conflicts(self) -> Json:
        """``{"conflicts": [{"repo", "path", "colonies"}, ...]}``."""
        return self._request("GET", "/conflicts")

    def trash(self) -> Json:
        return self._request("GET", "/trash")

    def trash_restore(self, which: str) -> Colony:
        """The colony brought back, starting."""
        path = f"/trash/{seg(which)}/restore"
        return load(Colony, self._request("POST", path), f"POST {path}")

    def trash_purge(self, which: str | None = None) -> Json:
        """Purge entry ``which`` (an id or a colony name); None purges everything."""
        return self._request("DELETE", f"/trash/{seg(which)}" if which else "/trash")
