"""Mycelium's HTTP + WebSocket API (Starlette): the routes of each noun's module, one app."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.schemas import SchemaGenerator

from colony import __version__, contract
from colony import contract_responses as answers
from colony.api import agents as agents_api  # issue 6
from colony.api import audit as audit_api  # issue 5
from colony.api import broods as broods_api  # issue 6
from colony.api import colonies, streams
from colony.api import doctor as doctor_api
from colony.api import hosts as hosts_api
from colony.api import network as network_api  # issue 4
from colony.api import review as review_api  # issue 6
from colony.api import secrets as secrets_api  # issue 17
from colony.api import shares as shares_api  # issue 14
from colony.api import usage as usage_api  # issue 3
from colony.api.access import AccessMiddleware
from colony.api.common import error_response
from colony.api.ports import ApiServices
from colony.errors import ColonyError

log = logging.getLogger("colony.api")

schemas = SchemaGenerator(
    {"openapi": "3.0.0", "info": {"title": "Mycelium", "version": __version__}}
)
# The body each operation decodes (colony.contract): /openapi.json shows its schema.
BODIES: dict[tuple[str, str], type] = {
    ("/colonies", "post"): contract.Spawn,
    ("/colonies/remove", "post"): contract.RemoveMany,
    ("/colonies/{name}/agents/run", "post"): contract.AgentRun,
    ("/colonies/{name}/agents/continue", "post"): contract.AgentContinue,
    ("/colonies/{name}/policy", "put"): contract.PolicyBody,
    ("/colonies/{name}/policy", "patch"): contract.PolicyChange,
    ("/colonies/{name}/shares/{user}", "put"): contract.Share,
    ("/colonies/{name}/secrets/{key}", "put"): contract.SecretSet,
    ("/colonies/{name}/workspace/merge", "post"): contract.Merge,
    ("/colonies/{name}/workspace/snapshots", "post"): contract.Snapshot,
    ("/colonies/{name}/workspace/undo", "post"): contract.Undo,
    ("/broods", "post"): contract.BroodSpawn,
    ("/broods/{brood}/pick", "post"): contract.Pick,
    ("/hosts", "post"): contract.HostsAction,
}


# The answer each operation sends (colony.contract_responses), by its success status.
ANSWERS: dict[tuple[str, str], tuple[str, type]] = {
    ("/colonies", "get"): ("200", answers.Colonies),
    ("/colonies", "post"): ("202", answers.Colony),
    ("/colonies/remove", "post"): ("200", answers.RemoveResults),
    ("/colonies/{name}", "get"): ("200", answers.Colony),
    ("/colonies/{name}", "delete"): ("200", answers.Removed),
    ("/colonies/{name}/{action}", "post"): ("200", answers.Colony),
    ("/colonies/{name}/urls", "get"): ("200", answers.Urls),
    ("/colonies/{name}/secrets", "get"): ("200", answers.Secrets),  # issue 17
    ("/colonies/{name}/secrets/{key}", "put"): ("200", answers.SecretStored),
    ("/colonies/{name}/secrets/{key}", "delete"): ("200", answers.SecretRemoved),
    ("/gc", "post"): ("200", answers.Collected),
    ("/usage", "get"): ("200", answers.Usage),
    ("/colonies/{name}/usage", "get"): ("200", answers.Sample),
    ("/agents", "get"): ("200", answers.Sessions),
    ("/colonies/{name}/agents", "get"): ("200", answers.Sessions),
    ("/colonies/{name}/agents/run", "post"): ("202", answers.Session),
    ("/colonies/{name}/agents/continue", "post"): ("202", answers.Session),
    ("/colonies/{name}/agents/stop", "post"): ("200", answers.Session),
    ("/colonies/{name}/agents/{session}", "get"): ("200", answers.Session),
    ("/colonies/{name}/agents/{session}/stop", "post"): ("200", answers.Session),
    ("/colonies/{name}/workspace/diff", "get"): ("200", answers.Diff),
    ("/colonies/{name}/workspace/merge", "post"): ("200", answers.Merged),
    ("/colonies/{name}/workspace/snapshots", "get"): ("200", answers.Snapshots),
    ("/colonies/{name}/workspace/snapshots", "post"): ("201", answers.Snapshot),
    ("/colonies/{name}/workspace/undo", "post"): ("200", answers.Undone),
    ("/conflicts", "get"): ("200", answers.Conflicts),
    ("/trash", "get"): ("200", answers.TrashList),
    ("/trash", "delete"): ("200", answers.Purged),
    ("/trash/{which}", "delete"): ("200", answers.Purged),
    ("/broods", "get"): ("200", answers.Broods),
    ("/broods", "post"): ("202", answers.Brood),
    ("/broods/{brood}", "get"): ("200", answers.Brood),
    ("/broods/{brood}/pick", "post"): ("200", answers.Picked),
    ("/colonies/{name}/network", "get"): ("200", answers.Network),
    ("/colonies/{name}/policy", "put"): ("200", answers.Network),
    ("/colonies/{name}/policy", "delete"): ("200", answers.Network),
    ("/colonies/{name}/policy", "patch"): ("200", answers.Network),
    ("/colonies/{name}/firewall", "get"): ("200", answers.Firewall),
    ("/audit", "get"): ("200", answers.AuditEntries),
    ("/audit/verify", "get"): ("200", answers.Verdict),
    ("/doctor", "get"): ("200", answers.Checklist),
    ("/hosts", "get"): ("200", answers.HostsStatus),
    ("/hosts", "post"): ("200", answers.HostsStatus),
    ("/colonies/{name}/shares", "get"): ("200", answers.Shares),
    ("/colonies/{name}/shares/{user}", "put"): ("200", answers.Shares),
    ("/colonies/{name}/shares/{user}", "delete"): ("200", answers.Shares),
    ("/auth/dashboard", "post"): ("200", answers.Login),
    ("/auth/token", "post"): ("200", answers.ApiToken),
    ("/auth/revoke", "post"): ("200", answers.Revoked),
    ("/broods/{brood}", "delete"): ("200", answers.BroodRemoved),
    ("/trash/{which}/restore", "post"): ("202", answers.Colony),
}


def with_bodies(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` with each operation's request body as :data:`BODIES` defines it, and its
    answer as :data:`ANSWERS` does (the answers' schemas under ``components``)."""
    paths = schema.get("paths", {})
    for (path, method), body in BODIES.items():
        op = paths.get(path, {}).get(method)
        if op is not None:
            described = {k: v for k, v in op.get("requestBody", {}).items() if k == "description"}
            content = {"application/json": {"schema": contract.json_schema(body)}}
            op["requestBody"] = {**described, "required": True, "content": content}
    for (path, method), (status, answer) in ANSWERS.items():
        op = paths.get(path, {}).get(method)
        if op is not None:
            response = op.setdefault("responses", {}).setdefault(status, {})
            response.setdefault("description", answer.__name__)
            response["content"] = {"application/json": {"schema": answers.schema_of(answer)}}
    schema.setdefault("components", {})["schemas"] = answers.schemas()
    return schema


