"""The client's core: the Unix-socket transport, the error mapping and the NDJSON reader.

Plain requests go through :mod:`colony.client.wire` (HTTP/1.1 on a bare socket); httpx
(streamed bodies) and websockets are imported only when a stream or WebSocket is opened, so
a quick command such as ``colony ls`` loads neither (issue 15). API errors
(``{"error": {...}}``) become the matching :mod:`colony.errors` class, and a daemon that does
not answer becomes :class:`DaemonUnavailable`; both are mapped here, in one place.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sys
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self, TypeVar
from urllib.parse import quote

from colony.client.wire import ProtocolError, Wire
from colony.errors import ERROR_TYPES, ColonyError

if TYPE_CHECKING:  # loaded when a stream or WebSocket is opened, not for plain requests
    import httpx
    from websockets.sync.client import ClientConnection

Json = dict[str, Any]
T = TypeVar("T")
BASE_URL = "http://mycelium"
START_HINT = "start it with 'colony daemon start'"
# Mycelium runs as root: a user starts it through the service manager, or asks an admin.
USER_START_HINT = (
    "it runs as root: 'sudo systemctl start mycelium' where `make install` set it up, "
    "else 'sudo colony daemon start'"
)
JOIN_HINT = "join the group colony: 'sudo usermod -aG colony $USER', then log in again"
LOG_HINT = "see the daemon's log (mycelium.log in its state directory)"


class DaemonUnavailable(ColonyError):
    """Mycelium does not answer on its socket: not started, gone, or it dropped the connection."""


# --- defaults -----------------------------------------------------------------------------


def default_state_dir() -> Path:
    """$COLONY_STATE_DIR, else /var/lib/colony: one Mycelium, run by root, serves every user
    of the machine (issue 14)."""
    if env := os.environ.get("COLONY_STATE_DIR"):
        return Path(env)
    return Path("/var/lib/colony")


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


def error_from_response(status: int, content: bytes, what: str) -> ColonyError:
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


def _loaded(module: str, *names: str) -> tuple[type[BaseException], ...]:
    """The exception classes ``names`` of ``module`` if it is loaded, else none: nothing can
    raise them before it is."""
    found = sys.modules.get(module)
    return tuple(getattr(found, name) for name in names) if found is not None else ()


def _transport_error(exc: Exception, socket_path: Path, what: str) -> ColonyError | None:
    """The ColonyError of a failure to talk to Mycelium; None for any other exception."""
    status = _loaded("websockets.exceptions", "InvalidStatus")
    if status and isinstance(exc, status):  # the WebSocket handshake got an HTTP error
        response: Any = getattr(exc, "response", None)
        return error_from_response(response.status_code, bytes(response.body), what)
    if isinstance(exc, (TimeoutError, *_loaded("httpx", "TimeoutException"))):
        return ColonyError(f"Mycelium did not answer {what} in time", hint=LOG_HINT)
    connect = _loaded("httpx", "ConnectError")
    if isinstance(exc, (OSError, *connect)):
        _close_failed_sockets(exc)
        cause = next((e for e in _chain(exc) if isinstance(e, OSError)), None)
        if isinstance(cause, PermissionError):
            return ColonyError(
                f"no permission to use Mycelium's socket {socket_path}: only root and the "
                "group colony may",
                hint=JOIN_HINT,
            )
        if isinstance(cause, FileNotFoundError | ConnectionRefusedError) or (
            bool(connect) and isinstance(exc, connect)
        ):
            return DaemonUnavailable(
                f"Mycelium is not running (nothing answers on {socket_path})", hint=START_HINT
            )
        return DaemonUnavailable(f"lost the connection to Mycelium: {exc}", hint=LOG_HINT)
    broken: tuple[type[BaseException], ...] = (
        ProtocolError,
        *_loaded("httpx", "TransportError"),
        *_loaded("websockets.exceptions", "WebSocketException"),
    )
    if isinstance(exc, broken):
        return DaemonUnavailable(
            f"lost the connection to Mycelium during {what}: {exc or type(exc).__name__}",
            hint=LOG_HINT,
        )
    return None


@contextlib.contextmanager
def mapped(socket_path: Path, what: str) -> Iterator[None]:
    """Turn transport failures while talking to Mycelium into ColonyErrors."""
    try:
        yield
    except Exception as exc:
        error = _transport_error(exc, socket_path, what)
        if error is None:
            raise
        raise error from exc


def decode(message: str | bytes) -> Json:
    data = json.loads(message)
    if not isinstance(data, dict):
        raise ColonyError(f"Mycelium sent an unexpected message: {str(data)[:80]}", hint=LOG_HINT)
    return data


def nonblank_lines(response: httpx.Response) -> Iterator[str]:
    """The lines of a streamed NDJSON body, blank ones (keep-alives) skipped."""
    for line in response.iter_lines():
        if line.strip():
            yield line


def seg(name: str) -> str:
    """``name`` as one URL path segment."""
    return quote(name, safe="")


class Closing:
    """A resource with ``close()`` that closes it at the end of a ``with`` block."""

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


# --- the transport ------------------------------------------------------------------------


class ClientBase(Closing):
    """The Mycelium API on a Unix socket: requests, streamed bodies and WebSockets.

    Each feature adds its methods in a mixin over this class; :class:`colony.client.Client`
    combines them.
    """

    def __init__(self, socket_path: str | Path, *, timeout: float = 30) -> None:
        self.socket_path = Path(socket_path)
        self.timeout = timeout
        self._wire = Wire(str(self.socket_path), timeout)
        self._streams: httpx.Client | None = None

    def close(self) -> None:
        self._wire.close()
        if self._streams is not None:
            self._streams.close()

    def _request(
        self,
        method: str,
        path: str,
        *,
        body: Json | None = None,
        params: Json | None = None,
        wait: float | None = -1,
    ) -> Json:
        """The answer to ``method path``; ``wait``: how long the answer may take to begin
        (None: as long as it takes, for work whose length grows with what it is asked; -1:
        the client's timeout)."""
        what = f"{method} {path}"
        with mapped(self.socket_path, what):
            status, content = self._wire.request(method, path, body, params, wait)
        if status >= 400:
            raise error_from_response(status, content, what)
        try:
            return decode(content)
        except ValueError as exc:
            raise ColonyError(f"Mycelium answered {what} with invalid JSON", hint=LOG_HINT) from exc

    def _answer(
        self,
        cls: type[T],
        method: str,
        path: str,
        *,
        body: Json | None = None,
        params: Json | None = None,
        wait: float | None = -1,
    ) -> T:
        """The answer to ``method path`` as ``cls`` (:mod:`colony.contract_responses`)."""
        from colony.contract_responses import load

        answer = self._request(method, path, body=body, params=params, wait=wait)
        return load(cls, answer, f"{method} {path}")

    def _http(self) -> httpx.Client:
        """The httpx client of streamed bodies, made on first use."""
        if self._streams is None:
            import httpx

            self._streams = httpx.Client(
                transport=httpx.HTTPTransport(uds=str(self.socket_path)),
                base_url=BASE_URL,
                timeout=self.timeout,
                trust_env=False,
            )
        return self._streams

    def _body_lines(self, path: str, params: Json) -> list[bytes]:
        """The non-blank lines of ``GET path``'s NDJSON body, read whole (a body that ends)."""
        what = f"GET {path}"
        with mapped(self.socket_path, what):
            status, content = self._wire.request("GET", path, None, params, -1)
        if status >= 400:
            raise error_from_response(status, content, what)
        return [line for line in content.split(b"\n") if line.strip()]

    def _open_stream(self, path: str, params: Json, read_timeout: float | None) -> httpx.Response:
        """``GET path`` with its body left to stream; an API error is raised here.

        ``read_timeout`` None: no read timeout (a followed stream may stay quiet for hours).
        """
        with mapped(self.socket_path, f"GET {path}"):
            import httpx

            http = self._http()
            timeout = httpx.Timeout(self.timeout, read=read_timeout)
            request = http.build_request("GET", path, params=params, timeout=timeout)
            response = http.send(request, stream=True)
            if response.status_code >= 400:
                response.read()
                response.close()
                raise error_from_response(response.status_code, response.content, f"GET {path}")
        return response

    def _lines(self, path: str, params: Json, read_timeout: float | None) -> Iterator[str]:
        """The non-blank lines of ``GET path``'s streamed body.

        Lazy: connects on the first ``next()``, so errors are raised there.
        """
        with (
            mapped(self.socket_path, f"GET {path}"),
            contextlib.closing(self._open_stream(path, params, read_timeout)) as response,
        ):
            yield from nonblank_lines(response)

    def _connect(self, path: str) -> ClientConnection:
        with mapped(self.socket_path, f"WebSocket {path}"):
            from websockets.sync.client import unix_connect

            return unix_connect(
                str(self.socket_path),
                f"ws://mycelium{path}",
                legacy=True,
                open_timeout=self.timeout,
                max_size=None,
            )

    def health(self) -> Json:
        return self._request("GET", "/health")

    def stop_daemon(self) -> Json:
        return self._request("POST", "/daemon/stop")
