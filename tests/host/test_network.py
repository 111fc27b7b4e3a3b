"""Network policy against the real kernel: isolation, egress modes, live changes, records.

"The outside world" is a namespace each test makes: a veth to the host with addresses in
198.18.0.0/15 (outside the pool) and HTTP servers in it. No traffic leaves the machine.
Probes run in a colony's namespace as root (``ip netns exec``): the strongest process a
colony can hold, network-wise.
"""

from __future__ import annotations

import contextlib
import http.server
import ipaddress
import os
import random
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from colony.contract_responses import Colony, NetRecord
from colony.core.model import Slot
from colony.core.policy import parse_policy, plan_rules
from colony.errors import ConfigError, HostError
from colony.isolation import firewall
from tests.conftest import TEST_PREFIX, make_repo, new_prefix
from tests.host.conftest import Daemon, wait_for, wait_state

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "webapp" / "app.py"

SERVER = """
import http.server, socket, sys, threading
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = ("outside %s:%d" % self.connection.getsockname()[:2]).encode()
        self.send_response(200); self.send_header("Content-Length", str(len(body)))
        self.end_headers(); self.wfile.write(body)
    def log_message(self, *a): pass
def dns():  # a stand-in resolver: echoes each datagram
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("0.0.0.0", 53))
    while True:
        data, peer = udp.recvfrom(512)
        udp.sendto(b"dns " + data, peer)
threading.Thread(target=dns, daemon=True).start()
servers = [http.server.ThreadingHTTPServer(("0.0.0.0", int(p)), H) for p in sys.argv[1:]]
for s in servers[1:]:
    threading.Thread(target=s.serve_forever, daemon=True).start()
print("ready", flush=True)
servers[0].serve_forever()
"""

PROBE = """
import http.client, socket, sys
host, port, src = sys.argv[1], int(sys.argv[2]), sys.argv[3] or None
conn = http.client.HTTPConnection(host, port, timeout=3,
                                  source_address=(src, 0) if src else None)
try:
    conn.request("GET", "/")
    print("ok", conn.getresponse().read().decode().strip())
except ConnectionRefusedError:
    print("refused")
except (TimeoutError, socket.timeout):
    print("timeout")
except OSError as exc:
    print("error", exc.errno)
"""


UDP_PROBE = """
import socket, sys
udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
udp.settimeout(2)
udp.connect((sys.argv[1], int(sys.argv[2])))
try:
    udp.send(b"query")
    print("ok", udp.recv(100).decode())
except ConnectionRefusedError:
    print("refused")
except (TimeoutError, socket.timeout):
    print("timeout")
except OSError as exc:
    print("error", exc.errno)
"""


def sh(*argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, check=check, timeout=60)


def probe(netns: str, host: str, port: int, src: str = "") -> str:
    """Connect from inside ``netns`` to host:port: 'ok <reply>', 'refused', 'timeout', …"""
    done = sh("ip", "netns", "exec", netns, sys.executable, "-c", PROBE, host, str(port), src)
    return done.stdout.strip()


def udp_probe(netns: str, host: str, port: int = 53) -> str:
    """Send one datagram from inside ``netns``: 'ok <reply>', 'timeout', 'error <errno>', …"""
    done = sh("ip", "netns", "exec", netns, sys.executable, "-c", UDP_PROBE, host, str(port))
    return done.stdout.strip()


@dataclass
class Outside:
    """A test host outside the pool: addresses ``ips`` served on ``ports``."""

    netns: str
    veth: str
    gateway: str  # the host's address on the link: a host address, like any other
    ips: list[str]
    ports: tuple[int, ...] = (8080, 8081)
    procs: list[subprocess.Popen[str]] = field(default_factory=list)


@pytest.fixture
def outside() -> Iterator[Outside]:
    tag = uuid.uuid4().hex[:6]
    net = f"198.18.{random.randrange(256)}"
    out = Outside(
        f"{TEST_PREFIX}{tag}-out", f"{TEST_PREFIX}{tag}o", f"{net}.1", [f"{net}.2", f"{net}.3"]
    )
    server = [sys.executable, "-c", SERVER, *map(str, out.ports)]
    with outside_host(out.netns, out.veth, out.gateway, out.ips, server, out.procs):
        yield out


