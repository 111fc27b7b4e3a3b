"""`make bench` (issue 15): how fast `colony ls`, `url` and `show` answer, as a user runs them.

One daemon, 10 colonies with a tiny web service each. Each command is run as a new process,
the way a user runs it: the `colony` console script next to this Python (else
`python -m colony`), stdout a pipe, ~30 rounds after 3 warm-up rounds, commands interleaved
round by round so drift hits all alike. p50 and p95 per command, and the ratio of each p50 to
the goal of 80 ms. Also the time of `python -c pass` (the interpreter's own start) as the
floor no command can go below.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

from benchlib import (
    ROOT,
    colony_command,
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

PREFIX = "cbcli"
POOL = "10.213.244.0/24"
GOAL_MS = 80.0
TOML = (
    '[services.web]\ncommand = "exec python3 -m http.server 3000 --bind 127.0.0.1"\nport = 3000\n'
)


def timed(argv: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True, check=False)
    took = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"bench: {' '.join(argv)} failed: {done.stderr.decode().strip()}")
    return took


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
    commands = {
        "pass": [sys.executable, "-c", "pass"],
        "ls": [*colony, "ls"],
        "ls --json": [*colony, "ls", "--json"],
        "url": [*colony, "url", names[0]],
        "show": [*colony, "show", names[0]],
    }
    times: dict[str, list[float]] = {what: [] for what in commands}
    try:
        repo = make_repo(work, {"colony.toml": TOML, "index.html": "hi\n"})
        for name in names:
            with client.events(name) as events:
                client.spawn(name, str(repo))
                wait_state(events, name, "running")
        for i in range(args.rounds + 3):  # three warm-up rounds are dropped
            for what, argv in commands.items():
                took = timed(argv, env)
                if i >= 3:
                    times[what].append(took)
        for name in names:
            client.remove(name, force=True)
        client.trash_purge()
    finally:
        client.close()
        stop_daemon(daemon)
        remove_work(work)
    figures: dict[str, object] = {"colonies": args.colonies, "rounds": args.rounds}
    for what, samples in times.items():
        stats = summary(samples)
        figures[what] = {**stats, "ratio_to_goal_p50": stats["p50"] / GOAL_MS}
    if args.json:
        print(json.dumps(figures, indent=2))
        return 0
    print(f"colony CLI with {args.colonies} colonies, {args.rounds} rounds: {' '.join(colony)}")
    for what in commands:
        f = figures[what]
        assert isinstance(f, dict)
        goal = "" if what == "pass" else f"  p50/{GOAL_MS:g} ms goal: {f['ratio_to_goal_p50']:.2f}"
        label = "python -c pass (floor)" if what == "pass" else f"colony {what}"
        print(f"{label:24s} p50 {f['p50']:7.1f} ms   p95 {f['p95']:7.1f} ms{goal}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
