"""What a connection asks for, from its first bytes: an HTTP request's Host, or a TLS
ClientHello's server name (SNI) and whether it is encrypted (ECH). Pure, no I/O.

The egress gate (:mod:`colony.daemon.egress_gate`) feeds :func:`sniff` the bytes a colony sent
so far; it answers :data:`MORE` (too few yet), a :class:`Sniffed`, or raises
:class:`Unreadable` (neither HTTP/1 nor TLS, or broken). It reads no more than
:data:`HTTP_LIMIT` of a request head and :data:`TLS_LIMIT` of a ClientHello, whatever a
colony sends.

Example:
    >>> sniff(b"GET / HTTP/1.1\\r\\nHost: pypi.org\\r\\n\\r\\n")
    Sniffed(kind='http', host='pypi.org', port=None, target=None, ech=False)
    >>> sniff(b"\\x16\\x03\\x01") is MORE
    True
"""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass
from typing import Final, Literal

from colony.core import values as v
from colony.core.hostname import normalize_name
from colony.core.http1 import Malformed, one_host, parse_head

HTTP_LIMIT = 16 * 1024  # longest request head read
TLS_LIMIT = 64 * 1024  # longest ClientHello read (post-quantum key shares make them ~2 KiB)
HANDSHAKE, CLIENT_HELLO = 22, 1
EXT_SNI, EXT_ECH = 0x0000, 0xFE0D


class Unreadable(Exception):
    """The bytes are neither an HTTP/1 request head nor a TLS ClientHello; str() says why."""


class _More:
    def __repr__(self) -> str:
        return "MORE"


MORE: Final = _More()  # too few bytes yet to tell


@dataclass(frozen=True)
class Sniffed:
    """What the first bytes ask for.

    ``host`` is lowercased, without a trailing dot or port; None for a ClientHello without
    SNI. For HTTP, ``port`` is the Host header's (None if it has none) and ``target`` the
    host of an absolute-form request target (``GET http://x/ HTTP/1.1``), which a server
    may prefer to the Host header.
    """

    kind: Literal["http", "tls"]
    host: str | None
    port: int | None = None
    target: str | None = None
    ech: bool = False


def sniff(data: bytes) -> Sniffed | _More:
    """Tell an HTTP request from a TLS ClientHello and read its host name.

    Raises:
        Unreadable: neither, malformed, or longer than the limits.
    """
    if not data:
        return MORE
    if data[0] == HANDSHAKE:
        return _sniff_tls(data)
    if data[0] in _TOKEN_BYTES:
        return _sniff_http(data)
    raise Unreadable("neither an HTTP request nor a TLS ClientHello")


# --- HTTP ----------------------------------------------------------------------------------

_TOKEN_BYTES = frozenset(
    b"!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
)


def _sniff_http(data: bytes) -> Sniffed | _More:
    end = data.find(b"\r\n\r\n", 0, HTTP_LIMIT)
    if end < 0:
        line_end = data.find(b"\r\n", 0, HTTP_LIMIT)
        first = data[: line_end if line_end >= 0 else len(data)]
        if b" " not in first[:32] and len(first) >= 32:
            raise Unreadable("neither an HTTP request nor a TLS ClientHello")
        if len(data) >= HTTP_LIMIT:
            raise Unreadable(f"request head longer than {HTTP_LIMIT // 1024} KiB")
        return MORE
    try:
        head = parse_head(data[: end + 4], request=True)
        host, port = parse_authority(one_host(head))
    except (Malformed, ValueError) as exc:
        raise Unreadable(f"bad HTTP request: {exc}") from None
    target = None
    uri = head.start[1]
    if "://" in uri:  # absolute form: the authority up to the path
        scheme, _, rest = uri.partition("://")
        if scheme.lower() not in ("http", "https"):
            raise Unreadable(f"bad HTTP request: request target {uri[:60]!r}")
        authority = rest.split("/", 1)[0].split("?", 1)[0].rsplit("@", 1)[-1]
        try:
            target = parse_authority(authority)[0]
        except ValueError as exc:
            raise Unreadable(f"bad HTTP request: {exc}") from None
    return Sniffed("http", host, port, target)


