"""API: preview names in the hosts file (``colony hosts``)."""

from __future__ import annotations

import asyncio

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from colony.api.common import json_body
from colony.api.ports import Hosts
from colony.contract import HostsAction, decode
from colony.errors import ConfigError


def routes(hosts: Hosts) -> list[BaseRoute]:
    async def show(request: Request) -> JSONResponse:
        """
        summary: Which preview names the hosts file has, lacks and holds but no longer needs.
        responses:
          200: {description: '{path, present, missing, stale}'}
        """
        return JSONResponse(await asyncio.to_thread(hosts.status, hosts.names()))

    async def update(request: Request) -> JSONResponse:
        """
        summary: Add the current preview names to the hosts file, or remove Colony's block.
        requestBody: {description: '{"action": "add" | "remove"}'}
        responses:
          200: {description: '{path, present, missing, stale}'}
          400: {description: unknown action}
        """
        action = decode(HostsAction, await json_body(request)).action
        if action not in ("add", "remove"):
            raise ConfigError(f"request body: action: expected 'add' or 'remove', got {action!r}")
        wanted = hosts.names() if action == "add" else []
        return JSONResponse(await asyncio.to_thread(hosts.write, wanted))

    return [
        Route("/hosts", show, methods=["GET"]),
        Route("/hosts", update, methods=["POST"]),
    ]
