"""A connection flood from an unprivileged local user (issue 11): Mycelium keeps serving.

One process held 1,079 idle connections to the preview port, and the daemon ran out of file
descriptors: `colony ls` timed out, Bloom and every preview were down. Here Mycelium starts
with the limits most services get (a soft open-files limit of 1024: systemd's default), and
user nobody opens 2,000 connections to the preview proxy and 1,000 to Bloom.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.conftest import make_repo
from tests.host.conftest import ROOT, Daemon, sh_in, wait_for, wait_state

FLOOD = (ROOT / "scripts" / "flood.py").read_text()  # run as nobody, with -c
WEB = '[services.web]\ncommand = "python3 -m http.server 3000 --bind 127.0.0.1"\nport = 3000\n'


def colony_ls(d: Daemon) -> tuple[subprocess.CompletedProcess[str], float]:
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "colony", "--socket", str(d.socket), "ls"],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=60,
    )
    return done, time.monotonic() - started


def test_a_flood_of_connections_leaves_the_daemon_serving(daemon: Daemon, tmp_path: Path) -> None:
    """When user nobody holds 3,000 connections to the preview proxy and Bloom, `colony ls`
    still answers, another colony's preview still loads and Bloom still answers its user;
    the daemon raised its open-files limit (not its colonies') and holds only what the per-peer
    caps allow."""
    daemon.stop()
    daemon.nofile = (1024, 4096)
    client = daemon.start()
    assert daemon.proc is not None
    make_repo(tmp_path / "repo", {"colony.toml": WEB, "index.html": "still here\n"})
    client.spawn("steady", tmp_path / "repo")
    wait_state(client, "steady", "running")
    # The daemon's raised limit stays the daemon's: the colony's processes get the soft one.
    assert sh_in(client, "steady", "ulimit -n")[1].strip() == "1024"
    token = client.api_token().token
    bloom = str(client.health()["http_url"])
    bloom_port = int(bloom.rsplit(":", 1)[1])

    nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "/usr/bin/python3"]
    targets = [f"{daemon.proxy_port}:2000", f"{bloom_port}:1000"]
    with subprocess.Popen(
        [*nobody, "-c", FLOOD, *targets],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as flood:
        assert flood.stdout is not None
        held, failed = map(int, flood.stdout.readline().split())
        assert held + failed == 3000

        done, took = colony_ls(daemon)
        assert done.returncode == 0, done.stderr
        assert "steady" in done.stdout
        # Issue 11 asks for `colony ls` within 1 s under a flood; the CLI's own start-up is
        # part of this, on a shared machine: a generous bound, not a measurement.
        assert took < 5, f"colony ls took {took:.1f}s under the flood"
        preview = httpx.get(
            f"http://127.0.0.1:{daemon.proxy_port}/",
            headers={"Host": "web.steady.localhost"},
            timeout=10,
        )
        assert preview.text == "still here\n"
        health = httpx.get(
            f"http://127.0.0.1:{bloom_port}/health",
            headers={"Host": bloom.removeprefix("http://"), "Authorization": f"Bearer {token}"},
            timeout=10,
        )
        assert health.status_code == 200
        # Connections beyond the caps are closed as soon as they are accepted: the daemon
        # soon holds the caps' worth (256 per listener) and its own.
        fd_dir = Path(f"/proc/{daemon.proc.pid}/fd")
        wait_for(lambda: len(os.listdir(fd_dir)) < 1024, what="the daemon to hold < 1024 fds")
        flood.stdin.close()  # type: ignore[union-attr]
    assert daemon.proc.poll() is None
    assert "refusing more" in daemon.log.read_text()
    limits = Path(f"/proc/{daemon.proc.pid}/limits").read_text()
    assert "Max open files            4096                 4096" in limits  # raised soft to hard