def parse_authority(text: str) -> tuple[str, int | None]:
    """``host[:port]`` (or ``[v6]:port``) → (host lowercased without trailing dot, port).

    Raises:
        ValueError: not a host name or address, or a bad port.
    """
    host, port_text = text, None
    if m := v.BRACKETED_RE.fullmatch(text):
        host, port_text = m[1], m[2]
        ipaddress.IPv6Address(host)  # raises ValueError
    elif text.count(":") == 1:
        host, _, port_text = text.partition(":")
    port = None
    if port_text is not None:
        port = v.parse_port(port_text)
        if port is None:
            raise ValueError(f"bad port in {text[:80]!r}")
    if _is_ip(host):
        return host, port
    return normalize_name(host), port


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


# --- TLS -----------------------------------------------------------------------------------


def _handshake(data: bytes) -> bytes | _More:
    """The first handshake message, gathered from as many records as it spans."""
    body, pos = b"", 0
    while True:
        if len(data) < pos + 5:
            return MORE
        ctype, major, length = data[pos], data[pos + 1], struct.unpack_from("!H", data, pos + 3)[0]
        if ctype != HANDSHAKE or major != 3 or not 0 < length <= 16384 + 2048:
            raise Unreadable("bad TLS record header")
        body += data[pos + 5 : pos + 5 + length]
        need = _check_header(body)
        if len(data) < pos + 5 + length:
            if pos + 5 + length > TLS_LIMIT:
                raise Unreadable(f"ClientHello longer than {TLS_LIMIT // 1024} KiB")
            return MORE
        pos += 5 + length
        if need is not None and len(body) >= need:
            return body[4:need]


def _check_header(body: bytes) -> int | None:
    """The length of the handshake message whose first bytes are ``body`` (None: too few)."""
    if len(body) < 4:
        return None
    if body[0] != CLIENT_HELLO:
        raise Unreadable("the first TLS handshake message is not a ClientHello")
    need = 4 + int.from_bytes(body[1:4], "big")
    if need > TLS_LIMIT:
        raise Unreadable(f"ClientHello longer than {TLS_LIMIT // 1024} KiB")
    return need


class _Reader:
    """Reads a ClientHello field by field; running past the end is :class:`Unreadable`."""

    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise Unreadable("truncated ClientHello")
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def number(self, size: int) -> int:
        return int.from_bytes(self.take(size), "big")

    def vector(self, size: int) -> bytes:
        return self.take(self.number(size))

    @property
    def left(self) -> int:
        return len(self.data) - self.pos


def _sniff_tls(data: bytes) -> Sniffed | _More:
    hello = _handshake(data)
    if isinstance(hello, _More):
        return hello
    r = _Reader(hello)
    if r.take(1) != b"\x03":
        raise Unreadable("ClientHello of an unknown TLS version")
    r.take(1 + 32)  # minor version, random
    if len(r.vector(1)) > 32:
        raise Unreadable("ClientHello session id longer than 32 bytes")
    suites = r.vector(2)
    if not suites or len(suites) % 2:
        raise Unreadable("bad ClientHello cipher suites")
    if not r.vector(1):
        raise Unreadable("ClientHello without compression methods")
    extensions = _Reader(r.vector(2)) if r.left else _Reader(b"")
    if r.left:
        raise Unreadable("bytes after the ClientHello's extensions")
    seen: set[int] = set()
    host = None
    while extensions.left:
        kind, body = extensions.number(2), extensions.vector(2)
        if kind in seen:
            raise Unreadable(f"ClientHello extension {kind:#06x} repeated")
        seen.add(kind)
        if kind == EXT_SNI:
            host = _server_name(body)
    return Sniffed("tls", host, ech=EXT_ECH in seen)


def _server_name(body: bytes) -> str:
    names = _Reader(_Reader(body).vector(2))
    found = None
    while names.left:
        kind, name = names.number(1), names.vector(2)
        if kind != 0:
            continue
        if found is not None:
            raise Unreadable("ClientHello names two servers")
        try:
            text = name.decode("ascii")
        except UnicodeDecodeError:
            raise Unreadable("ClientHello server name is not ASCII") from None
        try:
            found = normalize_name(text)
        except ValueError as exc:
            raise Unreadable(f"ClientHello server name: {exc}") from None
    if found is None:
        raise Unreadable("ClientHello server name extension without a host name")
    return found
