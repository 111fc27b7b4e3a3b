"""Secrets injected at the egress gate, against the real kernel (issue 17): the colony holds a
placeholder, the gate terminates TLS for the secret's hosts with the colony's CA and puts the
real value in the named header, and the placeholder sent anywhere else is refused or arrives
as what it is.

"The outside world" is a namespace each test makes (198.18.0.0/15, outside the pool) whose
server plays api.example.test and other.test on 443 (a certificate of a test CA the daemon is
told to trust through ``COLONY_UPSTREAM_CA``) and on 80, and answers each request with the
headers it received. Requests run inside the colony, as the colony. No traffic leaves the
machine.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from colony.contract_responses import Colony, dump
from tests.conftest import TEST_PREFIX
from tests.host.conftest import Daemon, run_in
from tests.host.test_egress_gate import hosts_file
from tests.host.test_network import network_repo, outside_host, sh, spawn

VALUE = "sk-hf-real-0123456789abcdef"
ROTATED = "sk-hf-rotated-fedcba9876543210"
HOSTS = ("api.example.test", "other.test")
OPEN = '[network]\negress = "allow"\n'

ECHO = """
import http.server, json, ssl, sys, threading
cert, key = sys.argv[1:3]
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        body = json.dumps({"tls": isinstance(self.connection, ssl.SSLSocket),
                           "path": self.path, "headers": dict(self.headers.items())}).encode()
        self.send_response(200); self.send_header("Content-Length", str(len(body)))
        self.end_headers(); self.wfile.write(body)
    do_POST = do_GET
    def log_message(self, *a): pass
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
tls = http.server.ThreadingHTTPServer(("0.0.0.0", 443), H)
tls.socket = ctx.wrap_socket(tls.socket, server_side=True)
threading.Thread(target=tls.serve_forever, daemon=True).start()
plain = http.server.ThreadingHTTPServer(("0.0.0.0", 80), H)
print("ready", flush=True)
plain.serve_forever()
"""

# A kept-alive TLS connection: a request now and one after each line on stdin.
KEEP = """
import http.client, socket, ssl, sys
address, name, cafile = sys.argv[1:4]
ctx = ssl.create_default_context(cafile=cafile)
conn = http.client.HTTPSConnection(name, 443, context=ctx)
conn.sock = ctx.wrap_socket(socket.create_connection((address, 443), 5), server_hostname=name)
while True:
    try:
        conn.request("GET", "/")
        answer = conn.getresponse()
        answer.read()
        print(answer.status, flush=True)
    except (OSError, http.client.HTTPException) as exc:
        print("closed", type(exc).__name__, flush=True)
    if not sys.stdin.readline():
        break
"""

# Inside the colony: one request with the placeholder of $KEY in header $HEADER.
REQUEST = """
import json, os, ssl, sys, urllib.error, urllib.request
url, key, header, verify = sys.argv[1:5]
ctx = ssl.create_default_context() if verify == "yes" else ssl._create_unverified_context()
req = urllib.request.Request(url, headers={header: os.environ[key]})
try:
    with urllib.request.urlopen(req, timeout=10, context=ctx) as r:
        print(r.status, r.read().decode())
except urllib.error.HTTPError as e:
    print(e.code, e.read().decode())
except Exception as e:
    print("error", type(e).__name__, e)
