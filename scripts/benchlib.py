"""What the benchmarks share: a Mycelium of their own, a small repository, percentiles.

Each bench starts a daemon as a subprocess with its own kernel-object prefix and address pool
(so it never meets a daemon already running), waits until ``/health`` answers, and stops it
at the end. Times are in seconds; summaries are in milliseconds.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import zlib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from colony.client import Client  # noqa: E402
from colony.errors import ColonyError  # noqa: E402
from colony.isolation import firewall  # noqa: E402

GIT_USER = ["-c", "user.name=b", "-c", "user.email=b@b.invalid"]


def parse_args(doc: str, rounds: int | None = None, **counts: int) -> argparse.Namespace:
    """Options of a bench described by ``doc``'s first line: ``-n/--rounds`` (if ``rounds``),
    an integer ``--NAME`` for each of ``counts``, and ``--json``."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    if rounds is not None:
        parser.add_argument("-n", "--rounds", type=int, default=rounds)
    for name, default in counts.items():
        parser.add_argument(f"--{name}", type=int, default=default)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    return parser.parse_args()


def colony_command() -> list[str]:
    """`colony` as a user runs it: the console script of this Python's environment, else
    `python -m colony`."""
    script = Path(sys.executable).parent / "colony"
    return [str(script)] if script.exists() else [sys.executable, "-m", "colony"]


def lacks_root(who: str, why: str) -> bool:
    """True, after saying so on stderr, unless this process runs as root."""
    if os.geteuid() == 0:
        return False
    print(f"{who}: needs root ({why})", file=sys.stderr)
    return True


def pct(samples: list[float], q: float) -> float:
    """The ``q`` quantile of ``samples``, nearest rank."""
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def summary(samples: list[float]) -> dict[str, float]:
    """p50 and p95 of ``samples`` in milliseconds."""
    return {"p50": statistics.median(samples) * 1000, "p95": pct(samples, 0.95) * 1000}


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), *GIT_USER, *args], check=True)


def make_repo(where: Path, files: Mapping[str, str]) -> Path:
    """A git repository ``where/repo`` with ``files`` committed on ``main``."""
    repo = where / "repo"
    repo.mkdir()
    for name, text in files.items():
        (repo / name).write_text(text)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "bench")
    return repo


SCRATCH = Path("/var/lib/colony-scratch")  # not below /tmp: each colony has its own /tmp


def make_work(tag: str) -> Path:
    """A scratch directory for a daemon's state, outside the directories colonies get their
    own of, passable by colony users."""
    SCRATCH.mkdir(mode=0o711, parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f"{tag}-", dir=SCRATCH))
    work.chmod(0o711)
    return work


def uid_base(prefix: str) -> int:
    """A colony uid range of its own for the daemon of ``prefix`` (never the default one)."""
    return 1_900_000_000 + 65_536 * (2001 + zlib.crc32(prefix.encode()) % 1000)


def start_daemon(
    work: Path,
    prefix: str,
    pool: str,
    *,
    socket: str = "mycelium.sock",
    http_port: str | None = "0",
    env: Mapping[str, str] | None = None,
) -> tuple[subprocess.Popen[bytes], Client]:
    """Start a Mycelium on ``work`` (log in ``work/mycelium.log``) and wait for ``/health``.

    ``http_port`` None leaves Bloom's port at the daemon's default. If the daemon does not
    answer within 20 s, or exits, it is killed and the error raised. From here a SIGTERM
    (``timeout``, Ctrl-C's cousin) ends the bench through its ``finally`` blocks, so what it
    made is removed: a stopped Mycelium leaves its colonies running.
    """
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    argv = [sys.executable, "-m", "colony", "daemon", "run", "--state-dir", str(work / "state")]
    argv += ["--socket", str(work / socket), "--proxy-port", "0"]
    if http_port is not None:
        argv += ["--http-port", http_port]
    argv += ["--prefix", prefix, "--pool", pool, "--uid-base", str(uid_base(prefix))]
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    with (work / "mycelium.log").open("wb") as log:
        daemon = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=full_env)
    client = Client(work / socket)
    deadline = time.monotonic() + 20
    while True:
        try:
            client.health()
            return daemon, client
        except ColonyError:
            if time.monotonic() > deadline or daemon.poll() is not None:
                daemon.kill()
                daemon.wait(30)
                client.close()
                raise
            time.sleep(0.05)


def stop_daemon(daemon: subprocess.Popen[bytes]) -> None:
    daemon.terminate()
    daemon.wait(30)


def remove_work(work: Path) -> None:
    subprocess.run(["rm", "-rf", str(work)], check=False)


def finish(daemon: subprocess.Popen[bytes], client: Client, work: Path) -> None:
    """Remove what is left (also after a failure: a stopped Mycelium leaves its colonies
    running), purge the trash, stop the daemon, delete its state."""
    try:
        left = [c.name for c in client.colonies().colonies]
        if left:
            client.remove_many(left, force=True)
        client.trash_purge()
    finally:
        client.close()
        stop_daemon(daemon)
        remove_work(work)


def wait_state(events: Iterable[dict[str, Any]], name: str, state: str) -> None:
    """Read ``events`` until colony ``name`` reaches ``state``; exit if it fails instead."""
    for event in events:
        if event.get("colony") != name or event.get("type") != "state":
            continue
        if event["state"] == "failed":
            raise SystemExit(f"bench: colony {name} failed: {event.get('reason')}")
        if event["state"] == state:
            return


def leftovers(prefix: str) -> list[str]:
    """Kernel objects and processes of daemon ``prefix`` still on the machine: namespaces,
    links, nft tables, cgroups, and processes in its cgroups."""

    def out(argv: list[str]) -> str:
        return subprocess.run(argv, capture_output=True, text=True, check=False).stdout

    mark = prefix  # <prefix>-<name> (netns, nft), <prefix>/<name> (cgroups), <prefix>h<n> (veths)
    found = [f"netns {n.split()[0]}" for n in out(["ip", "netns", "list"]).splitlines()
             if n.startswith(mark)]  # fmt: skip
    for line in out(["ip", "-o", "link", "show"]).splitlines():
        name = line.split(": ")[1].split("@")[0] if ": " in line else ""
        if name.startswith(mark):
            found.append(f"link {name}")
    # Over netlink: `nft list tables` reads every table and starts over while others change.
    found += [f"nft table inet {t}" for t in firewall.table_names() if t.startswith(mark)]
    cgroups = Path("/sys/fs/cgroup")
    for hierarchy in [cgroups, *(p for p in cgroups.iterdir() if p.is_dir())]:
        try:
            found += [f"cgroup {p}" for p in hierarchy.iterdir() if p.name.startswith(mark)]
        except OSError:
            continue
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and f"/{mark}" in (proc / "cgroup").read_text():
                found.append(f"process {proc.name}")
        except OSError:
            continue
    return sorted(set(found))
