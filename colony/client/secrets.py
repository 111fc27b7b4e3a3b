"""Client methods for a colony's secrets (issue 17)."""

from __future__ import annotations

from colony.client.base import ClientBase, Json, seg


class SecretsMixin(ClientBase):
    def secrets(self, name: str) -> Json:
        """``{"colony", "secrets": [{"key", "hosts", "header"}]}``: never values."""
        return self._request("GET", f"/colonies/{seg(name)}/secrets")

    def set_secret(
        self, name: str, key: str, value: str, hosts: list[str], header: str | None = None
    ) -> Json:
        """Store ``value`` as the colony's secret ``key``, put in only on requests to ``hosts``."""
        from colony.contract import SecretSet, to_json

        body = to_json(SecretSet(value, list(hosts), header))
        return self._request("PUT", f"/colonies/{seg(name)}/secrets/{seg(key)}", body=body)

    def remove_secret(self, name: str, key: str) -> Json:
        return self._request("DELETE", f"/colonies/{seg(name)}/secrets/{seg(key)}")
