"""A colony's secrets (issue 17): ``colony secret set|ls|rm``. Values go in, never out."""

from __future__ import annotations

from typing import Any, Protocol

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from colony.api.common import caller, json_body
from colony.contract import SecretSet, decode


class Secrets(Protocol):
    def listing(self, colony: str) -> dict[str, Any]: ...
    async def set(
        self, colony: str, key: str, value: object, hosts: object, header: object, *, by: str
    ) -> dict[str, Any]: ...
    async def remove(self, colony: str, key: str, *, by: str) -> dict[str, Any]: ...


def routes(secrets: Secrets) -> list[BaseRoute]:
    async def listing(request: Request) -> JSONResponse:
        """
        summary: The colony's secrets, their hosts and headers; never their values.
        responses:
          200: {description: '{"colony", "secrets": [{"key", "hosts", "header"}]}'}
          404: {description: no such colony}
        """
        return JSONResponse(secrets.listing(request.path_params["name"]))

    async def put(request: Request) -> JSONResponse:
        """
        summary: Set a secret of the colony (owner or admin); a key set before keeps its
          placeholder, so the new value applies at the next request.
        requestBody: {description: '{value, hosts: [..], header}'}
        responses:
          200: {description: '{"colony", "secret": {"key", "hosts", "header"}}'}
          400: {description: a bad key, an empty value, a host that is no host name}
          404: {description: no such colony}
        """
        body = decode(SecretSet, await json_body(request))
        p = request.path_params
        done = await secrets.set(
            p["name"], p["key"], body.value, body.hosts, body.header, by=caller(request)
        )
        return JSONResponse(done)

    async def delete(request: Request) -> JSONResponse:
        """
        summary: Remove a secret of the colony (owner or admin).
        responses:
          200: {description: '{"colony", "removed"}'}
          404: {description: no such colony or secret}
        """
        p = request.path_params
        return JSONResponse(await secrets.remove(p["name"], p["key"], by=caller(request)))

    return [
        Route("/colonies/{name}/secrets", listing, methods=["GET"]),
        Route("/colonies/{name}/secrets/{key}", put, methods=["PUT"]),
        Route("/colonies/{name}/secrets/{key}", delete, methods=["DELETE"]),
    ]
