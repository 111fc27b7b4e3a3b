"""API: broods (issue 6): one objective given to N colonies, ranked, one picked."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from colony.api.access import sight
from colony.api.common import caller, json_body
from colony.api.ports import Broods
from colony.contract import BroodSpawn, Pick, decode
from colony.core.access import Action


def routes(broods: Broods) -> list[BaseRoute]:
    async def spawn(request: Request) -> JSONResponse:
        """
        summary: Create a brood; its colonies spawn now, agents follow as slots free up.
        requestBody: {description: '{objective, count, repo, agent, command, max_parallel, rev,
          config, name, env}'}
        responses:
          202: {description: 'Brood with "members"'}
          400: {description: bad objective, count, agent, repository or revision; nothing made}
        """
        body = decode(BroodSpawn, await json_body(request))
        who = sight(request).caller
        brood = await broods.spawn(
            body.objective,
            body.count,
            repo=body.repo,
            agent=body.agent,
            command=body.command,
            max_parallel=body.max_parallel,
            rev=body.rev,
            config=body.config,
            name=body.name,
            env=body.env,
            user=who.user,
            user_uid=None if who.admin else (-1 if who.uid is None else who.uid),
        )
        return JSONResponse(brood, status_code=202)

    async def list_broods(request: Request) -> JSONResponse:
        """
        summary: Every brood with its ranked members.
        responses:
          200: {description: '{"broods": [Brood]}'}
        """
        sees = sight(request)
        return JSONResponse({"broods": [b for b in broods.all() if sees.owns(b.get("owner"))]})

    async def show(request: Request) -> JSONResponse:
        """
        summary: One brood; members ranked best first (check, status, diff size, time, cost).
        responses:
          200: {description: 'Brood with "members"'}
        """
        return JSONResponse(broods.show(request.path_params["brood"]))

    async def pick(request: Request) -> JSONResponse:
        """
        summary: Merge one member (default the best ranked) and move the others to the trash.
        requestBody: {description: '{colony, squash, into, force}'}
        responses:
          200: {description: '{brood, picked, merge, trashed}'}
          409: {description: members still run, or the merge would conflict; nothing changed}
        """
        body = decode(Pick, await json_body(request))
        result = await broods.pick(
            request.path_params["brood"],
            body.colony,
            squash=body.squash,
            into=body.into,
            force=body.force,
            user=caller(request),
        )
        return JSONResponse(result)

    async def remove(request: Request) -> JSONResponse:
        """
        summary: Remove a brood and its colonies (concurrently; their work to the trash).
        responses:
          200: {description: '{brood, removed, results}: one result per colony, as POST
            /colonies/remove; removed false (the brood stays) if any could not be removed'}
          404: {description: no such brood}
        """
        sees = sight(request)
        result = await broods.remove(
            request.path_params["brood"],
            force=request.query_params.get("force", "") in ("1", "true", "yes"),
            user=caller(request),
            check=lambda name: sees.require(name, Action.REMOVE),
        )
        return JSONResponse(result)

    return [
        Route("/broods", list_broods, methods=["GET"]),
        Route("/broods", spawn, methods=["POST"]),
        Route("/broods/{brood}", show, methods=["GET"]),
        Route("/broods/{brood}", remove, methods=["DELETE"]),
        Route("/broods/{brood}/pick", pick, methods=["POST"]),
    ]
