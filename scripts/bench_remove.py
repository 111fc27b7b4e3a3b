"""`make bench` (issue 15): removing many colonies in one call, and that nothing is left.

Spawns N colonies (``--colonies``, default 50) with a tiny service each (`sleep`), waits until
all run, then removes them all with one `colony rm --force NAME…` (the console script next to
this Python, else `python -m colony`), as a user would. Prints the time of that call, the
rate per colony and the time per colony, then checks the daemon's kernel objects and
processes are gone (a leak exits 1). Goal (issue 15): 500 in <= 30 s, none left.
The scale bench calls this with ``--colonies 500`` or ``1000``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from benchlib import (
    ROOT,
    colony_command,
    finish,
    lacks_root,
    leftovers,
    make_repo,
    make_work,
    parse_args,
    start_daemon,
)

from colony.client import Client

PREFIX = "cbrm"
POOL = "10.217.0.0/19"  # 2047 colonies
GOAL_S_PER_500 = 30.0
TOML = '[services.idle]\ncommand = "exec sleep 3600"\n'
SPAWN_AHEAD = 8  # spawns in flight at once while setting up


def spawn_all(client: Client, names: list[str], repo: Path) -> None:
    """Spawn ``names``, a few at a time, until each runs; exit if one fails."""
    waiting = list(names)
    started: set[str] = set()
    while waiting or started:
        while waiting and len(started) < SPAWN_AHEAD:
            name = waiting.pop(0)
            client.spawn(name, str(repo))
            started.add(name)
        states = {c.name: c.state for c in client.colonies().colonies}
        for name in list(started):
            if states.get(name) == "failed":
                raise SystemExit(f"bench: colony {name} failed to spawn")
            if states.get(name) == "running":
                started.discard(name)
        time.sleep(0.05)


def cpu_seconds(pid: int) -> float:
    """CPU time of process ``pid`` and of its children it has waited for (git, ip, nft...)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def main() -> int:
    args = parse_args(__doc__, colonies=50)
    if lacks_root("bench", "namespaces, cgroups"):
        return 1
    work = make_work("colony-bench-rm")
    work.chmod(0o755)  # colony processes run unprivileged and must reach the state dir
    daemon, quick = start_daemon(work, PREFIX, POOL)
    quick.close()
    client = Client(work / "mycelium.sock", timeout=600)  # purging hundreds takes a while
    names = [f"r{i}" for i in range(args.colonies)]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLONY_SOCKET": str(work / "mycelium.sock")}
    figures: dict[str, object] = {"colonies": args.colonies}
    try:
        repo = make_repo(work, {"colony.toml": TOML})
        started = time.perf_counter()
        spawn_all(client, names, repo)
        figures["spawn_all_s"] = round(time.perf_counter() - started, 2)
        argv = [*colony_command(), "rm", "--force", "--json", *names]
        cpu_before = cpu_seconds(daemon.pid)
        started = time.perf_counter()
        done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
        took = time.perf_counter() - started
        figures["daemon_cpu_per_colony_ms"] = round(
            1000 * (cpu_seconds(daemon.pid) - cpu_before) / len(names), 1
        )
        results = json.loads(done.stdout) if done.stdout.strip() else []
        failed = [r for r in results if "error" in r]
        if done.returncode != 0 or failed or len(results) != len(names):
            print(f"bench: rm failed ({done.returncode}): {failed[:3]} {done.stderr}")
        figures["remove_s"] = round(took, 2)
        figures["per_colony_ms"] = round(1000 * took / len(names), 1)
        figures["colonies_per_s"] = round(len(names) / took, 1)
        figures["failed"] = len(failed)
        figures["left_in_daemon"] = len(client.colonies().colonies)
    finally:
        finish(daemon, client, work)
    left = leftovers(PREFIX)
    figures["leaks"] = left
    at_500 = float(str(figures.get("per_colony_ms", 0))) * 500 / 1000
    figures["projected_500_s"] = round(at_500, 1)
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        print(f"remove {args.colonies} colonies in one `colony rm --force`: "
              f"{figures['remove_s']} s, {figures['colonies_per_s']} colonies/s, "
              f"{figures['per_colony_ms']} ms each; Mycelium's CPU (with its children) "
              f"{figures['daemon_cpu_per_colony_ms']} ms each")  # fmt: skip
        print(f"  at that rate 500 take {at_500:.1f} s (goal <= {GOAL_S_PER_500:g} s): "
              f"ratio {at_500 / GOAL_S_PER_500:.2f}")  # fmt: skip
        print(f"  spawning them took {figures['spawn_all_s']} s; failed removals: "
              f"{figures['failed']}; left: {figures['left_in_daemon']} colonies, "
              f"{len(left)} kernel objects or processes")  # fmt: skip
        for item in left:
            print(f"  LEAK {item}")
    return 1 if left or figures["failed"] or figures["left_in_daemon"] else 0


if __name__ == "__main__":
    sys.exit(main())
