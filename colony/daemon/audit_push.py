"""Push of the audit log to VictoriaLogs (``/insert/jsonline``): batched, retried, resumable.

The audit store itself is the buffer on disk: a cursor in it records the last entry
VictoriaLogs accepted, so while the endpoint is down entries simply wait in ``audit.db`` (and
retention never prunes past the cursor), and after a daemon restart the push resumes where it
stopped. Failures are retried with exponential backoff; the push runs as its own task and
never holds up the daemon.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging

import httpx

from colony.core.audit_events import Query, render_jsonline
from colony.daemon.audit import Auditor

log = logging.getLogger("colony.audit.push")

CURSOR = "victorialogs"


class Pusher:
    """Sends every entry after the cursor to ``url`` (see :func:`push_url`), in order.

    Example:
        >>> start_task(Pusher(push_url("http://127.0.0.1:9428"), auditor).run())  # doctest: +SKIP
    """

    def __init__(
        self,
        url: str,
        auditor: Auditor,
        *,
        batch: int = 500,
        backoff: tuple[float, float] = (0.5, 10.0),
        timeout: float = 10.0,
    ) -> None:
        self.url = url
        self.auditor = auditor
        self.store = auditor.store
        self.batch = batch
        self.backoff = backoff
        self.timeout = timeout
        self.cursor = self.store.cursor(CURSOR)
        self.failing = False

    def keep_after(self) -> int:
        """Retention keeps what has not been pushed yet."""
        return self.cursor

    async def run(self) -> None:
        delay = self.backoff[0]
        async with httpx.AsyncClient(timeout=self.timeout, trust_env=False) as http:
            while True:
                try:
                    sent = await self._push_once(http)
                except Exception:  # the store failed: a bug or a broken file, never fatal here
                    log.exception("audit push: cannot read the audit log")
                    sent = False
                if sent:
                    delay = self.backoff[0]
                else:
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, self.backoff[1])

    async def _push_once(self, http: httpx.AsyncClient) -> bool:
        """Send the next batch (waiting for one if there is none); False if it failed."""
        entries = await asyncio.to_thread(
            lambda: next(self.store.batches(Query(after=self.cursor), self.batch), [])
        )
        if not entries:
            await self._wait_for_more()
            return True
        body = "".join(json.dumps(render_jsonline(e)) + "\n" for e in entries)
        if not await self._send(http, body, len(entries)):
            return False
        self.cursor = entries[-1].seq
        await asyncio.to_thread(self.store.set_cursor, CURSOR, self.cursor)
        return True

    async def _wait_for_more(self) -> None:
        cond = self.auditor.committed
        async with cond:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    cond.wait_for(lambda: self.store.last_seq > self.cursor), timeout=30
                )

    async def _send(self, http: httpx.AsyncClient, body: str, count: int) -> bool:
        try:
            response = await http.post(
                self.url, content=body, headers={"Content-Type": "application/stream+json"}
            )
            response.raise_for_status()
        except httpx.HTTPError as exc:
            if not self.failing:
                log.warning(
                    "audit push to %s failed (%s); entries wait in audit.db and are retried",
                    self.url,
                    exc,
                )
            self.failing = True
            return False
        if self.failing:
            log.info("audit push to %s works again", self.url)
            self.failing = False
        log.debug("audit push: sent %d entries", count)
        return True
