"""`make bench` (egress gate, issue 16): HTTPS through the gate vs direct, same server, same run.

An outside host (a network namespace with a veth to the host, 198.19.250.0/24, no traffic
leaves the machine) serves HTTPS (a self-signed P-256 certificate made here). Two colonies
of one daemon reach it: "direct" through an allowlist of its address (the firewall alone)
and "gated" through an allowlist of its name (bench.test, pinned by the daemon's hosts file):
every connection of "gated" goes through the gate (SNI read, name decided and resolved,
bytes spliced). From inside each colony, one after another:
  (a) N requests, each on a new TLS connection (handshake + GET of 100 bytes): requests/s and
      p50/p95 per request; the gate's cost is per connection, so this is its worst case;
  (b) N requests on one kept-alive connection: requests/s (the gate only splices);
  (c) a 256 MiB download on one connection: MB/s.
Each client runs 4 times, the two interleaved, and each figure is the median of its 4 runs.
Prints the gated/direct ratios and the p50 the gate adds. Everything is removed at the end.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time

from benchlib import finish, lacks_root, make_repo, make_work, parse_args, start_daemon

PREFIX = "cbgate"
POOL = "10.216.0.0/24"
NET = "198.19.250"
NETNS, VETH = f"{PREFIX}-www", f"{PREFIX}w"
BIG = 256 << 20
RUNS = 4

SERVER = """
import http.server, socket, ssl, sys
BIG = int(sys.argv[2])
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def setup(self):
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    def do_GET(self):
        size = BIG if self.path == "/big" else 100
        self.send_response(200); self.send_header("Content-Length", str(size))
        self.end_headers()
        chunk = b"x" * (1 << 20)
        while size:
            n = min(size, len(chunk)); self.wfile.write(chunk[:n]); size -= n
    def log_message(self, *a): pass
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(sys.argv[1], sys.argv[1])
server = http.server.ThreadingHTTPServer(("0.0.0.0", 443), H)
server.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # accepted ones inherit it
server.socket = ctx.wrap_socket(server.socket, server_side=True)
print("ready", flush=True)
server.serve_forever()
"""

CLIENT = """
import http.client, json, ssl, sys, time
address, name, cafile, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
ctx = ssl.create_default_context(cafile=cafile)
class C(http.client.HTTPSConnection):
    def connect(self):
        import socket
        sock = socket.create_connection((address, 443), 30)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = ctx.wrap_socket(sock, server_hostname=name)
def get(c, path="/"):
    c.request("GET", path, headers={"Host": name})
    r = c.getresponse(); body = r.read(); assert r.status == 200, r.status
    return len(body)
for _ in range(5):  # warm-up
    c = C(address, 443); get(c); c.close()
fresh = []
for _ in range(n):
    t0 = time.perf_counter(); c = C(address, 443); get(c); c.close()
    fresh.append(time.perf_counter() - t0)
c = C(address, 443); get(c)
t0 = time.perf_counter()
for _ in range(n):
    get(c)
