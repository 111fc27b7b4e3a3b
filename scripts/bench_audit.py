"""`make bench` (audit): insert rate of the hash-chained audit log, and API latency while a
10,000-file burst is being recorded.

  (a) sustained appends to the audit store (redaction, canonical JSON, sha256 chain, SQLite
      WAL, signed head), as events/s, for batches of 1, 100 and 1,000 events per transaction
      (the daemon's writer takes whatever has queued up, up to 2,000);
  (b) p50/p95/p99 of GET /health and GET /colonies on the API socket, idle and while an exec
      writes 10,000 files in a colony's workspace, and how long until the audit log has all
      10,000 of them.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from pathlib import Path
from typing import Any

from benchlib import (
    lacks_root,
    make_repo,
    make_work,
    parse_args,
    pct,
    remove_work,
    start_daemon,
    stop_daemon,
    summary,
)

from colony.client import Client
from colony.store.audit import AuditStore, load_key

PREFIX = "cbaudit"
POOL = "10.213.247.0/24"


def ms(samples: list[float]) -> dict[str, float]:
    return {"n": len(samples), **summary(samples), "p99": pct(samples, 0.99) * 1000}


def sample_events(n: int) -> list[dict[str, Any]]:
    shapes: list[dict[str, Any]] = [
        {"type": "state", "colony": "web", "state": "running", "step": None, "reason": None},
        {"type": "exec", "colony": "web", "user": "alice", "argv": ["pytest", "-q"], "tty": False},
        {
            "type": "request",
            "colony": "web",
            "service": "web",
            "port": 3000,
            "method": "GET",
            "host": "web.web.localhost",
            "path": "/api/items?page=2",
            "status": 200,
            "bytes": 5120,
            "duration": 0.004,
        },
        {"type": "net", "colony": "web", "dest": "151.101.0.223", "port": 443, "proto": "tcp",
         "verdict": "accept"},
    ]  # fmt: skip
    return [{**shapes[i % len(shapes)], "at": time.time()} for i in range(n)]


def insert_rate(work: Path, batch: int, total: int) -> dict[str, float]:
    path = work / f"audit-{batch}.db"
    store = AuditStore(path, load_key(work / "audit.key"))
    events = sample_events(total)
    t0 = time.perf_counter()
    for start in range(0, total, batch):
        store.append(events[start : start + batch], time.time())
    elapsed = time.perf_counter() - t0
    assert store.verify().ok
    store.close()
    return {"batch": batch, "events": total, "events_per_s": total / elapsed}


def run_exec(client: Client, name: str, script: str) -> int:
    with client.exec_session(name, ["sh", "-c", script]) as session:
        while session.recv(300) is not None:
            pass
        return session.exit_code or 0


def files_recorded(client: Client, name: str, prefix: str) -> int:
    entries = client.audit(limit=0, colony=name, kind="files").entries
    # Paths over the colony's rate limit are counted as "more", not listed (issue 11).
    return sum(
        e.data["count"] + e.data.get("more", 0)
        for e in entries
        if not e.data["paths"] or e.data["paths"][0].startswith(prefix)
    )


def latencies(client: Client, until: threading.Event | float) -> list[float]:
    out: list[float] = []
    while True:
        if isinstance(until, threading.Event) and until.is_set():
            return out
        if isinstance(until, float) and time.monotonic() > until:
            return out
        t0 = time.perf_counter()
        client.health()
        client.colonies()
        out.append((time.perf_counter() - t0) / 2)


def burst(work: Path, files: int) -> dict[str, Any]:
    repo = make_repo(work, {"README.md": "bench\n"})
    daemon, client = start_daemon(work, PREFIX, POOL)
    try:
        client.spawn("burst", str(repo))
        while (state := client.colony("burst").state) != "running":
            if state == "failed":
                raise SystemExit(f"bench: colony failed: {client.colony('burst').reason}")
            time.sleep(0.05)
        run_exec(client, "burst", "mkdir -p " + " ".join(f"out/d{i}" for i in range(10)))
        idle = latencies(client, time.monotonic() + 3.0)
        done = threading.Event()
        script = (
            f"i=0; while [ $i -lt {files} ]; do echo $i > out/d$((i % 10))/f$i; i=$((i + 1)); done"
        )
        with Client(work / "mycelium.sock") as writer_client:

            def write() -> None:
                run_exec(writer_client, "burst", script)
                done.set()

            t0 = time.monotonic()
            writer = threading.Thread(target=write)
            writer.start()
            during = latencies(client, done)
            writer.join()
            written = time.monotonic() - t0
        while files_recorded(client, "burst", "out/") < files:
            time.sleep(0.05)
        recorded = time.monotonic() - t0
        client.remove("burst", force=True)
        return {
            "files": files,
            "idle": ms(idle),
            "during_burst": ms(during),
            "write_s": written,
            "all_recorded_s": recorded,
            "ratio_p99": ms(during)["p99"] / ms(idle)["p99"],
        }
    finally:
        stop_daemon(daemon)
        client.close()


def main() -> int:
    args = parse_args(__doc__, events=50_000, files=10_000)
    if lacks_root("bench_audit", "a real Mycelium"):
        return 1
    work = make_work("colony-bench-audit")
    work.chmod(0o711)  # colony processes run as an unprivileged user
    try:
        rates = [insert_rate(work, b, min(args.events, 5_000 if b == 1 else args.events))
                 for b in (1, 100, 1000)]  # fmt: skip
        files = burst(work, args.files)
    finally:
        remove_work(work)
    figures = {"insert": rates, "burst": files}
    if args.json:
        print(json.dumps(figures, indent=2))
        return 0
    print("(a) audit appends (hash chain, signed head, SQLite WAL):")
    for r in rates:
        print(f"    {r['batch']:5d} events/transaction  {r['events_per_s']:9.0f} events/s")
    idle, during = files["idle"], files["during_burst"]
    print(f"(b) API latency (GET /health, GET /colonies), {files['files']} files written:")
    for label, f in (("idle", idle), ("during burst", during)):
        print(
            f"    {label:13s} p50 {f['p50']:6.2f} ms  p95 {f['p95']:6.2f} ms  "
            f"p99 {f['p99']:6.2f} ms  (n={f['n']})"
        )
    print(f"    ratio p99 burst/idle: {files['ratio_p99']:.2f}")
    print(
        f"    files written in {files['write_s']:.2f} s; all {files['files']} in the audit log "
        f"after {files['all_recorded_s']:.2f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