def create_app(
    services: ApiServices,
    *,
    on_stop: Callable[[], None],
    info: dict[str, Any],
    extra: Sequence[BaseRoute] = (),
) -> Starlette:
    """The API over the daemon's ``services``. ``on_stop`` asks the daemon to shut down;
    ``extra`` routes are added (the Unix socket's token routes, issue 7)."""
    s = services

    async def health(request: Request) -> JSONResponse:
        """
        summary: Whether Mycelium answers, with its settings.
        responses:
          200: {description: version, pid, proxy port, prefix}
        """
        return JSONResponse(
            {
                "ok": True,
                "version": __version__,
                "pid": os.getpid(),
                "proxy_port": s.proxy_port,
                **info,
            }
        )

    async def stop_daemon(request: Request) -> JSONResponse:
        """
        summary: Shut Mycelium down; colonies keep running and are adopted on the next start.
        responses:
          200: {description: '{"stopping": true}'}
        """
        on_stop()
        return JSONResponse({"stopping": True})

    async def openapi(request: Request) -> Response:
        return JSONResponse(with_bodies(schemas.get_schema(routes=request.app.routes)))

    routes: list[BaseRoute] = [
        Route("/health", health, methods=["GET"]),
        Route("/daemon/stop", stop_daemon, methods=["POST"]),
        Route("/openapi.json", openapi, methods=["GET"], include_in_schema=False),
        *colonies.routes(s.colonies, s.logs, s.gate.link, s.agents),
        *doctor_api.routes(s.doctor, info),
        *hosts_api.routes(s.hosts),
        *streams.routes(s.bus, s.execs),
        *network_api.routes(s.colonies, s.network),
        *usage_api.routes(s.usage),
        *audit_api.routes(s.audit, s.clock),
        *agents_api.routes(s.agents, s.bus),
        *review_api.routes(s.review, s.conflicts, s.trash),
        *broods_api.routes(s.broods),
        *shares_api.routes(s.access),
        *secrets_api.routes(s.secrets),
        *extra,
    ]

    async def colony_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ColonyError)
        return error_response(exc)

    async def internal_error(request: Request, exc: Exception) -> Response:
        log.exception("internal error on %s %s", request.method, request.url.path)
        return error_response(ColonyError(f"internal error: {exc!r}"))

    return Starlette(
        routes=routes,
        exception_handlers={ColonyError: colony_error, Exception: internal_error},
        middleware=[Middleware(AccessMiddleware, directory=s.access)],
    )
