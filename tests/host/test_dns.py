"""The DNS stub per colony (issue 16) against real colonies: what a colony can resolve, where
its DNS goes, and what is recorded.

Names are served from the daemon's ``COLONY_HOSTS_FILE`` only: every name a test lets a
colony resolve is in it, so no lookup leaves the machine. "The outside" is the namespace of
:func:`tests.host.test_network.outside`, whose stand-in resolver echoes what it gets: an
answer that parses as DNS came from the stub.
"""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path

import dns.message
import dns.rrset
import pytest

from colony.contract_responses import DnsQuery
from colony.isolation.firewall import dns_port
from tests.host import test_network
from tests.host.conftest import Daemon, run_in
from tests.host.test_network import (
    Outside,
    colony_cli,
    gateway_of,
    network_repo,
    probe,
    spawn,
    udp_probe,
)

outside = test_network.outside  # the fixture: a namespace with HTTP servers and a resolver

RESOLVE = textwrap.dedent("""
    import json, socket, sys
    out = {}
    for name in sys.argv[1:]:
        try:
            infos = socket.getaddrinfo(name, 80, socket.AF_INET, socket.SOCK_STREAM)
            out[name] = sorted({i[4][0] for i in infos})
        except socket.gaierror as exc:
            out[name] = "EAI_NONAME" if exc.errno == socket.EAI_NONAME else f"error {exc}"
    print(json.dumps(out))
""")

ASK = textwrap.dedent("""
    import json, sys
    import dns.message, dns.query, dns.rcode
    server, proto, names = sys.argv[1], sys.argv[2], sys.argv[3:]
    out = {}
    for name in names:
        q = dns.message.make_query(name, "A")
        try:
            if proto == "udp":
                r = dns.query.udp(q, server, timeout=3)
            else:
                r = dns.query.tcp(q, server, timeout=3)
        except Exception as exc:  # the echo resolver's reply does not parse, or a timeout
            out[name] = f"{type(exc).__name__}"
            continue
        addrs = sorted(str(rd) for rrset in r.answer for rd in rrset)
        out[name] = [dns.rcode.to_text(r.rcode()), addrs]
    print(json.dumps(out))
""")


