"""Client methods for the preview names in the hosts file."""

from __future__ import annotations

from colony.client.base import ClientBase
from colony.contract_responses import HostsStatus


class HostsMixin(ClientBase):
    def hosts(self) -> HostsStatus:
        """Preview names in the hosts file: present, missing, stale."""
        return self._answer(HostsStatus, "GET", "/hosts")

    def hosts_update(self, action: str) -> HostsStatus:
        """``action`` "add" writes the current preview names, "remove" takes Colony's out."""
        from colony.contract import HostsAction, to_json

        return self._answer(HostsStatus, "POST", "/hosts", body=to_json(HostsAction(action)))
