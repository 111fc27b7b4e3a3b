"""Who else may use a colony (issue 14): ``colony share`` and ``colony unshare``."""

from __future__ import annotations

from typing import Any, Protocol

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from colony.api.common import caller, json_body
from colony.contract import Share, decode
from colony.core.access import Role, parse_role


class Sharing(Protocol):
    def listing(self, colony: str) -> dict[str, Any]: ...
    def share(self, colony: str, to: str, role: Role, *, by: str) -> dict[str, Any]: ...
    def unshare(self, colony: str, to: str, *, by: str) -> dict[str, Any]: ...


def routes(sharing: Sharing) -> list[BaseRoute]:
    async def shares(request: Request) -> JSONResponse:
        """
        summary: The colony's owner and who it is shared with, as what.
        responses:
          200: {description: '{"colony", "owner", "shares": [{"user", "role"}]}'}
          404: {description: no such colony}
        """
        return JSONResponse(sharing.listing(request.path_params["name"]))

    async def share(request: Request) -> JSONResponse:
        """
        summary: Share the colony with a user as viewer or operator (owner or admin only).
        requestBody: {content: {application/json: {example: {role: viewer}}}}
        responses:
          200: {description: the colony's shares now}
          400: {description: no such user, the owner, or an unknown role}
          403: {description: the caller may not share it}
        """
        role = parse_role(decode(Share, await json_body(request)).role)
        name, to = request.path_params["name"], request.path_params["user"]
        return JSONResponse(sharing.share(name, to, role, by=caller(request)))

    async def unshare(request: Request) -> JSONResponse:
        """
        summary: End a user's share of the colony (owner or admin only).
        responses:
          200: {description: the colony's shares now}
          404: {description: no such colony, or not shared with that user}
        """
        name, to = request.path_params["name"], request.path_params["user"]
        return JSONResponse(sharing.unshare(name, to, by=caller(request)))

    return [
        Route("/colonies/{name}/shares", shares, methods=["GET"]),
        Route("/colonies/{name}/shares/{user}", share, methods=["PUT"]),
        Route("/colonies/{name}/shares/{user}", unshare, methods=["DELETE"]),
    ]