"""


@dataclass
class World:
    netns: str
    veth: str
    gateway: str
    ip: str
    ca: Path
    procs: list[subprocess.Popen[str]] = field(default_factory=list)


def make_pki(folder: Path) -> tuple[Path, Path, Path]:
    """A test CA and a server certificate it signed for :data:`HOSTS`."""
    ca_key, ca, key, csr, cert = (
        folder / n for n in ("ca.key", "ca.pem", "s.key", "s.csr", "s.pem")
    )
    ext = folder / "ext.cnf"
    ext.write_text(
        "subjectAltName=" + ",".join(f"DNS:{h}" for h in HOSTS) + "\n"
        "basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n"
    )
    ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
    sh("openssl", "req", "-x509", *ec, "-days", "2", "-subj", "/CN=hf test CA",
       "-addext", "basicConstraints=critical,CA:TRUE",
       "-addext", "keyUsage=critical,keyCertSign,cRLSign",
       "-keyout", str(ca_key), "-out", str(ca))  # fmt: skip
    sh("openssl", "req", "-new", *ec, "-subj", f"/CN={HOSTS[0]}",
       "-keyout", str(key), "-out", str(csr))  # fmt: skip
    sh("openssl", "x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key),
       "-CAcreateserial", "-days", "2", "-extfile", str(ext), "-out", str(cert))  # fmt: skip
    return ca, cert, key


@pytest.fixture(autouse=True)
def pki(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path, Path]:
    """The test CA (the daemon trusts it upstream) and the names, set before the daemon
    starts."""
    folder = tmp_path / "pki"
    folder.mkdir()
    made = make_pki(folder)
    monkeypatch.setenv("COLONY_UPSTREAM_CA", str(made[0]))
    hosts_file(tmp_path, monkeypatch)
    return made


@pytest.fixture
def world(tmp_path: Path, pki: tuple[Path, Path, Path]) -> Iterator[World]:
    tag = uuid.uuid4().hex[:6]
    net = f"198.19.{random.randrange(256)}"
    out = World(f"{TEST_PREFIX}{tag}-www", f"{TEST_PREFIX}{tag}w", f"{net}.1", f"{net}.2", pki[0])
    server = [sys.executable, "-c", ECHO, str(pki[1]), str(pki[2])]
    with outside_host(out.netns, out.veth, out.gateway, [out.ip], server, out.procs):
        (tmp_path / "hosts").write_text(f"{out.ip} {' '.join(HOSTS)}\n")
        yield out


def request(
    daemon: Daemon, colony: str, url: str, key: str = "API_KEY", header: str = "x-api-key",
    verify: bool = True,
) -> tuple[int | str, dict]:  # fmt: skip
    """One request from inside ``colony`` carrying $KEY in ``header``: (status, echoed)."""
    assert daemon.client is not None
    argv = ["python3", "-c", REQUEST, url, key, header, "yes" if verify else "no"]
    code, out, err = run_in(daemon.client, colony, argv)
    assert code == 0, err
    status, _, body = out.strip().partition(" ")
    if status == "error":
        return status, {"error": body}
    try:
        return int(status), json.loads(body)
    except ValueError:
        return int(status), {"text": body}


def environs() -> dict[str, bytes]:
    """Every process's environment on the machine (colonies' included), by pid."""
    found = {}
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                found[pid] = Path(f"/proc/{pid}/environ").read_bytes()
            except OSError:
                continue
    return found


def gated(daemon: Daemon, tmp_path: Path, name: str) -> Colony:
    toml = '[network]\negress = "allowlist"\nallow = ["api.example.test", "other.test"]\n'
    return spawn(daemon, name, network_repo(tmp_path / name, {"colony.toml": toml}))


def echoed(answer: dict, header: str) -> str | None:
    return {k.lower(): v for k, v in answer.get("headers", {}).items()}.get(header.lower())


def test_the_real_value_reaches_its_host_only_and_never_the_colony(
    daemon: Daemon, tmp_path: Path, world: World
) -> None:
    """When a colony has API_KEY for api.example.test in x-api-key: its environment holds a
    placeholder; a request from inside (python, verifying TLS with the colony's bundle)
    arrives with the real value; the same placeholder to other.test over HTTP is refused
    and recorded as a possible leak, and over TLS arrives as the placeholder (not
    decrypted); a rotated value applies without a restart; no /proc/*/environ, no file of
    the workspace, the logs or the audit log holds the value; ls shows no value."""
    client = daemon.client
    assert client is not None
    gated(daemon, tmp_path, "sec")
    client.set_secret("sec", "API_KEY", VALUE, ["api.example.test"], "x-api-key")

    _, env, _ = run_in(client, "sec", ["env"])
    lines = dict(line.partition("=")[::2] for line in env.splitlines())
    placeholder = lines["API_KEY"]
    assert placeholder.startswith("colony-secret-")
    assert lines["SSL_CERT_FILE"] == lines["REQUESTS_CA_BUNDLE"] == "/run/colony/ca-bundle.pem"
    assert VALUE not in env

    status, answer = request(daemon, "sec", "https://api.example.test/v1/messages")
    assert status == 200, answer
    assert echoed(answer, "x-api-key") == VALUE
    assert answer["tls"] is True
    curl = 'curl -sS -m 10 -H "x-api-key: $API_KEY" https://api.example.test/curl'
    code, out, err = run_in(client, "sec", ["sh", "-c", curl])
    assert code == 0, err
    assert echoed(json.loads(out), "x-api-key") == VALUE
    # a client that reads the system's CA file and no variable trusts the colony's CA too
    bare = "env -u SSL_CERT_FILE -u REQUESTS_CA_BUNDLE " + curl
    code, out, err = run_in(client, "sec", ["sh", "-c", bare])
    assert code == 0, err
    assert echoed(json.loads(out), "x-api-key") == VALUE

    status, answer = request(daemon, "sec", "http://other.test/")
    assert status == 403
    leak = (
        "colony 'sec': egress to other.test:80 is refused: it carries the placeholder of "
        "secret API_KEY, which is only for its hosts (a possible leak)"
    )
    assert leak in answer["text"]
    records = dump(client.network("sec", limit=500))["records"]
    assert any(leak.removeprefix("colony 'sec': ") in json.dumps(r) for r in records), records

    status, answer = request(daemon, "sec", "https://other.test/", verify=False)
    assert status == 200, answer
    assert echoed(answer, "x-api-key") == placeholder

    client.set_secret("sec", "API_KEY", ROTATED, ["api.example.test"], "x-api-key")
    status, answer = request(daemon, "sec", "https://api.example.test/")
    assert echoed(answer, "x-api-key") == ROTATED

    listed = client.secrets("sec")
    assert VALUE not in json.dumps(dump(listed))
    for pid, environ in environs().items():
        assert VALUE.encode() not in environ, f"pid {pid}"
        assert ROTATED.encode() not in environ, f"pid {pid}"
    state = daemon.state_dir
    for path in state.rglob("*"):
        if path.is_symlink() or not path.is_file() or path.parent.name == "secrets":
            continue
        if path.suffix == ".img" or path.stat().st_size > 64 * 1024**2:
            continue
        data = path.read_bytes()
        assert VALUE.encode() not in data, path
        assert ROTATED.encode() not in data, path


def test_each_colony_has_its_own_ca_and_bad_input_stores_nothing(
    daemon: Daemon, tmp_path: Path, world: World
) -> None:
    """Colony B's bundle trusts B's CA and not A's: a request of B with A's bundle fails;
    bad input to the CLI is one line and stores nothing."""
    client = daemon.client
    assert client is not None
    gated(daemon, tmp_path, "sa")
    gated(daemon, tmp_path, "sb")
    client.set_secret("sa", "API_KEY", VALUE, ["api.example.test"], "x-api-key")
    client.set_secret("sb", "API_KEY", ROTATED, ["api.example.test"], "x-api-key")
    a = (state := daemon.state_dir) / "colonies" / "sa" / "etc" / "ca-bundle.pem"
    b = state / "colonies" / "sb" / "etc" / "ca-bundle.pem"
    assert a.read_bytes() != b.read_bytes()
    _, answer = request(daemon, "sb", "https://api.example.test/")
    assert echoed(answer, "x-api-key") == ROTATED
    # B's connection is presented B's CA's certificate: with A's CA alone it does not verify
    script = (
        "import socket, ssl, sys\n"
        "ctx = ssl.create_default_context(cadata=sys.stdin.read())\n"
        "s = socket.create_connection(('api.example.test', 443), 10)\n"
        "try:\n    ctx.wrap_socket(s, server_hostname='api.example.test'); print('verified')\n"
        "except ssl.SSLCertVerificationError: print('untrusted')\n"
    )
    a_ca = a.read_text().rsplit("-----BEGIN CERTIFICATE-----", 1)[1]
    a_pem = "-----BEGIN CERTIFICATE-----" + a_ca
    with client.exec_session("sb", ["python3", "-c", script]) as session:
        session.send_stdin(a_pem.encode())
        session.close_stdin()
        out = b""
        while (chunk := session.recv(30)) is not None:
            out += chunk[1] if chunk[0] == "stdout" else b""
    assert out.decode().strip() == "untrusted"


def test_in_allow_mode_only_the_secrets_hosts_go_through_the_gate(
    daemon: Daemon, tmp_path: Path, world: World
) -> None:
    """A colony of egress allow gets its secret too: its table sends TCP 80/443 to the
    secret's host's address to the gate (only those: the rest stays the firewall's), and
    removing the secret takes the value out again."""
    client = daemon.client
    assert client is not None
    spawn(daemon, "open", network_repo(tmp_path / "open", {"colony.toml": OPEN}))
    before = client.firewall("open").text
    client.set_secret("open", "API_KEY", VALUE, ["api.example.test"], "x-api-key")
    text = client.firewall("open").text
    assert "elements = { 80, 443 }" not in before
    assert "elements = { 80, 443 }" in text
    status, answer = request(daemon, "open", "https://api.example.test/")
    assert status == 200, answer
    assert echoed(answer, "x-api-key") == VALUE
    client.remove_secret("open", "API_KEY")
    assert client.firewall("open").text == before


def test_the_claude_presets_key_becomes_the_colonys_secret(
    d: Daemon, tmp_path: Path, exchange: Path
) -> None:
    """When ``colony agent run`` forwards ANTHROPIC_API_KEY (as the CLI does from the user's
    environment), the agent gets a placeholder and the value becomes the colony's secret for
    api.anthropic.com (x-api-key); no process's environment holds the value."""
    client = d.client
    assert client is not None
    repo = tmp_path / "agent"
    spawn(d, "agent", network_repo(repo, {"colony.toml": OPEN + '[agent]\npreset = "claude"\n'}))
    gate = exchange / "never"
    session = client.agent_run(
        "agent", f"wait-for {gate}", preset="claude", env={"ANTHROPIC_API_KEY": VALUE}
    )
    assert dump(client.secrets("agent"))["secrets"] == [
        {"key": "ANTHROPIC_API_KEY", "hosts": ["api.anthropic.com"], "header": "x-api-key"}
    ]
    placeholders = []
    for pid, environ in environs().items():
        assert VALUE.encode() not in environ, f"pid {pid}"
        wanted = b"ANTHROPIC_API_KEY=colony-secret-"
        placeholders += [v for v in environ.split(b"\0") if v.startswith(wanted)]
    assert placeholders, "the agent's environment has the placeholder"
    client.agent_stop("agent")
    assert session.status == "running"


def test_a_policy_that_drops_the_host_closes_an_intercepted_connection(
    daemon: Daemon, tmp_path: Path, world: World
) -> None:
    """An open connection the gate puts a secret in ends when the policy stops allowing its
    host, like any connection through the gate."""
    client = daemon.client
    assert client is not None
    ns = gated(daemon, tmp_path, "held").netns
    assert ns is not None
    client.set_secret("held", "API_KEY", VALUE, ["api.example.test"], "x-api-key")
    bundle = daemon.state_dir / "colonies" / "held" / "etc" / "ca-bundle.pem"
    argv = ["ip", "netns", "exec", ns, sys.executable, "-c", KEEP, world.ip, HOSTS[0], str(bundle)]
    held = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert held.stdout is not None
        assert held.stdin is not None
        assert held.stdout.readline().strip() == "200"
        held.stdin.write("\n")
        held.stdin.flush()
        assert held.stdout.readline().strip() == "200"  # kept alive through the gate
        client.change_policy("held", remove=["api.example.test"])
        held.stdin.write("\n")
        held.stdin.flush()
        assert held.stdout.readline().startswith("closed")
    finally:
        held.kill()
        held.communicate(timeout=10)
