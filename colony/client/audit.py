"""Client methods for the audit log (issue 5)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from colony.client.base import ClientBase, Json, decode


class AuditMixin(ClientBase):
    def audit(self, *, limit: int = 100, **filters: Any) -> Json:
        """``{"entries": [entry, ...]}``, oldest first: the newest ``limit`` (0: all) matching
        ``filters`` (colony, kind, user, since, until as unix time or text, after a seq)."""
        return self._request("GET", "/audit", params={**_given(filters), "limit": limit})

    def audit_follow(self, *, limit: int = 100, **filters: Any) -> Iterator[Json]:
        """Like :meth:`audit`, one entry at a time, then new entries as they come; never ends.

        Lazy: connects on the first ``next()``, so errors are raised there.
        """
        params = {**_given(filters), "limit": limit, "follow": "true"}
        for line in self._lines("/audit", params, None):
            yield decode(line)

    def audit_verify(self) -> Json:
        """``{"ok", "checked", "first", "problem", "head", "cut"}``."""
        return self._request("GET", "/audit/verify")

    def audit_export(self, **filters: Any) -> Iterator[str]:
        """VictoriaLogs JSON lines (without newlines) of the matching entries, oldest first."""
        yield from self._lines("/audit/export", _given(filters), self.timeout)


def _given(filters: Json) -> Json:
    return {k: v for k, v in filters.items() if v is not None}
