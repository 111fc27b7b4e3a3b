"""Broods and their members."""

from __future__ import annotations

import sqlite3
from dataclasses import asdict, fields, replace
from typing import Any

from colony.core.broods import BroodRecord, MemberRecord
from colony.errors import NotFound
from colony.store.db import transaction

_BROOD = {f.name for f in fields(BroodRecord)}
_MEMBER = {f.name for f in fields(MemberRecord)}


class Broods:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def insert(self, brood: BroodRecord, members: list[MemberRecord]) -> None:
        with transaction(self.conn):
            self._insert("broods", asdict(brood))
            for m in members:
                self._insert("brood_members", asdict(m))

    def _insert(self, table: str, data: dict[str, Any]) -> None:
        cols = ", ".join(data)
        marks = ", ".join(f":{k}" for k in data)
        self.conn.execute(f"INSERT INTO {table} ({cols}) VALUES ({marks})", data)

    def delete(self, name: str) -> None:
        with transaction(self.conn):
            self.conn.execute("DELETE FROM broods WHERE name = ?", (name,))

    def find(self, name: str) -> BroodRecord | None:
        row = self.conn.execute("SELECT * FROM broods WHERE name = ?", (name,)).fetchone()
        return None if row is None else BroodRecord(**dict(row))

    def get(self, name: str) -> BroodRecord:
        brood = self.find(name)
        if brood is None:
            raise NotFound(f"brood '{name}' not found", hint="list broods with 'colony brood ls'")
        return brood

    def all(self) -> list[BroodRecord]:
        rows = self.conn.execute("SELECT * FROM broods ORDER BY created").fetchall()
        return [BroodRecord(**dict(r)) for r in rows]

    def members(self, brood: str) -> list[MemberRecord]:
        rows = self.conn.execute(
            "SELECT * FROM brood_members WHERE brood = ? ORDER BY position", (brood,)
        ).fetchall()
        return [MemberRecord(**dict(r)) for r in rows]

    def update(self, brood: BroodRecord, **changes: Any) -> BroodRecord:
        if set(changes) - _BROOD:
            raise ValueError(f"unknown brood fields: {set(changes) - _BROOD}")
        sets = ", ".join(f"{k} = :{k}" for k in changes)
        with transaction(self.conn):
            self.conn.execute(
                f"UPDATE broods SET {sets} WHERE name = :name", {**changes, "name": brood.name}
            )
        return replace(brood, **changes)

    def update_member(self, m: MemberRecord, **changes: Any) -> MemberRecord:
        if set(changes) - _MEMBER:
            raise ValueError(f"unknown member fields: {set(changes) - _MEMBER}")
        sets = ", ".join(f"{k} = :{k}" for k in changes)
        with transaction(self.conn):
            self.conn.execute(
                f"UPDATE brood_members SET {sets} WHERE brood = :brood AND colony = :colony",
                {**changes, "brood": m.brood, "colony": m.colony},
            )
        return replace(m, **changes)
