"""sock_diag messages: the exact-lookup request and the owner in its answer (pure)."""

from __future__ import annotations

import socket
import struct

from colony.isolation.sockdiag import (
    NLMSG_ERROR,
    SOCK_DIAG_BY_FAMILY,
    UID_OFFSET,
    parse_owner,
    render_lookup,
)


def test_lookup_names_the_peer_socket_by_its_own_end_first() -> None:
    """When a lookup is rendered, it is one SOCK_DIAG_BY_FAMILY request for TCP whose source
    is the peer's end (ports big-endian, addresses padded to 16 bytes) and no cookie."""
    msg = render_lookup(socket.AF_INET, ("127.0.0.1", 40000), ("127.0.0.2", 7080), seq=9)
    length, kind, flags, seq, _pid = struct.unpack_from("=IHHII", msg)
    assert (length, kind, flags, seq) == (len(msg), SOCK_DIAG_BY_FAMILY, 1, 9)
    family, proto = msg[16], msg[17]
    assert (family, proto) == (socket.AF_INET, socket.IPPROTO_TCP)
    assert struct.unpack_from("!HH", msg, 24) == (40000, 7080)
    assert msg[28:44] == bytes([127, 0, 0, 1]) + bytes(12)
    assert msg[44:60] == bytes([127, 0, 0, 2]) + bytes(12)
    assert msg[-8:] == b"\xff" * 8


def test_lookup_of_ipv6_peers() -> None:
    """When the connection is IPv6, whole 16-byte addresses are sent."""
    msg = render_lookup(socket.AF_INET6, ("::1", 1), ("::1", 2))
    assert msg[16] == socket.AF_INET6
    assert msg[28:44] == socket.inet_pton(socket.AF_INET6, "::1")


def test_owner_is_read_from_the_answer() -> None:
    """When the kernel answers with the socket, its uid is read; an error answer is None."""
    body = bytes(UID_OFFSET) + struct.pack("=II", 65534, 1234)
    answer = struct.pack("=IHHII", 16 + len(body), SOCK_DIAG_BY_FAMILY, 0, 1, 0) + body
    assert parse_owner(answer) == 65534
    error = struct.pack("=IHHII", 36, NLMSG_ERROR, 0, 1, 0) + struct.pack("=i", -2) + bytes(16)
    assert parse_owner(error) is None
    assert parse_owner(b"") is None
    assert parse_owner(answer[:40]) is None
