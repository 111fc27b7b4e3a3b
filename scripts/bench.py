"""`make bench`: spawn and removal latency against the floor of a bare netns + veth.

One run measures, p50 and p95 over N rounds:
  (a) spawn through the API of a colony with no services on a small repository, until the
      `running` event arrives;
  (b) the floor: create + delete of a bare netns + veth pair done directly (batched iproute2);
  (c) stop + rm of that colony, until both calls have returned.
Targets on the 2-core machine: (a) p50 <= 50 ms, (c) p50 <= 50 ms.
"""

from __future__ import annotations

import argparse
import ipaddress
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
from colony.core.model import Slot  # noqa: E402
from colony.errors import ColonyError  # noqa: E402

PREFIX = "cbench"
POOL = "10.213.251.0/24"


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def summary(samples: list[float]) -> dict[str, float]:
    return {"p50": statistics.median(samples) * 1000, "p95": pct(samples, 0.95) * 1000}


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


def make_repo(where: Path) -> Path:
    repo = where / "repo"
    repo.mkdir()
    (repo / "README.md").write_text("bench\n")
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--rounds", type=int, default=40)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("bench: needs root (network namespaces)", file=sys.stderr)
        return 1
    work = Path(tempfile.mkdtemp(prefix="colony-bench-"))
    work.chmod(0o755)  # colony processes run as an unprivileged user (issue 3)
    sock = work / "mycelium.sock"
    log = (work / "mycelium.log").open("wb")
    daemon = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "colony",
            "daemon",
            "run",
            "--state-dir",
            str(work / "state"),
            "--socket",
            str(sock),
            "--proxy-port",
            "0",
            "--prefix",
            PREFIX,
            "--pool",
            POOL,
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    spawn: list[float] = []
    remove: list[float] = []
    floor: list[float] = []
    try:
        client = Client(sock)
        deadline = time.monotonic() + 20
        while True:
            try:
                client.health()
                break
            except ColonyError:
                if time.monotonic() > deadline or daemon.poll() is not None:
                    raise
                time.sleep(0.05)
        repo = make_repo(work)
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
            subprocess.run(
                ["git", "-C", str(repo), "branch", "-q", "-D", f"colony/{name}"], check=True
            )
            f = floor_round(i)
            if i >= 3:
                spawn.append(t1 - t0)
                remove.append(t2 - t1)
                floor.append(f)
        client.close()
    finally:
        daemon.terminate()
        daemon.wait(30)
        log.close()
        subprocess.run(["rm", "-rf", str(work)], check=False)
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
