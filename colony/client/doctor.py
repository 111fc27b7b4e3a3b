"""Client method for the security checklist (``colony doctor``)."""

from __future__ import annotations

from colony.client.base import ClientBase, Json


class DoctorMixin(ClientBase):
    def doctor(self) -> Json:
        """``{"checks": [{name, status, detail, hint}]}``: the security checklist."""
        return self._request("GET", "/doctor")
