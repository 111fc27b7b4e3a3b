"""nf_tables netlink messages as bytes: set elements, batches, tables."""

from __future__ import annotations

import struct
from ipaddress import IPv4Address, IPv4Network

from colony.isolation import nftnl


def attrs(data: bytes) -> list[tuple[int, bytes]]:
    out, offset = [], 0
    while offset + 4 <= len(data):
        size, kind = struct.unpack_from("=HH", data, offset)
        out.append((kind & 0x3FFF, data[offset + 4 : offset + size]))
        offset += (size + 3) & ~3
    return out


def key_of(elem: bytes) -> tuple[bytes, bytes | None, int]:
    """(key, key end, flags) of one encoded NFTA_LIST_ELEM."""
    inner = dict(attrs(attrs(elem)[0][1]))
    key = attrs(inner[nftnl.NFTA_SET_ELEM_KEY])[0][1]
    end = inner.get(nftnl.NFTA_SET_ELEM_KEY_END)
    flags = inner.get(nftnl.NFTA_SET_ELEM_FLAGS)
    return (
        key,
        attrs(end)[0][1] if end else None,
        struct.unpack("!I", flags)[0] if flags else 0,
    )


def test_intervals_are_laid_out_as_nft_does() -> None:
    """When networks go into an interval set, they are merged and sorted, each a start and an
    end marker one past it, after a leading end marker at 0.0.0.0; a range reaching the last
    address has no end marker."""
    nets = [
        IPv4Network("10.0.0.0/8"),
        IPv4Network("192.168.1.1/32"),
        IPv4Network("10.1.0.0/16"),
        IPv4Network("255.255.255.0/24"),
    ]
    keys = [key_of(e) for e in nftnl.intervals4(nets)]
    assert keys == [
        (bytes(4), None, 1),
        (bytes([10, 0, 0, 0]), None, 0),
        (bytes([11, 0, 0, 0]), None, 1),
        (bytes([192, 168, 1, 1]), None, 0),
        (bytes([192, 168, 1, 2]), None, 1),
        (bytes([255, 255, 255, 0]), None, 0),
    ]
    assert [key_of(e) for e in nftnl.intervals4([IPv4Network("0.0.0.0/0")])] == [
        (bytes(4), None, 0)
    ]
    assert nftnl.intervals4([]) == []


def test_concatenations_carry_key_and_key_end() -> None:
    """When address.port pairs go into a concatenated interval set, each element spans the
    network with the port padded to 4 bytes; ifname keys are padded to 16 bytes."""
    (elem,) = nftnl.ranges4_ports([(IPv4Network("10.0.0.0/8"), 443)])
    assert key_of(elem) == (
        bytes([10, 0, 0, 0, 1, 187, 0, 0]),
        bytes([10, 255, 255, 255, 1, 187, 0, 0]),
        0,
    )
    (peer,) = nftnl.ifname_ports([("cth4", 5432)])
    assert key_of(peer)[0] == b"cth4" + bytes(12) + bytes([0x15, 0x38, 0, 0])
    (addr,) = nftnl.addresses4([IPv4Address("10.255.255.53")])
    assert key_of(addr)[0] == bytes([10, 255, 255, 53])


def test_a_batch_frames_and_numbers_its_messages() -> None:
    """When messages are batched, begin and end frame them and each gets its own sequence."""
    messages = [nftnl.render_flush_set("t", "s"), nftnl.render_delete_table("t")]
    batch, seqs = nftnl._batch(messages, 100)
    assert seqs == [101, 102]
    headers = []
    offset = 0
    while offset < len(batch):
        size, kind, _flags, seq, _pid = struct.unpack_from("=IHHII", batch, offset)
        headers.append((kind, seq))
        offset += size
    assert headers == [
        (nftnl.NFNL_MSG_BATCH_BEGIN, 100),
        ((10 << 8) | nftnl.NFT_MSG_DELSETELEM, 101),
        ((10 << 8) | nftnl.NFT_MSG_DELTABLE, 102),
        (nftnl.NFNL_MSG_BATCH_END, 103),
    ]


def test_large_sets_are_sent_in_chunks() -> None:
    """When a set gets more elements than fit one message, several messages carry them."""
    many = nftnl.addresses4(IPv4Address(f"10.0.{i // 256}.{i % 256}") for i in range(150))
    assert len(nftnl.render_add_elements("t", "s", many)) == 3
    assert nftnl.render_add_elements("t", "s", []) == []


def test_a_table_answer_parses_to_name_and_comment() -> None:
    """When the kernel describes a table, its name and comment (user data TLV) are read."""
    udata = bytes([nftnl.UDATA_TABLE_COMMENT, 6]) + b"hello\0"
    payload = (
        struct.pack("!BBH", 1, 0, 0)
        + nftnl._string(nftnl.NFTA_TABLE_NAME, "colony-web")
        + nftnl._attr(nftnl.NFTA_TABLE_USERDATA, udata)
    )
    assert nftnl.parse_table(payload) == ("colony-web", "hello")
    bare = struct.pack("!BBH", 1, 0, 0) + nftnl._string(nftnl.NFTA_TABLE_NAME, "x")
    assert nftnl.parse_table(bare) == ("x", None)


def test_recreate_keeps_what_makes_an_object_and_drops_what_the_kernel_set() -> None:
    """When a dumped rule becomes a message that makes it again, its table, chain and
    expressions stay, its handle and position go, and it is appended to the chain; a set
    gets the id the kernel asks of a new set."""
    dumped = struct.pack("!BBH", nftnl.NFPROTO_INET, 0, 7) + b"".join(
        [
            nftnl._string(1, "t"),  # table
            nftnl._string(2, "c"),  # chain
            nftnl._attr(3, struct.pack("!Q", 42)),  # handle
            nftnl._nested(4, nftnl._attr(1, b"expr")),  # expressions
            nftnl._attr(6, struct.pack("!Q", 41)),  # position
        ]
    )
    message = nftnl.recreate(nftnl.NFT_MSG_NEWRULE, dumped)
    _size, kind, flags, _seq, _pid = nftnl._HDR.unpack_from(message)
    assert kind == (nftnl.NFNL_SUBSYS_NFTABLES << 8) | nftnl.NFT_MSG_NEWRULE
    assert flags & nftnl.NLM_F_APPEND
    assert flags & nftnl.NLM_F_CREATE
    assert [k for k, _ in attrs(message[20:])] == [1, 2, 4]

    dumped_set = struct.pack("!BBH", nftnl.NFPROTO_INET, 0, 7) + nftnl._string(2, "allow4")
    made = nftnl.recreate(nftnl.NFT_MSG_NEWSET, dumped_set + nftnl._attr(16, bytes(8)), 3)
    assert attrs(made[20:]) == [(2, b"allow4\0"), (nftnl.NFTA_SET_ID, struct.pack("!I", 3))]
