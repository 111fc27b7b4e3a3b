"""`make bench` (issue 3): what each sandbox level adds to spawn time, next to basic.

One run, one daemon, levels interleaved round by round so drift hits all alike. Each colony
runs one setup command (`true`) and one service (`sleep`), so the time includes starting
contained processes (bubblewrap at moderate and strict), not only the kernel objects. Spawn is
timed through the API until the `running` event; p50 and p95 per level, and the ratio of each
level's p50 to basic's.
"""

from __future__ import annotations

import json
import statistics
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

PREFIX = "cbenchsb"
POOL = "10.213.249.0/24"
LEVELS = ("basic", "none", "moderate", "strict")
TOML = '[setup]\ncommands = ["true"]\n[services.idle]\ncommand = "exec sleep 600"\n'


def main() -> int:
    args = parse_args(__doc__, rounds=20)
    if lacks_root("bench", "namespaces, cgroups"):
        return 1
    work = make_work("colony-bench-sandbox")
    work.chmod(0o755)  # colony processes run unprivileged and must reach the state dir
    daemon, client = start_daemon(work, PREFIX, POOL)
    times: dict[str, list[float]] = {level: [] for level in LEVELS}
    try:
        repo = make_repo(work, {"colony.toml": TOML})
        for i in range(args.rounds + 2):  # two warm-up rounds are dropped
            for level in LEVELS:
                name = f"{level[:3]}{i}"
                with client.events(name) as events:
                    t0 = time.perf_counter()
                    client.spawn(name, str(repo), sandbox=level)
                    wait_state(events, name, "running")
                    took = time.perf_counter() - t0
                client.remove(name, force=True)
                client.trash_purge(name)  # untimed: the trash stays small
                if i >= 2:
                    times[level].append(took)
        client.close()
    finally:
        stop_daemon(daemon)
        remove_work(work)
    base = statistics.median(times["basic"])
    figures = {
        level: {**summary(t), "ratio_to_basic_p50": statistics.median(t) / base}
        for level, t in times.items()
    }
    if args.json:
        print(json.dumps({"rounds": args.rounds, "levels": figures}, indent=2))
        return 0
    print(f"spawn until running, per sandbox level ({args.rounds} rounds after 2 warm-up)")
    for level, f in figures.items():
        print(
            f"  {level:9s} p50 {f['p50']:7.1f} ms   p95 {f['p95']:7.1f} ms   "
            f"x{f['ratio_to_basic_p50']:.2f} of basic"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
