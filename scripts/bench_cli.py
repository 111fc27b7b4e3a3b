"""`make bench` (issue 15): how fast `colony ls`, `url` and `show` answer, as a user runs them.

One daemon, 10 colonies with a tiny web service each. Each command is run as a new process,
the way a user runs it: the `colony` console script next to this Python (else
`python -m colony`), stdout a pipe, ~30 rounds after 3 warm-up rounds, commands interleaved
round by round so drift hits all alike; compiled modules are cached (outside the tree) as
they are once installed. p50 and p95 per command, and the ratio of each p50 to the goal of
80 ms. Also the time of `python -c pass` (the interpreter's own start) as the
floor no command can go below, and each one's CPU time (user + system), which other load on
the machine disturbs less than the wall time.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time

from benchlib import (
    ROOT,
    colony_command,
    finish,
    lacks_root,
    make_repo,
    make_work,
    parse_args,
    start_daemon,
    summary,
    wait_state,
)

PREFIX = "cbcli"
POOL = "10.213.244.0/24"
GOAL_MS = 80.0
TOML = (
    '[services.web]\ncommand = "exec python3 -m http.server 3000 --bind 127.0.0.1"\nport = 3000\n'
)


def timed(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall time, CPU time) of running ``argv`` once."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True, check=False)
    took = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"bench: {' '.join(argv)} failed: {done.stderr.decode().strip()}")
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return took, cpu


def main() -> int:
    args = parse_args(__doc__, rounds=30, colonies=10)
    if lacks_root("bench", "namespaces, cgroups"):
        return 1
    work = make_work("colony-bench-cli")
    work.chmod(0o755)  # colony processes run unprivileged and must reach the state dir
    daemon, client = start_daemon(work, PREFIX, POOL)
    names = [f"c{i}" for i in range(args.colonies)]
    colony = colony_command()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLONY_SOCKET": str(work / "mycelium.sock")}
    # As installed, Colony's modules are compiled once (pip does it); a checkout run with
    # PYTHONDONTWRITEBYTECODE would compile them on every start. Cache them outside the tree.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(work / "pycache")
    commands = {
        "pass": [sys.executable, "-c", "pass"],
        "ls": [*colony, "ls"],
        "ls --json": [*colony, "ls", "--json"],
        "url": [*colony, "url", names[0]],
        "show": [*colony, "show", names[0]],
    }
    times: dict[str, list[float]] = {what: [] for what in commands}
    cpus: dict[str, list[float]] = {what: [] for what in commands}
    try:
        repo = make_repo(work, {"colony.toml": TOML, "index.html": "hi\n"})
        for name in names:
            with client.events(name) as events:
                client.spawn(name, str(repo))
                wait_state(events, name, "running")
        for i in range(args.rounds + 3):  # three warm-up rounds are dropped
            for what, argv in commands.items():
                took, cpu = timed(argv, env)
                if i >= 3:
                    times[what].append(took)
                    cpus[what].append(cpu)
    finally:
        finish(daemon, client, work)
    figures: dict[str, object] = {"colonies": args.colonies, "rounds": args.rounds}
    for what, samples in times.items():
        stats = summary(samples)
        cpu = summary(cpus[what])
        figures[what] = {
            **stats,
            "ratio_to_goal_p50": stats["p50"] / GOAL_MS,
            "cpu_p50": cpu["p50"],
            "cpu_p95": cpu["p95"],
        }
    if args.json:
        print(json.dumps(figures, indent=2))
        return 0
    print(f"colony CLI with {args.colonies} colonies, {args.rounds} rounds: {' '.join(colony)}")
    for what in commands:
        f = figures[what]
        assert isinstance(f, dict)
        goal = "" if what == "pass" else f"  p50/{GOAL_MS:g} ms goal: {f['ratio_to_goal_p50']:.2f}"
        label = "python -c pass (floor)" if what == "pass" else f"colony {what}"
        print(
            f"{label:24s} p50 {f['p50']:7.1f} ms   p95 {f['p95']:7.1f} ms   "
            f"(CPU p50 {f['cpu_p50']:6.1f} ms){goal}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
