"""Client methods for the preview names in the hosts file."""

from __future__ import annotations

from colony.client.base import ClientBase, Json


class HostsMixin(ClientBase):
    def hosts(self) -> Json:
        """``{path, present, missing, stale}``: preview names in the hosts file."""
        return self._request("GET", "/hosts")

    def hosts_update(self, action: str) -> Json:
        """``action`` "add" writes the current preview names, "remove" takes Colony's out."""
        from colony.contract import HostsAction, to_json

        return self._request("POST", "/hosts", body=to_json(HostsAction(action)))
