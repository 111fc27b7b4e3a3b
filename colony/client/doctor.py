"""Client method for the security checklist (``colony doctor``)."""

from __future__ import annotations

from colony.client.base import ClientBase
from colony.contract_responses import Checklist


class DoctorMixin(ClientBase):
    def doctor(self) -> Checklist:
        """The security checklist."""
        return self._answer(Checklist, "GET", "/doctor")
