"""Typed client of the Mycelium API over its Unix socket; the CLI and the TUI use it.

Every method returns the decoded JSON body exactly as the API documents it. API errors
(``{"error": {...}}``) become the matching :mod:`colony.errors` class, and a daemon that does
not answer becomes :class:`DaemonUnavailable`; both are mapped in one place below.

Example:
    >>> with ensure_daemon(default_socket()) as client:
    ...     [c["name"] for c in client.colonies()["colonies"]]
    ['shop']
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import Any, Self
from urllib.parse import quote

import httpx
from websockets.exceptions import (
    ConnectionClosed,
    ConnectionClosedOK,
    InvalidStatus,
    WebSocketException,
)
from websockets.sync.client import ClientConnection, unix_connect

from colony import host
from colony.errors import ERROR_TYPES, ColonyError

Json = dict[str, Any]
BASE_URL = "http://mycelium"
START_HINT = "start it with 'colony daemon start'"
LOG_HINT = "see the daemon's log (mycelium.log in its state directory)"
START_TIMEOUT = 10.0

# Popen objects of daemons this process started: kept so their __del__ does not warn that a
# (deliberately detached) child is still running.
_STARTED: list[Any] = []


class DaemonUnavailable(ColonyError):
    """Mycelium does not answer on its socket: not started, gone, or it dropped the connection."""


# --- defaults -----------------------------------------------------------------------------


def default_state_dir() -> Path:
    """$COLONY_STATE_DIR, else /var/lib/colony as root, else ~/.local/state/colony."""
    if env := os.environ.get("COLONY_STATE_DIR"):
        return Path(env)
    if host.is_root():
        return Path("/var/lib/colony")
    return Path.home() / ".local" / "state" / "colony"


def default_socket(state_dir: Path | None = None) -> Path:
    """$COLONY_SOCKET, else ``<state dir>/mycelium.sock``."""
    if env := os.environ.get("COLONY_SOCKET"):
        return Path(env)
    return (state_dir or default_state_dir()) / "mycelium.sock"


# --- error mapping (the one place) --------------------------------------------------------


def error_from_json(body: object, *, fallback: str) -> ColonyError:
    """The ColonyError an API error body ``{"error": {"type", "message", "hint"}}`` describes.

    A body without that shape (a crash page, a proxy) gives a ColonyError with ``fallback``.
    """
    err = body.get("error") if isinstance(body, dict) else None
    if not isinstance(err, dict):
        return ColonyError(fallback, hint=LOG_HINT)
    cls = ERROR_TYPES.get(str(err.get("type")), ColonyError)
    hint = err.get("hint")
    return cls(str(err.get("message") or fallback), hint=hint if isinstance(hint, str) else None)


def _error_from_response(status: int, content: bytes, what: str) -> ColonyError:
    try:
        body: object = json.loads(content)
    except ValueError:
        body = None
    return error_from_json(body, fallback=f"Mycelium answered {status} to {what}")


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: BaseException | None = exc
    while seen is not None:
        yield seen
        seen = seen.__cause__ or seen.__context__


def _close_failed_sockets(exc: BaseException) -> None:
    # httpcore 1.0 does not close a Unix socket whose connect() failed; it would warn
    # (ResourceWarning) when collected. Close it from the frame that made it.
    for link in _chain(exc):
        tb = link.__traceback__
        while tb is not None:
            for value in tb.tb_frame.f_locals.values():
                if isinstance(value, socket.socket):
                    value.close()
            tb = tb.tb_next


@contextlib.contextmanager
def _mapped(socket_path: Path, what: str) -> Iterator[None]:
    """Turn transport failures while talking to Mycelium into ColonyErrors."""
    try:
        yield
    except InvalidStatus as exc:  # the WebSocket handshake was answered with an HTTP error
        raise _error_from_response(
            exc.response.status_code, bytes(exc.response.body), what
        ) from exc
    except (httpx.TimeoutException, TimeoutError) as exc:
        raise ColonyError(f"Mycelium did not answer {what} in time", hint=LOG_HINT) from exc
    except (httpx.ConnectError, OSError) as exc:
        _close_failed_sockets(exc)
        cause = next((e for e in _chain(exc) if isinstance(e, OSError)), None)
        if isinstance(cause, PermissionError):
            raise ColonyError(
                f"no permission to use Mycelium's socket {socket_path}",
                hint="run as the user that started Mycelium (or with sudo)",
            ) from exc
        if isinstance(cause, FileNotFoundError | ConnectionRefusedError) or isinstance(
            exc, httpx.ConnectError
        ):
            raise DaemonUnavailable(
                f"Mycelium is not running (nothing answers on {socket_path})", hint=START_HINT
            ) from exc
        raise DaemonUnavailable(f"lost the connection to Mycelium: {exc}", hint=LOG_HINT) from exc
    except (httpx.TransportError, WebSocketException) as exc:
        raise DaemonUnavailable(
            f"lost the connection to Mycelium during {what}: {exc or type(exc).__name__}",
            hint=LOG_HINT,
        ) from exc


def _decode(message: str | bytes) -> Json:
    data = json.loads(message)
    if not isinstance(data, dict):
        raise ColonyError(f"Mycelium sent an unexpected message: {str(data)[:80]}", hint=LOG_HINT)
    return data


# --- HTTP ---------------------------------------------------------------------------------


class Client:
    """The Mycelium API on a Unix socket.

    Example:
        >>> with Client("/var/lib/colony/mycelium.sock") as client:
        ...     client.spawn("web", "/home/me/shop")["state"]
        'spawning'
    """

    def __init__(self, socket_path: str | Path, *, timeout: float = 30) -> None:
        self.socket_path = Path(socket_path)
        self.timeout = timeout
        self._http = httpx.Client(
            transport=httpx.HTTPTransport(uds=str(self.socket_path)),
            base_url=BASE_URL,
            timeout=timeout,
            trust_env=False,
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _request(
        self, method: str, path: str, *, body: Json | None = None, params: Json | None = None
    ) -> Json:
        what = f"{method} {path}"
        with _mapped(self.socket_path, what):
            response = self._http.request(method, path, json=body, params=params)
        if response.status_code >= 400:
            raise _error_from_response(response.status_code, response.content, what)
        try:
            return _decode(response.content)
        except ValueError as exc:
            raise ColonyError(f"Mycelium answered {what} with invalid JSON", hint=LOG_HINT) from exc

    def health(self) -> Json:
        return self._request("GET", "/health")

    def colonies(self) -> Json:
        """``{"colonies": [colony, ...]}``."""
        return self._request("GET", "/colonies")

    def colony(self, name: str) -> Json:
        return self._request("GET", f"/colonies/{_seg(name)}")

    def spawn(
        self,
        name: str,
        repo: str | Path,
        rev: str | None = None,
        config: str | Path | None = None,
        limits: dict[str, Any] | None = None,
        sandbox: str | None = None,
    ) -> Json:
        """Ask for a new colony; returns it in state "spawning" (progress comes on /events)."""
        body: Json = {
            "name": name,
            "repo": str(Path(repo).absolute()),
            "rev": rev,
            "config": None if config is None else str(Path(config).absolute()),
            "limits": limits,
            "sandbox": sandbox,
        }
        return self._request("POST", "/colonies", body=body)

    def stop(self, name: str) -> Json:
        return self._request("POST", f"/colonies/{_seg(name)}/stop")

    def start(self, name: str) -> Json:
        return self._request("POST", f"/colonies/{_seg(name)}/start")

    def restart(self, name: str) -> Json:
        return self._request("POST", f"/colonies/{_seg(name)}/restart")

    def remove(self, name: str, force: bool = False) -> Json:
        """``{"removed": name, "saved": ref | None, "branch": str | None}``."""
        params = {"force": "true"} if force else None
        return self._request("DELETE", f"/colonies/{_seg(name)}", params=params)

    def urls(self, name: str) -> Json:
        """``{"urls": {service: url}}``."""
        return self._request("GET", f"/colonies/{_seg(name)}/urls")

    def gc(self) -> Json:
        """``{"removed": [{"kind", "name"}, ...]}``."""
        return self._request("POST", "/gc")

    def stop_daemon(self) -> Json:
        return self._request("POST", "/daemon/stop")

    def logs(
        self, name: str, service: str | None = None, lines: int = 200, follow: bool = False
    ) -> Iterator[Json]:
        """Log entries ``{"t", "source", "line"}``, oldest first; with ``follow``, never ends.

        Lazy: connects on the first ``next()``, so errors are raised there.
        """
        path = f"/colonies/{_seg(name)}/logs"
        params: Json = {"lines": lines}
        if service:
            params["service"] = service
        if follow:
            params["follow"] = "true"
        # A followed stream may stay quiet for hours: no read timeout then.
        timeout = httpx.Timeout(self.timeout, read=None) if follow else httpx.Timeout(self.timeout)
        with (
            _mapped(self.socket_path, f"GET {path}"),
            self._http.stream("GET", path, params=params, timeout=timeout) as response,
        ):
            if response.status_code >= 400:
                response.read()
                raise _error_from_response(response.status_code, response.content, f"GET {path}")
            for line in response.iter_lines():
                if line.strip():
                    yield _decode(line)

    # --- WebSockets -------------------------------------------------------------------------

    def _connect(self, path: str) -> ClientConnection:
        with _mapped(self.socket_path, f"WebSocket {path}"):
            return unix_connect(
                str(self.socket_path),
                f"ws://mycelium{path}",
                legacy=True,
                open_timeout=self.timeout,
                max_size=None,
            )

    def events(self, colony: str | None = None) -> EventStream:
        """Subscribe to /events; the subscription is live when this returns.

        Example:
            >>> with client.events("web") as events:
            ...     client.stop("web")
            ...     events.recv(timeout=5)["state"]
            'stopping'
        """
        conn = self._connect("/events")
        if colony is not None:
            with _mapped(self.socket_path, "WebSocket /events"):
                conn.send(json.dumps({"colony": colony}))
        return EventStream(conn, colony)

    def exec_session(
        self,
        name: str,
        argv: list[str] | None,
        *,
        env: dict[str, str] | None = None,
        tty: bool = False,
        cols: int = 80,
        rows: int = 24,
    ) -> ExecSession:
        """Start ``argv`` (None: the colony's [terminal] command) inside colony ``name``.

        Example:
            >>> with client.exec_session("web", ["ls"]) as run:
            ...     while (chunk := run.recv()) is not None:
            ...         print(chunk)
            ...     run.exit_code
            ('stdout', b'README.md\\n')
            0
        """
        path = f"/colonies/{_seg(name)}/exec"
        conn = self._connect(path)
        start = {"argv": argv, "env": env or {}, "tty": tty, "cols": cols, "rows": rows}
        with _mapped(self.socket_path, f"WebSocket {path}"):
            conn.send(json.dumps(start))
        return ExecSession(conn, name)

    # --- issue 7: Bloom's tokens (Unix socket only) -------------------------------------------

    def dashboard_url(self) -> Json:
        """A one-time Bloom login URL for the caller: ``{"url", "user", "expires"}``."""
        return self._request("POST", "/auth/dashboard")

    def api_token(self) -> Json:
        """A token for ``Authorization: Bearer`` on the HTTP listener: ``{"token", "user",
        "url"}``; valid until revoked."""
        return self._request("POST", "/auth/token")

    def revoke_tokens(self) -> Json:
        """End every login URL, session and API token of the caller: ``{"revoked", "user"}``."""
        return self._request("POST", "/auth/revoke")

    def log_stream(self, name: str, service: str | None = None, lines: int = 200) -> LogStream:
        """A followed log that another thread can end with ``close()`` (Stem, issue 7)."""
        path = f"/colonies/{_seg(name)}/logs"
        params: Json = {"lines": lines, "follow": "true"}
        if service:
            params["service"] = service
        timeout = httpx.Timeout(self.timeout, read=None)  # a quiet log is no error
        request = self._http.build_request("GET", path, params=params, timeout=timeout)
        with _mapped(self.socket_path, f"GET {path}"):
            response = self._http.send(request, stream=True)
        if response.status_code >= 400:
            response.read()
            response.close()
            raise _error_from_response(response.status_code, response.content, f"GET {path}")
        return LogStream(response)

    # --- issue 4: network policy and connection records ---------------------------------------

    def network(self, name: str, limit: int = 50) -> Json:
        """A colony's policy, resolved names, counters and its last ``limit`` records."""
        return self._request("GET", f"/colonies/{_seg(name)}/network", params={"limit": limit})

    def set_policy(
        self, name: str, egress: str, allow: list[str] | None = None, deny: list[str] | None = None
    ) -> Json:
        """Replace the colony's egress policy live; the network view with ``"warnings"``."""
        body: Json = {"egress": egress, "allow": allow or [], "deny": deny or []}
        return self._request("PUT", f"/colonies/{_seg(name)}/policy", body=body)

    def reset_policy(self, name: str) -> Json:
        """Drop the ``colony policy`` override: colony.toml's ``[network]`` applies again."""
        return self._request("DELETE", f"/colonies/{_seg(name)}/policy")

    def firewall(self, name: str) -> Json:
        """``{"colony", "text"}``: the nft text of the colony's table."""
        return self._request("GET", f"/colonies/{_seg(name)}/firewall")

    # --- issue 3: resource usage ----------------------------------------------------------

    def usage(self) -> Json:
        """``{"usage": [sample, ...]}``: CPU %, memory, pids, I/O and limits of every colony."""
        return self._request("GET", "/usage")

    def colony_usage(self, name: str) -> Json:
        """One colony's latest usage sample."""
        return self._request("GET", f"/colonies/{_seg(name)}/usage")

    # --- issue 5: the audit log -------------------------------------------------------------

    def audit(self, *, limit: int = 100, **filters: Any) -> Json:
        """``{"entries": [entry, ...]}``, oldest first: the newest ``limit`` (0: all) matching
        ``filters`` (colony, kind, user, since, until as unix time or text, after a seq)."""
        params = {k: v for k, v in filters.items() if v is not None}
        return self._request("GET", "/audit", params={**params, "limit": limit})

    def audit_follow(self, *, limit: int = 100, **filters: Any) -> Iterator[Json]:
        """Like :meth:`audit`, one entry at a time, then new entries as they come; never ends.

        Lazy: connects on the first ``next()``, so errors are raised there.
        """
        params = {k: v for k, v in filters.items() if v is not None}
        for line in self._lines("/audit", {**params, "limit": limit, "follow": "true"}, None):
            yield _decode(line)

    def audit_verify(self) -> Json:
        """``{"ok", "checked", "first", "problem", "head", "cut"}``."""
        return self._request("GET", "/audit/verify")

    def audit_export(self, **filters: Any) -> Iterator[str]:
        """VictoriaLogs JSON lines (without newlines) of the matching entries, oldest first."""
        params = {k: v for k, v in filters.items() if v is not None}
        yield from self._lines("/audit/export", params, self.timeout)

    def _lines(self, path: str, params: Json, read_timeout: float | None) -> Iterator[str]:
        timeout = httpx.Timeout(self.timeout, read=read_timeout)
        with (
            _mapped(self.socket_path, f"GET {path}"),
            self._http.stream("GET", path, params=params, timeout=timeout) as response,
        ):
            if response.status_code >= 400:
                response.read()
                raise _error_from_response(response.status_code, response.content, f"GET {path}")
            for line in response.iter_lines():
                if line.strip():
                    yield line

    # --- issue 6: agents, review, trash, broods ------------------------------------------------

    def agent_run(
        self,
        name: str,
        task: str,
        *,
        preset: str | None = None,
        command: str | None = None,
        env: dict[str, str] | None = None,
    ) -> Json:
        """Start an agent in colony ``name``; returns the session (status "running")."""
        body = {"task": task, "preset": preset, "command": command, "env": env or {}}
        return self._request("POST", f"/colonies/{_seg(name)}/agents/run", body=body)

    def agent_continue(
        self,
        name: str,
        task: str = "continue",
        *,
        session: int | None = None,
        env: dict[str, str] | None = None,
    ) -> Json:
        """Continue session ``session`` (default the latest) of colony ``name``."""
        body = {"task": task, "session": session, "env": env or {}}
        return self._request("POST", f"/colonies/{_seg(name)}/agents/continue", body=body)

    def agent_stop(self, name: str, session: int | None = None) -> Json:
        """Interrupt the running session (or ``session``); returns it ended."""
        path = f"/colonies/{_seg(name)}/agents" + (f"/{session}" if session else "") + "/stop"
        return self._request("POST", path)

    def agent_sessions(self, name: str | None = None) -> Json:
        """``{"sessions": [session, ...]}`` of colony ``name``, or of every colony."""
        return self._request("GET", f"/colonies/{_seg(name)}/agents" if name else "/agents")

    def agent_session(self, name: str, session: int, events: int = 50) -> Json:
        """One session with its last ``events`` events."""
        path = f"/colonies/{_seg(name)}/agents/{session}"
        return self._request("GET", path, params={"events": events})

    def agent_events(
        self, name: str, session: int, *, after: int = 0, follow: bool = False
    ) -> Iterator[Json]:
        """A session's events, oldest first; with ``follow``, until it ends (the last one has
        kind "ended"). Lazy: connects on the first ``next()``."""
        path = f"/colonies/{_seg(name)}/agents/{session}/events"
        params: Json = {"after": after, "follow": "true" if follow else ""}
        for line in self._lines(path, params, None if follow else self.timeout):
            yield _decode(line)

    def diff(self, name: str, stat: bool = False) -> Json:
        """``{"colony", "base", "branch", "diff", "stat": {...}}``."""
        path = f"/colonies/{_seg(name)}/workspace/diff"
        return self._request("GET", path, params={"stat": "true" if stat else ""})

    def merge(
        self,
        name: str,
        *,
        into: str | None = None,
        squash: bool = False,
        force: bool = False,
        message: str | None = None,
    ) -> Json:
        body = {"into": into, "squash": squash, "force": force, "message": message}
        return self._request("POST", f"/colonies/{_seg(name)}/workspace/merge", body=body)

    def snapshot(self, name: str, message: str | None = None) -> Json:
        path = f"/colonies/{_seg(name)}/workspace/snapshots"
        return self._request("POST", path, body={"message": message})

    def snapshots(self, name: str) -> Json:
        """``{"snapshots": [{"number", "ref", "commit", "message", "at"}, ...]}``."""
        return self._request("GET", f"/colonies/{_seg(name)}/workspace/snapshots")

    def undo(self, name: str, to: int | None = None, force: bool = False) -> Json:
        body = {"to": to, "force": force}
        return self._request("POST", f"/colonies/{_seg(name)}/workspace/undo", body=body)

    def conflicts(self) -> Json:
        """``{"conflicts": [{"repo", "path", "colonies"}, ...]}``."""
        return self._request("GET", "/conflicts")

    def trash(self) -> Json:
        return self._request("GET", "/trash")

    def trash_restore(self, which: str) -> Json:
        return self._request("POST", f"/trash/{_seg(which)}/restore")

    def trash_purge(self, which: str | None = None) -> Json:
        """Purge entry ``which`` (an id or a colony name); None purges everything."""
        return self._request("DELETE", f"/trash/{_seg(which)}" if which else "/trash")

    def brood_spawn(
        self,
        objective: str,
        count: int,
        repo: str | Path,
        *,
        agent: str | None = None,
        command: str | None = None,
        max_parallel: int | None = None,
        rev: str | None = None,
        config: str | Path | None = None,
        name: str | None = None,
        env: dict[str, str] | None = None,
    ) -> Json:
        body: Json = {
            "objective": objective,
            "count": count,
            "repo": str(Path(repo).absolute()),
            "agent": agent,
            "command": command,
            "max_parallel": max_parallel,
            "rev": rev,
            "config": None if config is None else str(Path(config).absolute()),
            "name": name,
            "env": env or {},
        }
        return self._request("POST", "/broods", body=body)

    def broods(self) -> Json:
        return self._request("GET", "/broods")

    def brood(self, name: str) -> Json:
        return self._request("GET", f"/broods/{_seg(name)}")

    def brood_pick(
        self,
        name: str,
        colony: str | None = None,
        *,
        squash: bool = False,
        into: str | None = None,
        force: bool = False,
    ) -> Json:
        body = {"colony": colony, "squash": squash, "into": into, "force": force}
        return self._request("POST", f"/broods/{_seg(name)}/pick", body=body)


def _seg(name: str) -> str:
    return quote(name, safe="")


class EventStream:
    """Messages of /events (dicts with "type": state | service | removed), oldest first."""

    def __init__(self, conn: ClientConnection, colony: str | None) -> None:
        self._conn = conn
        self.colony = colony

    def recv(self, timeout: float | None = None) -> Json | None:
        """The next event, or None if none came within ``timeout`` seconds.

        Raises:
            DaemonUnavailable: Mycelium closed the stream.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                event = _decode(self._conn.recv(left))
            except TimeoutError:
                return None
            except ConnectionClosed as exc:
                raise DaemonUnavailable("Mycelium closed the event stream", hint=LOG_HINT) from exc
            if self.colony is None or event.get("colony") == self.colony:
                return event

    def __iter__(self) -> Iterator[Json]:
        """Events until Mycelium closes the stream normally."""
        while True:
            try:
                event = self.recv()
            except DaemonUnavailable as exc:
                if isinstance(exc.__cause__, ConnectionClosedOK):
                    return
                raise
            if event is not None:
                yield event

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class ExecSession:
    """A command running in a colony; see :meth:`Client.exec_session`.

    ``send_stdin``/``resize``/``close_stdin`` may be called from another thread than ``recv``.
    Input sent after the command ended is dropped.
    """

    def __init__(self, conn: ClientConnection, colony: str) -> None:
        self._conn = conn
        self.colony = colony
        self.exit_code: int | None = None

    def _send(self, message: str | bytes) -> None:
        # The command may end while input is still being forwarded; recv() reports the end.
        with contextlib.suppress(ConnectionClosed):
            self._conn.send(message)

    def send_stdin(self, data: bytes) -> None:
        if data:
            self._send(b"\x00" + data)

    def resize(self, cols: int, rows: int) -> None:
        self._send(json.dumps({"type": "resize", "cols": cols, "rows": rows}))

    def close_stdin(self) -> None:
        self._send(json.dumps({"type": "eof"}))

    def recv(self, timeout: float | None = None) -> tuple[str, bytes] | None:
        """The next output as ("stdout" | "stderr", data); None once the command exited.

        Raises:
            TimeoutError: nothing came within ``timeout`` seconds.
            ColonyError: the command could not start (the API's error), or the connection
                closed before the command exited.
        """
        while self.exit_code is None:
            try:
                message = self._conn.recv(timeout)
            except ConnectionClosed as exc:
                raise ColonyError(
                    f"exec in colony '{self.colony}': the connection closed before the command "
                    "exited",
                    hint=LOG_HINT,
                ) from exc
            if isinstance(message, bytes):
                channel = {b"\x01": "stdout", b"\x02": "stderr"}.get(message[:1])
                if channel:
                    return channel, message[1:]
                continue
            data = _decode(message)
            if data.get("type") == "exit":
                self.exit_code = int(data.get("code", 1))
            elif data.get("type") == "error":
                raise error_from_json(data, fallback=f"exec in colony '{self.colony}' failed")
        return None

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


# --- issue 7: a followed log another thread can end ----------------------------------------


class LogStream:
    """Log entries ``{"t", "source", "line"}`` of :meth:`Client.log_stream`, never ending until
    ``close()``, which may be called from any thread and unblocks a waiting reader."""

    def __init__(self, response: httpx.Response) -> None:
        self._response = response
        self.closed = False

    def __iter__(self) -> Iterator[Json]:
        try:
            for line in self._response.iter_lines():
                if line.strip():
                    yield _decode(line)
        except httpx.HTTPError as exc:
            if not self.closed:
                raise DaemonUnavailable(f"the log stream broke: {exc}", hint=LOG_HINT) from exc
        finally:
            self._response.close()

    def close(self) -> None:
        self.closed = True
        stream = self._response.extensions.get("network_stream")
        sock = stream.get_extra_info("socket") if stream is not None else None
        if isinstance(sock, socket.socket):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


# --- starting the daemon ------------------------------------------------------------------


def _answers(client: Client) -> bool:
    try:
        client.health()
    except DaemonUnavailable:
        return False
    return True


def _last_error(path: Path) -> str:
    """The daemon's last ``error:`` line in its log (else its last line)."""
    lines = [line.strip() for line in (host.read_text(path) or "").splitlines() if line.strip()]
    errors = [line.removeprefix("error: ") for line in lines if line.startswith("error: ")]
    return (errors or lines or ["no output"])[-1]


def ensure_daemon(socket_path: str | Path, *, quiet: bool = False) -> Client:
    """A client of the Mycelium on ``socket_path``, starting Mycelium first if it is not running.

    A started daemon runs detached (own session) with its output in ``<state dir>/mycelium.log``;
    unless ``quiet``, one line on stderr says so.

    Raises:
        ColonyError: the daemon exited or did not answer within 10 s.
    """
    client = Client(socket_path)
    try:
        if _answers(client):
            return client
        state_dir = default_state_dir()
        log = state_dir / "mycelium.log"
        argv = [sys.executable, "-m", "colony", "daemon", "run"]
        argv += ["--state-dir", str(state_dir), "--socket", str(client.socket_path)]
        try:
            state_dir.mkdir(parents=True, exist_ok=True)
            out = log.open("ab")
        except OSError as exc:
            raise ColonyError(
                f"cannot start Mycelium: cannot write its log {log}: {exc.strerror}",
                hint="set COLONY_STATE_DIR to a directory you can write",
            ) from exc
        with out:
            proc = host.spawn(argv, cwd="/", stdout=out)
        _STARTED.append(proc)
        deadline = time.monotonic() + START_TIMEOUT
        while not _answers(client):
            code = proc.poll()
            if code is not None:
                raise ColonyError(
                    f"Mycelium exited with code {code} while starting: {_last_error(log)}",
                    hint=f"see its log: {log}",
                )
            if time.monotonic() > deadline:
                raise ColonyError(
                    f"Mycelium (pid {proc.pid}) did not answer on {client.socket_path} "
                    f"within {START_TIMEOUT:g}s",
                    hint=f"see its log: {log}",
                )
            time.sleep(0.1)
    except BaseException:
        client.close()
        raise
    if not quiet:
        print(f"started Mycelium (pid {proc.pid}, log {log})", file=sys.stderr)
    return client


__all__ = [
    "Client",
    "DaemonUnavailable",
    "EventStream",
    "ExecSession",
    "default_socket",
    "default_state_dir",
    "ensure_daemon",
    "error_from_json",
]
