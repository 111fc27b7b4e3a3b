"""What previews and the host may reach (issue 11): only ports a colony declares through the
proxy, never a host port for a colony at level none, and colony addresses from root only."""

from __future__ import annotations

import socket
import subprocess
import textwrap
from pathlib import Path

import httpx

from colony.client import Client
from colony.contract_responses import Colony
from tests.conftest import make_repo
from tests.host.conftest import Daemon, wait_for, wait_state

# Serves "<text>" on each host:port:text given, until killed.
SERVE = textwrap.dedent("""
    import sys, threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            body = self.server.text.encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    for spec in sys.argv[1:]:
        host, port, text = spec.split(":")
        server = ThreadingHTTPServer((host, int(port)), Handler)
        server.text = text
        threading.Thread(target=server.serve_forever, daemon=True).start()
    threading.Event().wait()
""")
BASIC = """
[services.web]
command = "python3 serve.py 0.0.0.0:3000:b-web 127.0.0.1:4000:b-hidden 127.0.0.1:4001:b-extra"
port = 3000
[previews]
ports = [4001]
"""
NONE = """
[services.web]
command = "python3 serve.py 127.0.0.1:$PORT:z-web"
port = 3000
[previews]
ports = [4001]
"""


def spawn(d: Daemon, tmp_path: Path, name: str, toml: str, sandbox: str | None = None) -> Colony:
    assert d.client is not None
    repo = make_repo(tmp_path / name, {"serve.py": SERVE, "colony.toml": toml})
    d.client.spawn(name, repo, sandbox=sandbox)
    colony = wait_state(d.client, name, "running", "failed", timeout=60)
    assert colony.state == "running", colony
    return colony


def preview(d: Daemon, host: str) -> httpx.Response:
    return httpx.get(f"http://127.0.0.1:{d.proxy_port}/", headers={"Host": host}, timeout=10)


def test_proxy_reaches_only_declared_ports(daemon: Daemon, tmp_path: Path) -> None:
    """When a colony listens on a port it does not declare, the proxy answers 404 saying how to
    declare it; its service (by name or port) and its [previews] ports are reached."""
    spawn(daemon, tmp_path, "b", BASIC)
    assert preview(daemon, "web.b.localhost").text == "b-web"
    assert preview(daemon, "3000.b.localhost").text == "b-web"
    assert preview(daemon, "4001.b.localhost").text == "b-extra"
    hidden = preview(daemon, "4000.b.localhost")
    assert hidden.status_code == 404
    assert "b-hidden" not in hidden.text
    assert "does not preview port 4000" in hidden.text
    assert "[previews] ports" in hidden.text


def test_level_none_previews_never_reach_host_ports(daemon: Daemon, tmp_path: Path) -> None:
    """When a colony at level none shares the host's ports, its service is reached on its host
    port (by name or declared port), while any other port, a host service's or Bloom's, and
    its [previews] ports answer 404 and nothing connects to them."""
    assert daemon.client is not None
    spawn(daemon, tmp_path, "z", NONE, sandbox="none")  # the host's flag, not colony.toml
    assert preview(daemon, "web.z.localhost").text == "z-web"
    assert preview(daemon, "3000.z.localhost").text == "z-web"
    bloom_port = str(daemon.client.health()["http_url"]).rsplit(":", 1)[1]
    with socket.create_server(("127.0.0.1", 0)) as ssh_like:  # a host service
        ssh_like.setblocking(False)
        ssh_port = ssh_like.getsockname()[1]
        for port in (ssh_port, bloom_port, 4001):
            answer = preview(daemon, f"{port}.z.localhost")
            assert answer.status_code == 404, port
            assert "sandbox level none" in answer.text
        try:
            ssh_like.accept()
            raise AssertionError("the proxy connected to a host service")
        except BlockingIOError:
            pass


def as_nobody(attempt: str) -> str:
    """Run ``attempt`` (one Python statement using socket) as user nobody with Debian's
    Python: 'ok', or the OSError's class name and message."""
    script = (
        f"import socket\ntry:\n    {attempt}\n    print('ok')\n"
        "except OSError as exc:\n    print(type(exc).__name__, exc.strerror)\n"
    )
    argv = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "/usr/bin/python3"]
    return subprocess.run(
        [*argv, "-c", script], capture_output=True, text=True, timeout=30, check=True
    ).stdout.strip()


