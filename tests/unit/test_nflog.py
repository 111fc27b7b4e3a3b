"""NFLOG netlink messages as bytes, and the per-colony ring of connection records."""

from __future__ import annotations

import ipaddress
import struct

from colony.daemon.netlog import NetLog
from colony.isolation import nflog


def attr(kind: int, payload: bytes) -> bytes:
    size = 4 + len(payload)
    return struct.pack("=HH", size, kind) + payload + b"\0" * ((4 - size % 4) % 4)


def packet_message(prefix: bytes, indev: int, outdev: int, ethertype: int, payload: bytes) -> bytes:
    attrs = (
        attr(nflog.NFULA_PACKET_HDR, struct.pack("!HBx", ethertype, 2))
        + attr(nflog.NFULA_PREFIX, prefix + b"\0")
        + (attr(nflog.NFULA_IFINDEX_INDEV, struct.pack("!I", indev)) if indev else b"")
        + attr(nflog.NFULA_IFINDEX_OUTDEV, struct.pack("!I", outdev))
        + attr(nflog.NFULA_PAYLOAD, payload)
    )
    body = struct.pack("!BBH", 2, 0, 4242) + attrs
    kind = (nflog.NFNL_SUBSYS_ULOG << 8) | nflog.NFULNL_MSG_PACKET
    return struct.pack("=IHHII", 16 + len(body), kind, 0, 0, 0) + body


def ipv4(proto: int, dest: str, port: int) -> bytes:
    header = bytearray(20)
    header[0] = 0x45
    header[9] = proto
    header[16:20] = ipaddress.IPv4Address(dest).packed
    return bytes(header) + struct.pack("!HH", 40000, port)


def ipv6(proto: int, dest: str, port: int) -> bytes:
    header = bytearray(40)
    header[0] = 0x60
    header[6] = proto
    header[24:40] = ipaddress.IPv6Address(dest).packed
    return bytes(header) + struct.pack("!HH", 40000, port)


def test_packets_of_one_datagram_parse() -> None:
    """When a datagram carries a TCP/IPv4, a UDP/IPv6 and an ICMP packet, each parses to its
    prefix, interfaces, protocol, destination and port (none for ICMP)."""
    data = (
        packet_message(b"deny", 7, 2, nflog.ETH_P_IP, ipv4(6, "198.18.0.2", 8080))
        + packet_message(b"accept", 7, 2, nflog.ETH_P_IPV6, ipv6(17, "2001:db8::1", 53))
        + packet_message(b"accept", 0, 9, nflog.ETH_P_IP, ipv4(1, "10.0.0.1", 0)[:24])
    )
    assert nflog.parse_packets(data) == [
        nflog.Packet("deny", 7, 2, "tcp", "198.18.0.2", 8080),
        nflog.Packet("accept", 7, 2, "udp", "2001:db8::1", 53),
        nflog.Packet("accept", 0, 9, "icmp", "10.0.0.1", None),
    ]


def test_truncated_and_foreign_messages_are_skipped() -> None:
    """When a message is not an NFLOG packet or is cut short, parsing skips it, never raises."""
    full = packet_message(b"deny", 7, 2, nflog.ETH_P_IP, ipv4(6, "198.18.0.2", 80))
    done = struct.pack("=IHHII", 20, nflog.NLMSG_DONE, 0, 0, 0) + b"\0" * 4
    assert nflog.parse_packets(done + full) == [nflog.Packet("deny", 7, 2, "tcp", "198.18.0.2", 80)]
    assert nflog.parse_packets(full[:10]) == []
    short = packet_message(b"deny", 7, 2, nflog.ETH_P_IP, b"\x45" + b"\0" * 5)
    assert nflog.parse_packets(short)[0].dest is None


