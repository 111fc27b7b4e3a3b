"""Client methods for a colony's network policy and connection records (issue 4)."""

from __future__ import annotations

from colony.client.base import ClientBase, Json, seg


class NetworkMixin(ClientBase):
    def network(self, name: str, limit: int = 50) -> Json:
        """A colony's policy, resolved names, counters and its last ``limit`` records."""
        return self._request("GET", f"/colonies/{seg(name)}/network", params={"limit": limit})

    def set_policy(
        self, name: str, egress: str, allow: list[str] | None = None, deny: list[str] | None = None
    ) -> Json:
        """Replace the colony's egress policy live; the network view with ``"warnings"``."""
        from colony.contract import PolicyBody, to_json

        body = to_json(PolicyBody(egress, list(allow or []), list(deny or [])))
        return self._request("PUT", f"/colonies/{seg(name)}/policy", body=body)

    def change_policy(
        self,
        name: str,
        allow: list[str] | None = None,
        deny: list[str] | None = None,
        remove: list[str] | None = None,
    ) -> Json:
        """Add ``allow``/``deny`` entries to the colony's policy in effect and take ``remove``
        out, live (issue 16); the network view with ``"warnings"``."""
        from colony.contract import PolicyChange, to_json

        body = to_json(PolicyChange(list(allow or []), list(deny or []), list(remove or [])))
        return self._request("PATCH", f"/colonies/{seg(name)}/policy", body=body)

    def reset_policy(self, name: str) -> Json:
        """Drop the ``colony policy`` override: colony.toml's ``[network]`` applies again."""
        return self._request("DELETE", f"/colonies/{seg(name)}/policy")

    def firewall(self, name: str) -> Json:
        """``{"colony", "text"}``: the nft text of the colony's table."""
        return self._request("GET", f"/colonies/{seg(name)}/firewall")
