"""`make bench-scale` (minutes long): 1,000 live colonies with a tiny service each.

One run, against one Mycelium (issue 15's "Scale" goals in brackets):
  (a) spawn latency, until `running`, with 0, 250, 500 and 1,000 colonies present: p50/p95
      of a few probe colonies at each step, each probe alternating with one on a second,
      empty Mycelium, so the ratio compares spawns made at the same time, under the same
      load (spawn with N present <= 1.2 x spawn with none);
  (b) the daemon's resident memory at each step (<= 200 MB with 1,000);
  (c) kill -9 of the daemon and a restart: time until the API answers, and until every colony
      is adopted `running` again, with no service restarted (same pids; <= 1 s);
  (d) removing them all in one `rm --force` (<= 30 s for 500; scaled per colony);
and at the end checks that no namespace, veth, nft table or cgroup of its prefix is left.

Usage: bench_scale.py [--count 1000] [--rounds 5] [--json]
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from benchlib import (
    lacks_root,
    leftovers,
    make_repo,
    make_work,
    parse_args,
    remove_work,
    start_daemon,
    stop_daemon,
    summary,
    wait_state,
)

from colony.client import Client

PREFIX = "cbscale"
POOL = "10.216.0.0/19"  # 2047 slots
EMPTY_PREFIX, EMPTY_POOL = "cbscal0", "10.216.32.0/24"  # the reference Mycelium, always empty
CONFIG = """[services.tick]
command = "exec sleep 1000000"
"""
STEPS = (0, 250, 500, 1000)
SPAWNERS = 4  # concurrent spawns while filling up
SETTLE = 10.0  # seconds between filling up and measuring


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def probe(client: Client, repo: Path, name: str) -> float:
    """Spawn colony ``name`` until `running`, then remove it; seconds."""
    with client.events(name) as events:
        t0 = time.perf_counter()
        client.spawn(name, str(repo))
        wait_state(events, name, "running")
        took = time.perf_counter() - t0
    client.remove(name, force=True)
    client.trash_purge(name)
    return took


def probe_rounds(
    client: Client, empty: Client, repo: Path, tag: str, n: int
) -> tuple[list[float], list[float]]:
    """``n`` probe spawns (after one warm-up) on the loaded Mycelium, each followed by one on
    the empty one; seconds per spawn, of each."""
    loaded, alone = [], []
    for i in range(n + 1):
        took = probe(client, repo, f"{tag}p{i}")
        took_alone = probe(empty, repo, f"{tag}e{i}")
        if i:
            loaded.append(took)
            alone.append(took_alone)
    return loaded, alone


def fill(socket: Path, repo: Path, names: list[str]) -> None:
    """Spawn ``names``, a few at a time, each through its own client."""

    def one(chunk: list[str]) -> None:
        with Client(socket) as client:
            for name in chunk:
                client.spawn(name, str(repo))

    chunks = [names[i::SPAWNERS] for i in range(SPAWNERS)]
    with ThreadPoolExecutor(SPAWNERS) as pool:
        list(pool.map(one, chunks))


def all_running(client: Client, count: int, timeout: float = 600) -> dict[str, Any]:
    """Wait until ``count`` colonies run with their service up; their listing."""
    deadline = time.monotonic() + timeout
    while True:
        listing = client.colonies().colonies
        up = [c for c in listing if c.state == "running"]
        if len(up) >= count:
            return {c.name: c for c in listing}
        if time.monotonic() > deadline:
            states = sorted({c.state for c in listing})
            raise SystemExit(f"bench: only {len(up)} of {count} running (states {states})")
        time.sleep(0.2)


def service_pids(client: Client, names: list[str]) -> dict[str, int | None]:
    pids = {}
    for name in names:
        (svc,) = client.colony(name).services
        pids[name] = svc.pid
    return pids


def remove_all(client: Client, names: list[str]) -> float:
    """Remove ``names`` in one ``rm --force`` (Mycelium removes them together); seconds."""
    t0 = time.perf_counter()
    failed = [r for r in client.remove_many(names, force=True).results if r.error is not None]
    if failed:
        raise SystemExit(f"bench: {len(failed)} removals failed, e.g. {failed[0]}")
    return time.perf_counter() - t0


def main() -> int:
    args = parse_args(__doc__, rounds=5, count=1000)
    if lacks_root("bench-scale", "network namespaces"):
        return 1
    work = make_work("colony-bench-scale")
    work.chmod(0o755)
    figures: dict[str, Any] = {"count": args.count, "rounds": args.rounds, "steps": {}}
    daemon, client = start_daemon(work, PREFIX, POOL, socket="m.sock", http_port="off")
    socket = work / "m.sock"
    reference = make_work("colony-bench-scale0")
    reference.chmod(0o755)
    empty_daemon, empty = start_daemon(
        reference, EMPTY_PREFIX, EMPTY_POOL, socket="m.sock", http_port="off"
    )
    names: list[str] = []
    try:
        repo = make_repo(work, {"README.md": "scale\n", "colony.toml": CONFIG})
        for step in sorted({s for s in STEPS if s < args.count} | {args.count}):
            more = [f"s{i}" for i in range(len(names), step)]
            t0 = time.perf_counter()
            fill(socket, repo, more)
            names += more
            if names:
                all_running(client, len(names))
            filled = time.perf_counter() - t0
            time.sleep(SETTLE)  # the first looks at new colonies (conflicts, usage) are done
            loaded, alone = probe_rounds(client, empty, repo, f"n{step}", args.rounds)
            spawn = summary(loaded)
            figures["steps"][step] = {
                "spawn": spawn,
                "spawn_empty": summary(alone),
                "rss_mb": round(rss_mb(daemon.pid), 1),
                "fill_s": round(filled, 1),
            }
            print(f"{step} present: spawn p50 {spawn['p50']:.1f} ms", file=sys.stderr, flush=True)

        before = service_pids(client, names)
        client.close()
        os.kill(daemon.pid, signal.SIGKILL)
        daemon.wait(30)
        t0 = time.perf_counter()
        daemon, client = start_daemon(work, PREFIX, POOL, socket="m.sock", http_port="off")
        figures["restart_api_s"] = round(time.perf_counter() - t0, 2)
        all_running(client, len(names))
        figures["restart_adopted_s"] = round(time.perf_counter() - t0, 2)
        after = service_pids(client, names)
        figures["services_restarted"] = sum(1 for n in names if before[n] != after[n])
        figures["rss_after_restart_mb"] = round(rss_mb(daemon.pid), 1)

        took = remove_all(client, names)
        figures["remove_all_s"] = round(took, 1)
        figures["remove_per_500_s"] = round(took * 500 / max(1, len(names)), 1)
        names = []
    finally:
        for colony in client.colonies().colonies:
            client.remove(colony.name, force=True)
        client.close()
        stop_daemon(daemon)
        empty.close()
        stop_daemon(empty_daemon)
        figures["leftovers"] = leftovers(PREFIX) + leftovers(EMPTY_PREFIX)
        remove_work(work)
        remove_work(reference)
    report(figures, args.json)
    return 1 if figures["leftovers"] else 0


def report(figures: dict[str, Any], as_json: bool) -> None:
    steps = figures["steps"]
    for figure in steps.values():
        figure["ratio_to_none_p50"] = round(
            figure["spawn"]["p50"] / figure["spawn_empty"]["p50"], 2
        )
    if as_json:
        print(json.dumps(figures, indent=2))
        return
    print(f"{figures['count']} colonies with a service each; probes: {figures['rounds']} per step")
    for step, f in steps.items():
        print(
            f"(a) spawn, {step:5d} present   p50 {f['spawn']['p50']:7.1f} ms   p95 "
            f"{f['spawn']['p95']:7.1f} ms   none present (same time) p50 "
            f"{f['spawn_empty']['p50']:7.1f} ms   ratio {f['ratio_to_none_p50']:.2f} (<= 1.2)"
            f"   (b) daemon RSS {f['rss_mb']:.0f} MB   filled in {f['fill_s']} s"
        )
    print(
        f"(c) kill -9 + restart: API after {figures['restart_api_s']} s, all adopted after "
        f"{figures['restart_adopted_s']} s (<= 1 s); services restarted: "
        f"{figures['services_restarted']}; RSS {figures['rss_after_restart_mb']:.0f} MB"
    )
    print(
        f"(d) removing all: {figures['remove_all_s']} s, {figures['remove_per_500_s']} s per 500"
        " (<= 30 s)"
    )
    print(f"leftovers: {figures['leftovers'] or 'none'}")


if __name__ == "__main__":
    sys.exit(main())
