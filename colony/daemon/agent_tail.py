"""Reading an agent's output file as it grows, parsed line by line with its format.

The agent writes straight to its file (so it outlives the daemon); :class:`Tail` remembers how
far it has read and the session summary so far, and can start again from a stored offset
after a restart. Reading is bounded (issue 11): :data:`CHUNK` per look, lines cut at
:data:`LINE_MAX`, and an agent that writes faster than it is read is skipped ahead; the file
is capped like every log (:func:`colony.daemon.logfiles.rotate`).

Example:
    >>> tail = Tail("/var/lib/colony/colonies/web/agents/3.log", 0, "claude", Summary())
    >>> events = tail.parse(tail.read())
    >>> tail.changes()["agent_session"]
    '5f1c2a0e-…'
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from colony.core.agents import AgentEvent, Summary, finish, parse_line
from colony.core.agents.session import SessionRecord
from colony.core.logcap import LineState, LogCap, flush_lines, split_lines
from colony.daemon import logfiles

CHUNK = 1 << 20  # bytes read per look
LINE_MAX = 1 << 20  # stream-json lines carry whole tool results: cut longer ones only
MAX_LAG = 16 << 20  # further behind than this, reading skips to the newest CHUNK


@dataclass
class Tail:
    path: str
    offset: int  # bytes read so far
    fmt: str
    summary: Summary
    lines: LineState = field(default_factory=LineState)  # an unfinished last line
    skipped: int = 0  # bytes never read: skipped ahead, or rotated away unread
    size: int = 0  # of the file at the last look

    @classmethod
    def resume(cls, rec: SessionRecord) -> Tail:
        """Continue a stored session where it was left (after a daemon restart)."""
        summary = Summary(
            format=None if rec.format == "auto" else rec.format,
            session_id=rec.agent_session,
            model=rec.model,
            cost=rec.cost,
            tokens_in=rec.tokens_in,
            tokens_out=rec.tokens_out,
            result=rec.result,
            is_error=rec.is_error,
        )
        return cls(rec.log, rec.read_offset, rec.format, summary)

    def read(self) -> list[str]:
        """Complete lines written since the last look; none if the file is gone (a removed
        colony's files move to the trash)."""
        fd = logfiles.open_log(Path(self.path))
        if fd is None:
            return []
        try:
            size = self.size = os.fstat(fd).st_size
            if size < self.offset:  # rotated or truncated: it starts anew
                self.offset, self.lines = 0, LineState()
            if size - self.offset > MAX_LAG:
                self.skipped += size - CHUNK - self.offset
                self.offset, self.lines = size - CHUNK, LineState(cutting=True)
            data = logfiles.read_at(fd, self.offset, CHUNK)
        finally:
            os.close(fd)
        if not data:
            return []
        self.offset += len(data)
        self.lines, lines = split_lines(self.lines, data, LINE_MAX)
        return [c.decode(errors="replace") for c in lines]

    def rest(self) -> list[str]:
        """The unfinished last line, once the agent has ended."""
        self.lines, lines = flush_lines(self.lines)
        return [c.decode(errors="replace") for c in lines]

    def rotate(self, cap: LogCap) -> None:
        """Rotate the file if it outgrew ``cap``; what was not read of it yet is skipped."""
        done = logfiles.rotate(Path(self.path), cap)
        if done is not None:
            self.skipped += max(0, done.kept + done.dropped - self.offset)
            self.offset, self.lines = 0, LineState()

    def parse(self, lines: list[str], *, final: bool = False) -> list[AgentEvent]:
        """Events of ``lines``; ``final`` also flushes what the parser still holds."""
        events: list[AgentEvent] = []
        for line in lines:
            self.summary, found = parse_line(self.fmt, self.summary, line)
            events += found
        if final:
            self.summary, found = finish(self.summary)
            events += found
        return events

    def changes(self) -> dict[str, Any]:
        """The session's stored fields as the output has told them so far."""
        s = self.summary
        changes: dict[str, Any] = {
            "read_offset": self.offset - len(self.lines.partial),
            "agent_session": s.session_id,
            "model": s.model,
            "cost": s.cost,
            "tokens_in": s.tokens_in,
            "tokens_out": s.tokens_out,
            "result": s.result,
            "is_error": s.is_error,
        }
        if self.fmt == "auto" and s.format:
            changes["format"] = s.format
        return changes
