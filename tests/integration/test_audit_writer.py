"""The daemon's audit task over a real bus and store: no event lost, follow without gaps,
retention behind a checkpoint."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from colony.core.audit_events import Query
from colony.daemon.audit import Auditor
from colony.daemon.events import EventBus
from colony.store.audit import AuditStore, load_key


def auditor(tmp_path: Path, **kw: float) -> Auditor:
    store = AuditStore(tmp_path / "audit.db", load_key(tmp_path / "audit.key"))
    return Auditor(store, EventBus(maxsize=10), time.time, **kw)


async def until(check, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + 20
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


async def test_no_event_is_lost(tmp_path: Path) -> None:
    """When 5,000 events are published at once (the bus keeps 10 for other subscribers), every
    one becomes an entry, in order, and the chain verifies."""
    a = auditor(tmp_path)
    task = asyncio.ensure_future(a.run())
    await a.started.wait()
    for i in range(5000):
        a.bus.publish({"type": "service", "colony": "web", "service": "s", "state": str(i)})
    await until(lambda: a.store.last_seq == 5000, "5,000 entries")
    found = await a.query(Query(), None)
    assert [e.to_json()["data"]["state"] for e in found] == [str(i) for i in range(5000)]
    assert (await a.verify()).ok
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def test_queued_events_are_written_when_stopping(tmp_path: Path) -> None:
    """When the audit task is cancelled with events still queued, they are written first."""
    a = auditor(tmp_path)
    task = asyncio.ensure_future(a.run())
    await a.started.wait()
    for i in range(50):
        a.bus.publish({"type": "gc", "removed": [], "n": i})
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    again = AuditStore(tmp_path / "audit.db", load_key(tmp_path / "audit.key"))
    assert again.last_seq == 50
    assert again.verify().ok
    again.close()


async def test_follow_has_no_gaps_or_repeats(tmp_path: Path) -> None:
    """When a follower starts while events arrive, it gets the newest backlog, then each new
    matching entry exactly once, and ends when the audit task stops."""
    a = auditor(tmp_path)
    task = asyncio.ensure_future(a.run())
    await a.started.wait()
    for i in range(10):
        a.bus.publish({"type": "exec", "colony": "web" if i % 2 else "api", "n": i})
    await until(lambda: a.store.last_seq == 10, "the backlog")
    seen: list[int] = []

    async def follow() -> None:
        async for entry in a.entries(Query(colony="web"), limit=3, follow=True):
            seen.append(entry.seq)

    follower = asyncio.ensure_future(follow())
    await until(lambda: len(seen) == 3, "the backlog")
    for i in range(10, 20):
        a.bus.publish({"type": "exec", "colony": "web" if i % 2 else "api", "n": i})
    await until(lambda: len(seen) == 8, "new entries")
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await asyncio.wait_for(follower, 5)
    assert seen == [6, 8, 10, 12, 14, 16, 18, 20]


async def test_retention_prunes_behind_a_checkpoint(tmp_path: Path) -> None:
    """When entries are older than the retention, pruning removes them and the rest verifies."""
    a = auditor(tmp_path, retention=100.0)
    now = time.time()
    a.store.append([{"type": "gc", "removed": [], "at": now - 500} for _ in range(5)], now)
    a.store.append([{"type": "gc", "removed": [], "at": now} for _ in range(2)], now)
    assert await a.prune() == 5
    verdict = await a.verify()
    assert (verdict.ok, verdict.checked, verdict.cut) == (True, 2, 5)
    a.store.close()
