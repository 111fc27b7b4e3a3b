"""API: live resource usage of colonies (SPEC §7, ``colony top``)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from colony.api.access import sight
from colony.api.ports import Usage


def routes(usage: Usage) -> list[BaseRoute]:
    async def all_usage(request: Request) -> JSONResponse:
        """
        summary: Usage of every colony (refreshed once a second).
        responses:
          200: {description: '{"usage": [Usage]}: colony, state, level, user, at, cpu_percent,
            cpu_usec, memory, pids, io_read, io_write, oom_kills, memory_hits, pids_hits,
            limits'}
        """
        sees = sight(request)
        samples = await usage.samples(n for n in usage.names() if sees.colony(n))
        return JSONResponse({"usage": list(samples.values())})

    async def one_usage(request: Request) -> JSONResponse:
        """
        summary: Usage of one colony; cpu_percent is null until two samples exist.
        responses:
          200: {description: Usage}
          404: {description: no such colony}
        """
        return JSONResponse(await usage.sample(request.path_params["name"]))

    return [
        Route("/usage", all_usage, methods=["GET"]),
        Route("/colonies/{name}/usage", one_usage, methods=["GET"]),
    ]
