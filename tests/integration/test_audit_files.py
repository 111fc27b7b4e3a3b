"""The workspace watch on real directories with inotify: batched files events, the top-level
`.git` left out (nested ones recorded), new directories followed, nothing recorded while
nothing runs in the colony, and the per-colony watch limit and rate limit (issue 11)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from colony.core.filerate import FileRate
from colony.daemon.events import EventBus
from colony.daemon.files import FileWatch


class Harness:
    """A FileWatch over one workspace, with the colony's state set by the test."""

    def __init__(self, workspace: Path, state: str = "running", **options: Any) -> None:
        self.workspace = workspace
        self.state = state
        self.bus = EventBus()
        self.notes: list[tuple[str, str]] = []
        self.watch = FileWatch(
            self.bus, self.colonies, time.time, note=lambda *n: self.notes.append(n), **options
        )
        self.changed: list[dict[str, Any]] = []
        self.resources: list[dict[str, Any]] = []

    def colonies(self) -> dict[str, tuple[str | None, str]]:
        return {"w": (str(self.workspace), self.state)}

    async def collect(self) -> None:
        async with self.bus.subscribe(maxsize=0) as events:
            while True:
                event = await events.get()
                if event["type"] == "files":
                    self.changed.append(event)
                elif event["type"] == "resource":
                    self.resources.append(event)

    def paths(self) -> list[str]:
        return sorted(p for e in self.changed for p in e["paths"])

    def total(self) -> int:
        """Paths reported: listed, and counted as more."""
        return sum(e["count"] + e.get("more", 0) for e in self.changed)

    async def settle(self, count: int) -> None:
        """Wait until ``count`` paths were reported (or 20 s passed)."""
        deadline = time.monotonic() + 20
        while self.total() < count and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.7)  # one more flush: nothing else may come


@contextlib.asynccontextmanager
async def watching(h: Harness) -> AsyncIterator[Harness]:
    """The watch and a collector of its events, running for the block."""
    tasks = [asyncio.ensure_future(h.collect()), asyncio.ensure_future(h.watch.run())]
    await asyncio.sleep(0.3)  # the watch is set up in its thread
    try:
        yield h
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def test_changes_are_batched_and_git_left_out(tmp_path: Path) -> None:
    """When files are written, renamed and deleted, each counts once per batch, `.git`
    internals never appear, and files of a new directory are found."""
    (tmp_path / ".git").mkdir()
    (tmp_path / "old.txt").write_text("x")
    async with watching(Harness(tmp_path)) as h:
        (tmp_path / "a.txt").write_text("1")
        (tmp_path / "a.txt").write_text("2")
        (tmp_path / ".git" / "index").write_text("i")
        (tmp_path / "old.txt").rename(tmp_path / "new.txt")
        (tmp_path / "sub" / "deep").mkdir(parents=True)
        (tmp_path / "sub" / "deep" / "b.txt").write_text("b")
        (tmp_path / "new.txt").unlink()
        await h.settle(4)
    assert h.paths() == ["a.txt", "new.txt", "old.txt", "sub/deep/b.txt"]
    assert all(e["colony"] == "w" and e["count"] == len(e["paths"]) for e in h.changed)


async def test_many_files_come_in_chunks(tmp_path: Path) -> None:
    """When 2,500 files are written at once, they come as events of at most 1,000 paths whose
    counts add up exactly."""
    (tmp_path / "out").mkdir()
    async with watching(Harness(tmp_path)) as h:
        for i in range(2500):
            (tmp_path / "out" / f"f{i}").write_text(str(i))
        await h.settle(2500)
    assert sum(e["count"] for e in h.changed) == 2500
    assert len(set(h.paths())) == 2500
    assert max(e["count"] for e in h.changed) <= 1000
    assert len(h.changed) >= 3


async def test_nothing_is_recorded_while_stopped(tmp_path: Path) -> None:
    """When nothing runs in the colony (stopped, no exec), changes are not recorded; during an
    exec session they are."""
    async with watching(Harness(tmp_path, state="stopped")) as h:
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
    assert h.paths() == ["loud.txt"]


