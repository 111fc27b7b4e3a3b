"""API: colonies and their lifecycle, logs, URLs; gc."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from colony.api.access import sight
from colony.api.common import caller, int_param, json_body
from colony.api.ports import Agents, Colonies, Logs
from colony.contract import RemoveMany, Spawn, decode
from colony.core.access import Action
from colony.core.agents.presets import plan_run
from colony.core.config import Agent
from colony.errors import ConfigError, NotFound


def routes(
    myc: Colonies,
    book: Logs,
    link: Callable[[str, str, str], str] = lambda url, _u, _c: url,
    agents: Agents | None = None,
) -> list[BaseRoute]:
    """The colonies' routes; ``link`` makes a preview URL the first-visit link of a user for
    a colony when previews ask for proof (issue 14)."""

    async def list_colonies(request: Request) -> JSONResponse:
        """
        summary: Every colony.
        responses:
          200: {description: '{"colonies": [Colony]}'}
        """
        sees = sight(request)
        return JSONResponse({"colonies": [c for c in myc.colonies() if sees.colony(c["name"])]})

    async def spawn(request: Request) -> JSONResponse:
        """
        summary: Create and start a colony; progress follows on /events.
        requestBody:
          description: '{name, repo, rev, config, limits, sandbox, user, sockets, task, agent}'
        responses:
          202: {description: the new colony, state spawning}
          400: {description: bad name, configuration, task or agent; nothing was created}
          409: {description: a colony of that name exists}
        """
        body = decode(Spawn, await json_body(request))
        who = sight(request).caller
        if body.task is not None:  # issue 18: checked before anything is created
            if agents is None:
                raise ConfigError("task: this Mycelium runs no agents")
            plan_run(Agent(), body.agent, None, body.task)
        colony = await myc.spawn(
            body.name,
            body.repo,
            rev=body.rev,
            config=body.config,
            limits=body.limits,
            sandbox=body.sandbox,
            user=body.user,
            sockets=body.sockets,
            secrets=body.secrets,
            owner=who.user,
            owner_uid=None if who.admin else (-1 if who.uid is None else who.uid),
        )
        if body.task is not None and agents is not None:
            agents.run_when_running(body.name, body.task, preset=body.agent, user=who.user)
        return JSONResponse(colony, status_code=202)

    async def show(request: Request) -> JSONResponse:
        """
        summary: One colony in full.
        responses:
          200: {description: Colony}
          404: {description: no such colony}
        """
        return JSONResponse(myc.colony(request.path_params["name"]))

    async def action(request: Request) -> JSONResponse:
        """
        summary: Stop, start or restart a colony (returns once queued).
        responses:
          200: {description: Colony}
          409: {description: not possible in the colony's state}
        """
        kind = request.path_params["action"]
        if kind not in ("stop", "start", "restart"):
            raise NotFound(f"no action '{kind}': expected stop, start or restart")
        user = caller(request)
        return JSONResponse(await myc.request(request.path_params["name"], kind, user=user))

    async def remove(request: Request) -> JSONResponse:
        """
        summary: Remove a colony; uncommitted work is saved first, the branch is kept.
        responses:
          200: {description: '{removed, saved, branch, trash}'}
          409: {description: the colony runs and force was not given}
        """
        force = request.query_params.get("force", "") in ("1", "true", "yes")
        user = caller(request)
        return JSONResponse(await myc.remove(request.path_params["name"], force, user=user))

    async def remove_many(request: Request) -> JSONResponse:
        """
        summary: Remove several colonies at once, each as DELETE /colonies/{name} would.
        requestBody: {description: '{names, force}'}
        responses:
          200: {description: '{"results": [{name, removed, saved, branch, trash} or {name,
            error}]}, one per name in their order'}
          400: {description: names is not a non-empty array of names}
        """
        body = decode(RemoveMany, await json_body(request))
        if not body.names or not all(isinstance(n, str) for n in body.names):
            raise ConfigError(
                f"request body: names: expected a non-empty array of colony names, "
                f"got {body.names!r:.80}"
            )
        sees = sight(request)
        results = await myc.remove_many(
            body.names,
            body.force,
            user=caller(request),
            check=lambda name: sees.require(name, Action.REMOVE),
        )
        return JSONResponse({"results": results})

    async def logs(request: Request) -> Response:
        """
        summary: Log lines as NDJSON, optionally followed.
        responses:
          200: {description: 'one {"t", "source", "line"} per line'}
        """
        name = request.path_params["name"]
        myc.actor(name)
        source = request.query_params.get("service") or None
        count = int_param(request.query_params.get("lines", "200"), "lines")
        follow = request.query_params.get("follow", "") in ("1", "true", "yes")
        backlog = book.lines(name, source, count)

        async def body() -> AsyncIterator[bytes]:
            for entry in backlog:
                yield (json.dumps(entry) + "\n").encode()
            if follow:
                async for entry in book.follow(name, source):
                    yield (json.dumps(entry) + "\n").encode()

        return StreamingResponse(body(), media_type="application/x-ndjson")

    async def urls(request: Request) -> JSONResponse:
        """
        summary: Preview URLs of a colony's services.
        responses:
          200: {description: '{"urls": {service: url}}'}
        """
        name, user = request.path_params["name"], sight(request).caller.user
        urls = {s: link(url, user, name) for s, url in myc.urls(name).items()}
        return JSONResponse({"urls": urls})

    async def gc(request: Request) -> JSONResponse:
        """
        summary: Remove kernel objects and workspaces that belong to no colony.
        responses:
          200: {description: '{"removed": [{kind, name}]}'}
        """
        return JSONResponse({"removed": await myc.gc(user=caller(request))})

    return [
        Route("/colonies", list_colonies, methods=["GET"]),
        Route("/colonies", spawn, methods=["POST"]),
        Route("/colonies/remove", remove_many, methods=["POST"]),
        Route("/colonies/{name}", show, methods=["GET"]),
        Route("/colonies/{name}", remove, methods=["DELETE"]),
        Route("/colonies/{name}/{action:str}", action, methods=["POST"]),
        Route("/colonies/{name}/logs", logs, methods=["GET"]),
        Route("/colonies/{name}/urls", urls, methods=["GET"]),
        Route("/gc", gc, methods=["POST"]),
    ]
