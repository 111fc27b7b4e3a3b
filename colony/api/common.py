"""Shared pieces of the API's handlers: errors, request bodies, the caller."""

from __future__ import annotations

from typing import Any

from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse

from colony.errors import ColonyError, ConfigError
from colony.host import user_name


def error_response(exc: ColonyError) -> JSONResponse:
    return JSONResponse({"error": exc.to_json()}, status_code=exc.status)


def caller(conn: HTTPConnection) -> str:
    """The user behind a request: the Unix socket peer's name, else "unknown"."""
    return user_name(getattr(conn.state, "peer_uid", None))


async def json_body(request: Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError as exc:
        raise ConfigError("request body: expected a JSON object") from exc
    if not isinstance(body, dict):
        raise ConfigError("request body: expected a JSON object")
    return body


def int_param(text: str, what: str) -> int:
    """A query parameter that counts (lines, limit, events) or names a seq: 0 or more. (A
    negative limit reached SQLite as "no limit".)"""
    try:
        value = int(text)
    except ValueError as exc:
        raise ConfigError(f"{what}: expected an integer, got {text!r}") from exc
    if value < 0:
        raise ConfigError(f"{what}: expected an integer of at least 0, got {text!r}")
    return value
