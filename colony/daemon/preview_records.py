"""Preview requests into the audit log, a batch at a time (issue 15).

One SQLite write per preview request capped the proxy at a few thousand requests a second. The
proxy (or a worker, which sends its batches over) adds each :class:`RequestRecord` to a
:class:`~colony.core.routes.RequestTally`; once a second each batch, one client user's
requests to one preview, becomes one ``request`` event (:class:`RequestEvent`), which the
audit log keeps: who asked for which preview, how many times, which paths, which statuses.

Example:
    >>> records = PreviewRecords(bus.publish, time.time)
    >>> records.add(record)            # per request, cheap
    >>> start_task(records.run())      # publishes each second
"""

from __future__ import annotations

import asyncio
import pwd
from collections.abc import Callable

from colony.core.bus_events import RequestEvent
from colony.core.routes import RequestBatch, RequestRecord, RequestTally

FLUSH_EVERY = 1.0  # seconds


def user_name(uid: int | None) -> str | None:
    """The name of local user ``uid`` (its number when it has none); None for None."""
    if uid is None:
        return None
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


class PreviewRecords:
    """Gathers preview requests and publishes them as one event per batch each second."""

    def __init__(self, publish: Callable[[RequestEvent], None], clock: Callable[[], float]) -> None:
        self.publish = publish
        self.clock = clock
        self.tally = RequestTally()
        self.batches: list[RequestBatch] = []  # from workers, published with the next flush

    def add(self, record: RequestRecord) -> None:
        self.tally.add(record)

    def add_batch(self, batch: RequestBatch) -> None:
        self.batches.append(batch)

    def flush(self) -> None:
        batches, self.batches = [*self.batches, *self.tally.drain()], []
        now = self.clock()
        for batch in batches:
            self.publish(RequestEvent.of_batch(batch, now, user_name(batch.first.uid)))

    async def run(self) -> None:
        try:
            while True:
                await asyncio.sleep(FLUSH_EVERY)
                self.flush()
        finally:
            self.flush()


__all__ = ["PreviewRecords", "user_name"]
