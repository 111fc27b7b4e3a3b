"""Client methods for a colony's secrets (issue 17)."""

from __future__ import annotations

from colony.client.base import ClientBase, seg
from colony.contract_responses import SecretRemoved, Secrets, SecretStored


class SecretsMixin(ClientBase):
    def secrets(self, name: str) -> Secrets:
        """The colony's secrets: keys, hosts and headers, never values."""
        return self._answer(Secrets, "GET", f"/colonies/{seg(name)}/secrets")

    def set_secret(
        self, name: str, key: str, value: str, hosts: list[str], header: str | None = None
    ) -> SecretStored:
        """Store ``value`` as the colony's secret ``key``, put in only on requests to ``hosts``."""
        from colony.contract import SecretSet, to_json

        body = to_json(SecretSet(value, list(hosts), header))
        return self._answer(
            SecretStored, "PUT", f"/colonies/{seg(name)}/secrets/{seg(key)}", body=body
        )

    def remove_secret(self, name: str, key: str) -> SecretRemoved:
        return self._answer(SecretRemoved, "DELETE", f"/colonies/{seg(name)}/secrets/{seg(key)}")
