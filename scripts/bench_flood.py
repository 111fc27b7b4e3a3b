"""`make bench` (flood): API and preview latency while a local user floods the listeners.

Mycelium starts with a soft open-files limit of 1024, as services usually start. User
nobody (Debian's /usr/bin/python3) opens --proxy connections to the preview proxy and --bloom
to Bloom and holds them (issue 11). Reported, idle and under the flood:

  (a) p50/p95 of GET /colonies on the API socket (what `colony ls` asks);
  (b) p50/p95 of a preview GET through the proxy, from root (another peer);
  and how long the flood took to connect, and the daemon's open descriptors under it.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import tempfile
import time
from pathlib import Path

import httpx
from benchlib import (
    lacks_root,
    make_repo,
    parse_args,
    remove_work,
    start_daemon,
    stop_daemon,
    summary,
)

from colony.client import Client

PREFIX = "cbflood"
POOL = "10.213.246.0/24"
FLOOD = (Path(__file__).parent / "flood.py").read_text()  # run as nobody, with -c
NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "/usr/bin/python3"]


def sample(client: Client, proxy_port: int, rounds: int) -> dict[str, dict[str, float]]:
    api, preview = [], []
    with httpx.Client(timeout=30) as http:
        for _ in range(rounds):
            started = time.monotonic()
            client.colonies()
            api.append(time.monotonic() - started)
            started = time.monotonic()
            http.get(f"http://127.0.0.1:{proxy_port}/", headers={"Host": "web.steady.localhost"})
            preview.append(time.monotonic() - started)
    return {"colonies": summary(api), "preview": summary(preview)}


def main() -> None:
    args = parse_args(__doc__ or "", rounds=200, proxy=2000, bloom=1000)
    if lacks_root("bench_flood", "it runs Mycelium and a flood as user nobody"):
        return
    work = Path(tempfile.mkdtemp(prefix="colony-bench-flood-"))
    os.chmod(work, 0o711)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(soft, 1024), hard))  # the daemon inherits it
    daemon, client = start_daemon(work, PREFIX, POOL)
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    figures: dict[str, object] = {}
    try:
        toml = '[services.web]\ncommand = "python3 -m http.server 3000 --bind 127.0.0.1"\n'
        repo = make_repo(work, {"colony.toml": toml + "port = 3000\n", "index.html": "hi\n"})
        client.spawn("steady", repo)
        while client.colony("steady").state != "running":
            time.sleep(0.05)
        health = client.health()
        proxy_port = int(health["proxy_port"])
        bloom_port = int(str(health["http_url"]).rsplit(":", 1)[1])
        figures["idle"] = sample(client, proxy_port, args.rounds)
        targets = [f"{proxy_port}:{args.proxy}", f"{bloom_port}:{args.bloom}"]
        started = time.monotonic()
        with subprocess.Popen(
            [*NOBODY, "-c", FLOOD, *targets], stdin=subprocess.PIPE, stdout=subprocess.PIPE
        ) as flood:
            assert flood.stdout is not None
            assert flood.stdin is not None
            connected = int(flood.stdout.readline().split()[0])
            took = round(time.monotonic() - started, 2)
            figures["under_flood"] = sample(client, proxy_port, args.rounds)
            fds = len(os.listdir(f"/proc/{daemon.pid}/fd"))  # once refused ones are closed
            figures["flood"] = {"connections": connected, "connect_s": took, "daemon_fds": fds}
            flood.stdin.close()
        client.remove("steady", force=True)
    finally:
        client.close()
        stop_daemon(daemon)
        remove_work(work)
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    flood_info = figures["flood"]
    print(f"flood: {flood_info}")
    for phase in ("idle", "under_flood"):
        for what, stats in figures[phase].items():  # type: ignore[attr-defined]
            print(f"{phase:12} {what:9} p50 {stats['p50']:7.2f} ms  p95 {stats['p95']:7.2f} ms")


if __name__ == "__main__":
    main()
