"""Per-colony log ring buffers fed by tailing the log files processes write to.

Processes write straight to their log files (not through the daemon), so their output keeps
being recorded while the daemon is down; the daemon tails the files into a ring buffer and
pushes new lines to followers.

Everything here is bounded, whatever a colony writes (issue 11): files are read at most
:data:`READ_CHUNK` at a time and a reader that falls more than :data:`MAX_LAG` behind skips
ahead (saying so); lines are cut at 64 KiB; the ring keeps at most :data:`RING` lines and
:data:`RING_BYTES`; a follower holds at most :data:`FOLLOW_BYTES` it has not taken, and is
told how many lines it missed. Files are capped and rotated (:mod:`colony.daemon.logfiles`).
"""

from __future__ import annotations

import asyncio
import os
import time
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from colony.core.logcap import LineState, LogCap, split_lines
from colony.daemon import logfiles

RING = 2000  # lines kept per colony
RING_BYTES = 2 << 20  # and at most this much text
SEED = 200  # lines read back from each file when a colony is first tailed
SEED_BYTES = 64 * 1024
READ_CHUNK = 256 * 1024  # read per file per look
MAX_LAG = 4 << 20  # a reader further behind skips to the last READ_CHUNK
FOLLOW_BYTES = 1 << 20  # what a follower may hold before it misses lines
POLL = 0.2  # seconds between looks at followed colonies' files
CAP_EVERY = 5  # looks between checks of every colony's file sizes

Entry = dict[str, Any]


@dataclass
class _Tail:
    path: Path
    source: str
    offset: int = 0
    lines: LineState = field(default_factory=LineState)


def _size(entry: Entry) -> int:
    return len(entry["line"]) + 64


class Follower:
    """The entries one follower has not taken yet, bounded in bytes: entries that would
    outgrow :data:`FOLLOW_BYTES` are counted instead and reported as one line."""

    def __init__(self, limit: int = FOLLOW_BYTES) -> None:
        self.entries: deque[Entry] = deque()
        self.held = 0
        self.missed = 0
        self.limit = limit
        self.ready = asyncio.Event()

    def put(self, entry: Entry) -> None:
        size = _size(entry)
        if self.held + size > self.limit:
            self.missed += 1
        else:
            self.entries.append(entry)
            self.held += size
        self.ready.set()

    def take(self) -> list[Entry]:
        """Everything waiting, a note of missed lines first."""
        out = list(self.entries)
        if self.missed:
            note = f"… {self.missed} lines missed: this reader fell behind"
            out.insert(0, {"t": time.time(), "source": "colony", "line": note, "missed": True})
        self.entries.clear()
        self.held = self.missed = 0
        self.ready.clear()
        return out