@contextlib.contextmanager
def outside_host(
    netns: str, veth: str, gateway: str, ips: list[str], server: list[str],
    procs: list[subprocess.Popen[str]],
) -> Iterator[None]:  # fmt: skip
    """A host outside the pool for a test: namespace ``netns`` reached through ``veth`` (the
    host's end has ``gateway``), ``ips`` on its eth0, and ``server`` running in it (it prints
    "ready"); afterwards every process of ``procs`` (the server and what the test adds) is
    killed and the namespace deleted."""
    sh("ip", "netns", "add", netns)
    try:
        batch = (
            f"link add {veth} type veth peer name eth0 netns {netns}\n"
            f"addr add {gateway}/24 dev {veth}\nlink set {veth} up\n"
        )
        subprocess.run(["ip", "-batch", "-"], input=batch, text=True, check=True)
        inside = "link set lo up\nlink set eth0 up\n" + "".join(
            f"addr add {ip}/24 dev eth0\n" for ip in ips
        )
        subprocess.run(["ip", "-n", netns, "-batch", "-"], input=inside, text=True, check=True)
        argv = ["ip", "netns", "exec", netns, *server]
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
        procs.append(proc)
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready"
        yield
    finally:
        for proc in procs:
            proc.kill()
            proc.wait(10)
            if proc.stdout is not None:
                proc.stdout.close()
        sh("ip", "netns", "delete", netns, check=False)


