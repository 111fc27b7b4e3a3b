"""The trash table: removed colonies that can be restored or purged."""

from __future__ import annotations

import sqlite3
from dataclasses import asdict, replace

from colony.core.trash import TrashRecord
from colony.store.db import transaction


class Trash:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def insert(self, rec: TrashRecord) -> TrashRecord:
        data = asdict(rec)
        data.pop("id")
        cols = ", ".join(data)
        marks = ", ".join(f":{k}" for k in data)
        with transaction(self.conn):
            cur = self.conn.execute(f"INSERT INTO trash ({cols}) VALUES ({marks})", data)
        return replace(rec, id=int(cur.lastrowid or 0))

    def entries(self) -> list[TrashRecord]:
        rows = self.conn.execute("SELECT * FROM trash ORDER BY id").fetchall()
        return [TrashRecord(**dict(r)) for r in rows]

    def uids(self) -> list[int | None]:
        """The uid each entry keeps for its colony (issue 10)."""
        rows = self.conn.execute("SELECT json_extract(record, '$.uid') FROM trash").fetchall()
        return [r[0] for r in rows]

    def delete(self, ident: int) -> None:
        with transaction(self.conn):
            self.conn.execute("DELETE FROM trash WHERE id = ?", (ident,))