kept = time.perf_counter() - t0
c.close()
c = C(address, 443)
t0 = time.perf_counter(); size = get(c, "/big"); bulk = time.perf_counter() - t0
c.close()
print(json.dumps({"fresh": fresh, "kept": kept, "bulk": bulk, "size": size}))
"""


def sh(*argv: str, stdin: str | None = None) -> str:
    done = subprocess.run(argv, input=stdin, capture_output=True, text=True, check=True)
    return done.stdout


def make_outside(work_cert: str) -> subprocess.Popen[str]:
    sh("ip", "netns", "add", NETNS)
    sh("ip", "-batch", "-", stdin=(
        f"link add {VETH} type veth peer name eth0 netns {NETNS}\n"
        f"addr add {NET}.1/24 dev {VETH}\nlink set {VETH} up\n"
    ))  # fmt: skip
    sh("ip", "-n", NETNS, "-batch", "-", stdin=(
        f"link set lo up\nlink set eth0 up\naddr add {NET}.2/24 dev eth0\n"
    ))  # fmt: skip
    argv = ["ip", "netns", "exec", NETNS, sys.executable, "-c", SERVER, work_cert, str(BIG)]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    return proc


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def run_client(ns: str, name: str, cert: str, n: int) -> dict[str, float]:
    argv = [sys.executable, "-c", CLIENT, f"{NET}.2", name, cert, str(n)]
    out = sh("ip", "netns", "exec", ns, *argv)
    got = json.loads(out)
    fresh = got["fresh"]
    return {
        "fresh_rps": len(fresh) / sum(fresh),
        "fresh_p50_ms": pct(fresh, 0.5) * 1000,
        "fresh_p95_ms": pct(fresh, 0.95) * 1000,
        "kept_rps": n / got["kept"],
        "bulk_mb_s": got["size"] / got["bulk"] / 1e6,
    }


def main() -> int:
    args = parse_args(__doc__, rounds=200)
    if lacks_root("bench", "network namespaces"):
        return 1
    work = make_work("colony-bench-gate")
    work.chmod(0o755)
    cert = work / "server.pem"
    sh(
        "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
        "-nodes", "-days", "2", "-subj", "/CN=bench.test",
        "-addext", "subjectAltName=DNS:bench.test",
        "-keyout", str(cert), "-out", str(work / "server.crt"),
    )  # fmt: skip
    cert.write_text(cert.read_text() + (work / "server.crt").read_text())
    cert.chmod(0o644)
    (work / "hosts").write_text(f"{NET}.2 bench.test\n")
    server = make_outside(str(cert))
    env = {"COLONY_HOSTS_FILE": str(work / "hosts")}
    daemon, client = start_daemon(work, PREFIX, POOL, socket="m.sock", http_port="off", env=env)
    figures: dict[str, object] = {"requests": args.rounds}
    try:
        repo = make_repo(work, {
            "direct.toml": f'[network]\negress = "allowlist"\nallow = ["{NET}.2:443"]\n',
            "gated.toml": '[network]\negress = "allowlist"\nallow = ["bench.test:443"]\n',
        })  # fmt: skip
        spaces = {}
        for name in ("direct", "gated"):
            client.spawn(name, str(repo), config=str(repo / f"{name}.toml"))
            deadline = time.monotonic() + 60
            while client.colony(name).state != "running":
                assert time.monotonic() < deadline, f"{name} did not start"
                time.sleep(0.1)
            spaces[name] = client.colony(name).netns
        runs: dict[str, list[dict[str, float]]] = {"direct": [], "gated": []}
        for _ in range(RUNS):  # interleaved: drift on a busy machine hits both alike
            for name in ("direct", "gated"):
                runs[name].append(run_client(spaces[name], "bench.test", str(cert), args.rounds))
        for name, got in runs.items():
            figures[name] = {k: statistics.median(r[k] for r in got) for k in got[0]}
        records = client.network("gated", limit=5).records
        assert any(r.host == "bench.test" for r in records), "not through the gate"
    finally:
        finish(daemon, client, work)
        server.kill()
        server.wait(10)
        if server.stdout is not None:
            server.stdout.close()
        subprocess.run(["ip", "netns", "delete", NETNS], check=False)
    report(figures, args.json)
    return 0


def report(figures: dict[str, object], as_json: bool) -> None:
    d: dict[str, float] = figures["direct"]  # type: ignore[assignment]
    g: dict[str, float] = figures["gated"]  # type: ignore[assignment]
    figures["ratio_fresh_rps"] = g["fresh_rps"] / d["fresh_rps"]
    figures["added_p50_ms"] = g["fresh_p50_ms"] - d["fresh_p50_ms"]
    figures["ratio_kept_rps"] = g["kept_rps"] / d["kept_rps"]
    figures["ratio_bulk"] = g["bulk_mb_s"] / d["bulk_mb_s"]
    if as_json:
        print(json.dumps(figures, indent=2))
        return
    print(
        f"requests: {figures['requests']} per run (after 5 warm-ups), one client at a time, "
        f"{RUNS} interleaved runs, medians"
    )
    for key, label in (("direct", "direct (IP allowlist)"), ("gated", "through the gate")):
        f = figures[key]
        assert isinstance(f, dict)
        print(
            f"{label:24s} new connection each: {f['fresh_rps']:7.1f} req/s, "
            f"p50 {f['fresh_p50_ms']:6.2f} ms, p95 {f['fresh_p95_ms']:6.2f} ms | "
            f"kept alive: {f['kept_rps']:7.1f} req/s | 256 MiB: {f['bulk_mb_s']:7.1f} MB/s"
        )
    print(
        f"gated/direct: new connections {figures['ratio_fresh_rps']:.2f}x req/s "
        f"(+{figures['added_p50_ms']:.2f} ms at p50), kept alive {figures['ratio_kept_rps']:.2f}x, "
        f"bulk {figures['ratio_bulk']:.2f}x"
    )


if __name__ == "__main__":
    sys.exit(main())
