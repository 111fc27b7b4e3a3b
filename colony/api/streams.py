"""API: WebSocket streams: /events and exec sessions."""

from __future__ import annotations

import asyncio
import json

from starlette.routing import BaseRoute, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from colony.api.access import sight
from colony.api.common import caller
from colony.api.ports import Events, Execs, ExecSession
from colony.core.execs import ExecRequest
from colony.errors import ColonyError, ConfigError

EVENTS_FILTER = 'events: expected a JSON object such as {"colony": "web"}'


def routes(bus: Events, execs: Execs) -> list[BaseRoute]:
    async def events(ws: WebSocket) -> None:
        only: str | None = None
        sees = sight(ws)  # a user's stream carries only what they may see (issue 14)
        # Subscribe before the handshake completes: a client that connects and then makes a
        # request must see every event the request causes.
        async with bus.subscribe() as queue:
            await ws.accept()
            receiver = asyncio.ensure_future(ws.receive_json())
            getter = asyncio.ensure_future(queue.get())
            try:
                while True:
                    done, _ = await asyncio.wait({getter, receiver}, return_when="FIRST_COMPLETED")
                    if receiver in done:
                        try:
                            msg = receiver.result()
                        except (ValueError, KeyError):  # not JSON, or a binary frame
                            await ws.close(1003, EVENTS_FILTER)
                            return
                        only = msg.get("colony") if isinstance(msg, dict) else None
                        receiver = asyncio.ensure_future(ws.receive_json())
                    if getter in done:
                        event = getter.result()
                        getter = asyncio.ensure_future(queue.get())
                        if only is not None and event.get("colony") != only:
                            continue
                        if sees.event(event):
                            await ws.send_json(event)
            except (WebSocketDisconnect, RuntimeError):
                pass
            finally:
                receiver.cancel()
                getter.cancel()

    async def exec_ws(ws: WebSocket) -> None:
        await ws.accept()
        try:
            req = ExecRequest.from_json(await _start_message(ws))
            session = await execs.open(ws.path_params["name"], req, caller(ws))  # audited
        except ColonyError as exc:
            await ws.send_json({"type": "error", "error": exc.to_json()})
            await ws.close()
            return
        reader = asyncio.ensure_future(_exec_input(ws, session))
        code: int | None = None
        try:
            code = await session.pump(ws.send_bytes)
            await ws.send_json({"type": "exit", "code": code})
            await ws.close()
        except (WebSocketDisconnect, RuntimeError):
            pass
        finally:
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)
            await session.close()  # publishes the session's end (issue 5)

    return [
        WebSocketRoute("/events", events),
        WebSocketRoute("/colonies/{name}/exec", exec_ws),
    ]


async def _start_message(ws: WebSocket) -> object:
    try:
        return await ws.receive_json()
    except (ValueError, KeyError) as exc:  # not JSON, or a binary frame
        raise ConfigError("exec: expected a JSON object to start the session") from exc


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
