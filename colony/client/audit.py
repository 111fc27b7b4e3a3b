"""Client methods for the audit log (issue 5)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from colony.client.base import ClientBase, Json, decode
from colony.contract_responses import AuditEntries, AuditEntry, Verdict, load


class AuditMixin(ClientBase):
    def audit(self, *, limit: int = 100, **filters: Any) -> AuditEntries:
        """The entries, oldest first: the newest ``limit`` (0: all) matching ``filters``
        (colony, kind, user, since, until as unix time or text, after a seq)."""
        params = {**_given(filters), "limit": limit}
        return self._answer(AuditEntries, "GET", "/audit", params=params)

    def audit_follow(self, *, limit: int = 100, **filters: Any) -> Iterator[AuditEntry]:
        """Like :meth:`audit`, one entry at a time, then new entries as they come; never ends.

        Lazy: connects on the first ``next()``, so errors are raised there.
        """
        params = {**_given(filters), "limit": limit, "follow": "true"}
        for line in self._lines("/audit", params, None):
            yield load(AuditEntry, decode(line), "GET /audit?follow=true")

    def audit_verify(self) -> Verdict:
        return self._answer(Verdict, "GET", "/audit/verify")

    def audit_export(self, **filters: Any) -> Iterator[str]:
        """VictoriaLogs JSON lines (without newlines) of the matching entries, oldest first."""
        yield from self._lines("/audit/export", _given(filters), self.timeout)


def _given(filters: Json) -> Json:
    return {k: v for k, v in filters.items() if v is not None}
