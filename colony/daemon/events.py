"""Fan-out of daemon events to subscribers (WebSocket clients, log followers, waiters)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from colony.core.bus_events import BusEvent, render_event

Event = dict[str, Any]


class EventBus:
    """Publish typed events; each subscriber gets their JSON in its own bounded queue.

    A subscriber that falls too far behind loses the oldest events rather than slowing the
    daemon down.
    """

    def __init__(self, maxsize: int = 1000) -> None:
        self._subscribers: set[asyncio.Queue[Event]] = set()
        self._maxsize = maxsize

    def publish(self, event: BusEvent) -> None:
        """Render ``event`` once (:func:`render_event`) and hand the JSON to every subscriber.

        A JSON dict is passed on as it is: tests and tools feed the bus raw events; the
        daemon's own publishers are typed, and mypy keeps them so.
        """
        message = event if isinstance(event, dict) else render_event(event)
        for queue in self._subscribers:
            if queue.full():
                queue.get_nowait()
            queue.put_nowait(message)

    @asynccontextmanager
    async def subscribe(self, maxsize: int | None = None) -> AsyncIterator[asyncio.Queue[Event]]:
        """A queue of every event published from now on; ``maxsize=0``: unbounded, for
        consumers that must see every event (the audit log)."""
        queue: asyncio.Queue[Event] = asyncio.Queue(self._maxsize if maxsize is None else maxsize)
        self._subscribers.add(queue)
        try:
            yield queue
        finally:
            self._subscribers.discard(queue)
