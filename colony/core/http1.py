"""HTTP/1.1 framing, as much as the preview proxy needs to follow messages: pure, no I/O.

Parses request and response heads, decides how a message's body is framed (a length,
chunked, or until the connection closes), follows one direction of a connection message by
message as its bytes arrive (:class:`Follower`) and renders the proxy's own error pages.
Anything ambiguous in a request is refused with :class:`Malformed` (request smuggling).

Example:
    >>> head = parse_head(b"GET / HTTP/1.1\\r\\nHost: web.shop.localhost\\r\\n\\r\\n", request=True)
    >>> one_host(head), request_framing(head)
    ('web.shop.localhost', 0)
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from dataclasses import dataclass

CHUNKED = -1  # body framings besides a fixed length
UNTIL_CLOSE = -2
TUNNEL = -3  # the message ends with its head and what follows is no HTTP (101, CONNECT 2xx)
HEAD_LIMIT = 64 * 1024  # longest head (and chunk-size or trailer line) a Follower takes

_TOKEN = r"[!#$%&'*+\-.^_`|~0-9a-zA-Z]+"
_TOKEN_RE = re.compile(_TOKEN)
_HEADERS_RE = re.compile(rf"(?:\r\n{_TOKEN}:[^\r\n]*)*")
_HEADER_RE = re.compile(rf"\r\n({_TOKEN}):([^\r\n]*)")
_HEX = frozenset(b"0123456789abcdefABCDEF")
REASONS = {400: "Bad Request", 404: "Not Found", 408: "Request Timeout", 502: "Bad Gateway"}
REASONS |= {403: "Forbidden", 421: "Misdirected Request", 429: "Too Many Requests"}
REASONS |= {431: "Request Header Fields Too Large"}


class Malformed(Exception):
    """A head or chunk the proxy will not forward; str() is shown to the client."""

    status = 400


class TooLarge(Malformed):
    """A head (or chunk-size line) longer than :data:`HEAD_LIMIT`."""

    status = 431


class Misdirected(Malformed):
    """A request for another upstream than its connection's (raised by a framing callback)."""

    status = 421


@dataclass(frozen=True)
class Head:
    """A request or response head: ``raw`` as received, ending in CRLF CRLF."""

    raw: bytes
    start: list[str]
    headers: list[tuple[str, str]]  # names lowercased

    def values(self, name: str) -> list[str]:
        return [v for n, v in self.headers if n == name]


def _is_token(text: str) -> bool:
    return _TOKEN_RE.fullmatch(text) is not None


def parse_head(raw: bytes, *, request: bool) -> Head:
    """The head ``raw`` (through its closing CRLF CRLF) of a request, or else a response.

    Raises:
        Malformed: a bad start line, a bad header line, or a stray CR, LF or NUL.
    """
    text = raw[:-4].decode("latin-1")
    first, sep, block = text.partition("\r\n")
    if "\0" in text or "\r" in first or "\n" in first:
        raise Malformed("stray CR, LF or NUL in the head")
    start = first.split(" ", 2)
    if request:
        ok = len(start) == 3 and _is_token(start[0]) and start[1] != ""
        ok = ok and start[2] in ("HTTP/1.0", "HTTP/1.1")
    else:
        ok = len(start) >= 2 and start[0].startswith("HTTP/1.") and start[1].isdigit()
        ok = ok and len(start[1]) == 3
    if not ok:
        raise Malformed(f"bad {'request' if request else 'status'} line")
    block = sep + block
    # one pass in C each: every line "token:value" without a stray CR or LF (this also rejects
    # obs-fold and "Name :"), then the pairs
    if _HEADERS_RE.fullmatch(block) is None:
        if "\r" in block.replace("\r\n", "") or "\n" in block.replace("\r\n", ""):
            raise Malformed("stray CR, LF or NUL in the head")
        raise Malformed("bad header line")
    headers = [(n.lower(), v.strip(" \t")) for n, v in _HEADER_RE.findall(block)]
    return Head(raw, start, headers)


