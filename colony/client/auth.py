"""Client methods for Bloom's login URLs and API tokens (issue 7; Unix socket only)."""

from __future__ import annotations

from colony.client.base import ClientBase, Json


class AuthMixin(ClientBase):
    def dashboard_url(self) -> Json:
        """A one-time Bloom login URL for the caller: ``{"url", "user", "expires"}``."""
        return self._request("POST", "/auth/dashboard")

    def api_token(self) -> Json:
        """A token for ``Authorization: Bearer`` on the HTTP listener: ``{"token", "user",
        "url"}``; valid until revoked."""
        return self._request("POST", "/auth/token")

    def revoke_tokens(self) -> Json:
        """End every login URL, session and API token of the caller: ``{"revoked", "user"}``."""
        return self._request("POST", "/auth/revoke")
