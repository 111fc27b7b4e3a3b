"""Client methods for agent sessions in colonies (issue 6)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from colony.client.base import ClientBase, Json, decode, seg
from colony.contract_responses import Session, Sessions

if TYPE_CHECKING:
    from colony.client.streams import LogStream


class AgentsMixin(ClientBase):
    def agent_run(
        self,
        name: str,
        task: str,
        *,
        preset: str | None = None,
        command: str | None = None,
        env: dict[str, str] | None = None,
    ) -> Session:
        """Start an agent in colony ``name``; returns the session (status "running")."""
        from colony.contract import AgentRun, to_json

        body = to_json(AgentRun(task, preset, command, env or {}))
        return self._session("POST", f"/colonies/{seg(name)}/agents/run", body=body)

    def _session(
        self, method: str, path: str, *, body: Json | None = None, params: Json | None = None
    ) -> Session:
        return self._answer(Session, method, path, body=body, params=params)

    def agent_continue(
        self,
        name: str,
        task: str = "continue",
        *,
        session: int | None = None,
        env: dict[str, str] | None = None,
    ) -> Session:
        """Continue session ``session`` (default the latest) of colony ``name``."""
        from colony.contract import AgentContinue, to_json

        body = to_json(AgentContinue(session, task, env or {}))
        return self._session("POST", f"/colonies/{seg(name)}/agents/continue", body=body)

    def agent_stop(self, name: str, session: int | None = None) -> Session:
        """Interrupt the running session (or ``session``); returns it ended."""
        path = f"/colonies/{seg(name)}/agents" + (f"/{session}" if session else "") + "/stop"
        return self._session("POST", path)

    def agent_sessions(self, name: str | None = None) -> Sessions:
        """The sessions of colony ``name``, or of every colony."""
        path = f"/colonies/{seg(name)}/agents" if name else "/agents"
        return self._answer(Sessions, "GET", path)

    def agent_session(self, name: str, session: int, events: int = 50) -> Session:
        """One session with its last ``events`` events."""
        path = f"/colonies/{seg(name)}/agents/{session}"
        return self._session("GET", path, params={"events": events})

    def agent_events(
        self, name: str, session: int, *, after: int = 0, follow: bool = False
    ) -> Iterator[Json]:
        """A session's events, oldest first; with ``follow``, until it ends (the last one has
        kind "ended"). Lazy: connects on the first ``next()``."""
        path = f"/colonies/{seg(name)}/agents/{session}/events"
        params: Json = {"after": after, "follow": "true" if follow else ""}
        for line in self._lines(path, params, None if follow else self.timeout):
            yield decode(line)

    def agent_stream(self, name: str, session: int, *, after: int = 0) -> LogStream:
        """A session's events followed until it ends (the last has kind "ended"), which
        another thread can end with ``close()`` (Stem's agent view, issue 18)."""
        from colony.client.streams import LogStream

        path = f"/colonies/{seg(name)}/agents/{session}/events"
        return LogStream(self._open_stream(path, {"after": after, "follow": "true"}, None))
