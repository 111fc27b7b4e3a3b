"""Deny by name in ``allow`` mode against the real kernel (issue 16): TCP 80/443 goes through
the egress gate, which refuses a denied name by the name a connection asks for (HTTP Host,
TLS SNI) while another name on the same address passes; IP and CIDR deny entries stay the
firewall's, and other ports keep refusing a denied name's addresses.

"The outside world" is :func:`tests.host.test_egress_gate.world`'s namespace (HTTP on 80,
HTTPS on 443, a UDP echo on 443); names come from the daemon's ``COLONY_HOSTS_FILE``.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

from colony.contract_responses import Colony, dump
from colony.core import egress
from tests.host import test_egress_gate as gate
from tests.host.conftest import Daemon, wait_for
from tests.host.test_egress_gate import World, fetch
from tests.host.test_network import colony_cli, network_repo, records, sh, spawn, udp_probe
from tests.unit.test_sniff import ext, hello, sni

# Inside the colony: raw bytes (hex) to address:443, the first bytes of the answer (hex).
RAW = """
import socket, sys
address, data = sys.argv[1], bytes.fromhex(sys.argv[2])
try:
    sock = socket.create_connection((address, 443), timeout=5)
    sock.sendall(data)
    print(sock.recv(7).hex() or "closed")
except OSError as exc:
    print("error", type(exc).__name__)
