"""NFLOG over netlink, as bytes: the messages that bind a log group, and the packets it sends.

Pure: it builds and parses netlink messages; :mod:`colony.daemon.netlog` owns the socket.
Only what connection records need is decoded: the log prefix (the verdict), the in and out
interfaces, and from the first bytes of the packet its protocol, destination and port.

Example:
    >>> sock.send(render_bind(42))
    >>> [p.prefix for p in parse_packets(sock.recv(65536))]
    ['accept']
"""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass

NETLINK_NETFILTER = 12
NFNL_SUBSYS_ULOG = 4
NFULNL_MSG_PACKET = 0
NFULNL_MSG_CONFIG = 1
NLMSG_ERROR = 2
NLMSG_DONE = 3
NLM_F_REQUEST = 0x1
NLM_F_ACK = 0x4

NFULA_CFG_CMD = 1
NFULA_CFG_MODE = 2
NFULA_CFG_NLBUFSIZ = 3
NFULA_CFG_QTHRESH = 5
CMD_BIND = 1
CMD_UNBIND = 2
COPY_PACKET = 2

NFULA_PACKET_HDR = 1
NFULA_IFINDEX_INDEV = 4
NFULA_IFINDEX_OUTDEV = 5
NFULA_PAYLOAD = 9
NFULA_PREFIX = 10

ETH_P_IP = 0x0800
ETH_P_IPV6 = 0x86DD
PROTOCOLS = {1: "icmp", 6: "tcp", 17: "udp", 58: "icmpv6", 132: "sctp"}
PORTED = {6, 17, 132}
COPY_RANGE = 96  # IPv6 header (40) + a TCP/UDP header's ports, with room to spare

_NLMSG = struct.Struct("=IHHII")
_NLATTR = struct.Struct("=HH")
_NFGEN = struct.Struct("!BBH")  # family, version, res_id (the group)


def _align(n: int) -> int:
    return (n + 3) & ~3


def _attr(kind: int, payload: bytes) -> bytes:
    size = _NLATTR.size + len(payload)
    return _NLATTR.pack(size, kind) + payload + b"\0" * (_align(size) - size)


def _config(group: int, attrs: bytes, seq: int) -> bytes:
    body = _NFGEN.pack(0, 0, group) + attrs
    kind = (NFNL_SUBSYS_ULOG << 8) | NFULNL_MSG_CONFIG
    return _NLMSG.pack(_NLMSG.size + len(body), kind, NLM_F_REQUEST | NLM_F_ACK, seq, 0) + body


def render_bind(group: int, seq: int = 1) -> bytes:
    """Bind NFLOG ``group`` to the socket (EBUSY if another socket holds it)."""
    return _config(group, _attr(NFULA_CFG_CMD, bytes([CMD_BIND])), seq)


def render_mode(group: int, seq: int = 2) -> bytes:
    """Copy the first bytes of each packet, and deliver every packet at once (no batching)."""
    attrs = _attr(NFULA_CFG_MODE, struct.pack("!IBx", COPY_RANGE, COPY_PACKET))
    attrs += _attr(NFULA_CFG_QTHRESH, struct.pack("!I", 1))
    return _config(group, attrs, seq)


def render_unbind(group: int, seq: int = 3) -> bytes:
    return _config(group, _attr(NFULA_CFG_CMD, bytes([CMD_UNBIND])), seq)


@dataclass(frozen=True)
class Packet:
    """One logged packet: the rule's prefix, interfaces (ifindex, 0 if none), and header."""

    prefix: str
    indev: int
    outdev: int
    proto: str
    dest: str | None
    port: int | None


def _attrs(data: bytes) -> dict[int, bytes]:
    out: dict[int, bytes] = {}
    offset = 0
    while offset + _NLATTR.size <= len(data):
        size, kind = _NLATTR.unpack_from(data, offset)
        if size < _NLATTR.size:
            break
        out[kind & 0x3FFF] = data[offset + _NLATTR.size : offset + size]
        offset += _align(size)
    return out


def _header(ethertype: int, payload: bytes) -> tuple[str, str | None, int | None]:
    """(protocol, destination, destination port) of an IP packet's first bytes."""
    if ethertype == ETH_P_IP and len(payload) >= 20:
        proto, start = payload[9], (payload[0] & 0x0F) * 4
        dest: str | None = str(ipaddress.IPv4Address(payload[16:20]))
    elif ethertype == ETH_P_IPV6 and len(payload) >= 40:
        proto, start = payload[6], 40  # extension headers are not followed
        dest = str(ipaddress.IPv6Address(payload[24:40]))
    else:
        return "other", None, None
    port = None
    if proto in PORTED and len(payload) >= start + 4:
        port = struct.unpack_from("!H", payload, start + 2)[0]
    return PROTOCOLS.get(proto, f"proto-{proto}"), dest, port


def parse_packets(data: bytes) -> list[Packet]:
    """The NFLOG packets in one netlink datagram; other messages are skipped."""
    packets = []
    offset = 0
    packet_kind = (NFNL_SUBSYS_ULOG << 8) | NFULNL_MSG_PACKET
    while offset + _NLMSG.size <= len(data):
        size, kind, _flags, _seq, _pid = _NLMSG.unpack_from(data, offset)
        if size < _NLMSG.size:
            break
        if kind == packet_kind:
            body = data[offset + _NLMSG.size + _NFGEN.size : offset + size]
            attrs = _attrs(body)
            hdr = attrs.get(NFULA_PACKET_HDR, b"\0\0")
            ethertype = struct.unpack_from("!H", hdr)[0]
            proto, dest, port = _header(ethertype, attrs.get(NFULA_PAYLOAD, b""))
            packets.append(
                Packet(
                    prefix=attrs.get(NFULA_PREFIX, b"").split(b"\0", 1)[0].decode(errors="replace"),
                    indev=_u32(attrs.get(NFULA_IFINDEX_INDEV)),
                    outdev=_u32(attrs.get(NFULA_IFINDEX_OUTDEV)),
                    proto=proto,
                    dest=dest,
                    port=port,
                )
            )
        offset += _align(size)
    return packets


def parse_ack(data: bytes) -> int | None:
    """The errno of the first netlink error/ack message in ``data`` (0: success); None if none."""
    offset = 0
    while offset + _NLMSG.size <= len(data):
        size, kind, *_ = _NLMSG.unpack_from(data, offset)
        if size < _NLMSG.size:
            break
        if kind == NLMSG_ERROR and size >= _NLMSG.size + 4:
            code: int = struct.unpack_from("=i", data, offset + _NLMSG.size)[0]
            return -code
        offset += _align(size)
    return None


def _u32(raw: bytes | None) -> int:
    return struct.unpack("!I", raw[:4])[0] if raw and len(raw) >= 4 else 0
