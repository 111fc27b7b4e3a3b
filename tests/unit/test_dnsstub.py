"""The DNS stub's answers over the network service and the fake isolation: what a colony is
told, what is pinned, what is recorded, and how floods and bad packets are met."""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Iterator
from pathlib import Path

import dns.flags
import dns.message
import dns.rcode
import pytest

from colony.core.policy import parse_policy
from colony.daemon.dnsstub import QUEUE, RATE, DnsStub, _Pending
from colony.daemon.events import EventBus
from colony.daemon.netlog import NetLog
from colony.daemon.network import Network
from colony.store.policies import PolicyStore
from colony.store.queries import Store
from colony.testing.fake_isolation import FakeIsolation
from tests.unit.test_network_service import FakeNames, colony

ALLOWLIST = '[network]\negress = "allowlist"\nallow = ["ok.test:443", "*.pkg.test:8081"]\n'


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    store = Store(tmp_path / "mycelium.db")
    yield store
    store.close()


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def setup(store: Store, toml: str = ALLOWLIST) -> tuple[Network, DnsStub, FakeIsolation]:
    iso, names = FakeIsolation(), FakeNames()
    names.table.update({"ok.test": ("198.18.0.2",), "files.pkg.test": ("198.18.0.3",)})
    net = Network(
        iso=iso,
        policies=PolicyStore(store),
        bus=EventBus(),
        names=names,
        clock=lambda: 100.0,
        netlog=NetLog(publish_every=60.0, publish_rate=2),
    )
    await net.attach(*colony(store, iso, "web", 1, toml))
    return net, DnsStub(net, port=0, clock=Clock()), iso


def query(name: str, qtype: str = "A") -> bytes:
    return dns.message.make_query(name, qtype).to_wire()


async def answer(stub: DnsStub, data: bytes) -> dns.message.Message:
    step = stub.answer_now("web", data, 512)
    if isinstance(step, _Pending):
        step = await stub._answer_later(step, 512)
    assert isinstance(step, bytes)
    return dns.message.from_wire(step)


def told(message: dns.message.Message) -> tuple[str, list[str]]:
    addresses = sorted(str(rd) for rrset in message.answer for rd in rrset)
    return dns.rcode.to_text(message.rcode()), addresses


async def test_allowed_names_get_addresses_others_nxdomain(store: Store) -> None:
    """When a colony with an allowlist asks, an exact entry's name gets the addresses pinned
    for it at once (no lookup), a wildcard's name is looked up and pinned before the answer,
    AAAA gets no records, and other names (and the wildcard's base) get NXDOMAIN; the answer
    keeps the question's spelling."""
    net, stub, iso = await setup(store)
    assert isinstance(stub.answer_now("web", query("OK.test"), 512), bytes)  # pinned already
    reply = await answer(stub, query("OK.test"))
    assert told(reply) == ("NOERROR", ["198.18.0.2"])
    assert reply.answer[0].name.to_text() == "OK.test."
    assert reply.flags & dns.flags.RA

    assert isinstance(stub.answer_now("web", query("files.pkg.test"), 512), _Pending)
    assert told(await answer(stub, query("files.pkg.test"))) == ("NOERROR", ["198.18.0.3"])
    assert iso.networks[("ct-n", "web")].allow.v4_ports == (
        ("198.18.0.2", 443),
        ("198.18.0.3", 8081),
    )
    assert isinstance(stub.answer_now("web", query("files.pkg.test"), 512), bytes)  # cached

    assert told(await answer(stub, query("ok.test", "AAAA"))) == ("NOERROR", [])
    assert told(await answer(stub, query("ok.test", "TXT"))) == ("NOERROR", ['"hello"'])
    assert told(await answer(stub, query("files.pkg.test", "MX"))) == ("SERVFAIL", [])
    assert told(await answer(stub, query("ok.test", "HINFO"))) == ("NOERROR", [])
    for refused in ("pkg.test", "other.test", "ok.test.evil", "a\\000b.test", "10.0.0.1"):
        assert told(await answer(stub, query(refused))) == ("NXDOMAIN", [])

    view = net.view("web")["dns"]
    assert (view["answered"], view["refused"]) == (8, 5)
    last = view["queries"][-1]
    assert (last["name"], last["verdict"]) == ("10.0.0.1", "deny")
    assert last["reason"] == "'10.0.0.1' is not a valid host name"


async def test_allow_mode_answers_all_but_deny_and_deny_mode_nothing(store: Store) -> None:
    """When egress is allow, every name but deny entries is answered (nothing pinned: all
    is admitted); when deny, nothing is."""
    net, stub, _ = await setup(store, '[network]\negress = "allow"\ndeny = ["*.pkg.test"]\n')
    assert told(await answer(stub, query("ok.test"))) == ("NOERROR", ["198.18.0.2"])
    assert told(await answer(stub, query("files.pkg.test"))) == ("NXDOMAIN", [])
    assert told(await answer(stub, query("gone.test"))) == ("NXDOMAIN", [])  # no address
    assert net.members["web"].learned == {}


async def test_deny_mode_answers_nothing(store: Store) -> None:
    """When egress is deny, even a name the allow list holds gets NXDOMAIN, and why."""
    net, stub, _ = await setup(store, '[network]\negress = "deny"\nallow = ["ok.test"]\n')
    assert told(await answer(stub, query("ok.test"))) == ("NXDOMAIN", [])
    reason = net.view("web")["dns"]["queries"][-1]["reason"]
    assert reason == "egress to ok.test is not allowed (policy deny)"


