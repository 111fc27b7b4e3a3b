"""The workspace watch on real directories with inotify: batched files events, `.git` left
out, new directories followed, nothing recorded while nothing runs in the colony."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from colony.daemon.events import EventBus
from colony.daemon.files import FileWatch


class Harness:
    """A FileWatch over one workspace, with the colony's state set by the test."""

    def __init__(self, workspace: Path, state: str = "running") -> None:
        self.workspace = workspace
        self.state = state
        self.bus = EventBus()
        self.watch = FileWatch(self.bus, self.colonies, time.time)
        self.changed: list[dict[str, Any]] = []

    def colonies(self) -> dict[str, tuple[str | None, str]]:
        return {"w": (str(self.workspace), self.state)}

    async def collect(self) -> None:
        async with self.bus.subscribe(maxsize=0) as events:
            while True:
                event = await events.get()
                if event["type"] == "files":
                    self.changed.append(event)

    def paths(self) -> list[str]:
        return sorted(p for e in self.changed for p in e["paths"])

    async def settle(self, count: int) -> None:
        """Wait until ``count`` paths were reported (or 20 s passed)."""
        deadline = time.monotonic() + 20
        while sum(e["count"] for e in self.changed) < count and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.7)  # one more flush: nothing else may come


async def started(h: Harness) -> list[asyncio.Task[None]]:
    tasks = [asyncio.ensure_future(h.collect()), asyncio.ensure_future(h.watch.run())]
    await asyncio.sleep(0.3)  # the watch is set up in its thread
    return tasks


async def stopped(tasks: list[asyncio.Task[None]]) -> None:
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def test_changes_are_batched_and_git_left_out(tmp_path: Path) -> None:
    """When files are written, renamed and deleted, each counts once per batch, `.git`
    internals never appear, and files of a new directory are found."""
    (tmp_path / ".git").mkdir()
    (tmp_path / "old.txt").write_text("x")
    h = Harness(tmp_path)
    tasks = await started(h)
    try:
        (tmp_path / "a.txt").write_text("1")
        (tmp_path / "a.txt").write_text("2")
        (tmp_path / ".git" / "index").write_text("i")
        (tmp_path / "old.txt").rename(tmp_path / "new.txt")
        (tmp_path / "sub" / "deep").mkdir(parents=True)
        (tmp_path / "sub" / "deep" / "b.txt").write_text("b")
        (tmp_path / "new.txt").unlink()
        await h.settle(4)
    finally:
        await stopped(tasks)
    assert h.paths() == ["a.txt", "new.txt", "old.txt", "sub/deep/b.txt"]
    assert all(e["colony"] == "w" and e["count"] == len(e["paths"]) for e in h.changed)


async def test_many_files_come_in_chunks(tmp_path: Path) -> None:
    """When 2,500 files are written at once, they come as events of at most 1,000 paths whose
    counts add up exactly."""
    (tmp_path / "out").mkdir()
    h = Harness(tmp_path)
    tasks = await started(h)
    try:
        for i in range(2500):
            (tmp_path / "out" / f"f{i}").write_text(str(i))
        await h.settle(2500)
    finally:
        await stopped(tasks)
    assert sum(e["count"] for e in h.changed) == 2500
    assert len(set(h.paths())) == 2500
    assert max(e["count"] for e in h.changed) <= 1000
    assert len(h.changed) >= 3


async def test_nothing_is_recorded_while_stopped(tmp_path: Path) -> None:
    """When nothing runs in the colony (stopped, no exec), changes are not recorded; during an
    exec session they are."""
    h = Harness(tmp_path, state="stopped")
    tasks = await started(h)
    try:
        (tmp_path / "quiet.txt").write_text("q")
        await asyncio.sleep(0.8)
        assert h.changed == []
        h.bus.publish({"type": "exec", "colony": "w", "argv": ["sh"]})
        await asyncio.sleep(0.1)
        (tmp_path / "loud.txt").write_text("l")
        await h.settle(1)
        h.bus.publish({"type": "exec_end", "colony": "w", "argv": ["sh"], "code": 0})
        await asyncio.sleep(0.1)
        (tmp_path / "after.txt").write_text("a")
        await asyncio.sleep(0.8)
    finally:
        await stopped(tasks)
    assert h.paths() == ["loud.txt"]


async def test_symlink_counts_after_a_batch(tmp_path: Path) -> None:
    """When a file is created and never written (a symlink), it still counts, one batch on."""
    h = Harness(tmp_path)
    tasks = await started(h)
    try:
        (tmp_path / "link").symlink_to("/etc/hostname")
        await h.settle(1)
    finally:
        await stopped(tasks)
    assert h.paths() == ["link"]
