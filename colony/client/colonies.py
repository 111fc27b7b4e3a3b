"""Client methods for colonies: list, spawn, stop/start, remove, URLs, logs, gc."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from colony.client.base import ClientBase, Json, decode, seg
from colony.client.streams import LogStream
from colony.contract_responses import (
    Collected,
    Colonies,
    Colony,
    Removed,
    RemoveResults,
    Urls,
)


class ColoniesMixin(ClientBase):
    def colonies(self) -> Colonies:
        return self._answer(Colonies, "GET", "/colonies")

    def colony(self, name: str) -> Colony:
        return self._colony("GET", f"/colonies/{seg(name)}")

    def _colony(self, method: str, path: str, body: Json | None = None) -> Colony:
        return self._answer(Colony, method, path, body=body)

    def spawn(
        self,
        name: str,
        repo: str | Path,
        rev: str | None = None,
        config: str | Path | None = None,
        limits: dict[str, Any] | None = None,
        sandbox: str | None = None,
        user: str | None = None,
        sockets: list[str] | None = None,
        secrets: dict[str, str] | None = None,
    ) -> Colony:
        """Ask for a new colony; returns it in state "spawning" (progress comes on /events).
        ``secrets``: values of colony.toml's ``[secrets.KEY]`` (issue 17)."""
        from colony.contract import Spawn, to_json

        body = Spawn(
            name,
            str(Path(repo).absolute()),
            rev=rev,
            config=None if config is None else str(Path(config).absolute()),
            limits=limits,
            sandbox=sandbox,
            user=user,
            sockets=sockets,
            secrets=secrets,
        )
        return self._colony("POST", "/colonies", to_json(body))

    def stop(self, name: str) -> Colony:
        return self._colony("POST", f"/colonies/{seg(name)}/stop")

    def start(self, name: str) -> Colony:
        return self._colony("POST", f"/colonies/{seg(name)}/start")

    def restart(self, name: str) -> Colony:
        return self._colony("POST", f"/colonies/{seg(name)}/restart")

    def remove(self, name: str, force: bool = False) -> Removed:
        params = {"force": "true"} if force else None
        path = f"/colonies/{seg(name)}"
        return self._answer(Removed, "DELETE", path, params=params)

    def remove_many(self, names: Sequence[str], force: bool = False) -> RemoveResults:
        """One result per name in their order: what :meth:`remove` says, or an ``error``
        for one that could not be removed. Mycelium removes them concurrently; this waits as
        long as that takes (issue 15)."""
        from colony.contract import RemoveMany, to_json

        body = to_json(RemoveMany(list(names), force))
        return self._answer(RemoveResults, "POST", "/colonies/remove", body=body, wait=None)

    def urls(self, name: str) -> Urls:
        path = f"/colonies/{seg(name)}/urls"
        return self._answer(Urls, "GET", path)

    def gc(self) -> Collected:
        return self._answer(Collected, "POST", "/gc")

    def logs(
        self, name: str, service: str | None = None, lines: int = 200, follow: bool = False
    ) -> Iterator[Json]:
        """Log entries ``{"t", "source", "line"}``, oldest first; with ``follow``, never ends.

        Lazy: connects on the first ``next()``, so errors are raised there.
        """
        params = _log_params(service, lines, follow)
        if not follow:  # the whole body at once, without loading httpx (issue 15)
            yield from map(decode, self._body_lines(_logs_path(name), params))
            return
        # A followed stream may stay quiet for hours: no read timeout then.
        for line in self._lines(_logs_path(name), params, None):
            yield decode(line)

    def log_stream(self, name: str, service: str | None = None, lines: int = 200) -> LogStream:
        """A followed log that another thread can end with ``close()`` (Stem, issue 7)."""
        params = _log_params(service, lines, follow=True)
        return LogStream(self._open_stream(_logs_path(name), params, None))


def _logs_path(name: str) -> str:
    return f"/colonies/{seg(name)}/logs"


def _log_params(service: str | None, lines: int, follow: bool) -> Json:
    params: Json = {"lines": lines}
    if service:
        params["service"] = service
    if follow:
        params["follow"] = "true"
    return params