async def test_bad_packets_get_formerr_or_nothing(store: Store) -> None:
    """When a packet is too short for a header, or is an answer, it gets nothing; when it
    does not parse, FORMERR with its id; two questions, FORMERR; another opcode, NOTIMP."""
    _, stub, _ = await setup(store)
    assert stub.answer_now("web", b"\x12\x34", 512) is None
    reply = dns.message.make_response(dns.message.make_query("ok.test", "A"))
    assert stub.answer_now("web", reply.to_wire(), 512) is None
    junk = struct.pack("!HHHHHH", 0xBEEF, 0x0100, 1, 0, 0, 0) + b"\x05ab"
    bare = stub.answer_now("web", junk, 512)
    assert isinstance(bare, bytes)
    assert struct.unpack("!HH", bare[:4]) == (0xBEEF, 0x8000 | 0x0100 | dns.rcode.FORMERR)
    two = dns.message.make_query("ok.test", "A")
    two.question.append(dns.message.make_query("b.test", "A").question[0])
    assert dns.message.from_wire(await answer_bytes(stub, two.to_wire())).rcode() == 1
    notify = dns.message.make_query("ok.test", "SOA")
    notify.set_opcode(dns.opcode.NOTIFY)
    assert dns.message.from_wire(await answer_bytes(stub, notify.to_wire())).rcode() == 4


async def answer_bytes(stub: DnsStub, data: bytes) -> bytes:
    step = stub.answer_now("web", data, 512)
    assert isinstance(step, bytes)
    return step


async def test_a_flood_is_dropped_past_the_rate_and_strangers_get_nothing(store: Store) -> None:
    """When a colony asks faster than the stub's rate, questions past its burst are dropped
    (counted) until time refills it; a source that is no colony gets nothing."""
    net, stub, _ = await setup(store)
    address = net.members["web"].slot.colony_ip
    sent: list[bytes] = []
    for _ in range(1200):
        stub.on_datagram(query("other.test"), address, sent.append)
    assert len(sent) == 1000  # the burst
    assert stub.dropped == 200
    assert isinstance(stub.clock, Clock)
    stub.clock.now += 10.5 / RATE  # ten (and a half) questions' worth of time
    for _ in range(20):
        stub.on_datagram(query("other.test"), address, sent.append)
    assert len(sent) == 1010
    stub.on_datagram(query("ok.test"), "10.99.99.99", sent.append)
    assert (len(sent), stub.strangers) == (1010, 1)


async def test_records_are_kept_all_but_told_to_the_bus_once_a_minute(store: Store) -> None:
    """When a colony asks the same name many times, every question is counted and kept, but
    the bus (and the audit log) gets the first with a count, then one a minute, and at most
    the rate a second for distinct names."""
    log = NetLog(publish_every=60.0, publish_rate=2)

    def record(name: str, at: float) -> int:
        return log.add_query(
            {"colony": "web", "name": name, "qtype": "A", "verdict": "deny", "at": at}
        )

    assert record("a.test", 10.0) == 1
    assert [record("a.test", 10.0 + i) for i in range(1, 5)] == [0, 0, 0, 0]
    assert record("a.test", 71.0) == 5  # a minute on: this one and the four held back
    assert record("b.test", 71.5) == 1
    assert record("c.test", 71.6) == 0  # the second's budget (2) is spent
    assert record("c.test", 72.1) == 2
    view = log.view("web")["dns"]
    assert view["refused"] == 9
    assert view["names"][0] == {
        "name": "a.test",
        "qtype": "A",
        "verdict": "deny",
        "count": 6,
        "last": 71.0,
        "answer": [],
    }


async def test_a_kept_answer_is_recorded_and_gone_at_a_policy_change(store: Store) -> None:
    """When the same question comes again, the kept answer (with the new id) is given and
    recorded; after a live policy change the question is decided anew."""
    net, stub, _ = await setup(store)
    first, again = query("ok.test"), query("ok.test")
    assert first[:2] != again[:2]
    assert told(await answer(stub, first)) == ("NOERROR", ["198.18.0.2"])
    kept = stub.answer_now("web", again, 512)
    assert isinstance(kept, bytes)
    assert kept[:2] == again[:2]
    assert told(dns.message.from_wire(kept)) == ("NOERROR", ["198.18.0.2"])
    assert net.view("web")["dns"]["answered"] == 2
    await net.set_policy("web", parse_policy("allowlist", ["other.test"]), by="bob")
    assert told(await answer(stub, again)) == ("NXDOMAIN", [])


async def test_one_colonys_lookups_take_only_its_share_of_the_queue(store: Store) -> None:
    """When a colony asks many names that need a lookup at once, only its share of the
    workers' queue is taken; the rest are dropped (counted), leaving room for others."""
    net, stub, _ = await setup(store)
    stub.queue = asyncio.Queue(QUEUE)
    address = net.members["web"].slot.colony_ip
    for i in range(100):
        stub.on_datagram(query(f"n{i}.pkg.test"), address, lambda _: None)
    assert (stub.queue.qsize(), stub.waiting, stub.dropped) == (64, {"web": 64}, 36)