def test_bind_message_and_ack() -> None:
    """When a group is bound, the message is a config request for that group with an ack; an
    error message's errno comes back positive, an ack as 0."""
    message = nflog.render_bind(4242, seq=5)
    size, kind, flags, seq, _ = struct.unpack_from("=IHHII", message)
    assert (size, kind, seq) == (len(message), (4 << 8) | 1, 5)
    assert flags == nflog.NLM_F_REQUEST | nflog.NLM_F_ACK
    assert struct.unpack_from("!BBH", message, 16) == (0, 0, 4242)
    assert message[20:25] == struct.pack("=HH", 5, nflog.NFULA_CFG_CMD) + bytes([1])
    ack = struct.pack("=IHHII", 36, nflog.NLMSG_ERROR, 0, 5, 0) + struct.pack("=i", -1)
    assert nflog.parse_ack(ack + b"\0" * 16) == 1
    assert nflog.parse_ack(struct.pack("=IHHII", 36, 2, 0, 5, 0) + b"\0" * 20) == 0
    assert nflog.parse_ack(b"") is None


def record(colony: str, verdict: str, dest: str, port: int | None, at: float) -> dict:
    return {
        "type": "net",
        "colony": colony,
        "user": "alice",
        "dest": dest,
        "port": port,
        "proto": "tcp",
        "verdict": verdict,
        "at": at,
    }


def test_netlog_keeps_recent_records_and_counts_by_destination() -> None:
    """When records arrive, each colony keeps its last ones and counters per destination,
    busiest first; forgetting a colony drops them."""
    book = NetLog(keep=3)
    for i, (verdict, dest) in enumerate(
        [("accept", "a"), ("deny", "b"), ("accept", "a"), ("deny", "b"), ("deny", "b")]
    ):
        book.add(record("web", verdict, dest, 443, float(i)))
    book.add(record("api", "accept", "c", 80, 9.0))
    view = book.view("web")
    assert (view["accepted"], view["denied"]) == (2, 3)
    assert [r["at"] for r in view["records"]] == [2.0, 3.0, 4.0]
    assert view["destinations"] == [
        {"dest": "b", "port": 443, "proto": "tcp", "accepted": 0, "denied": 3, "last": 4.0},
        {"dest": "a", "port": 443, "proto": "tcp", "accepted": 2, "denied": 0, "last": 2.0},
    ]
    book.forget("web")
    assert book.view("web")["records"] == []
    assert book.view("api")["accepted"] == 1


def test_netlog_bounds_destinations() -> None:
    """When a colony contacts more destinations than kept, the least recent are dropped."""
    book = NetLog(destinations=2)
    for i, dest in enumerate(["a", "b", "a", "c"]):
        book.add(record("web", "accept", dest, 1, float(i)))
    assert {d["dest"] for d in book.view("web")["destinations"]} == {"a", "c"}


def test_netlog_counts_names_refused_by_the_gate_and_the_dns_stub() -> None:
    """When the gate refuses a name (twice) and the DNS stub another, ``blocked`` lists both,
    latest first, with counts and the last reason; connections without a name and accepted
    ones are not in it; forgetting the colony drops them (issue 16)."""
    book = NetLog(destinations=2)
    gate = {**record("web", "deny", "10.0.0.1", 443, 1.0), "host": "x.test", "reason": "no"}
    book.add(gate)
    book.add({**gate, "at": 3.0, "reason": "still no"})
    book.add(record("web", "deny", "10.0.0.2", 22, 4.0))  # the firewall's: no name
    book.add({**record("web", "accept", "10.0.0.1", 443, 5.0), "host": "ok.test"})
    query = {"colony": "web", "name": "y.test", "qtype": "A", "verdict": "deny", "at": 2.0}
    book.add_query({**query, "reason": "not in the allowlist"})
    book.add_query({**query, "name": "Y.test", "at": 2.0, "reason": "not in the allowlist"})
    assert book.blocked("web") == [
        {"host": "x.test", "port": 443, "count": 2, "last": 3.0, "reason": "still no",
         "via": "gate"},
        {"host": "y.test", "port": None, "count": 2, "last": 2.0, "reason": "not in the allowlist",
         "via": "dns"},
    ]  # fmt: skip
    book.forget("web")
    assert book.blocked("web") == []