"""

world = gate.world  # the fixture: a namespace outside the pool with HTTP, HTTPS and QUIC's port
names = gate.names  # autouse: the daemon's hosts file, set before it starts


def open_colony(daemon: Daemon, tmp_path: Path, deny: list[str], name: str = "open") -> Colony:
    entries = ", ".join(f'"{e}"' for e in deny)
    toml = f'[network]\negress = "allow"\ndeny = [{entries}]\n'
    return spawn(daemon, name, network_repo(tmp_path, {"colony.toml": toml}))


def denial(colony: str, host: str, port: int, entry: str) -> str:
    return (
        f"colony '{colony}': egress to {host}:{port} is not allowed (policy allow, deny entry "
        f"{entry!r}); the owner can run: colony policy {colony} --remove {shlex.quote(entry)}"
    )


def test_denied_names_are_refused_by_name_and_others_on_their_address_pass(
    daemon: Daemon, tmp_path: Path, world: World, names: Path
) -> None:
    """When egress is allow and other.test and *.evil.test are denied, they get a 403 naming
    the entry and its removal or a TLS alert, while ok.test on other.test's address passes;
    an unnamed hello passes to an address no denied name has but not to other.test's; a
    denied network is refused by the firewall; other ports of other.test's address stay
    refused by address; a name resolving to cloud metadata is refused; UDP 443 is dropped."""
    client = daemon.client
    assert client is not None
    first, second = world.ips
    names.write_text(f"{first} ok.test other.test x.evil.test\n169.254.169.254 meta.test\n")
    ns = open_colony(daemon, tmp_path, ["other.test", "*.evil.test", f"{second}/32:80"]).netns

    assert fetch(ns, world, "http", first, "ok.test") == (
        f"HTTP/1.1 200 OK | http host=ok.test sni=None at={first}"
    )
    assert fetch(ns, world, "tls", first, "ok.test") == (
        f"HTTP/1.1 200 OK | tls host=ok.test sni=ok.test at={first}"
    )
    line = denial("open", "other.test", 80, "other.test")
    assert fetch(ns, world, "http", first, "other.test") == f"HTTP/1.1 403 Forbidden | {line}"
    assert "ACCESS_DENIED" in fetch(ns, world, "tls", first, "other.test").upper()
    wild = denial("open", "x.evil.test", 80, "*.evil.test")
    assert fetch(ns, world, "http", first, "x.evil.test") == f"HTTP/1.1 403 Forbidden | {wild}"
    assert "ACCESS_DENIED" in fetch(ns, world, "tls", first, "x.evil.test").upper()

    # no SNI: to where the colony dialled, unless a denied name has that address
    assert fetch(ns, world, "tls", second, "") == (
        f"HTTP/1.1 200 OK | tls host={second} sni=None at={second}"
    )
    assert "ACCESS_DENIED" in fetch(ns, world, "tls", first, "").upper()
    got = fetch(ns, world, "http", first, "")  # Host: an address
    assert got.startswith(f"HTTP/1.1 403 Forbidden | colony 'open': egress to {first}:80 is")
    assert got.endswith(f"{first} is an address of the denied 'other.test'")

    assert fetch(ns, world, "http", second, "ok.test") == "refused"  # the CIDR entry: nft's
    assert fetch(ns, world, "tls", second, "ok.test").endswith(f"at={first}")  # not :443
    assert fetch(ns, world, "http", first, "", port=8080) == "refused"
    assert fetch(ns, world, "http", second, "", port=8080) == "refused"  # nothing listens
    wait_for(lambda: records(daemon, "open", "deny", first, 8080), what="firewall's refusal")
    wait_for(lambda: records(daemon, "open", "accept", second, 8080), what="firewall's accept")
    assert not udp_probe(ns, second, 443).startswith("ok")  # QUIC: back to TCP, the gate

    got = fetch(ns, world, "http", first, "meta.test")
    assert got.startswith("HTTP/1.1 403 Forbidden | colony 'open': egress to meta.test:80 is")
    assert "resolves to 169.254.169.254 (link-local" in got

    view = client.network("open", limit=200)
    reasons = [r.reason or "" for r in view.records]
    assert any(f"egress to {second}:443 passed unnamed" in r for r in reasons), reasons
    assert line in reasons


def test_removing_a_deny_entry_as_the_refusal_says_opens_it_live(
    daemon: Daemon, tmp_path: Path, world: World, names: Path
) -> None:
    """When the owner runs the command a denied wildcard's 403 names, the name passes at the
    next request, the colony not restarted; without denied names the gate steps aside."""
    client = daemon.client
    assert client is not None
    first, _ = world.ips
    names.write_text(f"{first} x.evil.test other.test\n")
    ns = open_colony(daemon, tmp_path, ["*.evil.test", "other.test"]).netns
    before = client.colony("open").transitions
    got = fetch(ns, world, "http", first, "x.evil.test")
    assert got == f"HTTP/1.1 403 Forbidden | {denial('open', 'x.evil.test', 80, '*.evil.test')}"

    command = shlex.split(got.split("the owner can run: ", 1)[1])
    assert command[:2] == ["colony", "policy"]
    done = colony_cli(daemon, *command[1:])
    assert done.returncode == 0, done.stderr
    assert fetch(ns, world, "http", first, "x.evil.test") == (
        f"HTTP/1.1 200 OK | http host=x.evil.test sni=None at={first}"
    )
    assert "ACCESS_DENIED" in fetch(ns, world, "tls", first, "other.test").upper()

    done = colony_cli(daemon, "policy", "open", "--remove", "other.test")
    assert done.returncode == 0, done.stderr
    assert fetch(ns, world, "tls", first, "other.test").endswith(f"at={first}")
    assert fetch(ns, world, "tls", first, "").endswith(f"at={first}")
    assert client.colony("open").transitions == before  # not restarted
    assert dump(client.network("open").policy) == {"egress": "allow", "allow": [], "deny": []}


def test_encrypted_hellos_pass_unnamed_unless_to_a_denied_names_address(
    daemon: Daemon, tmp_path: Path, world: World, names: Path
) -> None:
    """When a colony in allow mode sends an encrypted ClientHello (ECH), its outer name is
    judged (a denied one gets the alert), and it goes on to the address dialled, except to an
    address of a denied name; each verdict is recorded with why."""
    client = daemon.client
    assert client is not None
    first, second = world.ips
    names.write_text(f"{first} ok.test other.test\n")
    ns = open_colony(daemon, tmp_path, ["other.test"]).netns

    def send(address: str, outer: str) -> str:
        data = hello(sni(outer.encode()) + ext(0xFE0D, b"\x00" * 8)).hex()
        done = sh("ip", "netns", "exec", ns, sys.executable, "-c", RAW, address, data)
        return done.stdout.strip()

    alert = egress.render_tls_alert().hex()
    assert send(first, "ok.test") == alert  # first is other.test's address
    assert send(first, "other.test") == alert
    assert send(second, "ok.test") != alert  # to the server, which makes nothing of it

    ech = "its TLS ClientHello is encrypted (ECH)"

    def reasons() -> list[str]:
        return [r.reason or "" for r in client.network("open", limit=200).records]

    wait_for(lambda: len(reasons()) >= 3, what="three gate records")
    assert f"colony 'open': egress to {second}:443 passed unnamed: {ech} (policy allow)" in (
        reasons()
    )
    assert (
        f"colony 'open': egress to {first}:443 is refused: {ech}, and {first} is an address "
        "of the denied 'other.test'"
    ) in reasons()
    assert denial("open", "other.test", 443, "other.test") in reasons()