def one_host(head: Head) -> str:
    """The request's one non-empty Host header."""
    hosts = head.values("host")
    if len(hosts) != 1 or not hosts[0]:
        raise Malformed("expected exactly one Host header")
    return hosts[0]


def _codings(head: Head) -> list[str]:
    return [c.strip().lower() for v in head.values("transfer-encoding") for c in v.split(",")]


def _content_length(head: Head) -> int | None:
    values = {v.strip() for raw in head.values("content-length") for v in raw.split(",")}
    if not values:
        return None
    if len(values) != 1 or not all(v.isascii() and v.isdigit() for v in values):
        raise Malformed("bad Content-Length")
    return int(values.pop())


def request_framing(head: Head) -> int:
    """Body framing of a request; ambiguous framing is refused (request smuggling)."""
    codings = _codings(head)
    if codings:
        if head.values("content-length") or codings[-1] != "chunked":
            raise Malformed("unsupported Transfer-Encoding")
        return CHUNKED
    return _content_length(head) or 0


def response_framing(head: Head, status: int, method: str) -> int:
    """Body framing of a response with ``status`` to a ``method`` request."""
    if method == "HEAD" or status < 200 or status in (204, 304):
        return 0
    codings = _codings(head)
    if codings:
        return CHUNKED if codings[-1] == "chunked" else UNTIL_CLOSE
    try:
        length = _content_length(head)
    except Malformed:
        return UNTIL_CLOSE
    return UNTIL_CLOSE if length is None else length


def parse_chunk_size(line: bytes) -> int:
    """The size in a chunk-size line (``line`` ends in CRLF; extensions are ignored)."""
    size = line.split(b";", 1)[0].strip()
    if not size or any(c not in _HEX for c in size) or len(size) > 16:
        raise Malformed("bad chunk size")
    return int(size, 16)


_HEAD, _BODY, _CHUNK_LINE, _CHUNK_DATA, _TRAILER, _RAW, _DEAD = range(7)

Item = Head | bytes | None  # a parsed head, bytes of a body (or of a tunnel), a message's end


