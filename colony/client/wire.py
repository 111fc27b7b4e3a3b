"""Plain requests to Mycelium over its Unix socket: HTTP/1.1 on a bare socket.

The client's requests (everything but streams and WebSockets) go through here. A quick
command such as ``colony ls`` is mostly the time to load Python modules: httpx costs over a
hundred milliseconds and even http.client (with the email package it parses headers with)
over ten, where this costs none beyond the socket module (issue 15). It speaks just what the
one server it talks to sends: a status line, headers, and a body of ``Content-Length`` bytes,
chunks, or up to the end of the connection.

Connections are kept alive and reused, one request at a time each, so a client may be shared
by threads (Stem's workers). Failures are the socket's own errors (OSError, TimeoutError) or
:class:`ProtocolError`; :func:`colony.client.base.mapped` turns them into ColonyErrors.
"""

from __future__ import annotations

import json
import select
import socket
import threading
from typing import Any

HEAD_LIMIT = 64 * 1024  # bytes of status line and headers


class ProtocolError(Exception):
    """Mycelium's answer is not HTTP/1.1 as expected."""


class Connection:
    """One HTTP/1.1 connection to the Unix socket ``socket_path``, opened on first use."""

    def __init__(self, socket_path: str, timeout: float) -> None:
        self.socket_path = socket_path
        self.timeout = timeout
        self.sock: socket.socket | None = None
        self._buffer = b""

    def reusable(self) -> bool:
        """Whether this idle connection may carry another request: the server has neither
        closed it nor sent anything unasked (a readable idle socket is either)."""
        if self.sock is None:
            return False
        try:
            readable, _, _ = select.select([self.sock], [], [], 0)
        except (OSError, ValueError):
            return False
        return not readable and not self._buffer

    def request(
        self, method: str, target: str, body: bytes | None, wait: float | None
    ) -> tuple[int, bytes, bool]:
        """``(status, body, kept)`` of one request whose answer may take ``wait`` seconds
        (None: as long as it takes); ``kept``: the connection stays open."""
        if self.sock is None:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                sock.settimeout(self.timeout)
                sock.connect(self.socket_path)
            except BaseException:
                sock.close()
                raise
            self.sock = sock
        head = f"{method} {target} HTTP/1.1\r\nHost: mycelium\r\nAccept: */*\r\n"
        if body is not None:
            head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        self.sock.sendall(head.encode() + b"\r\n" + (body or b""))
        self.sock.settimeout(wait)
        try:
            status, headers = self._head()
        finally:
            self.sock.settimeout(self.timeout)
        if method == "HEAD" or status in (204, 304):
            content = b""
        elif "chunked" in headers.get("transfer-encoding", "").lower():
            content = self._chunked()
        elif "content-length" in headers:
            content = self._exactly(_length(headers["content-length"]))
        else:
            content = self._rest()
            return status, content, False
        kept = "close" not in headers.get("connection", "").lower()
        return status, content, kept

    def _head(self) -> tuple[int, dict[str, str]]:
        while True:  # informational answers (1xx) come before the real one
            end = self._buffer.find(b"\r\n\r\n")
            while end < 0:
                if len(self._buffer) > HEAD_LIMIT:
                    raise ProtocolError("an answer's headers are too long")
                self._fill(closed="Mycelium closed the connection without an answer")
                end = self._buffer.find(b"\r\n\r\n")
            lines = self._buffer[:end].decode("latin-1").split("\r\n")
            self._buffer = self._buffer[end + 4 :]
            parts = lines[0].split(" ", 2)
            if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
                raise ProtocolError(f"not an HTTP/1.1 status line: {lines[0][:80]!r}")
            headers: dict[str, str] = {}
            for line in lines[1:]:
                name, sep, value = line.partition(":")
                if not sep:
                    raise ProtocolError(f"not an HTTP header: {line[:80]!r}")
                headers[name.strip().lower()] = value.strip()
            if not 100 <= int(parts[1]) < 200:
                return int(parts[1]), headers

    def _fill(self, closed: str) -> None:
        assert self.sock is not None
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionResetError(closed)
        self._buffer += data

    def _exactly(self, size: int) -> bytes:
        while len(self._buffer) < size:
            self._fill(closed="Mycelium closed the connection in the middle of an answer")
        data, self._buffer = self._buffer[:size], self._buffer[size:]
        return data

    def _line(self) -> bytes:
        while (end := self._buffer.find(b"\r\n")) < 0:
            if len(self._buffer) > HEAD_LIMIT:
                raise ProtocolError("a chunk's size line is too long")
            self._fill(closed="Mycelium closed the connection in the middle of an answer")
        line, self._buffer = self._buffer[:end], self._buffer[end + 2 :]
        return line

    def _chunked(self) -> bytes:
        parts = []
        while size := _length(self._line().split(b";")[0].decode("latin-1"), base=16):
            parts.append(self._exactly(size))
            self._line()
        while self._line():  # trailers, up to the blank line
            pass
        return b"".join(parts)

    def _rest(self) -> bytes:
        assert self.sock is not None
        while data := self.sock.recv(65536):
            self._buffer += data
        data, self._buffer = self._buffer, b""
        return data

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None
        self._buffer = b""


def _length(text: str, base: int = 10) -> int:
    try:
        value = int(text.strip(), base)
    except ValueError:
        value = -1
    if value < 0:
        raise ProtocolError(f"not a length: {text[:40]!r}")
    return value


class Wire:
    """Requests on kept-alive connections to ``socket_path``; ``timeout`` seconds for the
    connect and for each read and write."""

    def __init__(self, socket_path: str, timeout: float) -> None:
        self.socket_path = socket_path
        self.timeout = timeout
        self._idle: list[Connection] = []
        self._lock = threading.Lock()

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        params: dict[str, Any] | None = None,
        wait: float | None = -1,
    ) -> tuple[int, bytes]:
        """``(status, body)`` of ``method path?params`` with ``body`` sent as JSON; the answer
        may take ``wait`` seconds to begin (None: as long as it takes; -1: the timeout)."""
        if params:
            from urllib.parse import urlencode  # not for `colony ls` (issue 15)

            path = f"{path}?{urlencode(params)}"
        target = path
        payload = None if body is None else json.dumps(body).encode()
        conn = self._take()
        try:
            waiting = self.timeout if wait == -1 else wait
            status, content, kept = conn.request(method, target, payload, waiting)
        except BaseException:
            conn.close()
            raise
        if kept:
            with self._lock:
                self._idle.append(conn)
        else:
            conn.close()
        return status, content

    def _take(self) -> Connection:
        with self._lock:
            while self._idle:
                conn = self._idle.pop()
                if conn.reusable():
                    return conn
                conn.close()
        return Connection(self.socket_path, self.timeout)

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()