@pytest.fixture(autouse=True)
def names(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The daemon looks names up in this hosts file first (set before the daemon starts)."""
    hosts = tmp_path / "hosts"
    hosts.write_text("")
    (tmp_path / "resolv.conf").write_text("nameserver 192.0.2.53\n")  # TEST-NET: never sent
    monkeypatch.setenv("COLONY_HOSTS_FILE", str(hosts))
    monkeypatch.setenv("COLONY_RESOLV_CONF", str(tmp_path / "resolv.conf"))
    return hosts


def resolve_in(d: Daemon, name: str, *hosts: str) -> dict[str, object]:
    """socket.getaddrinfo inside colony ``name``, as its processes run (its own view)."""
    assert d.client is not None
    code, out, err = run_in(d.client, name, ["python3", "-c", RESOLVE, *hosts])
    assert code == 0, err
    return json.loads(out)


def ask(netns: str, server: str, proto: str, *hosts: str) -> dict[str, object]:
    """Raw DNS questions to ``server`` port 53 from inside ``netns`` (as root there)."""
    done = subprocess.run(
        ["ip", "netns", "exec", netns, sys.executable, "-c", ASK, server, proto, *hosts],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(done.stdout)


def queries(d: Daemon, name: str) -> list[DnsQuery]:
    assert d.client is not None
    return d.client.network(name, limit=500).dns.queries


def test_allowlist_colony_resolves_only_allowed_names(
    daemon: Daemon, tmp_path: Path, outside: Outside, names: Path
) -> None:
    """When a colony's allowlist holds ok.test:8080 and *.pkg.test:8081, its processes
    resolve ok.test and names below pkg.test (its resolv.conf names the stub on its gateway),
    get NXDOMAIN for pkg.test itself and for other names, and reach a wildcard name's address
    on the entry's port only once the stub answered it; every question is recorded, and
    `colony net` shows them."""
    first, second = outside.ips
    names.write_text(f"{first} ok.test\n{second} files.pkg.test other.test\n")
    toml = '[network]\negress = "allowlist"\nallow = ["ok.test:8080", "*.pkg.test:8081"]\n'
    colony = spawn(daemon, "listed", network_repo(tmp_path, {"colony.toml": toml}))
    ns, gateway = colony.netns, gateway_of(colony.address)
    assert daemon.client is not None

    code, out, _ = run_in(daemon.client, "listed", ["cat", "/etc/resolv.conf"])
    assert (code, out.splitlines()[-1]) == (0, f"nameserver {gateway}")
    assert probe(ns, second, 8081) == "refused"  # not answered yet: not pinned

    found = resolve_in(daemon, "listed", "ok.test", "Files.PKG.test", "pkg.test", "other.test")
    assert found == {
        "ok.test": [first],
        "Files.PKG.test": [second],
        "pkg.test": "EAI_NONAME",
        "other.test": "EAI_NONAME",
    }
    code, out, _ = run_in(daemon.client, "listed", ["getent", "hosts", "ok.test"])
    assert (code, out.split()[0]) == (0, first)

    assert probe(ns, second, 8081) == f"ok outside {second}:8081"  # pinned as answered
    assert probe(ns, second, 8080) == "refused"  # the wildcard entry's port only
    assert probe(ns, first, 8080) == f"ok outside {first}:8080"

    seen = queries(daemon, "listed")
    told = {(q.name, q.qtype, q.verdict) for q in seen}
    assert {("ok.test", "A", "accept"), ("files.pkg.test", "A", "accept")} <= told
    assert {("pkg.test", "A", "deny"), ("other.test", "A", "deny")} <= told
    refused = next(q for q in seen if q.name == "other.test")
    assert refused.reason == "egress to other.test is not allowed (not in the allowlist)"
    answered = next(q for q in seen if q.name == "ok.test" and q.qtype == "A")
    assert answered.answer == [first]
    view = daemon.client.network("listed")
    assert view.learned == {"*.pkg.test": [second]}
    assert view.stub == gateway
    assert view.dns.refused >= 2

    done = colony_cli(daemon, "net", "listed")
    assert done.returncode == 0, done.stderr
    assert "other.test" in done.stdout
    assert "NXDOMAIN" in done.stdout


def test_dns_to_any_resolver_is_the_stubs_at_every_mode(
    daemon: Daemon, tmp_path: Path, outside: Outside, names: Path
) -> None:
    """When a colony (as root in its namespace) sends DNS over UDP or TCP to another
    resolver's address, the stub answers instead (the resolver never hears it): in allow mode
    all names but deny entries, in deny mode none; a stranger (the host) gets no answer."""
    first, second = outside.ips
    names.write_text(f"{first} ok.test\n{second} x.evil.test\n")
    repo = network_repo(
        tmp_path,
        {
            "colony.toml": '[network]\negress = "allow"\ndeny = ["*.evil.test"]\n',
            "deny.toml": '[network]\negress = "deny"\nallow = ["ok.test"]\n',
        },
    )
    open_ns = spawn(daemon, "open", repo).netns
    shut_ns = spawn(daemon, "shut", repo, "deny.toml").netns

    for server in (first, outside.gateway):
        for proto in ("udp", "tcp"):
            assert ask(open_ns, server, proto, "ok.test", "x.evil.test") == {
                "ok.test": ["NOERROR", [first]],
                "x.evil.test": ["NXDOMAIN", []],
            }
    assert ask(shut_ns, first, "udp", "ok.test") == {"ok.test": ["NXDOMAIN", []]}
    # Not DNS at all: the resolver (which echoes anything) never gets it, the stub drops it.
    assert not udp_probe(open_ns, first).startswith("ok")
    denied = [q for q in queries(daemon, "shut") if q.name == "ok.test"]
    assert denied[0].reason == "egress to ok.test is not allowed (policy deny)"
    evil = [q for q in queries(daemon, "open") if q.name == "x.evil.test"]
    assert evil[0].reason == "x.evil.test is denied by '*.evil.test'"

    # The host is no colony: the stub's port answers it nothing.
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.settimeout(1)
        query = dns.message.make_query("ok.test", "A").to_wire()
        udp.sendto(query, ("127.0.0.1", dns_port(daemon.prefix)))
        with pytest.raises(TimeoutError):
            udp.recv(512)


def test_a_strict_colony_resolves_through_the_stub_too(
    daemon: Daemon, tmp_path: Path, names: Path
) -> None:
    """When a colony runs at strict (bubblewrap over its view), its resolv.conf still names
    the stub, and it resolves allowed names only."""
    names.write_text("198.18.9.9 ok.test\n198.18.9.8 no.test\n")
    toml = '[sandbox]\nlevel = "strict"\n[network]\negress = "allowlist"\nallow = ["ok.test"]\n'
    colony = spawn(daemon, "tight", network_repo(tmp_path, {"colony.toml": toml}))
    assert daemon.client is not None
    code, out, _ = run_in(daemon.client, "tight", ["cat", "/etc/resolv.conf"])
    assert (code, out.splitlines()[-1]) == (0, f"nameserver {gateway_of(colony.address)}")
    found = resolve_in(daemon, "tight", "ok.test", "no.test")
    assert found == {"ok.test": ["198.18.9.9"], "no.test": "EAI_NONAME"}


@contextlib.contextmanager
def upstream(address: str) -> Iterator[list[str]]:
    """A resolver of the host's (port 53 on a loopback address): answers TXT "hello" for any
    name, and lists the names it was asked."""
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind((address, 53))
    udp.settimeout(0.2)
    asked: list[str] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                data, peer = udp.recvfrom(4096)
            except TimeoutError:
                continue
            q = dns.message.from_wire(data)
            asked.append(q.question[0].name.to_text(omit_final_dot=True))
            r = dns.message.make_response(q)
            r.answer.append(dns.rrset.from_text(q.question[0].name, 60, "IN", "TXT", '"hello"'))
            udp.sendto(r.to_wire(), peer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield asked
    finally:
        stop.set()
        thread.join(5)
        udp.close()


def test_other_types_of_allowed_names_go_to_the_hosts_resolver_only(
    daemon: Daemon, tmp_path: Path, names: Path
) -> None:
    """When a colony asks for TXT records, the stub asks the host's resolver (resolv.conf)
    for an allowed name and passes its answer on; a refused name never reaches it."""
    names.write_text("198.18.9.9 ok.test\n")
    toml = '[network]\negress = "allowlist"\nallow = ["ok.test"]\n'
    colony = spawn(daemon, "txt", network_repo(tmp_path, {"colony.toml": toml}))
    gateway = gateway_of(colony.address)
    with upstream("127.53.0.1") as asked:
        (tmp_path / "resolv.conf").write_text("nameserver 127.53.0.1\n")
        script = textwrap.dedent("""
            import sys, dns.message, dns.query, dns.rcode
            for name in sys.argv[2:]:
                r = dns.query.udp(dns.message.make_query(name, "TXT"), sys.argv[1], timeout=5)
                print(name, dns.rcode.to_text(r.rcode()), *(str(rd) for s in r.answer for rd in s))
        """)
        argv = ["ip", "netns", "exec", colony.netns, sys.executable, "-c", script, gateway]
        done = subprocess.run(
            [*argv, "ok.test", "secret-data.other.test"],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
    assert done.stdout.splitlines() == [
        'ok.test NOERROR "hello"',
        "secret-data.other.test NXDOMAIN",
    ]
    assert asked == ["ok.test"]
