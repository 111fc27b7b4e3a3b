"""Mycelium's audit task: every bus event becomes a chained entry of the audit store.

One task subscribes to the bus with an unbounded queue (no event is dropped), takes what has
queued up and appends it as one batch in a worker thread, so redaction, hashing and SQLite
never run on the event loop. Followers (``colony audit -f``, the VictoriaLogs push) are told
of each committed batch. With a retention, entries older than it are pruned hourly behind a
signed checkpoint.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from colony.core.audit import Entry, Verdict
from colony.core.audit_events import Query, matches
from colony.core.redact import redact_event
from colony.daemon.events import Event, EventBus
from colony.store.audit import AuditStore

log = logging.getLogger("colony.audit")

BATCH = 2000
PRUNE_EVERY = 3600.0


class Auditor:
    """Writes the audit log and answers questions about it.

    Example:
        >>> auditor = Auditor(AuditStore(path, key), bus, clock)  # doctest: +SKIP
        >>> start_task(auditor.run()); await auditor.started.wait()  # doctest: +SKIP
    """

    def __init__(
        self,
        store: AuditStore,
        bus: EventBus,
        clock: Callable[[], float],
        *,
        retention: float | None = None,
        keep_after: Callable[[], int | None] = lambda: None,
    ) -> None:
        self.store = store
        self.bus = bus
        self.clock = clock
        self.retention = retention
        self.keep_after = keep_after
        self.started = asyncio.Event()
        self.committed = asyncio.Condition()
        self.followers: set[asyncio.Queue[list[Entry] | None]] = set()  # None: the end

    async def run(self) -> None:
        """Record events until cancelled; what is queued then is still written."""
        async with self.bus.subscribe(maxsize=0) as queue:
            self.started.set()
            try:
                while True:
                    batch = [await queue.get()]
                    while not queue.empty() and len(batch) < BATCH:
                        batch.append(queue.get_nowait())
                    await self._write(batch)
            except asyncio.CancelledError:
                rest: list[Event] = []
                while not queue.empty():
                    rest.append(queue.get_nowait())
                if rest:
                    self.store.append(rest, self.clock())
                raise
            finally:
                self.store.close()
                for follower in self.followers:  # followed streams end, so the API can stop
                    follower.put_nowait(None)

    async def _write(self, batch: list[Event]) -> None:
        try:
            entries = await asyncio.to_thread(self.store.append, batch, self.clock())
        except Exception:
            # A failed write (disk full, a broken file) must not stop auditing: the events go
            # to the daemon's log instead, redacted like everything else.
            log.exception("audit: cannot write %d events: %r", len(batch), redact_event(batch))
            return
        for follower in self.followers:
            follower.put_nowait(entries)
        async with self.committed:
            self.committed.notify_all()

    async def prune_loop(self) -> None:
        """Prune entries older than the retention, at start and then hourly."""
        if self.retention is None:
            return
        while True:
            try:
                await self.prune()
            except Exception:  # a bad file must not take the daemon down; tried again later
                log.exception("audit: pruning failed")
            await asyncio.sleep(PRUNE_EVERY)

    async def prune(self) -> int:
        assert self.retention is not None
        now = self.clock()
        gone = await asyncio.to_thread(
            self.store.prune, now - self.retention, now, self.keep_after()
        )
        if gone:
            log.info("audit: pruned %d entries older than %gs", gone, self.retention)
        return gone

    # --- reading --------------------------------------------------------------------------

    async def query(self, q: Query, limit: int | None) -> list[Entry]:
        return await asyncio.to_thread(self.store.query, q, limit)

    async def verify(self) -> Verdict:
        return await asyncio.to_thread(self.store.verify)

    @asynccontextmanager
    async def _follow(self) -> AsyncIterator[asyncio.Queue[list[Entry] | None]]:
        queue: asyncio.Queue[list[Entry] | None] = asyncio.Queue()
        self.followers.add(queue)
        try:
            yield queue
        finally:
            self.followers.discard(queue)

    async def entries(self, q: Query, limit: int | None, follow: bool) -> AsyncIterator[Entry]:
        """Matching entries (the newest ``limit``), then, with ``follow``, new ones as they
        are written, without gaps or repeats."""
        async with self._follow() as live:
            backlog = await self.query(q, limit)
            last = backlog[-1].seq if backlog else q.after
            for entry in backlog:
                yield entry
            if not follow:
                return
            while (batch := await live.get()) is not None:
                for entry in batch:
                    if entry.seq > last and matches(entry, q):
                        last = entry.seq
                        yield entry

    def status(self) -> dict[str, Any]:
        return {"last": self.store.last_seq, "retention": self.retention}
