"""API: the audit log: query and follow, verify, export for VictoriaLogs."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from colony.api.access import sight
from colony.api.common import int_param
from colony.api.ports import Audit
from colony.core.audit import Entry
from colony.core.audit_events import Query, parse_kind, parse_since, render_jsonline

NDJSON = "application/x-ndjson"


def _query(request: Request, now: float) -> Query:
    params = request.query_params
    since = params.get("since")
    until = params.get("until")
    kind = params.get("kind")
    return Query(
        colony=params.get("colony") or None,
        kind=parse_kind(kind, "kind") if kind else None,
        user=params.get("user") or None,
        since=parse_since(since, now, "since") if since else None,
        until=parse_since(until, now, "until") if until else None,
        after=int_param(params.get("after", "0"), "after"),
    )


def routes(audit: Audit, clock: Callable[[], float]) -> list[BaseRoute]:
    def auditor() -> Audit:
        return audit

    async def entries(request: Request) -> Response:
        """
        summary: Audit entries, oldest first; with follow, an NDJSON stream that stays open.
        parameters: colony, kind, user, since (1h, 2024-05-01T10:00, unix time), until,
          after (a seq), limit (the newest N; default 100, 0 for all), follow
        responses:
          200: {description: '{"entries": [Entry]}, or one Entry per line with follow'}
          400: {description: a bad parameter}
        """
        audit = auditor()
        q = _query(request, clock())
        limit = int_param(request.query_params.get("limit", "100"), "limit")
        follow = request.query_params.get("follow", "") in ("1", "true", "yes")
        keep = _seen(request)
        if not follow:
            found = await audit.query(q, limit or None)
            return JSONResponse({"entries": [e.to_json() for e in found if keep(e)]})

        async def body() -> AsyncIterator[bytes]:
            async for entry in audit.entries(q, limit or None, follow=True):
                if keep(entry):
                    yield (json.dumps(entry.to_json()) + "\n").encode()

        return StreamingResponse(body(), media_type=NDJSON)

    async def verify(request: Request) -> JSONResponse:
        """
        summary: Check the whole hash chain and its signed checkpoints.
        responses:
          200: {description: '{ok, checked, first, problem, head, cut}'}
        """
        verdict = await auditor().verify()
        return JSONResponse(verdict.to_json())

    async def export(request: Request) -> Response:
        """
        summary: Entries as VictoriaLogs /insert/jsonline lines (_msg, _time, colony, user, kind).
        parameters: colony, kind, user, since, until
        responses:
          200: {description: one JSON object per line}
        """
        store = auditor().store
        batches = store.batches(_query(request, clock()))
        keep = _seen(request)

        async def body() -> AsyncIterator[bytes]:
            while (batch := await asyncio.to_thread(next, batches, None)) is not None:
                lines = (json.dumps(render_jsonline(e)) + "\n" for e in batch if keep(e))
                yield "".join(lines).encode()

        return StreamingResponse(body(), media_type=NDJSON)

    return [
        Route("/audit", entries, methods=["GET"]),
        Route("/audit/verify", verify, methods=["GET"]),
        Route("/audit/export", export, methods=["GET"]),
    ]


def _seen(request: Request) -> Callable[[Entry], bool]:
    """Which entries the caller may read (issue 14): an admin all; a user those of colonies
    they see, and their own actions that name no colony."""
    sees = sight(request)
    if sees.caller.admin:
        return lambda _entry: True
    return lambda e: sees.colony(e.colony) if e.colony else e.user == sees.caller.user
