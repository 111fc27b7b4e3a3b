"""Client methods for colonies: list, spawn, stop/start, remove, URLs, logs, gc."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from colony.client.base import ClientBase, Json, decode, seg
from colony.client.streams import LogStream


class ColoniesMixin(ClientBase):
    def colonies(self) -> Json:
        """``{"colonies": [colony, ...]}``."""
        return self._request("GET", "/colonies")

    def colony(self, name: str) -> Json:
        return self._request("GET", f"/colonies/{seg(name)}")

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
    ) -> Json:
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
        return self._request("POST", "/colonies", body=to_json(body))

    def stop(self, name: str) -> Json:
        return self._request("POST", f"/colonies/{seg(name)}/stop")

    def start(self, name: str) -> Json:
        return self._request("POST", f"/colonies/{seg(name)}/start")

    def restart(self, name: str) -> Json:
        return self._request("POST", f"/colonies/{seg(name)}/restart")

    def remove(self, name: str, force: bool = False) -> Json:
        """``{"removed": name, "saved": ref | None, "branch": str | None}``."""
        params = {"force": "true"} if force else None
        return self._request("DELETE", f"/colonies/{seg(name)}", params=params)

    def remove_many(self, names: Sequence[str], force: bool = False) -> Json:
        """``{"results": [...]}``, one per name in their order: ``{"name", "removed", "saved",
        "branch", "trash", "snapshot"}``, or ``{"name", "error": {"type", "message",
        "hint"}}`` for one that could not be removed. Mycelium removes them concurrently;
        this waits as long as that takes (issue 15)."""
        from colony.contract import RemoveMany, to_json

        body = to_json(RemoveMany(list(names), force))
        return self._request("POST", "/colonies/remove", body=body, wait=None)

    def urls(self, name: str) -> Json:
        """``{"urls": {service: url}}``."""
        return self._request("GET", f"/colonies/{seg(name)}/urls")

    def gc(self) -> Json:
        """``{"removed": [{"kind", "name"}, ...]}``."""
        return self._request("POST", "/gc")

    def logs(
        self, name: str, service: str | None = None, lines: int = 200, follow: bool = False
    ) -> Iterator[Json]:
        """Log entries ``{"t", "source", "line"}``, oldest first; with ``follow``, never ends.

        Lazy: connects on the first ``next()``, so errors are raised there.
        """
        params = _log_params(service, lines, follow)
        # A followed stream may stay quiet for hours: no read timeout then.
        for line in self._lines(_logs_path(name), params, None if follow else self.timeout):
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
