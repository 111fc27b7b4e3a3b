"""Client methods for sharing a colony with other users of the machine (issue 14)."""

from __future__ import annotations

from colony.client.base import ClientBase, Json, seg


class SharesMixin(ClientBase):
    def shares(self, name: str) -> Json:
        """``{"colony", "owner", "shares": [{"user", "role"}]}``."""
        return self._request("GET", f"/colonies/{seg(name)}/shares")

    def share(self, name: str, user: str, role: str = "viewer") -> Json:
        """Give ``user`` the role ``role`` (viewer, operator) on the colony; its shares now."""
        from colony.contract import Share, to_json

        return self._request(
            "PUT", f"/colonies/{seg(name)}/shares/{seg(user)}", body=to_json(Share(role))
        )

    def unshare(self, name: str, user: str) -> Json:
        """End ``user``'s share of the colony; its shares now."""
        return self._request("DELETE", f"/colonies/{seg(name)}/shares/{seg(user)}")
