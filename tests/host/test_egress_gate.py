"""The egress gate against the real kernel (issue 16): TCP 80/443 of an allowlist naming
hosts is decided by the name a connection asks for (HTTP Host, TLS SNI), sent only to the
address the daemon resolved, and refused with a reason a colony can read.

"The outside world" is a namespace each test makes (198.18.0.0/15, outside the pool) with an
HTTP server on port 80, an HTTPS server on 443 (a self-signed certificate made here) and a
UDP echo on 443 (QUIC's port). Names come from the daemon's ``COLONY_HOSTS_FILE``. Probes
run in the colony's namespace as root. No traffic leaves the machine.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from colony.contract_responses import Colony
from tests.conftest import TEST_PREFIX
from tests.host.conftest import Daemon, run_in, wait_for
from tests.host.test_network import (
    colony_cli,
    gateway_of,
    network_repo,
    outside_host,
    sh,
    spawn,
    udp_probe,
)

NAMES = ("ok.test", "other.test", "meta.test", "gw.test", "loop.test", "second.test")

SERVER = """
import http.server, socket, ssl, sys, threading
cert = sys.argv[1]
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        sni = getattr(self.connection, "sni", None)
        body = "%s host=%s sni=%s at=%s" % (
            "tls" if sni is not None or isinstance(self.connection, ssl.SSLSocket) else "http",
            self.headers.get("Host"), sni, self.connection.getsockname()[0])
        body = body.encode()
        self.send_response(200); self.send_header("Content-Length", str(len(body)))
        self.end_headers(); self.wfile.write(body)
    def log_message(self, *a): pass
def quic():
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("0.0.0.0", 443))
    while True:
        data, peer = udp.recvfrom(512)
        udp.sendto(b"quic " + data, peer)
threading.Thread(target=quic, daemon=True).start()
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, cert)
def remember(sock, name, _ctx):
    sock.sni = name
ctx.sni_callback = remember
tls = http.server.ThreadingHTTPServer(("0.0.0.0", 443), H)
tls.socket = ctx.wrap_socket(tls.socket, server_side=True)
threading.Thread(target=tls.serve_forever, daemon=True).start()
plain = http.server.ThreadingHTTPServer(("0.0.0.0", 80), H)
print("ready", flush=True)
plain.serve_forever()
"""

# Inside the colony: one request, plain or TLS, to an address with a name of our choosing.
PROBE = """
import socket, ssl, sys
kind, address, port, name, cafile, raw = sys.argv[1:7]
port = int(port)
try:
    sock = socket.create_connection((address, port), timeout=5)
    if kind == "tls":
        ctx = ssl.create_default_context(cafile=cafile)
        if not name:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        sock = ctx.wrap_socket(sock, server_hostname=name or None)
    host = name or address
    head = "GET / HTTP/1.1\\r\\nHost: %s\\r\\nConnection: close\\r\\n\\r\\n" % host
    sock.sendall((raw or head).encode())
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    head, _, body = data.partition(b"\\r\\n\\r\\n")
    print(head.split(b"\\r\\n")[0].decode(), "|", body.decode().strip())
except ssl.SSLError as exc:
    print("tls-error", exc.reason)
except ConnectionRefusedError:
    print("refused")
except ConnectionResetError:
    print("reset")
except (TimeoutError, socket.timeout):
    print("timeout")
except OSError as exc:
    print("error", exc.errno)
"""


# Inside the colony: a kept-alive TLS connection, one request now and one after a line on stdin.
HOLD = """
import http.client, socket, ssl, sys
address, name, cafile = sys.argv[1:4]
ctx = ssl.create_default_context(cafile=cafile)
sock = ctx.wrap_socket(socket.create_connection((address, 443), 5), server_hostname=name)
conn = http.client.HTTPSConnection(name, 443)
conn.sock = sock
for _ in range(3):
    try:
        conn.request("GET", "/")
        answer = conn.getresponse()
        answer.read()  # the connection carries the next request only once this one is read
        print(answer.status, flush=True)
    except (OSError, http.client.HTTPException) as exc:
        print("closed", type(exc).__name__, flush=True)
    sys.stdin.readline()
