"""Client methods for a colony's network policy and connection records (issue 4)."""

from __future__ import annotations

from colony.client.base import ClientBase, seg
from colony.contract_responses import Firewall, Network


class NetworkMixin(ClientBase):
    def network(self, name: str, limit: int = 50) -> Network:
        """A colony's policy, resolved names, counters and its last ``limit`` records."""
        path = f"/colonies/{seg(name)}/network"
        return self._answer(Network, "GET", path, params={"limit": limit})

    def set_policy(
        self, name: str, egress: str, allow: list[str] | None = None, deny: list[str] | None = None
    ) -> Network:
        """Replace the colony's egress policy live; the network view with ``warnings``."""
        from colony.contract import PolicyBody, to_json

        body = to_json(PolicyBody(egress, list(allow or []), list(deny or [])))
        return self._answer(Network, "PUT", f"/colonies/{seg(name)}/policy", body=body)

    def change_policy(
        self,
        name: str,
        allow: list[str] | None = None,
        deny: list[str] | None = None,
        remove: list[str] | None = None,
    ) -> Network:
        """Add ``allow``/``deny`` entries to the colony's policy in effect and take ``remove``
        out, live (issue 16); the network view with ``warnings``."""
        from colony.contract import PolicyChange, to_json

        body = to_json(PolicyChange(list(allow or []), list(deny or []), list(remove or [])))
        return self._answer(Network, "PATCH", f"/colonies/{seg(name)}/policy", body=body)

    def reset_policy(self, name: str) -> Network:
        """Drop the ``colony policy`` override: colony.toml's ``[network]`` applies again."""
        return self._answer(Network, "DELETE", f"/colonies/{seg(name)}/policy")

    def firewall(self, name: str) -> Firewall:
        """The nft text of the colony's table."""
        return self._answer(Firewall, "GET", f"/colonies/{seg(name)}/firewall")
