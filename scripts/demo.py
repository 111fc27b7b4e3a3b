"""`make demo`: three colonies of the bundled example app, all on port 3000, each answering
with its own name through its preview URL. Cleans up everything it made."""

from __future__ import annotations

import os
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COLONY = [sys.executable, "-m", "colony"]
NAMES = ["alpha", "beta", "gamma"]


SCRATCH = Path("/var/lib/colony-scratch")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def say(text: str) -> None:
    print(f"\n\033[1m{text}\033[0m", flush=True)


def sh(*args: str, env: dict[str, str], check: bool = True) -> subprocess.CompletedProcess[str]:
    words = ["colony", *args[len(COLONY) :]] if list(args[: len(COLONY)]) == COLONY else args
    shown = shlex.join(words)
    print(f"$ {shown}", flush=True)
    proc = subprocess.run(
        args, env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    print(proc.stdout, end="", flush=True)
    if check and proc.returncode != 0:
        raise SystemExit(f"demo: '{shown}' failed with exit code {proc.returncode}")
    return proc


def make_repo(where: Path) -> Path:
    repo = where / "webapp"
    shutil.copytree(ROOT / "examples" / "webapp", repo)
    git = [
        "git",
        "-C",
        str(repo),
        "-c",
        "user.name=Colony Demo",
        "-c",
        "user.email=demo@colony.invalid",
    ]
    subprocess.run([*git, "init", "-q", "-b", "main"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "demo app"], check=True)
    return repo


def main() -> int:
    if os.geteuid() != 0:
        print("demo: run as root (network namespaces need it): sudo make demo", file=sys.stderr)
        return 1
    # Not below /tmp, which each colony gets its own of; passable for the colonies' own uids.
    SCRATCH.mkdir(mode=0o711, parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="colony-demo-", dir=SCRATCH))
    work.chmod(0o711)
    env = dict(os.environ)
    env.update(
        COLONY_STATE_DIR=str(work / "state"),
        COLONY_SOCKET=str(work / "state" / "mycelium.sock"),
        COLONY_PROXY_PORT=str(free_port()),
        COLONY_PREFIX="demo",
        COLONY_POOL="10.213.250.0/24",
        COLONY_UID_BASE=str(1_900_000_000 + 65_536 * 3500),  # never the everyday daemon's
        PYTHONPATH=str(ROOT),
    )
    spawned: list[str] = []
    try:
        say("1. A small web app in its own git repository")
        repo = make_repo(work)
        print((repo / "colony.toml").read_text())
        say("2. Start Mycelium")
        sh(*COLONY, "daemon", "start", env=env)
        say("3. Spawn three colonies of the same repository; each runs the app on port 3000")
        for name in NAMES:
            sh(*COLONY, "spawn", name, "--repo", str(repo), env=env)
            spawned.append(name)
        say("4. The live table, and what each colony uses")
        sh(*COLONY, "ls", env=env)
        sh(*COLONY, "top", "--once", env=env)
        say("5. Each preview URL answers with its own colony's name")
        for name in NAMES:
            url = sh(*COLONY, "url", name, "web", env=env).stdout.split()[-1]
            answer = sh("curl", "-sS", "--max-time", "5", url, env=env).stdout
            if name not in answer:
                raise SystemExit(f"demo: {url} answered {answer!r}, expected colony {name}")
        say("6. Port 3000 on the host itself is still free")
        with socket.socket() as s:
            busy = s.connect_ex(("127.0.0.1", 3000)) == 0
        print("host port 3000:", "in use (by something else on this machine)" if busy else "free")
        say("7. One command inside a colony")
        sh(
            *COLONY,
            "exec",
            "alpha",
            "--",
            "sh",
            "-c",
            "ip -brief addr; echo workspace: $PWD",
            env=env,
        )
        return 0
    finally:
        say("8. Clean up")
        for name in spawned:
            sh(*COLONY, "rm", "--force", name, env=env, check=False)
        sh(*COLONY, "daemon", "stop", env=env, check=False)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