"""


@dataclass
class World:
    """A test host outside the pool with HTTP (80), HTTPS (443) and a UDP echo on 443."""

    netns: str
    veth: str
    gateway: str
    ips: list[str]
    cert: Path
    procs: list[subprocess.Popen[str]] = field(default_factory=list)


def make_cert(path: Path) -> None:
    """A self-signed certificate (and key, in the same file) for every test name."""
    san = ",".join(f"DNS:{n}" for n in NAMES)
    sh(
        "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        "-subj", "/CN=ok.test", "-addext", f"subjectAltName={san}",
        "-keyout", str(path), "-out", str(path.with_suffix(".crt")),
    )  # fmt: skip
    path.write_text(path.read_text() + path.with_suffix(".crt").read_text())


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    tag = uuid.uuid4().hex[:6]
    net = f"198.19.{random.randrange(256)}"
    cert = tmp_path / "server.pem"
    make_cert(cert)
    out = World(
        f"{TEST_PREFIX}{tag}-www",
        f"{TEST_PREFIX}{tag}w",
        f"{net}.1",
        [f"{net}.2", f"{net}.3"],
        cert,
    )
    server = [sys.executable, "-c", SERVER, str(cert)]
    with outside_host(out.netns, out.veth, out.gateway, out.ips, server, out.procs):
        yield out


@pytest.fixture(autouse=True)
def names(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The daemon resolves names through this hosts file; set before the daemon starts."""
    return hosts_file(tmp_path, monkeypatch)


def hosts_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty hosts file the daemon (started next) resolves names through, and a resolver
    it never asks."""
    hosts = tmp_path / "hosts"
    hosts.write_text("")
    (tmp_path / "resolv.conf").write_text("nameserver 192.0.2.53\n")  # TEST-NET: never sent
    monkeypatch.setenv("COLONY_HOSTS_FILE", str(hosts))
    monkeypatch.setenv("COLONY_RESOLV_CONF", str(tmp_path / "resolv.conf"))
    return hosts


def fetch(
    ns: str, world: World, kind: str, address: str, name: str, port: int = 0, raw: str = ""
) -> str:
    """One request from inside ``ns``: 'HTTP/1.1 200 OK | <body>', 'tls-error <reason>', …"""
    port = port or (443 if kind == "tls" else 80)
    argv = [sys.executable, "-c", PROBE, kind, address, str(port), name, str(world.cert), raw]
    return sh("ip", "netns", "exec", ns, *argv).stdout.strip()


def refusal(colony: str, host: str, port: int) -> str:
    return (
        f"colony '{colony}': egress to {host}:{port} is not allowed (policy allowlist); "
        f"the owner can run: colony policy {colony} --allow {host}:{port}"
    )


def gated_colony(daemon: Daemon, tmp_path: Path, allow: list[str], name: str = "gated") -> Colony:
    entries = ", ".join(f'"{e}"' for e in allow)
    toml = f'[network]\negress = "allowlist"\nallow = [{entries}]\n'
    return spawn(daemon, name, network_repo(tmp_path, {"colony.toml": toml}))


def test_names_decide_on_one_address_and_refusals_say_why(
    daemon: Daemon, tmp_path: Path, world: World, names: Path
) -> None:
    """When ok.test and other.test share an address and only ok.test is allowed, ok.test
    passes over HTTP and HTTPS (to the address the daemon resolved, whatever address the
    colony dialled), other.test gets a 403 naming the fix or a TLS alert, a raw IP, a TLS
    hello without a name and a Host/target mismatch are refused, UDP 443 is dropped, and
    every refusal is in the colony's log (source net), its records and the audit log."""
    client = daemon.client
    assert client is not None
    first, second = world.ips
    names.write_text(f"{first} ok.test other.test\n")
    colony = gated_colony(daemon, tmp_path, ["ok.test"])
    ns = colony.netns

    assert fetch(ns, world, "http", first, "ok.test") == (
        f"HTTP/1.1 200 OK | http host=ok.test sni=None at={first}"
    )
    assert fetch(ns, world, "tls", first, "ok.test") == (
        f"HTTP/1.1 200 OK | tls host=ok.test sni=ok.test at={first}"
    )
    # `curl --resolve ok.test:443:<second>`: the gate goes where *it* resolved ok.test
    assert fetch(ns, world, "tls", second, "ok.test").endswith(f"at={first}")

    curl = ["ip", "netns", "exec", ns, "curl", "-sS", "--cacert", str(world.cert), "-m", "5"]
    tricked = sh(*curl, "--resolve", f"ok.test:443:{second}", "https://ok.test/")
    assert tricked.stdout.endswith(f"at={first}")  # curl dialled second: the gate went first
    fronted = sh(*curl, "--resolve", f"other.test:443:{first}", "https://other.test/", check=False)
    assert fronted.returncode != 0
    assert "access denied" in fronted.stderr

    line = refusal("gated", "other.test", 80)
    assert fetch(ns, world, "http", first, "other.test") == f"HTTP/1.1 403 Forbidden | {line}"
    assert "ACCESS_DENIED" in fetch(ns, world, "tls", first, "other.test").upper()
    assert fetch(ns, world, "http", first, "") == (
        f"HTTP/1.1 403 Forbidden | {refusal('gated', first, 80)}"
    )  # a raw address is no name: only IP entries admit it
    assert "ACCESS_DENIED" in fetch(ns, world, "tls", first, "").upper()  # no SNI
    mismatch = "GET http://other.test/ HTTP/1.1\r\nHost: ok.test\r\nConnection: close\r\n\r\n"
    got = fetch(ns, world, "http", first, "ok.test", raw=mismatch)
    assert got.startswith("HTTP/1.1 403 Forbidden | colony 'gated': egress to ok.test:80 is")
    assert "the request target names other.test" in got
    assert not udp_probe(ns, first, 443).startswith("ok")  # QUIC: back to TCP, the gate

    tls_line = refusal("gated", "other.test", 443)
    logged = lambda: [e["line"] for e in client.logs("gated", service="net", lines=100)]  # noqa: E731
    wait_for(lambda: line in logged() and tls_line in logged(), what="refusals in the log")
    view = client.network("gated", limit=100)
    reasons = [r.reason for r in view.records]
    assert tls_line in reasons
    assert any(r.host == "ok.test" and r.verdict == "accept" for r in view.records)
    prefix = "colony 'gated': "
    audited = lambda: [e.msg for e in client.audit(colony="gated", kind="net").entries]  # noqa: E731
    wait_for(
        lambda: f"gated: {tls_line.removeprefix(prefix)}" in audited(),
        what="the refusal in the audit log",
    )


