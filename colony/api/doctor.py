"""API: the installation against the security checklist (``colony doctor``)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from colony.api.ports import Doctor


def routes(doctor: Doctor, info: dict[str, Any]) -> list[BaseRoute]:
    async def checklist(request: Request) -> JSONResponse:
        """
        summary: Each item of the security checklist with its status and what to do.
        responses:
          200: {description: '{"checks": [{name, status: ok|warn|fail, detail, hint}]}'}
        """
        checks = await doctor.checks(info)
        return JSONResponse({"checks": [c.to_json() for c in checks]})

    return [Route("/doctor", checklist, methods=["GET"])]
