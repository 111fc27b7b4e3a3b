"""Who is on the other end of a local TCP connection: its socket's owner, over sock_diag.

Mycelium's listeners (the preview proxy, Bloom) cap open connections per peer (issue 11). On
loopback every peer has the address 127.0.0.1, so the peer is told apart by the uid that
owns its socket: the kernel's ``inet_diag`` answers an exact lookup of one socket by its
addresses and ports, at a cost independent of how many sockets exist (``/proc/net/tcp``
would be read whole).

``render_lookup``/``parse_owner`` are pure; :func:`socket_owner` owns the netlink socket.

Example:
    >>> conn, _ = server.accept()  # doctest: +SKIP
    >>> socket_owner(conn)  # doctest: +SKIP
    65534
"""

from __future__ import annotations

import socket
import struct

NETLINK_SOCK_DIAG = 4
SOCK_DIAG_BY_FAMILY = 20
NLM_F_REQUEST = 0x1
NLMSG_ERROR = 2
ALL_STATES = 0xFFFFFFFF
NO_COOKIE = 0xFFFFFFFF  # INET_DIAG_NOCOOKIE

_HDR = struct.Struct("=IHHII")  # struct nlmsghdr
_REQ = struct.Struct("=BBBBI")  # struct inet_diag_req_v2 up to its inet_diag_sockid
_UID = struct.Struct("=I")
UID_OFFSET = 4 + 48 + 12  # family..retrans, inet_diag_sockid, expires/rqueue/wqueue

Address = tuple[str, int]


def _address(family: socket.AddressFamily, host: str) -> bytes:
    return socket.inet_pton(family, host).ljust(16, b"\0")


def render_lookup(family: socket.AddressFamily, src: Address, dst: Address, seq: int = 1) -> bytes:
    """A netlink request for the TCP socket whose own end is ``src`` and whose peer is ``dst``.

    Example:
        >>> len(render_lookup(socket.AF_INET, ("127.0.0.1", 40000), ("127.0.0.1", 7080)))
        72
    """
    body = (
        _REQ.pack(family, socket.IPPROTO_TCP, 0, 0, ALL_STATES)
        + struct.pack("!HH", src[1], dst[1])
        + _address(family, src[0])
        + _address(family, dst[0])
        + struct.pack("=III", 0, NO_COOKIE, NO_COOKIE)
    )
    return _HDR.pack(_HDR.size + len(body), SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST, seq, 0) + body


def parse_owner(data: bytes) -> int | None:
    """The uid in the answer to :func:`render_lookup`; None for an error (no such socket)."""
    if len(data) < _HDR.size:
        return None
    _length, kind, _flags, _seq, _pid = _HDR.unpack_from(data)
    if kind != SOCK_DIAG_BY_FAMILY or len(data) < _HDR.size + UID_OFFSET + _UID.size:
        return None
    return int(_UID.unpack_from(data, _HDR.size + UID_OFFSET)[0])


def socket_owner(conn: socket.socket) -> int | None:
    """The uid owning the other end of ``conn`` when that end is a socket of this host's
    network namespace (a local client); None for a remote peer or one already gone."""
    if conn.family not in (socket.AF_INET, socket.AF_INET6):
        return None
    try:
        local, peer = conn.getsockname(), conn.getpeername()
        with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_SOCK_DIAG) as nl:
            nl.settimeout(1.0)  # the kernel answers at once; never hang a listener on it
            nl.sendto(render_lookup(conn.family, peer[:2], local[:2]), (0, 0))
            return parse_owner(nl.recv(4096))
    except OSError:
        return None
