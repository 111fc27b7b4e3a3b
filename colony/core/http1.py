"""HTTP/1.1 framing, as much as the preview proxy needs to follow messages: pure, no I/O.

Parses request and response heads, decides how a message's body is framed (a length,
chunked, or until the connection closes) and renders the proxy's own error pages. Anything
ambiguous in a request is refused with :class:`Malformed` (request smuggling).

Example:
    >>> head = parse_head(b"GET / HTTP/1.1\\r\\nHost: web.shop.localhost\\r\\n\\r\\n", request=True)
    >>> one_host(head), request_framing(head)
    ('web.shop.localhost', 0)
"""

from __future__ import annotations

import html
from dataclasses import dataclass

CHUNKED = -1  # body framings besides a fixed length
UNTIL_CLOSE = -2

_TOKEN = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_HEX = frozenset(b"0123456789abcdefABCDEF")
REASONS = {400: "Bad Request", 404: "Not Found", 408: "Request Timeout", 502: "Bad Gateway"}
REASONS |= {403: "Forbidden", 421: "Misdirected Request", 429: "Too Many Requests"}
REASONS |= {431: "Request Header Fields Too Large"}


class Malformed(Exception):
    """A head or chunk the proxy will not forward; str() is shown to the client."""


@dataclass(frozen=True)
class Head:
    """A request or response head: ``raw`` as received, ending in CRLF CRLF."""

    raw: bytes
    start: list[str]
    headers: list[tuple[str, str]]  # names lowercased

    def values(self, name: str) -> list[str]:
        return [v for n, v in self.headers if n == name]


def _is_token(text: str) -> bool:
    return bool(text) and all(c in _TOKEN for c in text)


def parse_head(raw: bytes, *, request: bool) -> Head:
    """The head ``raw`` (through its closing CRLF CRLF) of a request, or else a response.

    Raises:
        Malformed: a bad start line, a bad header line, or a stray CR, LF or NUL.
    """
    lines = raw[:-4].decode("latin-1").split("\r\n")
    if any(c in line for line in lines for c in "\r\n\0"):
        raise Malformed("stray CR, LF or NUL in the head")
    start = lines[0].split(" ", 2)
    if request:
        ok = len(start) == 3 and _is_token(start[0]) and start[1] != ""
        ok = ok and start[2] in ("HTTP/1.0", "HTTP/1.1")
    else:
        ok = len(start) >= 2 and start[0].startswith("HTTP/1.") and start[1].isdigit()
        ok = ok and len(start[1]) == 3
    if not ok:
        raise Malformed(f"bad {'request' if request else 'status'} line")
    headers = []
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        if not colon or not _is_token(name):  # also rejects obs-fold and "Name :"
            raise Malformed("bad header line")
        headers.append((name.lower(), value.strip(" \t")))
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