class Follower:
    """Follows the messages of one direction of an HTTP/1.1 connection as bytes arrive.

    :meth:`feed` takes the next bytes and returns what they complete, in order: each head
    (:class:`Head`, whose ``raw`` are its bytes), the bytes of bodies (chunk-size lines and
    trailers included) and ``None`` where a message ends. Together they are the bytes fed,
    unchanged; an incomplete head or chunk-size line is held until the rest arrives.
    ``framing`` is asked for each head's body framing (a length, :data:`CHUNKED`,
    :data:`UNTIL_CLOSE` or :data:`TUNNEL`, after which bytes pass as they are) and may raise
    :class:`Malformed` to refuse it.

    A request that fails (a bad head, a refused one, a head over :data:`HEAD_LIMIT`) stops the
    follower: ``error`` says why and the rest is dropped. A response that cannot be followed
    is passed through as it is. ``hold`` set (by ``framing``, say) stops it before the next
    head until :meth:`release`.

    Example:
        >>> f = Follower(request_framing, request=True)
        >>> items = f.feed(b"POST / HTTP/1.1\\r\\nContent-Length: 2\\r\\n\\r\\nhi")
        >>> [type(item).__name__ for item in items]
        ['Head', 'bytes', 'NoneType']
    """

    def __init__(
        self,
        framing: Callable[[Head], int],
        *,
        request: bool,
        on_end: Callable[[], None] | None = None,
    ) -> None:
        self.framing = framing
        self.request = request
        self.on_end = on_end  # called where a message ends, instead of a None item
        self.size = 0  # bytes of the message in flight (all of it at its end)
        self.error: Malformed | None = None
        self.hold = False
        self._state = _HEAD
        self._left = 0  # bytes still to pass of a body or chunk
        self._held = b""  # an incomplete head or line, or what waits while held

    @property
    def raw(self) -> bool:
        """Whether bytes pass as they are now (a tunnel, or a response not followed)."""
        return self._state == _RAW

    @property
    def holding(self) -> int:
        """How many bytes wait, incomplete or held."""
        return len(self._held)

    def release(self, raw: bool = False) -> list[Item]:
        """End ``hold``; with ``raw`` what follows passes as it is (the request switched)."""
        self.hold = False
        if raw and self._state != _DEAD:
            self._state = _RAW
        return self.feed(b"")

    def feed(self, data: bytes) -> list[Item]:
        if self._held:
            data, self._held = self._held + data, b""
        out: list[Item] = []
        pos, n = 0, len(data)
        while pos < n:
            state = self._state
            if state == _HEAD:
                if self.hold:
                    self._held = data[pos:]
                    break
                end = data.find(b"\r\n\r\n", pos, pos + HEAD_LIMIT)
                if end < 0:
                    if n - pos >= HEAD_LIMIT:
                        self._fail(TooLarge("request head larger than 64 KiB"))
                        continue
                    self._held = data[pos:]
                    break
                try:
                    head = parse_head(data[pos : end + 4], request=self.request)
                    framing = self.framing(head)
                except Malformed as exc:
                    self._fail(exc)
                    continue
                out.append(head)
                pos = end + 4
                self.size = len(head.raw)
                if framing == 0:
                    self._end(out)
                elif framing > 0:
                    self._state, self._left = _BODY, framing
                elif framing == CHUNKED:
                    self._state = _CHUNK_LINE
                else:
                    if framing == TUNNEL:
                        self._end(out)
                    self._state = _RAW
            elif state in (_BODY, _CHUNK_DATA):
                take = min(self._left, n - pos)
                out.append(data[pos : pos + take])
                pos += take
                self.size += take
                self._left -= take
                if not self._left:
                    if state == _BODY:
                        self._end(out)
                        self._state = _HEAD
                    else:
                        self._state = _CHUNK_LINE
            elif state in (_CHUNK_LINE, _TRAILER):
                end = data.find(b"\r\n", pos, pos + HEAD_LIMIT)
                if end < 0:
                    if n - pos >= HEAD_LIMIT:
                        self._fail(TooLarge("chunk-size or trailer line larger than 64 KiB"))
                        continue
                    self._held = data[pos:]
                    break
                line = data[pos : end + 2]
                if state == _CHUNK_LINE:
                    try:
                        size = parse_chunk_size(line)
                    except Malformed as exc:
                        self._fail(exc)
                        continue
                    self._state, self._left = (_CHUNK_DATA, size + 2) if size else (_TRAILER, 0)
                out.append(line)
                pos = end + 2
                self.size += len(line)
                if state == _TRAILER and line == b"\r\n":
                    self._end(out)
                    self._state = _HEAD
            elif state == _RAW:
                out.append(data[pos:] if pos else data)
                break
            else:  # _DEAD
                break
        return out

    def _end(self, out: list[Item]) -> None:
        if self.on_end is None:
            out.append(None)
        else:
            self.on_end()

    def _fail(self, exc: Malformed) -> None:
        if self.request:
            self.error, self._state = exc, _DEAD
        else:
            self._state = _RAW  # not HTTP we can follow: the rest passes untouched


def render_error_page(status: int, message: str) -> bytes:
    """A whole ``status`` response with a small HTML page saying ``message``; it closes the
    connection."""
    reason = REASONS[status]
    body = (
        f"<!doctype html>\n<title>{status} {reason}</title>\n"
        f"<h1>{status} {reason}</h1>\n<p>{html.escape(message)}</p>\n"
    ).encode()
    head = (
        f"HTTP/1.1 {status} {reason}\r\nContent-Type: text/html; charset=utf-8\r\n"
        f"Content-Length: {len(body)}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n"
    ).encode()
    return head + body