@pytest.fixture(autouse=True)
def names(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The daemon resolves policy names through this hosts file first (not /etc/hosts), and
    re-resolves every second. Autouse, so it is set before the daemon fixture starts it."""
    hosts = tmp_path / "hosts"
    hosts.write_text("")
    (tmp_path / "resolv.conf").write_text("nameserver 192.0.2.53\n")  # TEST-NET: never sent
    monkeypatch.setenv("COLONY_HOSTS_FILE", str(hosts))
    monkeypatch.setenv("COLONY_RESOLV_CONF", str(tmp_path / "resolv.conf"))
    monkeypatch.setenv("COLONY_RESOLVE_INTERVAL", "1")
    return hosts


def colony_cli(d: Daemon, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLONY_SOCKET": str(d.socket), "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "colony", *args], capture_output=True, text=True, env=env, timeout=60
    )


def network_repo(tmp_path: Path, configs: dict[str, str]) -> Path:
    """A repository of the example web app with colony config files ``configs``."""
    return make_repo(tmp_path / "repo", {"app.py": EXAMPLE.read_text(), **configs})


def spawn(d: Daemon, name: str, repo: Path, config: str = "colony.toml") -> Colony:
    assert d.client is not None
    d.client.spawn(name, str(repo), config=str(repo / config))
    colony = wait_state(d.client, name, "running", "failed")
    assert colony.state == "running", colony
    return colony


def records(d: Daemon, name: str, verdict: str, dest: str, port: int) -> list[NetRecord]:
    assert d.client is not None
    return [
        r
        for r in d.client.network(name, limit=500).records
        if (r.verdict, r.dest, r.port) == (verdict, dest, port)
    ]


def gateway_of(address: str) -> str:
    """The host side of a colony's veth: its /30's first address."""
    a, b, c, d = map(int, address.split("."))
    return f"{a}.{b}.{c}.{(d & ~3) + 1}"


@contextlib.contextmanager
def host_server(address: str) -> Iterator[int]:
    """An HTTP server of the host's own, bound to ``address`` (port chosen by the kernel)."""
    server = http.server.ThreadingHTTPServer((address, 0), http.server.SimpleHTTPRequestHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


WEB_AND_DB = textwrap.dedent("""
    [services.web]
    command = "python3 app.py"
    port = 3000
    env = { BIND = "0.0.0.0" }

    [services.db]
    command = "python3 app.py"
    port = 5432
    env = { BIND = "0.0.0.0" }
""")


def test_colonies_are_isolated_and_expose_to_opens_one_service(
    daemon: Daemon, tmp_path: Path, outside: Outside
) -> None:
    """When colonies a, b and c run, none reaches another's services nor a server of the host
    (on its veth's host side or any other host address); b's `expose_to = ["a:db"]` lets
    exactly a reach exactly b's db port; connections and refusals are recorded."""
    client = daemon.client
    assert client is not None
    repo = network_repo(
        tmp_path,
        {"colony.toml": WEB_AND_DB, "b.toml": WEB_AND_DB + '[network]\nexpose_to = ["a:db"]\n'},
    )
    b = spawn(daemon, "b", repo, "b.toml")  # before a: a's arrival must update b's table
    a = spawn(daemon, "a", repo)
    c = spawn(daemon, "c", repo)
    ns = {x.name: x.netns for x in (a, b, c)}

    assert probe(ns["a"], b.address, 5432).startswith("ok hello from colony b")
    assert probe(ns["a"], b.address, 3000) == "refused"
    assert probe(ns["c"], b.address, 5432) == "refused"
    assert probe(ns["c"], a.address, 3000) == "refused"
    assert probe(ns["b"], a.address, 5432) == "refused"  # exposure is one way
    assert probe(ns["a"], outside.ips[0], 8080).startswith("ok outside")  # egress allow

    with host_server(gateway_of(a.address)) as port:
        assert probe(ns["a"], gateway_of(a.address), port) == "refused"
        assert probe(ns["b"], gateway_of(a.address), port) == "refused"
    with host_server("0.0.0.0") as port:
        for host_address in (outside.gateway, gateway_of(a.address), gateway_of(c.address)):
            assert probe(ns["a"], host_address, port) == "refused"
        assert probe(ns["c"], outside.gateway, port) == "refused"

    wait_for(lambda: records(daemon, "a", "accept", b.address, 5432), what="accept record")
    wait_for(lambda: records(daemon, "a", "deny", b.address, 3000), what="deny record")
    wait_for(lambda: records(daemon, "c", "deny", outside.gateway, port), what="host deny record")
    assert client.network("b").exposed_to == ["a"]

    client.remove("a", force=True)  # gone: b's table no longer names a's veth
    assert client.network("b").exposed_to == []
    assert "5432" not in client.firewall("b").text.split("set exposed")[1].split("}")[0]


def test_egress_deny_refuses_fast_and_records_it(
    daemon: Daemon, tmp_path: Path, outside: Outside
) -> None:
    """When a colony's egress is deny, a connection to an outside host is refused at once (a
    reset, not a timeout) and a deny record with its user appears, also on /events."""
    client = daemon.client
    assert client is not None
    repo = network_repo(tmp_path, {"colony.toml": '[network]\negress = "deny"\n'})
    colony = spawn(daemon, "shut", repo)
    with client.events("shut") as events:
        assert probe(colony.netns, outside.ips[0], 8080) == "refused"
        deadline = time.monotonic() + 10
        event = None
        while time.monotonic() < deadline and event is None:
            got = events.recv(timeout=1)
            if got and got.get("type") == "net":
                event = got
    assert event is not None
    assert {k: event[k] for k in ("colony", "dest", "port", "proto", "verdict")} == {
        "colony": "shut",
        "dest": outside.ips[0],
        "port": 8080,
        "proto": "tcp",
        "verdict": "deny",
    }
    assert event["user"] == colony.owner
    found = wait_for(lambda: records(daemon, "shut", "deny", outside.ips[0], 8080))
    assert found[0].user == colony.owner
    view = client.network("shut")
    assert view.denied >= 1
    assert view.accepted == 0


def test_allowlist_names_ports_and_live_changes(
    daemon: Daemon, tmp_path: Path, outside: Outside, names: Path
) -> None:
    """When the allowlist holds ok.test:8080, that name and port connect while the same host
    on 8081 and another host are refused; a live `colony policy` moving the entry switches
    which host connects, survives a daemon restart, and a name's new address is picked up by
    the re-resolution timer."""
    client = daemon.client
    assert client is not None
    first, second = outside.ips
    names.write_text(f"{first} ok.test\n{second} other.test\n")
    toml = '[network]\negress = "allowlist"\nallow = ["ok.test:8080"]\n'
    colony = spawn(daemon, "listed", network_repo(tmp_path, {"colony.toml": toml}))
    ns = colony.netns

    assert probe(ns, first, 8080) == f"ok outside {first}:8080"
    assert probe(ns, first, 8081) == "refused"
    assert probe(ns, second, 8080) == "refused"
    wait_for(lambda: records(daemon, "listed", "accept", first, 8080), what="accept record")
    assert client.network("listed").resolved == {"ok.test": [first]}

    done = colony_cli(daemon, "policy", "listed", "--egress", "allowlist", "--allow", "other.test")
    assert done.returncode == 0, done.stderr
    assert probe(ns, first, 8080) == "refused"  # the removed entry is blocked at once
    assert probe(ns, second, 8081) == f"ok outside {second}:8081"

    daemon.stop()  # the override is stored: a new daemon adopts the colony and keeps it
    daemon.start()
    client = daemon.client
    assert client is not None
    view = client.network("listed")
    assert (view.source, view.policy.allow) == ("override", ["other.test"])
    assert probe(ns, first, 8080) == "refused"
    assert probe(ns, second, 8080) == f"ok outside {second}:8080"

    names.write_text(f"{first} other.test ok.test\n")  # the name moves: the timer follows
    wait_for(lambda: probe(ns, first, 8080).startswith("ok"), what="re-resolution")
    assert probe(ns, second, 8080) == "refused"

    assert colony_cli(daemon, "policy", "listed", "--reset").returncode == 0
    assert probe(ns, first, 8080) == f"ok outside {first}:8080"  # colony.toml's again


def test_root_inside_the_colony_cannot_flush_or_bypass(
    daemon: Daemon, tmp_path: Path, outside: Outside
) -> None:
    """When root inside a deny colony flushes its namespace's ruleset, opens its own chains,
    and sends from a spoofed address, the host-side table is untouched and still refuses."""
    client = daemon.client
    assert client is not None
    repo = network_repo(tmp_path, {"colony.toml": '[network]\negress = "deny"\n'})
    colony = spawn(daemon, "jail", repo)
    ns, table = colony.netns, f"{daemon.prefix}-jail"
    before = sh("nft", "list", "table", "inet", table).stdout
    assert table not in sh("ip", "netns", "exec", ns, "nft", "list", "ruleset").stdout

    inside = [
        ["nft", "flush", "ruleset"],
        ["nft", "add", "table", "inet", "escape"],
        [
            "nft",
            "add",
            "chain",
            "inet",
            "escape",
            "out",
            "{ type filter hook output priority -500; policy accept; }",
        ],
        ["nft", "add", "rule", "inet", "escape", "out", "accept"],
        ["ip", "addr", "add", "10.99.99.99/32", "dev", "eth0"],
        ["sysctl", "-qw", "net.ipv4.ip_forward=1"],
    ]
    for argv in inside:
        sh("ip", "netns", "exec", ns, *argv)

    assert probe(ns, outside.ips[0], 8080) == "refused"
    assert probe(ns, outside.ips[0], 8080, src="10.99.99.99") != f"ok outside {outside.ips[0]}:8080"
    assert probe(ns, gateway_of(colony.address), 22) == "refused"
    assert sh("nft", "list", "table", "inet", table).stdout == before
    assert client.network("jail").accepted == 0


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (
            ["--egress", "maybe"],
            "error: --egress: expected one of allow, deny, allowlist, got 'maybe'",
        ),
        (
            ["--egress", "allowlist", "--allow", "999.1.1.1"],
            "error: --allow: expected 'host', '*.host', 'host:port', an IP address or a CIDR "
            "network (ports 1-65535), got '999.1.1.1'",
        ),
        (
            ["--egress", "allowlist", "--allow", "ok.test:70000"],
            "error: --allow: expected a port 1-65535 in 'ok.test:70000', got '70000'",
        ),
        (
            ["--remove", "ok.test"],
            "error: --remove: 'ok.test' is not an entry of the policy (entries: none)",
        ),
    ],
)
def test_bad_policy_input_is_one_line_and_changes_nothing(
    daemon: Daemon, tmp_path: Path, flags: list[str], message: str
) -> None:
    """When a policy is bad (flags, API body, colony.toml), the error is one line naming the
    flag or key, the value and what was expected, and nothing changes."""
    client = daemon.client
    assert client is not None
    repo = network_repo(tmp_path, {"colony.toml": '[network]\negress = "deny"\n'})
    spawn(daemon, "steady", repo)
    before = (client.network("steady").policy, client.firewall("steady").text)

    done = colony_cli(daemon, "policy", "steady", *flags)
    assert done.returncode == 1
    assert done.stderr.splitlines()[0] == message
    with pytest.raises(ConfigError, match=r"^allow: expected .*got '10.0.0.0/33'$"):
        client.set_policy("steady", "allowlist", ["10.0.0.0/33"])
    with pytest.raises(ConfigError, match=r"^egress: expected one of"):
        client.set_policy("steady", "sometimes")
    assert (client.network("steady").policy, client.firewall("steady").text) == before

    bad = make_repo(tmp_path / "bad", {"colony.toml": '[network]\negress = "maybe"\n'})
    done = colony_cli(daemon, "spawn", "broken", "--repo", str(bad))
    assert done.returncode == 1
    assert done.stderr.splitlines()[0] == (
        "error: colony.toml: network.egress: expected 'allow', 'deny' or 'allowlist', got 'maybe'"
    )
    assert f"{daemon.prefix}-broken" not in sh("nft", "list", "tables").stdout


