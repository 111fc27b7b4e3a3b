"""Client methods for Bloom's login URLs and API tokens (issue 7; Unix socket only)."""

from __future__ import annotations

from colony.client.base import ClientBase
from colony.contract_responses import ApiToken, Login, Revoked


class AuthMixin(ClientBase):
    def dashboard_url(self) -> Login:
        """A one-time Bloom login URL for the caller."""
        return self._answer(Login, "POST", "/auth/dashboard")

    def api_token(self) -> ApiToken:
        """A token for ``Authorization: Bearer`` on the HTTP listener; valid until revoked."""
        return self._answer(ApiToken, "POST", "/auth/token")

    def revoke_tokens(self) -> Revoked:
        """End every login URL, session and API token of the caller."""
        return self._answer(Revoked, "POST", "/auth/revoke")
