"""A real Mycelium under floods from a colony (issue 11): log output, file events, watches."""

from __future__ import annotations

import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from colony.client import Client
from colony.contract_responses import AuditEntry
from tests.conftest import make_repo
from tests.host.conftest import Daemon, running_daemon, wait_for, wait_state
from tests.host.test_audit import entries, run, wait_entry

MB = 1 << 20
LOG_SIZE = 4 * MB

# One line of 100 MB without a newline, then 60 MB of short lines, then a heartbeat.
FLOOD = textwrap.dedent("""
    [services.flood]
    command = '''
    while [ ! -e go ]; do sleep 0.05; done
    head -c 100000000 /dev/zero | tr '\\0' x
    yes 'a flood of short lines' | head -c 60000000
    echo; echo flood-done
    while true; do echo alive; sleep 0.2; done
    '''
""")


@pytest.fixture
def capped(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Daemon]:
    """Mycelium with log files capped at 4 MB, 3 per source."""
    with running_daemon(tmp_path, request, "--log-size", "4M", "--log-files", "3") as d:
        yield d


def rss(pid: int) -> int:
    """Resident memory of ``pid`` in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS for pid {pid}")


class Follower:
    """`colony logs -f` in a thread, as Bloom follows logs."""

    def __init__(self, socket: Path, name: str) -> None:
        self.lines: list[str] = []
        self.client = Client(socket, timeout=30)
        stream = self.client.log_stream(name, lines=0)
        self.stream = stream

        def read() -> None:
            for entry in stream:
                self.lines.append(entry["line"])

        self.thread = threading.Thread(target=read, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.stream.close()
        self.thread.join(10)
        self.client.close()


def test_a_log_flood_leaves_daemon_memory_flat_and_files_capped(
    capped: Daemon, tmp_path: Path
) -> None:
    """When a service writes one 100 MB line and then 60 MB of short lines while a follower
    is attached, the daemon's RSS stays within 20 MB of before, the follower sees the long
    line cut at 64 KiB and the output after the flood, and the service's log files stay
    within the cap (at most 3 files of at most 4 MB)."""
    client = capped.client
    assert client is not None
    assert capped.proc is not None
    client.spawn("flood", str(make_repo(tmp_path / "repo", {"colony.toml": FLOOD})))
    workspace = Path(wait_state(client, "flood", "running").workspace)
    follower = Follower(capped.socket, "flood")
    try:
        time.sleep(1.0)
        before = rss(capped.proc.pid)
        (workspace / "go").touch()
        wait_for(lambda: "flood-done" in follower.lines, 120, "the end of the flood")
        wait_for(lambda: follower.lines.count("alive") >= 3, 30, "the heartbeat")
        time.sleep(1.5)  # a rotation or two more
        after = rss(capped.proc.pid)
    finally:
        follower.close()
    assert after - before < 20 * MB, f"RSS grew from {before / MB:.0f} to {after / MB:.0f} MB"
    # What the follower could not take is said: the long line cut, or (when the flood came
    # faster than a look) the output skipped.
    assert any(
        (line.startswith("x" * 1000) and "cut" in line) or "skipped" in line
        for line in follower.lines
    )
    assert all(len(line) <= 64 * 1024 + 100 for line in follower.lines)
    logs = capped.state_dir / "colonies" / "flood" / "logs"
    files = {p.name: p.stat().st_size for p in logs.glob("flood.log*")}
    assert set(files) <= {"flood.log", "flood.log.1", "flood.log.2"}, files
    assert all(size <= LOG_SIZE for size in files.values()), files


@pytest.fixture
def limited(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Daemon]:
    """Mycelium with 12 inotify watches per colony and 200 paths listed at once, 20/s after."""
    options = ("--watch-limit", "12", "--files-burst", "200", "--files-rate", "20")
    with running_daemon(tmp_path, request, *options) as d:
        yield d


def test_watch_limit_and_file_event_rate_per_colony(limited: Daemon, tmp_path: Path) -> None:
    """When a colony makes more directories than its watch limit, the audit log says so once;
    when it writes 3,000 files, at most the burst (and the rate) is listed by name and the
    rest is summed up as `… and N more`, in a handful of entries whose counts add up."""
    client = limited.client
    assert client is not None
    client.spawn("busy", str(make_repo(tmp_path / "repo", {"README": "hi\n"})))
    wait_state(client, "busy", "running")
    assert run(client, "busy", ["sh", "-c", "mkdir out && echo p > out/probe"]) == 0
    wait_entry(client, "the probe", type="files", colony="busy", paths=["out/probe"])
    dirs = " ".join(f"d{i}/sub" for i in range(20))
    assert run(client, "busy", ["sh", "-c", f"mkdir -p {dirs}"]) == 0
    limit = wait_entry(client, "the watch limit note", type="resource", colony="busy")
    assert limit.msg.startswith("busy: limit: inotify watch limit of 12 directories reached")
    script = "i=0; while [ $i -lt 3000 ]; do echo $i > out/f$i; i=$((i + 1)); done"
    assert run(client, "busy", ["sh", "-c", script]) == 0
    client.stop("busy")
    wait_state(client, "busy", "stopped")

    def flood() -> list[AuditEntry]:
        found = entries(client, kind="files", colony="busy")
        return [e for e in found if e.data["paths"] != ["out/probe"]]

    def total() -> int:
        return sum(e.data["count"] + e.data.get("more", 0) for e in flood())

    wait_for(lambda: total() >= 3000, 30, "3,000 files counted")
    batches = flood()
    assert total() == 3000
    listed = sum(e.data["count"] for e in batches)
    assert 200 <= listed < 1000
    assert len(batches) <= 6
    assert any(" and " in e.msg and e.msg.endswith(" more") for e in batches)
    assert len(entries(client, kind="resource", colony="busy")) == 1
