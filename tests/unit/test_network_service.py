"""The daemon's network service over the fake isolation: attach, exposures, live policy,
storage across daemons, re-resolution, and connection records."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Iterator
from pathlib import Path

import dns.message
import dns.rdatatype
import dns.rrset
import pytest

from colony.core.config import parse_config_text
from colony.core.model import ColonyRecord, Slot, State
from colony.core.policy import parse_policy
from colony.daemon.events import EventBus
from colony.daemon.names import Names
from colony.daemon.network import Network
from colony.errors import HostError
from colony.isolation import nflog
from colony.store.policies import PolicyStore
from colony.store.queries import Store
from colony.testing.fake_isolation import FakeIsolation

POOL = ipaddress.IPv4Network("10.213.9.0/24")


class FakeNames(Names):
    """Names from a dict the test edits; nameservers fixed."""

    def __init__(self) -> None:
        super().__init__()
        self.table: dict[str, tuple[str, ...]] = {}
        self.asked: list[str] = []

    def nameservers(self) -> tuple[str, ...]:
        return ("10.255.255.53",)

    async def forward(self, name: str, rdtype: int) -> dns.message.Message | None:
        """TXT of ok.test answers "hello"; anything else: no nameserver answers."""
        self.asked.append(f"{name}/{rdtype}")
        if (name, rdtype) != ("ok.test", dns.rdatatype.TXT):
            return None
        response = dns.message.make_response(dns.message.make_query(name, rdtype))
        response.answer.append(dns.rrset.from_text(name + ".", 60, "IN", "TXT", '"hello"'))
        return response

    async def resolve(self, names: Iterable[str]) -> dict[str, tuple[str, ...]]:
        wanted = sorted(set(names))
        self.asked += wanted
        return {n: self.table.get(n, ()) for n in wanted}


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    store = Store(tmp_path / "mycelium.db")
    yield store
    store.close()


def make(store: Store, iso: FakeIsolation, names: FakeNames, bus: EventBus) -> Network:
    ifnames = {7: "ct-nh1", 8: "ct-nh2", 2: "eth0"}
    net = Network(
        iso=iso,
        policies=PolicyStore(store),
        bus=bus,
        names=names,
        clock=lambda: 100.0,
        ifname=ifnames.get,
    )
    net.log_group = 4242
    return net


def colony(store: Store, iso: FakeIsolation, name: str, index: int, toml: str):  # type: ignore[no-untyped-def]
    rec = ColonyRecord(name, index, State.SPAWNING, "alice", 1.0, 1.0, "/r", "colony.toml", toml)
    store.insert(rec)
    slot = Slot("ct-n", name, index, POOL)
    iso.create(slot)
    return rec, slot, parse_config_text(toml, "colony.toml")


async def test_attach_loads_the_policy_with_names_resolved(store: Store) -> None:
    """When a colony attaches, its table gets its allowlist with names resolved; an
    unresolvable name is a warning."""
    iso, names = FakeIsolation(), FakeNames()
    names.table["ok.test"] = ("198.18.0.2",)
    net = make(store, iso, names, EventBus())
    toml = '[network]\negress = "allowlist"\nallow = ["ok.test:443", "gone.test"]\n'
    warnings = await net.attach(*colony(store, iso, "web", 1, toml))
    assert warnings == ["gone.test: no address found; retried every minute"]
    rules = iso.networks[("ct-n", "web")]
    assert rules.egress == "allowlist"
    assert rules.allow.v4_ports == (("198.18.0.2", 443),)
    assert net.view("web")["stub"] == "10.213.9.5"  # its gateway: the DNS stub


async def test_exposure_follows_peers_coming_and_going(store: Store) -> None:
    """When b exposes db to a, b's table lets a's veth in once a attaches (whatever the
    order), and stops when a detaches."""
    iso, names = FakeIsolation(), FakeNames()
    net = make(store, iso, names, EventBus())
    b_toml = '[services.db]\ncommand = "x"\nport = 5432\n[network]\nexpose_to = ["a:db"]\n'
    await net.attach(*colony(store, iso, "b", 2, b_toml))
    assert iso.networks[("ct-n", "b")].exposed == ()
    await net.attach(*colony(store, iso, "a", 1, ""))
    assert iso.networks[("ct-n", "b")].exposed == (("ct-nh1", 5432),)
    assert net.view("b")["exposed_to"] == ["a"]
    loads = len([c for c in iso.calls if c[0] == "set_network"])
    await net.detach("a")
    assert iso.networks[("ct-n", "b")].exposed == ()
    assert len([c for c in iso.calls if c[0] == "set_network"]) == loads + 1  # only b reloads


async def test_live_policy_is_stored_and_outlives_the_daemon(store: Store) -> None:
    """When a policy is set live, the table changes at once, a policy event names the user,
    and a new daemon attaching the colony uses the stored override until it is reset."""
    iso, names, bus = FakeIsolation(), FakeNames(), EventBus()
    net = make(store, iso, names, bus)
    parts = colony(store, iso, "web", 1, "")
    await net.attach(*parts)
    async with bus.subscribe() as queue:
        await net.set_policy("web", parse_policy("deny", [], ["10.0.0.0/8"]), by="bob")
        event = queue.get_nowait()
    assert iso.networks[("ct-n", "web")].egress == "deny"
    assert event == {
        "type": "policy",
        "colony": "web",
        "user": "bob",
        "at": 100.0,
        "reset": False,
        "egress": "deny",
        "allow": [],
        "deny": ["10.0.0.0/8"],
    }

    again = make(store, iso, names, EventBus())  # a restarted daemon adopts the colony
    await again.attach(*parts)
    assert iso.networks[("ct-n", "web")].egress == "deny"
    view = again.view("web")
    assert (view["source"], view["set_by"]) == ("override", "bob")
    await again.set_policy("web", None, by="bob")
    assert iso.networks[("ct-n", "web")].egress == "allow"
    assert again.view("web")["source"] == "colony.toml"


async def test_a_failed_load_changes_nothing(store: Store) -> None:
    """When nft rejects a policy change, the error propagates, the old policy stays in force
    and nothing is stored."""
    iso, names = FakeIsolation(), FakeNames()
    net = make(store, iso, names, EventBus())
    await net.attach(*colony(store, iso, "web", 1, ""))
    iso.fail["set_network"] = HostError("'nft -f -' exited 1: Error: boom")
    with pytest.raises(HostError):
        await net.set_policy("web", parse_policy("deny"), by="bob")
    del iso.fail["set_network"]
    assert net.view("web")["policy"]["egress"] == "allow"
    assert PolicyStore(store).get("web") is None


async def test_refresh_follows_a_name_to_its_new_address(store: Store) -> None:
    """When a name's address changes, the timer's refresh reloads only the tables using it."""
    iso, names = FakeIsolation(), FakeNames()
    names.table["ok.test"] = ("198.18.0.2",)
    net = make(store, iso, names, EventBus())
    await net.attach(
        *colony(store, iso, "web", 1, '[network]\negress="allowlist"\nallow=["ok.test"]')
    )
    await net.attach(*colony(store, iso, "api", 2, ""))
    names.table["ok.test"] = ("198.18.0.3",)
    before = len(iso.calls)
    await net.refresh()
    assert iso.networks[("ct-n", "web")].allow.v4 == ("198.18.0.3",)
    assert [c[1] for c in iso.calls[before:] if c[0] == "set_network"] == ["web"]


async def test_logged_packets_become_records_of_the_colony_they_came_from(store: Store) -> None:
    """When NFLOG delivers packets, each becomes a net record (and event) of the colony whose
    veth it entered by, or else left by; packets of unknown interfaces are ignored."""
    iso, names, bus = FakeIsolation(), FakeNames(), EventBus()
    net = make(store, iso, names, bus)
    await net.attach(*colony(store, iso, "web", 1, ""))
    async with bus.subscribe() as queue:
        net.on_packet(nflog.Packet("deny", 7, 2, "tcp", "198.18.0.2", 8080))
        net.on_packet(nflog.Packet("accept", 2, 7, "udp", "10.213.9.6", 53))
        net.on_packet(nflog.Packet("accept", 9, 2, "tcp", "198.18.0.2", 80))
        events = [queue.get_nowait() for _ in range(queue.qsize())]
    assert events[0] == {
        "type": "net",
        "colony": "web",
        "user": "alice",
        "dest": "198.18.0.2",
        "port": 8080,
        "proto": "tcp",
        "verdict": "deny",
        "at": 100.0,
    }
    assert [e["verdict"] for e in events] == ["deny", "accept"]
    view = net.view("web")
    assert (view["accepted"], view["denied"]) == (1, 1)