def test_tables_and_sets_go_with_the_colony(
    daemon: Daemon, tmp_path: Path, outside: Outside, names: Path
) -> None:
    """When colonies with policies are removed, their tables and sets are gone, and a removed
    colony's veth is no longer let in by a peer."""
    client = daemon.client
    assert client is not None
    names.write_text(f"{outside.ips[0]} ok.test\n")
    toml = '[network]\negress = "allowlist"\nallow = ["ok.test:8080", "10.1.0.0/16"]\n'
    repo = network_repo(tmp_path, {"colony.toml": toml, "x.toml": WEB_AND_DB})
    spawn(daemon, "one", repo)
    spawn(daemon, "two", repo, "x.toml")
    tables = sh("nft", "list", "tables").stdout
    assert f"{daemon.prefix}-one" in tables
    assert f"{daemon.prefix}-two" in tables
    sets = sh("nft", "list", "sets", "inet").stdout
    assert f"table inet {daemon.prefix}-one" in sets

    client.remove("one", force=True)
    client.remove("two", force=True)
    # What is left of the prefix is the daemon's own table (issue 11), without the colonies.
    guard = firewall.host_table(daemon.prefix)
    ruleset = sh("nft", "list", "ruleset").stdout.replace(f"table inet {guard} ", "")
    assert daemon.prefix not in sh("nft", "list", "tables").stdout.replace(guard, "")
    assert daemon.prefix not in sh("nft", "list", "sets").stdout.replace(guard, "")
    assert daemon.prefix not in ruleset


