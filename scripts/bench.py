"""`make bench`: spawn and removal latency against the floor of a bare netns + veth.

One run measures, p50 and p95 over N rounds:
  (a) spawn through the API of a colony with no services on a small repository, until the
      `running` event arrives;
  (b) the floor: create + delete of a bare netns + veth pair done directly (batched iproute2);
  (c) stop + rm of that colony, until both calls have returned.
Targets on the 2-core machine: (a) p50 <= 50 ms, (c) p50 <= 50 ms.
"""

from __future__ import annotations

import ipaddress
import json
import subprocess
import sys
import time

from benchlib import (
    lacks_root,
    make_repo,
    make_work,
    parse_args,
    remove_work,
    start_daemon,
    stop_daemon,
    summary,
    wait_state,
)

from colony.core.model import Slot

PREFIX = "cbench"
POOL = "10.213.251.0/24"


def floor_round(index: int) -> float:
    slot = Slot(PREFIX, f"floor{index}", 200 + index % 50, ipaddress.IPv4Network("10.213.252.0/24"))
    start = time.perf_counter()
    subprocess.run(["ip", "netns", "add", slot.netns], check=True)
    host_side = (
        f"link add {slot.veth} type veth peer name eth0 netns {slot.netns}\n"
        f"addr add {slot.host_ip}/30 dev {slot.veth}\nlink set {slot.veth} up\n"
    )
    inside = (
        f"link set lo up\naddr add {slot.colony_ip}/30 dev eth0\nlink set eth0 up\n"
        f"route add default via {slot.host_ip}\n"
    )
    subprocess.run(["ip", "-batch", "-"], input=host_side, text=True, check=True)
    subprocess.run(["ip", "-n", slot.netns, "-batch", "-"], input=inside, text=True, check=True)
    subprocess.run(["ip", "netns", "del", slot.netns], check=True)
    return time.perf_counter() - start


def main() -> int:
    args = parse_args(__doc__, rounds=40)
    if lacks_root("bench", "network namespaces"):
        return 1
    work = make_work("colony-bench")
    work.chmod(0o755)  # colony processes run as an unprivileged user (issue 3)
    spawn: list[float] = []
    remove: list[float] = []
    floor: list[float] = []
    try:
        # Bloom's HTTP port stays at the daemon's default here.
        daemon, client = start_daemon(work, PREFIX, POOL)
        try:
            repo = make_repo(work, {"README.md": "bench\n"})
            for i in range(args.rounds + 3):  # the first rounds warm caches up and are dropped
                name = f"b{i}"
                with client.events(name) as events:
                    t0 = time.perf_counter()
                    client.spawn(name, str(repo))
                    wait_state(events, name, "running")
                    t1 = time.perf_counter()
                    client.stop(name)
                    wait_state(events, name, "stopped")
                    client.remove(name)
                    t2 = time.perf_counter()
                client.trash_purge(name)  # untimed: the trash stays small
                f = floor_round(i)
                if i >= 3:
                    spawn.append(t1 - t0)
                    remove.append(t2 - t1)
                    floor.append(f)
            client.close()
        finally:
            stop_daemon(daemon)
    finally:
        remove_work(work)
    figures = {
        "rounds": args.rounds,
        "spawn": summary(spawn),
        "floor": summary(floor),
        "stop_rm": summary(remove),
    }
    figures["ratio_spawn_to_floor_p50"] = figures["spawn"]["p50"] / figures["floor"]["p50"]
    if args.json:
        print(json.dumps(figures, indent=2))
        return 0
    print(f"rounds: {args.rounds} (after 3 warm-up rounds)")
    for key, label, target in (
        ("spawn", "(a) spawn until running", "p50 <= 50 ms"),
        ("floor", "(b) floor: netns + veth create+delete", ""),
        ("stop_rm", "(c) stop + rm", "p50 <= 50 ms"),
    ):
        f = figures[key]
        print(f"{label:42s} p50 {f['p50']:7.1f} ms   p95 {f['p95']:7.1f} ms   {target}")
    print(f"ratio (a)/(b) at p50: {figures['ratio_spawn_to_floor_p50']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