@dataclass
class ColonyLog:
    """The ring buffer and followers of one colony."""

    logs_dir: Path
    ring: deque[Entry] = field(default_factory=deque)
    ring_bytes: int = 0
    tails: dict[str, _Tail] = field(default_factory=dict)
    followers: set[Follower] = field(default_factory=set)
    seeded: bool = False
    rotating: bool = False  # a rotation runs in a worker thread: do not read meanwhile

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

    def _push(self, entry: Entry) -> None:
        self.ring.append(entry)
        self.ring_bytes += _size(entry)
        while len(self.ring) > RING or (self.ring_bytes > RING_BYTES and len(self.ring) > 1):
            self.ring_bytes -= _size(self.ring.popleft())
        for follower in self.followers:
            follower.put(entry)

    def files(self) -> list[Path]:
        try:
            return sorted(self.logs_dir.glob("*.log"))
        except OSError:
            return []

    def poll(self) -> None:
        """Read what the files gained since the last look (a bounded amount of it)."""
        if self.rotating:
            return
        files = self.files()
        if not self.seeded:
            self._seed(files)
            return
        for path in files:
            tail = self.tails.setdefault(path.stem, _Tail(path, path.stem))
            fd = logfiles.open_log(path)
            if fd is None:
                continue
            try:
                self._read(tail, fd, os.fstat(fd).st_size)
            finally:
                os.close(fd)

    def _read(self, tail: _Tail, fd: int, size: int) -> None:
        if size < tail.offset:  # truncated or rotated: the file starts anew
            tail.offset = 0
        if size - tail.offset > MAX_LAG:
            skipped = size - READ_CHUNK - tail.offset
            tail.offset, tail.lines = size - READ_CHUNK, LineState()
            self._push(_skip_note(tail.source, skipped))
        if size == tail.offset:
            return
        data = logfiles.read_at(fd, tail.offset, min(READ_CHUNK, size - tail.offset))
        tail.offset += len(data)
        tail.lines, lines = split_lines(tail.lines, data)
        now = time.time()
        for raw in lines:
            source, line = _parse(tail.source, raw.decode(errors="replace").rstrip("\r"))
            self._push({"t": now, "source": source, "line": line})

    def _seed(self, files: list[Path]) -> None:
        """Fill the ring from the files' last lines (after a daemon restart)."""
        entries: list[tuple[float, Entry]] = []
        for path in files:
            fd = logfiles.open_log(path)
            if fd is None:
                continue
            try:
                stat = os.fstat(fd)
                data = logfiles.read_at(fd, max(0, stat.st_size - SEED_BYTES), SEED_BYTES)
            finally:
                os.close(fd)
            tail = self.tails[path.stem] = _Tail(path, path.stem, stat.st_size)
            rows = data.split(b"\n")
            if not data.endswith(b"\n"):
                tail.lines = LineState(partial=rows.pop())
            for raw in rows[-SEED:]:
                if raw:
                    source, line = _parse(path.stem, raw.decode(errors="replace"))
                    entries.append(
                        (stat.st_mtime, {"t": stat.st_mtime, "source": source, "line": line})
                    )
        for _, entry in sorted(entries, key=lambda e: e[0]):
            self._push(entry)
        self.seeded = True

    async def cap(self, cap: LogCap) -> None:
        """Rotate the files that outgrew ``cap``; what a follower had not read yet of them is
        skipped, and said so."""
        big = []
        for path in self.files():
            try:
                if path.stat().st_size > cap.size:
                    big.append(path)
            except OSError:
                continue
        if not big:
            return
        self.poll()
        self.rotating = True
        try:
            for path in big:
                done = await asyncio.to_thread(logfiles.rotate, path, cap)
                tail = self.tails.get(path.stem)
                if done is not None and tail is not None:
                    unread = done.kept + done.dropped - tail.offset
                    tail.offset, tail.lines = 0, LineState()
                    if unread > 0 and self.seeded:
                        self._push(_skip_note(tail.source, unread))
        finally:
            self.rotating = False


def _parse(source: str, line: str) -> tuple[str, str]:
    """The daemon's own notes (colony.log) carry their source as ``[source] line``."""
    if source == "colony" and line.startswith("["):
        inner, _, text = line[1:].partition("] ")
        return inner, text
    return source, line


def _skip_note(source: str, skipped: int) -> Entry:
    text = f"… {skipped / 1e6:.1f} MB of {source}'s output skipped (too much to show at once)"
    return {"t": time.time(), "source": source, "line": text}


class LogBook:
    """All colonies' logs; one poller task runs :meth:`run`.

    Example:
        >>> book = LogBook(LogCap(size=10 << 20, files=3))
        >>> start_task(book.run())  # doctest: +SKIP
    """

    def __init__(self, cap: LogCap | None = None) -> None:
        self.colonies: dict[str, ColonyLog] = {}
        self.cap = cap or LogCap()

    def open(self, name: str, logs_dir: Path) -> ColonyLog:
        log = self.colonies.get(name)
        if log is None:
            logs_dir.mkdir(parents=True, exist_ok=True)
            log = self.colonies[name] = ColonyLog(logs_dir)
            log.poll()
        return log

    def close(self, name: str) -> None:
        self.colonies.pop(name, None)

    def lines(self, name: str, source: str | None, count: int) -> list[Entry]:
        log = self.colonies.get(name)
        if log is None:
            return []
        log.poll()
        rows = [e for e in log.ring if source is None or e["source"] == source]
        return rows[-count:] if count > 0 else []

    async def follow(self, name: str, source: str | None) -> AsyncIterator[Entry]:
        log = self.colonies.get(name)
        if log is None:
            return
        follower = Follower()
        log.followers.add(follower)
        try:
            while name in self.colonies:
                try:
                    await asyncio.wait_for(follower.ready.wait(), timeout=1.0)
                except TimeoutError:
                    continue
                for entry in follower.take():
                    if source is None or entry["source"] == source or "missed" in entry:
                        yield entry
        finally:
            log.followers.discard(follower)

    async def run(self) -> None:
        looks = 0
        while True:
            looks += 1
            for log in list(self.colonies.values()):
                if log.followers:
                    log.poll()
                if looks % CAP_EVERY == 0:
                    await log.cap(self.cap)
            await asyncio.sleep(POLL)
