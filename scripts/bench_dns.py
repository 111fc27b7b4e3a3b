"""`make bench` (DNS): answers a second of Mycelium's DNS stub, and their p50 and p95.

One colony with an allowlist asks its resolver (the stub, on its gateway) from inside its
namespace, over UDP with 32 questions in flight, ``--queries`` of each kind:
  (a) a name an exact entry allows (pinned ahead: answered without a lookup);
  (b) a name no entry allows (NXDOMAIN);
  (c) a name below a wildcard entry, answered before (cached and pinned);
  (d) a new name each time, refused (what a colony tunnelling data out in names sends: no
      question is answered from the stub's kept answers);
and (e) a name of (a) over TCP, one question at a time on one connection.
Names come from the daemon's hosts file, so no DNS traffic leaves the machine. The stub's
per-colony rate limit is lifted for the run (``COLONY_DNS_RATE``): this measures the stub.
Everything it makes is removed at the end, also on failure.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

from benchlib import (
    lacks_root,
    make_repo,
    make_work,
    parse_args,
    remove_work,
    start_daemon,
    stop_daemon,
    wait_state,
)

PREFIX = "cbdns"
POOL = "10.216.0.0/24"
TOML = '[network]\negress = "allowlist"\nallow = ["ok.bench.test:443", "*.pkg.bench.test"]\n'
HOSTS = "203.0.113.10 ok.bench.test\n203.0.113.11 files.pkg.bench.test\n"

LOAD = textwrap.dedent("""
    import json, select, socket, statistics, struct, sys, time
    import dns.message
    server, name, proto, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    def wire_of(i):
        return dns.message.make_query(name.format(i), "A").to_wire()
    wire = wire_of(0)
    distinct = "{}" in name
    rtts, lost = [], 0
    if proto == "tcp":
        s = socket.create_connection((server, 53), timeout=5)
        t0 = time.perf_counter()
        for i in range(n):
            if i and i % 90 == 0:  # the stub ends a connection after 100 questions
                s.close()
                s = socket.create_connection((server, 53), timeout=5)
            q = struct.pack("!H", i) + wire[2:]
            sent = time.perf_counter()
            s.sendall(struct.pack("!H", len(q)) + q)
            size = struct.unpack("!H", s.recv(2, socket.MSG_WAITALL))[0]
            s.recv(size, socket.MSG_WAITALL)
            rtts.append(time.perf_counter() - sent)
    else:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.connect((server, 53))
        s.setblocking(False)
        window, nxt, pending = 32, 0, {}
        t0 = time.perf_counter()
        while nxt < n or pending:
            while nxt < n and len(pending) < window:
                ident = nxt % 65536
                q = wire_of(nxt) if distinct else wire
                pending[ident] = time.perf_counter()
                s.send(struct.pack("!H", ident) + q[2:])
                nxt += 1
            ready, _, _ = select.select([s], [], [], 1.0)
            if not ready:
                lost += len(pending)
                pending.clear()
                continue
            while True:
                try:
                    data = s.recv(4096)
                except BlockingIOError:
                    break
                sent = pending.pop(struct.unpack("!H", data[:2])[0], None)
                if sent is not None:
                    rtts.append(time.perf_counter() - sent)
    took = time.perf_counter() - t0
    rtts.sort()
    print(json.dumps({
        "answers_per_s": len(rtts) / took,
        "p50_ms": statistics.median(rtts) * 1000,
        "p95_ms": rtts[int(0.95 * (len(rtts) - 1))] * 1000,
        "lost": lost,
    }))
""")


def load(netns: str, server: str, name: str, proto: str, n: int) -> dict[str, float]:
    done = subprocess.run(
        ["ip", "netns", "exec", netns, sys.executable, "-c", LOAD, server, name, proto, str(n)],
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def main() -> int:
    args = parse_args(__doc__, queries=20000)
    if lacks_root("bench", "network namespaces"):
        return 1
    work = make_work("colony-bench-dns")
    work.chmod(0o755)
    (work / "hosts").write_text(HOSTS)
    env = {"COLONY_HOSTS_FILE": str(work / "hosts"), "COLONY_DNS_RATE": "1000000"}
    daemon, client = start_daemon(work, PREFIX, POOL, socket="m.sock", http_port="off", env=env)
    figures: dict[str, object] = {"queries": args.queries}
    try:
        repo = make_repo(work, {"README.md": "bench\n", "colony.toml": TOML})
        with client.events("dns") as events:
            client.spawn("dns", str(repo))
            wait_state(events, "dns", "running")
        colony = client.colony("dns")
        netns, gateway = colony.netns, client.network("dns").stub
        load(netns, gateway, "files.pkg.bench.test", "udp", 10)  # (c)'s name answered once
        n = args.queries
        figures["exact"] = load(netns, gateway, "ok.bench.test", "udp", n)
        figures["refused"] = load(netns, gateway, "nope.bench.test", "udp", n)
        figures["wildcard"] = load(netns, gateway, "files.pkg.bench.test", "udp", n)
        figures["distinct"] = load(netns, gateway, "x{}.nope.bench.test", "udp", n)
        figures["tcp"] = load(netns, gateway, "ok.bench.test", "tcp", max(1, n // 10))
        seen = client.network("dns", limit=0).dns
        figures["recorded"] = seen.answered + seen.refused
    finally:
        for each in client.colonies().colonies:
            client.remove(each.name, force=True)
        client.close()
        stop_daemon(daemon)
        remove_work(work)
    if args.json:
        print(json.dumps(figures, indent=2))
        return 0
    print(f"questions: {figures['queries']} per kind (UDP, 32 in flight; TCP one at a time)")
    for key, label in (
        ("exact", "(a) allowed name, exact entry"),
        ("refused", "(b) refused name (NXDOMAIN)"),
        ("wildcard", "(c) allowed name, wildcard entry"),
        ("distinct", "(d) a new refused name each time"),
        ("tcp", "(e) allowed name over TCP"),
    ):
        f: dict[str, float] = figures[key]  # type: ignore[assignment]
        print(
            f"{label:36s} {f['answers_per_s']:8.0f} answers/s   p50 {f['p50_ms']:6.2f} ms   "
            f"p95 {f['p95_ms']:6.2f} ms   lost {f['lost']:.0f}"
        )
    print(f"questions recorded: {figures['recorded']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
