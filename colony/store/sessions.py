"""Agent sessions and their parsed events, on the daemon's writer connection.

Example:
    >>> sessions = Sessions(store.conn)  # doctest: +SKIP
    >>> sessions.for_colony("web")[0].status  # doctest: +SKIP
    'completed'
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from dataclasses import asdict, fields, replace
from typing import Any

from colony.core.agents.events import AgentEvent
from colony.core.agents.session import SessionRecord
from colony.errors import NotFound
from colony.store.db import transaction

_FIELDS = {f.name for f in fields(SessionRecord)}


def _from_row(row: sqlite3.Row) -> SessionRecord:
    data = dict(row)
    data["argv"] = tuple(json.loads(data["argv"]))
    data["is_error"] = bool(data["is_error"])
    return SessionRecord(**data)


class Sessions:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def insert(self, rec: SessionRecord) -> SessionRecord:
        """Store a new session; its ``id`` is assigned here."""
        data = asdict(rec)
        data.pop("id")
        data["argv"] = json.dumps(list(rec.argv))
        cols = ", ".join(data)
        marks = ", ".join(f":{k}" for k in data)
        with transaction(self.conn):
            cur = self.conn.execute(f"INSERT INTO agent_sessions ({cols}) VALUES ({marks})", data)
        return replace(rec, id=int(cur.lastrowid or 0))

    def update(self, rec: SessionRecord, **changes: Any) -> SessionRecord:
        bad = set(changes) - _FIELDS
        if bad:
            raise ValueError(f"unknown session fields: {bad}")
        new = replace(rec, **changes)
        sets = ", ".join(f"{k} = :{k}" for k in changes)
        with transaction(self.conn):
            self.conn.execute(
                f"UPDATE agent_sessions SET {sets} WHERE id = :id", {**changes, "id": rec.id}
            )
        return new

    def delete(self, ident: int) -> None:
        with transaction(self.conn):
            self.conn.execute("DELETE FROM agent_sessions WHERE id = ?", (ident,))

    def delete_colony(self, colony: str, until: float) -> int:
        """Forget the sessions of ``colony`` that started before ``until``."""
        with transaction(self.conn):
            cur = self.conn.execute(
                "DELETE FROM agent_sessions WHERE colony = ? AND started <= ?", (colony, until)
            )
        return cur.rowcount

    def find(self, ident: int) -> SessionRecord | None:
        row = self.conn.execute("SELECT * FROM agent_sessions WHERE id = ?", (ident,)).fetchone()
        return None if row is None else _from_row(row)

    def get(self, colony: str, ident: int) -> SessionRecord:
        rec = self.find(ident)
        if rec is None or rec.colony != colony:
            raise NotFound(
                f"colony '{colony}' has no agent session {ident}",
                hint=f"list them with 'colony agent ls {colony}'",
            )
        return rec

    def for_colony(self, colony: str | None) -> list[SessionRecord]:
        if colony is None:
            rows = self.conn.execute("SELECT * FROM agent_sessions ORDER BY id").fetchall()
        else:
            rows = self.conn.execute(
                "SELECT * FROM agent_sessions WHERE colony = ? ORDER BY id", (colony,)
            ).fetchall()
        return [_from_row(r) for r in rows]

    def running(self) -> list[SessionRecord]:
        rows = self.conn.execute(
            "SELECT * FROM agent_sessions WHERE status = 'running' ORDER BY id"
        ).fetchall()
        return [_from_row(r) for r in rows]

    # --- events ---------------------------------------------------------------------------

    def add_events(
        self,
        rec: SessionRecord,
        first_seq: int,
        at: float,
        events: Iterable[AgentEvent],
        **changes: Any,
    ) -> SessionRecord:
        """Append events (numbered from ``first_seq``) and update the session, atomically."""
        rows = [
            (rec.id, seq, at, e.kind, e.text, e.tool, json.dumps(dict(e.data), default=str))
            for seq, e in enumerate(events, start=first_seq)
        ]
        bad = set(changes) - _FIELDS
        if bad:
            raise ValueError(f"unknown session fields: {bad}")
        with transaction(self.conn):
            self.conn.executemany(
                "INSERT INTO agent_events (session, seq, at, kind, text, tool, data) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
            if changes:
                sets = ", ".join(f"{k} = :{k}" for k in changes)
                self.conn.execute(
                    f"UPDATE agent_sessions SET {sets} WHERE id = :id", {**changes, "id": rec.id}
                )
        return replace(rec, **changes)

    def last_seq(self, session: int) -> int:
        row = self.conn.execute(
            "SELECT COALESCE(MAX(seq), 0) FROM agent_events WHERE session = ?", (session,)
        ).fetchone()
        return int(row[0])

    def events(
        self, session: int, after: int = 0, limit: int | None = None
    ) -> list[dict[str, Any]]:
        sql = "SELECT * FROM agent_events WHERE session = ? AND seq > ? ORDER BY seq"
        args: tuple[Any, ...] = (session, after)
        if limit is not None:  # the last ``limit`` events
            sql = (
                "SELECT * FROM (SELECT * FROM agent_events WHERE session = ? AND seq > ? "
                "ORDER BY seq DESC LIMIT ?) ORDER BY seq"
            )
            args = (session, after, limit)
        return [
            {
                "seq": r["seq"],
                "at": r["at"],
                "kind": r["kind"],
                "text": r["text"],
                "tool": r["tool"],
                "data": json.loads(r["data"]),
            }
            for r in self.conn.execute(sql, args).fetchall()
        ]
