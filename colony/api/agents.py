"""API: agent sessions of colonies (issue 6).

POST paths carry a verb segment (``/agents/run``) so they never meet the lifecycle route
``POST /colonies/{name}/{action}``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from colony import contract_responses as answers
from colony.api.access import sight
from colony.api.common import caller, int_param, json_body
from colony.api.ports import Agents, Events, Json
from colony.contract import AgentContinue, AgentRun, decode
from colony.core.agents.session import SessionRecord
from colony.errors import NotFound

SQLITE_MAX = 2**63 - 1


def _ended_line(final: SessionRecord) -> bytes:
    """The last line of a followed session's events: how it ended."""
    line = {"kind": "ended", "status": final.status, "exit_code": final.exit_code}
    return (json.dumps(line) + "\n").encode()


def session_json(rec: SessionRecord, events: list[dict[str, Any]] | None = None) -> Json:
    """A session as the API answers it (:class:`colony.contract_responses.Session`), with
    ``events`` (the store's rows) when given."""
    answer = answers.Session(
        id=rec.id,
        colony=rec.colony,
        agent=rec.agent,
        task=rec.task,
        argv=list(rec.argv),
        status=rec.status,
        user=rec.user,
        started=rec.started,
        ended=rec.ended,
        duration=rec.duration,
        exit_code=rec.exit_code,
        pid=rec.pid if rec.status == "running" else None,
        session_id=rec.agent_session,
        model=rec.model,
        cost=rec.cost,
        tokens_in=rec.tokens_in,
        tokens_out=rec.tokens_out,
        result=rec.result,
        is_error=rec.is_error,
        parent=rec.parent,
        brood=rec.brood,
        events=None if events is None else [answers.AgentEvent(**e) for e in events],
    )
    found: Json = answers.dump(answer)
    return found


def _ident(request: Request) -> int:
    ident = int(request.path_params["session"])
    if ident > SQLITE_MAX:  # no such session; SQLite cannot even look it up (OverflowError)
        name = request.path_params["name"]
        raise NotFound(f"colony '{name}' has no agent session {ident}")
    return ident


def routes(agents: Agents, bus: Events) -> list[BaseRoute]:
    async def run(request: Request) -> JSONResponse:
        """
        summary: Start an agent in a running colony on a task.
        requestBody: {description: '{task, preset, command, env}'}
        responses:
          202: {description: the new session, status running}
          400: {description: empty task, unknown preset, bad template; nothing started}
          409: {description: the colony is not running, or an agent already runs in it}
        """
        body = decode(AgentRun, await json_body(request))
        rec = await agents.run(
            request.path_params["name"],
            body.task,
            preset=body.preset,
            command=body.command,
            env=body.env,
            user=caller(request),
        )
        return JSONResponse(session_json(rec), status_code=202)

    async def resume(request: Request) -> JSONResponse:
        """
        summary: Continue an ended session (default the latest) with its agent's session id.
        requestBody: {description: '{session, task, env}'}
        responses:
          202: {description: the new session; its parent is the continued one}
          409: {description: the session still runs, or its agent cannot continue}
        """
        body = decode(AgentContinue, await json_body(request))
        rec = await agents.resume(
            request.path_params["name"],
            body.session,
            body.task,
            env=body.env,
            user=caller(request),
        )
        return JSONResponse(session_json(rec), status_code=202)

    async def stop(request: Request) -> JSONResponse:
        """
        summary: Interrupt a running session with its agent's signal sequence.
        responses:
          200: {description: the session, ended (status interrupted)}
          409: {description: it is not running}
        """
        ident = request.path_params.get("session")
        rec = await agents.stop(
            request.path_params["name"], None if ident is None else _ident(request)
        )
        return JSONResponse(session_json(rec))

    async def list_sessions(request: Request) -> JSONResponse:
        """
        summary: Agent sessions, of one colony or of all.
        responses:
          200: {description: '{"sessions": [Session]}'}
        """
        name = request.path_params.get("name")
        sees = sight(request)
        found = [r for r in agents.sessions_of(name) if sees.colony(r.colony)]
        return JSONResponse({"sessions": [session_json(r) for r in found]})

    async def show(request: Request) -> JSONResponse:
        """
        summary: One session with its last events.
        responses:
          200: {description: 'Session + {"events": [...]}'}
        """
        rec = agents.get(request.path_params["name"], _ident(request))
        count = int_param(request.query_params.get("events", "50"), "events")
        events = agents.sessions.events(rec.id, limit=count)
        return JSONResponse(session_json(rec, events))

    async def events(request: Request) -> Response:
        """
        summary: A session's events as NDJSON, optionally followed until it ends.
        responses:
          200: {description: 'one {"seq", "at", "kind", "text", "tool", "data"} per line, then
            {"kind": "ended", ...} when followed'}
        """
        name = request.path_params["name"]
        rec = agents.get(name, _ident(request))
        after = int_param(request.query_params.get("after", "0"), "after")
        follow = request.query_params.get("follow", "") in ("1", "true", "yes")

        async def body() -> AsyncIterator[bytes]:
            async with bus.subscribe(maxsize=0) as queue:
                seen = after
                for event in agents.sessions.events(rec.id, after=after):
                    seen = event["seq"]
                    yield (json.dumps(event) + "\n").encode()
                if not follow:
                    return
                if rec.id not in agents.live:  # it ended before its backlog was read out
                    for event in agents.sessions.events(rec.id, after=seen):
                        yield (json.dumps(event) + "\n").encode()
                    yield _ended_line(agents.get(name, rec.id))
                    return
                ended = asyncio.ensure_future(agents.wait(rec.id))
                try:
                    while True:
                        got = asyncio.ensure_future(queue.get())
                        done, _ = await asyncio.wait({got, ended}, return_when="FIRST_COMPLETED")
                        if got not in done:
                            got.cancel()
                            break
                        event = got.result()
                        if event.get("type") != "agent" or event.get("session") != rec.id:
                            continue
                        if event.get("kind") == "ended":
                            yield (json.dumps(event) + "\n").encode()
                            return
                        if event.get("seq", 0) > seen:
                            seen = event["seq"]
                            yield (json.dumps(event) + "\n").encode()
                    yield _ended_line(ended.result())
                finally:
                    ended.cancel()

        return StreamingResponse(body(), media_type="application/x-ndjson")

    return [
        Route("/agents", list_sessions, methods=["GET"]),
        Route("/colonies/{name}/agents", list_sessions, methods=["GET"]),
        Route("/colonies/{name}/agents/run", run, methods=["POST"]),
        Route("/colonies/{name}/agents/continue", resume, methods=["POST"]),
        Route("/colonies/{name}/agents/stop", stop, methods=["POST"]),
        Route("/colonies/{name}/agents/{session:int}", show, methods=["GET"]),
        Route("/colonies/{name}/agents/{session:int}/events", events, methods=["GET"]),
        Route("/colonies/{name}/agents/{session:int}/stop", stop, methods=["POST"]),
    ]