def test_only_root_opens_connections_to_colony_addresses(daemon: Daemon, tmp_path: Path) -> None:
    """When a colony's service listens on its address, Mycelium's user (root) may connect
    there, and any other user on the host is refused at once by the daemon's output rule."""
    colony = spawn(daemon, tmp_path, "b", BASIC)
    address = colony.address
    assert address
    with socket.create_connection((address, 3000), timeout=10):
        pass
    connect = "socket.create_connection(({!r}, {}), timeout=5).close()"
    assert as_nobody(connect.format(address, 3000)).startswith("ConnectionRefusedError")
    assert as_nobody(connect.format("127.0.0.1", daemon.proxy_port)) == "ok"


def _client(d: Daemon) -> Client:
    assert d.client is not None
    return d.client


def test_bloom_and_previews_hold_the_ipv6_loopback_too(daemon: Daemon, tmp_path: Path) -> None:
    """When a browser resolves bloom.localhost or a preview name, it tries [::1] first: the
    daemon holds [::1] on Bloom's and the proxy's ports too, so no local user can listen
    there and receive Bloom's cookie, or serve a page in Bloom's origin that reads its token."""
    client = _client(daemon)
    spawn(daemon, tmp_path, "b", BASIC)
    bloom_port = int(str(client.health()["http_url"]).rsplit(":", 1)[1])
    for port in (bloom_port, daemon.proxy_port):
        squat = f"socket.create_server(('::1', {port}), family=socket.AF_INET6).close()"
        assert "Address already in use" in as_nobody(squat), port
    v6 = httpx.get(
        f"http://[::1]:{daemon.proxy_port}/", headers={"Host": "web.b.localhost"}, timeout=10
    )
    assert v6.text == "b-web"
    assert httpx.get(f"http://[::1]:{bloom_port}/health", timeout=10).status_code == 401


def test_previews_follow_spawn_and_rm_and_are_audited_in_batches(
    daemon: Daemon, tmp_path: Path
) -> None:
    """Issue 15: previews are served by worker processes (the daemon's default), yet a new
    colony's preview answers as soon as it runs and a removed one's no longer does; the
    requests of one keep-alive client land in the audit log as one batch: how many, which
    paths, which statuses, and the local user who sent them."""
    assert daemon.client is not None
    assert daemon.proc is not None
    children = subprocess.run(
        ["pgrep", "-P", str(daemon.proc.pid), "-f", "colony.daemon.proxy_worker"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.split()
    assert children, "no preview proxy worker runs"
    spawn(daemon, tmp_path, "fresh", BASIC)
    assert preview(daemon, "web.fresh.localhost").text == "b-web"  # at once, no retry
    with httpx.Client(timeout=10) as http:  # one keep-alive connection
        url = f"http://127.0.0.1:{daemon.proxy_port}"
        for path in ("/a", "/b", "/a", "/c?secret=1"):
            answer = http.get(url + path, headers={"Host": "web.fresh.localhost"})
            assert answer.text == "b-web"
    daemon.client.remove("fresh", force=True)
    gone = preview(daemon, "web.fresh.localhost")
    assert gone.status_code == 404
    assert "there is no colony &#x27;fresh&#x27;" in gone.text

    def batches() -> list[dict] | None:
        found = [
            e.data
            for e in daemon.client.audit(limit=0, colony="fresh").entries  # type: ignore[union-attr]
            if e.data["type"] == "request"
        ]
        return found if sum(d.get("count", 1) for d in found) == 5 else None

    found = wait_for(batches, timeout=30, what="the records of the 5 requests")
    assert len(found) < 5  # batched, not one record per request
    paths = {p for d in found for p in d.get("paths", [f"{d['method']} {d['path']}"])}
    assert paths == {"GET /", "GET /a", "GET /b", "GET /c"}  # no query strings
    assert all(d["client"] == "root" and d["host"] == "web.fresh.localhost" for d in found)
    assert sum(d.get("statuses", {str(d["status"]): 1}).get("200", 0) for d in found) == 5
