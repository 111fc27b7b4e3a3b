"""Long-lived streams from Mycelium: /events, a command's exec session, a followed log."""

from __future__ import annotations

import contextlib
import json
import socket
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

from colony.client.base import (
    LOG_HINT,
    ClientBase,
    Closing,
    DaemonUnavailable,
    Json,
    decode,
    error_from_json,
    mapped,
    nonblank_lines,
    seg,
)
from colony.errors import ColonyError

if TYPE_CHECKING:  # both are loaded once a stream is open (issue 15: not by `colony ls`)
    import httpx
    from websockets.sync.client import ClientConnection


class StreamsMixin(ClientBase):
    """The WebSocket endpoints: /events and /colonies/{name}/exec."""

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
            with mapped(self.socket_path, "WebSocket /events"):
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
        path = f"/colonies/{seg(name)}/exec"
        conn = self._connect(path)
        start = {"argv": argv, "env": env or {}, "tty": tty, "cols": cols, "rows": rows}
        with mapped(self.socket_path, f"WebSocket {path}"):
            conn.send(json.dumps(start))
        return ExecSession(conn, name)


class EventStream(Closing):
    """Messages of /events (dicts with "type": state | service | removed), oldest first."""

    def __init__(self, conn: ClientConnection, colony: str | None) -> None:
        self._conn = conn
        self.colony = colony

    def recv(self, timeout: float | None = None) -> Json | None:
        """The next event, or None if none came within ``timeout`` seconds.

        Raises:
            DaemonUnavailable: Mycelium closed the stream.
        """
        from websockets.exceptions import ConnectionClosed

        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                event = decode(self._conn.recv(left))
            except TimeoutError:
                return None
            except ConnectionClosed as exc:
                raise DaemonUnavailable("Mycelium closed the event stream", hint=LOG_HINT) from exc
            if self.colony is None or event.get("colony") == self.colony:
                return event

    def __iter__(self) -> Iterator[Json]:
        """Events until Mycelium closes the stream normally."""
        from websockets.exceptions import ConnectionClosedOK

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


class ExecSession(Closing):
    """A command running in a colony; see :meth:`Client.exec_session`.

    ``send_stdin``/``resize``/``close_stdin`` may be called from another thread than ``recv``.
    Input sent after the command ended is dropped.
    """

    def __init__(self, conn: ClientConnection, colony: str) -> None:
        self._conn = conn
        self.colony = colony
        self.exit_code: int | None = None

    def _send(self, message: str | bytes) -> None:
        from websockets.exceptions import ConnectionClosed

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
        from websockets.exceptions import ConnectionClosed

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
            data = decode(message)
            if data.get("type") == "exit":
                self.exit_code = int(data.get("code", 1))
            elif data.get("type") == "error":
                raise error_from_json(data, fallback=f"exec in colony '{self.colony}' failed")
        return None

    def close(self) -> None:
        self._conn.close()


# --- issue 7: a followed log another thread can end ----------------------------------------


class LogStream:
    """Log entries ``{"t", "source", "line"}`` of :meth:`Client.log_stream`, never ending until
    ``close()``, which may be called from any thread and unblocks a waiting reader."""

    def __init__(self, response: httpx.Response) -> None:
        self._response = response
        self.closed = False

    def __iter__(self) -> Iterator[Json]:
        import httpx

        try:
            for line in nonblank_lines(self._response):
                yield decode(line)
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
