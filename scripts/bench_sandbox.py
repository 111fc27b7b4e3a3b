"""`make bench` (issue 3): what each sandbox level adds to spawn time, next to basic.

One run, one daemon, levels interleaved round by round so drift hits all alike. Each colony
runs one setup command (`true`) and one service (`sleep`), so the time includes starting
contained processes (bubblewrap at moderate and strict), not only the kernel objects. Spawn is
timed through the API until the `running` event; p50 and p95 per level, and the ratio of each
level's p50 to basic's.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from colony.client import Client  # noqa: E402
from colony.errors import ColonyError  # noqa: E402

PREFIX = "cbenchsb"
POOL = "10.213.249.0/24"
LEVELS = ("basic", "none", "moderate", "strict")
TOML = '[setup]\ncommands = ["true"]\n[services.idle]\ncommand = "exec sleep 600"\n'


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def make_repo(where: Path) -> Path:
    repo = where / "repo"
    repo.mkdir()
    (repo / "colony.toml").write_text(TOML)
    git = ["git", "-C", str(repo), "-c", "user.name=b", "-c", "user.email=b@b.invalid"]
    subprocess.run([*git, "init", "-q", "-b", "main"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "bench"], check=True)
    return repo


def wait_state(events: object, name: str, state: str) -> None:
    for event in events:  # type: ignore[attr-defined]
        if event.get("colony") != name or event.get("type") != "state":
            continue
        if event["state"] == "failed":
            raise SystemExit(f"bench: colony {name} failed: {event.get('reason')}")
        if event["state"] == state:
            return


def start_daemon(work: Path) -> tuple[subprocess.Popen[bytes], Client]:
    log = (work / "mycelium.log").open("wb")
    argv = [sys.executable, "-m", "colony", "daemon", "run", "--state-dir", str(work / "state")]
    argv += ["--socket", str(work / "mycelium.sock"), "--proxy-port", "0", "--http-port", "0"]
    argv += ["--prefix", PREFIX, "--pool", POOL]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    daemon = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env)
    client = Client(work / "mycelium.sock")
    deadline = time.monotonic() + 20
    while True:
        try:
            client.health()
            return daemon, client
        except ColonyError:
            if time.monotonic() > deadline or daemon.poll() is not None:
                raise
            time.sleep(0.05)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--rounds", type=int, default=20)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("bench: needs root (namespaces, cgroups)", file=sys.stderr)
        return 1
    work = Path(tempfile.mkdtemp(prefix="colony-bench-sandbox-"))
    work.chmod(0o755)  # colony processes run unprivileged and must reach the state dir
    daemon, client = start_daemon(work)
    times: dict[str, list[float]] = {level: [] for level in LEVELS}
    try:
        repo = make_repo(work)
        for i in range(args.rounds + 2):  # two warm-up rounds are dropped
            for level in LEVELS:
                name = f"{level[:3]}{i}"
                with client.events(name) as events:
                    t0 = time.perf_counter()
                    client.spawn(name, str(repo), sandbox=level)
                    wait_state(events, name, "running")
                    took = time.perf_counter() - t0
                client.remove(name, force=True)
                subprocess.run(
                    ["git", "-C", str(repo), "branch", "-q", "-D", f"colony/{name}"], check=True
                )
                if i >= 2:
                    times[level].append(took)
        client.close()
    finally:
        daemon.terminate()
        daemon.wait(30)
        subprocess.run(["rm", "-rf", str(work)], check=False)
    base = statistics.median(times["basic"])
    figures = {
        level: {
            "p50": statistics.median(t) * 1000,
            "p95": pct(t, 0.95) * 1000,
            "ratio_to_basic_p50": statistics.median(t) / base,
        }
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
