"""Per-colony log ring buffers fed by tailing the log files processes write to.

Processes write straight to their log files (not through the daemon), so their output keeps
being recorded while the daemon is down; the daemon tails the files into a ring buffer and
pushes new lines to followers.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

RING = 2000  # lines kept per colony
SEED = 200  # lines read back from each file when a colony is first tailed
POLL = 0.2  # seconds between looks at the files


@dataclass
class _Tail:
    path: Path
    source: str
    offset: int = 0
    partial: bytes = b""


@dataclass
class ColonyLog:
    """The ring buffer and followers of one colony."""

    logs_dir: Path
    ring: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=RING))
    tails: dict[str, _Tail] = field(default_factory=dict)
    followers: set[asyncio.Queue[dict[str, Any]]] = field(default_factory=set)
    seeded: bool = False

    def note(self, source: str, line: str) -> None:
        """Add a line the daemon itself says (lifecycle, supervision)."""
        self._push({"t": time.time(), "source": source, "line": line})
        path = self.logs_dir / "colony.log"
        try:
            with path.open("a") as f:
                f.write(f"[{source}] {line}\n")
            tail = self.tails.setdefault("colony", _Tail(path, "colony"))
            tail.offset = path.stat().st_size
        except OSError:
            pass

    def _push(self, entry: dict[str, Any]) -> None:
        self.ring.append(entry)
        for queue in self.followers:
            if not queue.full():
                queue.put_nowait(entry)

    def poll(self) -> None:
        """Read what the files gained since the last look."""
        try:
            files = sorted(self.logs_dir.glob("*.log"))
        except OSError:
            return
        if not self.seeded:
            self._seed(files)
            return
        for path in files:
            source = path.stem
            tail = self.tails.setdefault(source, _Tail(path, source))
            try:
                with path.open("rb") as f:
                    size = f.seek(0, 2)
                    if size < tail.offset:  # truncated
                        tail.offset = 0
                    if size == tail.offset:
                        continue
                    f.seek(tail.offset)
                    data = f.read(size - tail.offset)
                    tail.offset = size
            except OSError:
                continue
            self._lines(tail, data)

    def _lines(self, tail: _Tail, data: bytes) -> None:
        now = time.time()
        chunks = (tail.partial + data).split(b"\n")
        tail.partial = chunks.pop()
        for raw in chunks:
            line = raw.decode(errors="replace").rstrip("\r")
            if tail.source == "colony" and line.startswith("["):
                source, _, text = line[1:].partition("] ")
                self._push({"t": now, "source": source, "line": text})
            else:
                self._push({"t": now, "source": tail.source, "line": line})

    def _seed(self, files: list[Path]) -> None:
        """Fill the ring from the files' last lines (after a daemon restart)."""
        entries = []
        for path in files:
            try:
                stat = path.stat()
                with path.open("rb") as f:
                    f.seek(max(0, stat.st_size - 64 * 1024))
                    data = f.read()
            except OSError:
                continue
            tail = _Tail(path, path.stem, stat.st_size)
            self.tails[path.stem] = tail
            rows = data.split(b"\n")
            if not data.endswith(b"\n"):
                tail.partial = rows.pop()
            for raw in rows[-SEED:]:
                if raw:
                    entries.append((stat.st_mtime, path.stem, raw.decode(errors="replace")))
        for t, source, line in sorted(entries, key=lambda e: e[0]):
            if source == "colony" and line.startswith("["):
                source, _, line = line[1:].partition("] ")
            self.ring.append({"t": t, "source": source, "line": line})
        self.seeded = True


class LogBook:
    """All colonies' logs; one poller task runs :meth:`run`."""

    def __init__(self) -> None:
        self.colonies: dict[str, ColonyLog] = {}

    def open(self, name: str, logs_dir: Path) -> ColonyLog:
        log = self.colonies.get(name)
        if log is None:
            logs_dir.mkdir(parents=True, exist_ok=True)
            log = self.colonies[name] = ColonyLog(logs_dir)
            log.poll()
        return log

    def close(self, name: str) -> None:
        self.colonies.pop(name, None)

    def lines(self, name: str, source: str | None, count: int) -> list[dict[str, Any]]:
        log = self.colonies.get(name)
        if log is None:
            return []
        log.poll()
        rows = [e for e in log.ring if source is None or e["source"] == source]
        return rows[-count:] if count > 0 else []

    async def follow(self, name: str, source: str | None) -> AsyncIterator[dict[str, Any]]:
        log = self.colonies.get(name)
        if log is None:
            return
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(10000)
        log.followers.add(queue)
        try:
            while name in self.colonies:
                try:
                    entry = await asyncio.wait_for(queue.get(), timeout=1.0)
                except TimeoutError:
                    continue
                if source is None or entry["source"] == source:
                    yield entry
        finally:
            log.followers.discard(queue)

    async def run(self) -> None:
        while True:
            for log in list(self.colonies.values()):
                if log.followers:
                    log.poll()
            await asyncio.sleep(POLL)
