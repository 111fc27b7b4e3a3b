"""Client methods for resource usage (issue 3)."""

from __future__ import annotations

from colony.client.base import ClientBase, Json, seg


class UsageMixin(ClientBase):
    def usage(self) -> Json:
        """``{"usage": [sample, ...]}``: CPU %, memory, pids, I/O and limits of every colony."""
        return self._request("GET", "/usage")

    def colony_usage(self, name: str) -> Json:
        """One colony's latest usage sample."""
        return self._request("GET", f"/colonies/{seg(name)}/usage")