@pytest.mark.parametrize(
    ("name", "address", "why"),
    [
        ("meta.test", "169.254.169.254", "link-local"),
        ("loop.test", "127.0.0.1", "loopback"),
        ("gw.test", "", "a colony's"),  # the colony's gateway: in the pool
        ("second.test", "world-gateway", "this host's own"),
    ],
)
def test_allowed_names_that_resolve_to_the_host_are_refused(
    daemon: Daemon, tmp_path: Path, world: World, names: Path, name: str, address: str, why: str
) -> None:
    """When an allowed name resolves to cloud metadata, loopback, the colony's gateway or
    another address of the host (DNS rebinding), the gate refuses and says where it went."""
    colony = gated_colony(daemon, tmp_path, [name])
    target = {"": gateway_of(colony.address), "world-gateway": world.gateway}.get(address, address)
    names.write_text(f"{target} {name}\n")
    got = fetch(colony.netns, world, "http", world.ips[0], name)
    assert got == (
        f"HTTP/1.1 403 Forbidden | colony 'gated': egress to {name}:80 is refused: "
        f"{name} resolves to {target} ({why}" + got.rsplit(f"({why}", 1)[-1]
    )
    assert "ACCESS_DENIED" in fetch(colony.netns, world, "tls", world.ips[0], name).upper()


def test_ip_entries_and_other_ports_keep_the_firewall(
    daemon: Daemon, tmp_path: Path, world: World, names: Path
) -> None:
    """When the allowlist names a host and an address, the address is reached directly on
    443 (no name needed) but port 80 of it goes to the gate, which wants a name; the named
    host's port-80-only entry refuses 443."""
    first, second = world.ips
    names.write_text(f"{first} ok.test\n")
    colony = gated_colony(daemon, tmp_path, ["ok.test:80", f"{second}:443"])
    ns = colony.netns
    assert fetch(ns, world, "tls", second, "") == (
        f"HTTP/1.1 200 OK | tls host={second} sni=None at={second}"
    )
    assert fetch(ns, world, "http", first, "ok.test").startswith("HTTP/1.1 200 OK")
    assert "ACCESS_DENIED" in fetch(ns, world, "tls", first, "ok.test").upper()
    assert fetch(ns, world, "http", second, "") == (  # the IP entry is for 443 only
        f"HTTP/1.1 403 Forbidden | {refusal('gated', second, 80)}"
    )


