"""Mycelium's HTTP + WebSocket API (Starlette). One routes list; handlers stay small."""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import AsyncIterator, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route, WebSocketRoute
from starlette.schemas import SchemaGenerator
from starlette.websockets import WebSocket, WebSocketDisconnect

from colony import __version__
from colony.daemon.execs import ExecRequest, ExecSession
from colony.daemon.mycelium import Mycelium, user_name
from colony.errors import ColonyError, ConfigError, NotFound

log = logging.getLogger("colony.api")

schemas = SchemaGenerator(
    {"openapi": "3.0.0", "info": {"title": "Mycelium", "version": __version__}}
)


def error_response(exc: ColonyError) -> JSONResponse:
    return JSONResponse({"error": exc.to_json()}, status_code=exc.status)


def create_app(myc: Mycelium, *, on_stop: Callable[[], None], info: dict[str, Any]) -> Starlette:
    """The API over ``myc``. ``on_stop`` asks the daemon to shut down."""

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
                "proxy_port": myc.ctx.proxy_port,
                **info,
            }
        )

    async def list_colonies(request: Request) -> JSONResponse:
        """
        summary: Every colony.
        responses:
          200: {description: '{"colonies": [Colony]}'}
        """
        return JSONResponse({"colonies": myc.colonies()})

    async def spawn(request: Request) -> JSONResponse:
        """
        summary: Create and start a colony; progress follows on /events.
        requestBody: {description: '{name, repo, rev, config, limits, sandbox}'}
        responses:
          202: {description: the new colony, state spawning}
          400: {description: bad name or configuration; nothing was created}
          409: {description: a colony of that name exists}
        """
        body = await _json(request)
        owner = (
            user_name(request.state.peer_uid) if hasattr(request.state, "peer_uid") else "unknown"
        )
        colony = await myc.spawn(
            _field(body, "name", str),
            _field(body, "repo", str),
            rev=_field(body, "rev", str, None),
            config=_field(body, "config", str, None),
            limits=_field(body, "limits", dict, None),
            sandbox=_field(body, "sandbox", str, None),
            owner=owner,
        )
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
        return JSONResponse(await myc.request(request.path_params["name"], kind))

    async def remove(request: Request) -> JSONResponse:
        """
        summary: Remove a colony; uncommitted work is saved first, the branch is kept.
        responses:
          200: {description: '{removed, saved, branch, trash}'}
          409: {description: the colony runs and force was not given}
        """
        force = request.query_params.get("force", "") in ("1", "true", "yes")
        return JSONResponse(await myc.remove(request.path_params["name"], force))

    async def logs(request: Request) -> Response:
        """
        summary: Log lines as NDJSON, optionally followed.
        responses:
          200: {description: 'one {"t", "source", "line"} per line'}
        """
        name = request.path_params["name"]
        myc.actor(name)
        source = request.query_params.get("service") or None
        count = _int(request.query_params.get("lines", "200"), "lines")
        follow = request.query_params.get("follow", "") in ("1", "true", "yes")
        backlog = myc.ctx.logs.lines(name, source, count)

        async def body() -> AsyncIterator[bytes]:
            for entry in backlog:
                yield (json.dumps(entry) + "\n").encode()
            if follow:
                async for entry in myc.ctx.logs.follow(name, source):
                    yield (json.dumps(entry) + "\n").encode()

        return StreamingResponse(body(), media_type="application/x-ndjson")

    async def urls(request: Request) -> JSONResponse:
        """
        summary: Preview URLs of a colony's services.
        responses:
          200: {description: '{"urls": {service: url}}'}
        """
        return JSONResponse({"urls": myc.urls(request.path_params["name"])})

    async def gc(request: Request) -> JSONResponse:
        """
        summary: Remove kernel objects and workspaces that belong to no colony.
        responses:
          200: {description: '{"removed": [{kind, name}]}'}
        """
        return JSONResponse({"removed": await myc.gc()})

    async def stop_daemon(request: Request) -> JSONResponse:
        """
        summary: Shut Mycelium down; colonies keep running and are adopted on the next start.
        responses:
          200: {description: '{"stopping": true}'}
        """
        on_stop()
        return JSONResponse({"stopping": True})

    async def openapi(request: Request) -> Response:
        return schemas.OpenAPIResponse(request=request)

    async def events(ws: WebSocket) -> None:
        await ws.accept()
        only: str | None = None
        async with myc.ctx.bus.subscribe() as queue:
            receiver = asyncio.ensure_future(ws.receive_json())
            try:
                while True:
                    getter = asyncio.ensure_future(queue.get())
                    done, _ = await asyncio.wait({getter, receiver}, return_when="FIRST_COMPLETED")
                    if receiver in done:
                        getter.cancel()
                        msg = receiver.result()
                        only = msg.get("colony") if isinstance(msg, dict) else None
                        receiver = asyncio.ensure_future(ws.receive_json())
                        continue
                    event = getter.result()
                    if only is None or event.get("colony") == only:
                        await ws.send_json(event)
            except (WebSocketDisconnect, RuntimeError):
                pass
            finally:
                receiver.cancel()

    async def exec_ws(ws: WebSocket) -> None:
        await ws.accept()
        session: ExecSession | None = None
        try:
            req = ExecRequest.from_json(await ws.receive_json())
            session = ExecSession(myc.actor(ws.path_params["name"]), req)
            await session.start()
        except ColonyError as exc:
            await ws.send_json({"type": "error", "error": exc.to_json()})
            await ws.close()
            if session is not None:
                await session.close()
            return
        reader = asyncio.ensure_future(_exec_input(ws, session))
        try:
            code = await session.pump(ws.send_bytes)
            await ws.send_json({"type": "exit", "code": code})
            await ws.close()
        except (WebSocketDisconnect, RuntimeError):
            pass
        finally:
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)
            await session.close()

    routes = [
        Route("/health", health, methods=["GET"]),
        Route("/colonies", list_colonies, methods=["GET"]),
        Route("/colonies", spawn, methods=["POST"]),
        Route("/colonies/{name}", show, methods=["GET"]),
        Route("/colonies/{name}", remove, methods=["DELETE"]),
        Route("/colonies/{name}/{action:str}", action, methods=["POST"]),
        Route("/colonies/{name}/logs", logs, methods=["GET"]),
        Route("/colonies/{name}/urls", urls, methods=["GET"]),
        Route("/gc", gc, methods=["POST"]),
        Route("/daemon/stop", stop_daemon, methods=["POST"]),
        Route("/openapi.json", openapi, methods=["GET"], include_in_schema=False),
        WebSocketRoute("/events", events),
        WebSocketRoute("/colonies/{name}/exec", exec_ws),
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
    )


