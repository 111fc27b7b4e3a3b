"""Client methods for resource usage (issue 3)."""

from __future__ import annotations

from colony.client.base import ClientBase, seg
from colony.contract_responses import Sample, Usage


class UsageMixin(ClientBase):
    def usage(self) -> Usage:
        """CPU %, memory, pids, I/O and limits of every colony."""
        return self._answer(Usage, "GET", "/usage")

    def colony_usage(self, name: str) -> Sample:
        """One colony's latest usage sample."""
        path = f"/colonies/{seg(name)}/usage"
        return self._answer(Sample, "GET", path)
