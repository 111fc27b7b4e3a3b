"""`make bench` (issue 15): full spawn on a large repository, daemon-side and through the CLI.

For each size (3,000 files / 42 MB and 30,000 files / 60 MB, spread over directories of 100
files) one daemon spawns colonies (no services) on one repository, each from the same base
commit, at the default sandbox level, and removes each after it ran:
  (a) daemon-side: from the API request to the daemon's `running` transition (its own clock);
  (b) CLI: `colony spawn NAME --repo REPO` as a user runs it, until it returns (it waits for
      `running`).
The first spawn of each size is reported apart (it may build caches) and dropped from p50/p95.
Targets: (a) p50 <= 100 ms on 3,000 files, <= 150 ms on 30,000 files.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from benchlib import (
    ROOT,
    git,
    lacks_root,
    make_work,
    parse_args,
    remove_work,
    start_daemon,
    stop_daemon,
    summary,
    wait_state,
)

from colony.client import Client

PREFIX = "cbenchws"
POOL = "10.213.246.0/24"
SIZES = ((3_000, 14_000, 100.0), (30_000, 2_000, 150.0))  # files, bytes each, p50 target


def make_big_repo(where: Path, files: int, size: int) -> Path:
    """A repository of ``files`` files of ``size`` bytes (incompressible text), 100 a directory."""
    repo = where / f"repo{files}"
    repo.mkdir()
    for i in range(files):
        directory = repo / f"d{i // 100:04d}"
        if i % 100 == 0:
            directory.mkdir()
        text = base64.b64encode(os.urandom(size * 3 // 4)).decode()
        (directory / f"f{i:05d}.txt").write_text(text + "\n")
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "bench")
    return repo


def daemon_round(client: Client, name: str, repo: Path) -> float:
    """Spawn ``name`` and remove it: seconds from the request to the daemon's `running`."""
    with client.events(name) as events:
        t0 = time.time()
        client.spawn(name, str(repo))
        wait_state(events, name, "running")
    shown = client.colony(name)
    at = next(t.at for t in shown.transitions if t.state == "running")
    remove(client, name)
    return float(at) - t0


def remove(client: Client, name: str) -> None:
    client.remove(name, force=True)
    client.trash_purge(name)


def cli_round(work: Path, name: str, repo: Path) -> float:
    argv = [sys.executable, "-m", "colony", "spawn", name, "--repo", str(repo)]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLONY_SOCKET": str(work / "mycelium.sock")}
    t0 = time.perf_counter()
    subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0


def main() -> int:
    args = parse_args(__doc__, rounds=15)
    if lacks_root("bench", "colony users, namespaces, mounts"):
        return 1
    work = make_work("colony-bench-ws")
    work.chmod(0o755)
    figures: dict[str, Any] = {"rounds": args.rounds}
    try:
        daemon, client = start_daemon(work, PREFIX, POOL)
        try:
            for files, size, target in SIZES:
                repo = make_big_repo(work, files, size)
                first = daemon_round(client, f"w{files}first", repo)
                own: list[float] = []
                cli: list[float] = []
                for i in range(args.rounds):
                    own.append(daemon_round(client, f"w{files}d{i}", repo))
                    name = f"w{files}c{i}"
                    cli.append(cli_round(work, name, repo))
                    remove(client, name)
                row = {"first_ms": first * 1000, "daemon": summary(own), "cli": summary(cli)}
                row["target_p50_ms"] = target
                row["ratio_to_target"] = row["daemon"]["p50"] / target
                figures[str(files)] = row
        finally:
            for left in client.colonies().colonies:  # a failed round's colony
                remove(client, left.name)
            client.close()
            stop_daemon(daemon)
    finally:
        remove_work(work)
    if args.json:
        print(json.dumps(figures, indent=2))
        return 0
    print(f"full spawn, no services, default level; rounds: {args.rounds} (+1 first spawn)")
    for files, _, target in SIZES:
        row = figures[str(files)]
        d, c = row["daemon"], row["cli"]
        print(
            f"{files:6,d} files  daemon p50 {d['p50']:7.1f} ms  p95 {d['p95']:7.1f} ms   "
            f"CLI p50 {c['p50']:7.1f} ms  p95 {c['p95']:7.1f} ms   first {row['first_ms']:7.1f} ms"
            f"   p50/goal({target:.0f} ms) {row['ratio_to_target']:.2f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