def test_an_older_table_is_replaced_whole_then_changed_by_sets() -> None:
    """When a colony's table was made by another version (no or another comment), loading a
    policy replaces it whole; after that a change only replaces set contents; listing and
    deleting go through netlink."""
    prefix = new_prefix()
    slot = Slot(prefix, "old", 5, ipaddress.IPv4Network("10.213.250.0/24"))
    old = f"table inet {slot.table} {{\n\tchain egress {{\n\t}}\n}}\n"
    firewall.apply(old)
    try:
        assert firewall.list_tables(prefix) == [slot.table]
        assert firewall.table_comment(slot.table) == ""
        firewall.apply_policy(slot, plan_rules(parse_policy("deny"), {}))
        assert firewall.table_comment(slot.table) == firewall.comment(slot)
        listed = sh("nft", "list", "table", "inet", slot.table).stdout
        assert "chain refuse" in listed

        policy = parse_policy("allowlist", ["198.18.7.0/24:443", "198.18.8.8"], ["198.18.7.9"])
        firewall.apply_policy(slot, plan_rules(policy, {}))
        assert (
            sh("nft", "list", "table", "inet", slot.table).stdout.split("set allow4")[0]
            == (listed.split("set allow4")[0])
        )  # same table: only sets changed
        sets = sh("nft", "list", "sets", "inet").stdout.split(f"table inet {slot.table}")[1]
        assert "elements = { 198.18.8.8 }" in sets
        assert "elements = { 198.18.7.0/24 . 443 }" in sets
        assert "elements = { 198.18.7.9 }" in sets
    finally:
        assert firewall.delete_table(slot.table)
    assert not firewall.delete_table(slot.table)
    assert firewall.list_tables(prefix) == []
    assert firewall.table_comment(slot.table) is None
    with pytest.raises(HostError, match="does not exist"):  # a removed colony's: not remade
        firewall.apply_policy(slot, plan_rules(parse_policy("deny"), {}))


def test_a_table_lost_on_the_host_is_made_again(
    daemon: Daemon, tmp_path: Path, outside: Outside
) -> None:
    """When a colony's table vanished from the host (say `nft flush ruleset`), the colony's
    next policy load (here: adoption by a restarted daemon) makes it again, enforced."""
    repo = network_repo(tmp_path, {"colony.toml": '[network]\negress = "deny"\n'})
    colony = spawn(daemon, "lost", repo)
    table = f"{daemon.prefix}-lost"
    sh("nft", "delete", "table", "inet", table)
    daemon.stop()
    daemon.start()
    wait_for(lambda: firewall.table_comment(table) is not None, what="the table again")
    assert probe(colony.netns, outside.ips[0], 8080) == "refused"