def test_the_gate_follows_live_policy_changes(
    daemon: Daemon, tmp_path: Path, world: World, names: Path
) -> None:
    """When the owner allows a refused name, the next connection passes; when an entry goes,
    connections open under it are closed; an allowlist without names takes the gate away."""
    client = daemon.client
    assert client is not None
    first, _ = world.ips
    names.write_text(f"{first} ok.test other.test\n")
    ns = gated_colony(daemon, tmp_path, ["ok.test"]).netns
    assert "ACCESS_DENIED" in fetch(ns, world, "tls", first, "other.test").upper()
    client.set_policy("gated", "allowlist", ["ok.test", "other.test:443"])
    assert fetch(ns, world, "tls", first, "other.test").startswith("HTTP/1.1 200 OK")

    argv = ["ip", "netns", "exec", ns, sys.executable, "-c", HOLD, first, "ok.test"]
    held = subprocess.Popen(
        [*argv, str(world.cert)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert held.stdout is not None
        assert held.stdin is not None
        assert held.stdout.readline().strip() == "200"
        held.stdin.write("\n")
        held.stdin.flush()
        assert held.stdout.readline().strip() == "200"  # one connection carries requests on
        client.set_policy("gated", "allowlist", ["other.test:443"])  # ok.test's entry goes
        held.stdin.write("\n")
        held.stdin.flush()
        assert held.stdout.readline().startswith("closed")  # the open connection too
    finally:
        held.kill()
        held.communicate(timeout=10)
    client.set_policy("gated", "allowlist", [f"{first}:443"])
    assert fetch(ns, world, "tls", first, "").endswith(f"at={first}")  # not gated: no SNI ok
    assert fetch(ns, world, "http", first, "ok.test") == "refused"  # the firewall's reset


def test_a_refused_name_is_listed_and_allowed_live(
    daemon: Daemon, tmp_path: Path, world: World, names: Path
) -> None:
    """When curl inside a colony is refused other.test (NXDOMAIN from its DNS stub, and the
    gate's alert when it dials the address anyway), `colony net --blocked` lists the name
    with the command that admits it; after `colony policy gated --allow other.test:443` the
    same curl succeeds, the colony not restarted, and the name leaves the list."""
    client = daemon.client
    assert client is not None
    first, _ = world.ips
    names.write_text(f"{first} ok.test other.test\n")
    toml = '[network]\negress = "allowlist"\nallow = ["ok.test:443"]\n'
    crt = world.cert.with_suffix(".crt").read_text()
    spawn(daemon, "gated", network_repo(tmp_path, {"colony.toml": toml, "server.crt": crt}))
    before = client.colony("gated")
    curl = ["curl", "-sS", "-m", "5", "--cacert", "server.crt", "https://other.test/"]
    code, _, err = run_in(client, "gated", curl)
    assert code != 0
    assert "resolve" in err.lower(), err
    code, _, err = run_in(client, "gated", [*curl, "--resolve", f"other.test:443:{first}"])
    assert code != 0
    assert "access denied" in err.lower(), err

    def blocked() -> dict:
        done = colony_cli(daemon, "net", "gated", "--blocked", "--json")
        assert done.returncode == 0, done.stderr
        return {(b["host"], b["port"]): b for b in json.loads(done.stdout)["blocked"]}

    rows = wait_for(lambda: len(blocked()) == 2 and blocked(), what="two refusals")
    assert (rows["other.test", 443]["via"], rows["other.test", 443]["fix"]) == (
        "gate",
        "other.test:443",
    )
    assert (rows["other.test", None]["via"], rows["other.test", None]["fix"]) == (
        "dns",
        "other.test",
    )
    shown = colony_cli(daemon, "net", "gated", "--blocked")
    assert "colony policy gated --allow other.test:443" in shown.stdout, shown.stdout

    done = colony_cli(daemon, "policy", "gated", "--allow", "other.test:443")
    assert done.returncode == 0, done.stderr
    assert f"allow   ok.test:443 ({first}), other.test:443 ({first})" in done.stdout
    code, out, err = run_in(client, "gated", curl)
    assert code == 0, err
    assert out == f"tls host=other.test sni=other.test at={first}"
    assert blocked() == {}
    after = client.colony("gated")
    assert after.transitions == before.transitions  # not restarted: no new state
    policy = client.network("gated").policy
    assert policy is not None
    assert policy.egress == "allowlist"
