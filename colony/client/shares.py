"""Client methods for sharing a colony with other users of the machine (issue 14)."""

from __future__ import annotations

from colony.client.base import ClientBase, seg
from colony.contract_responses import Shares


class SharesMixin(ClientBase):
    def shares(self, name: str) -> Shares:
        """The colony's owner and who it is shared with."""
        return self._answer(Shares, "GET", f"/colonies/{seg(name)}/shares")

    def share(self, name: str, user: str, role: str = "viewer") -> Shares:
        """Give ``user`` the role ``role`` (viewer, operator) on the colony; its shares now."""
        from colony.contract import Share, to_json

        path = f"/colonies/{seg(name)}/shares/{seg(user)}"
        return self._answer(Shares, "PUT", path, body=to_json(Share(role)))

    def unshare(self, name: str, user: str) -> Shares:
        """End ``user``'s share of the colony; its shares now."""
        return self._answer(Shares, "DELETE", f"/colonies/{seg(name)}/shares/{seg(user)}")
