"""Reading an agent's output file as it grows, parsed line by line with its format.

The agent writes straight to its file (so it outlives the daemon); :class:`Tail` remembers how
far it has read and the session summary so far, and can start again from a stored offset
after a restart.

Example:
    >>> tail = Tail("/var/lib/colony/colonies/web/agents/3.log", 0, "claude", Summary())
    >>> events = tail.parse(tail.read())
    >>> tail.changes()["agent_session"]
    '5f1c2a0e-…'
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from colony.core.agents import AgentEvent, Summary, finish, parse_line
from colony.core.agents.session import SessionRecord

CHUNK = 1 << 20  # bytes read per look


@dataclass
class Tail:
    path: str
    offset: int  # bytes read so far
    fmt: str
    summary: Summary
    partial: bytes = b""  # an unfinished last line

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
        try:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                data = f.read(CHUNK)
        except OSError:
            return []
        if not data:
            return []
        self.offset += len(data)
        chunks = (self.partial + data).split(b"\n")
        self.partial = chunks.pop()
        return [c.decode(errors="replace") for c in chunks]

    def rest(self) -> list[str]:
        """The unfinished last line, once the agent has ended."""
        lines = [self.partial.decode(errors="replace")] if self.partial else []
        self.partial = b""
        return lines

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
            "read_offset": self.offset - len(self.partial),
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