async def _exec_input(ws: WebSocket, session: ExecSession) -> None:
    while True:
        msg = await ws.receive()
        if msg["type"] == "websocket.disconnect":
            return
        if msg.get("bytes"):
            data = msg["bytes"]
            if data[:1] == b"\x00":
                session.write(data[1:])
        elif msg.get("text"):
            ctl = json.loads(msg["text"])
            if ctl.get("type") == "resize":
                session.resize(int(ctl.get("cols", 80)), int(ctl.get("rows", 24)))
            elif ctl.get("type") == "eof":
                session.close_stdin()


async def _json(request: Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError as exc:
        raise ConfigError("request body: expected a JSON object") from exc
    if not isinstance(body, dict):
        raise ConfigError("request body: expected a JSON object")
    return body


_MISSING = object()


def _field(body: dict[str, Any], key: str, kind: type, default: Any = _MISSING) -> Any:
    value = body.get(key)
    if value is None:
        if default is _MISSING:
            raise ConfigError(f"request body: {key}: required")
        return default
    if not isinstance(value, kind):
        raise ConfigError(f"request body: {key}: expected {kind.__name__}, got {value!r}")
    return value


def _int(text: str, what: str) -> int:
    try:
        return int(text)
    except ValueError as exc:
        raise ConfigError(f"{what}: expected an integer, got {text!r}") from exc