async def test_symlink_counts_after_a_batch(tmp_path: Path) -> None:
    """When a file is created and never written (a symlink), it still counts, one batch on."""
    async with watching(Harness(tmp_path)) as h:
        (tmp_path / "link").symlink_to("/etc/hostname")
        await h.settle(1)
    assert h.paths() == ["link"]


async def test_nested_git_is_recorded_and_the_top_level_one_is_not(tmp_path: Path) -> None:
    """When files change under a nested `.git` (a repository made inside the workspace),
    they are recorded; the workspace's own `.git` directory stays out, and a change to a
    top-level `.git` file (a worktree's link to its repository) is recorded."""
    (tmp_path / ".git").mkdir()
    (tmp_path / "vendored" / ".git").mkdir(parents=True)
    async with watching(Harness(tmp_path)) as h:
        (tmp_path / ".git" / "index").write_text("own")
        (tmp_path / "vendored" / ".git" / "HEAD").write_text("ref: refs/heads/main")
        (tmp_path / "inner" / ".git" / "hooks").mkdir(parents=True)
        (tmp_path / "inner" / ".git" / "hooks" / "post-checkout").write_text("#!/bin/sh")
        await h.settle(2)
    assert h.paths() == ["inner/.git/hooks/post-checkout", "vendored/.git/HEAD"]

    (tmp_path / ".git" / "index").unlink()
    (tmp_path / ".git").rmdir()
    (tmp_path / ".git").write_text("gitdir: /repo/.git/worktrees/w\n")
    async with watching(Harness(tmp_path)) as h:
        (tmp_path / ".git").write_text("gitdir: /elsewhere\n")
        await h.settle(1)
    assert h.paths() == [".git"]


async def test_the_watch_limit_is_per_colony_and_said_once(tmp_path: Path) -> None:
    """When a workspace has more directories than the colony's watch limit, the directories
    nearest the top are watched, one resource event (and a log note) says the limit was
    reached, and changes in unwatched directories are not seen."""
    for i in range(3):
        (tmp_path / f"top{i}" / "deep" / "deeper").mkdir(parents=True)
    async with watching(Harness(tmp_path, watch_limit=4)) as h:
        (tmp_path / "top0" / "a.txt").write_text("seen")
        (tmp_path / "top2" / "deep" / "deeper" / "b.txt").write_text("unseen")
        (tmp_path / "made").mkdir()  # over the limit too: not followed
        (tmp_path / "made" / "c.txt").write_text("unseen")
        await h.settle(1)
    assert h.paths() == ["top0/a.txt"]
    assert len(h.resources) == 1
    event = h.resources[0]
    assert (event["colony"], event["kind"]) == ("w", "limit")
    assert event["detail"].startswith("inotify watch limit of 4 directories reached at top")
    assert h.notes == [("w", f"resource limit: {event['detail']}")]


async def test_a_flood_of_changes_is_listed_up_to_the_rate_and_counted_after(
    tmp_path: Path,
) -> None:
    """When a colony changes far more paths than its burst, the burst is listed, the rest is
    counted as `more` (reported with the batch that ran out), and when the colony stops,
    what is still held is reported: listed and counted add up exactly."""
    (tmp_path / "out").mkdir()
    async with watching(Harness(tmp_path, rate=FileRate(rate=20, burst=300))) as h:
        for i in range(3000):
            (tmp_path / "out" / f"f{i}").write_text(str(i))
        await asyncio.sleep(1.2)
        h.state = "stopped"
        h.bus.publish({"type": "state", "colony": "w", "state": "stopped"})
        await h.settle(3000)
    listed = sum(e["count"] for e in h.changed)
    assert h.total() == 3000
    assert 300 <= listed <= 300 + 20 * 3
    assert len(set(h.paths())) == listed
    summaries = [e for e in h.changed if e.get("more")]
    assert 1 <= len(summaries) <= 2
    assert len(h.changed) <= 5
