"""Typed reads and writes of colonies, their transitions and services."""

from __future__ import annotations

import contextlib
import sqlite3
from dataclasses import asdict, fields, replace
from pathlib import Path

from colony.core.model import ColonyRecord, ServiceRecord, ServiceState, State, Transition
from colony.errors import NotFound
from colony.store.db import connect, transaction

_COLONY_COLUMNS = {
    "index": "idx",
}


def _colony_from_row(row: sqlite3.Row) -> ColonyRecord:
    data = dict(row)
    data["index"] = data.pop("idx")
    data["state"] = State(data["state"])
    data["workspace_created"] = bool(data["workspace_created"])
    data["provisioned"] = bool(data["provisioned"])
    data["isolated"] = bool(data["isolated"])
    return ColonyRecord(**data)


class Store:
    """The daemon's state. One instance, one writer connection.

    Example:
        >>> store = Store(Path("/tmp/x/mycelium.db"))  # doctest: +SKIP
        >>> store.colonies()  # doctest: +SKIP
        []
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.conn = connect(path)
        for name in (path, *path.parent.glob(f"{path.name}-*")):  # -wal, -shm
            with contextlib.suppress(OSError):
                name.chmod(0o600)  # root's alone (issue 10: it was 0644 before)

    def close(self) -> None:
        self.conn.close()

    # --- colonies ---------------------------------------------------------------------

    def colonies(self) -> list[ColonyRecord]:
        rows = self.conn.execute("SELECT * FROM colonies ORDER BY created").fetchall()
        return [_colony_from_row(r) for r in rows]

    def find(self, name: str) -> ColonyRecord | None:
        row = self.conn.execute("SELECT * FROM colonies WHERE name = ?", (name,)).fetchone()
        return None if row is None else _colony_from_row(row)

    def get(self, name: str) -> ColonyRecord:
        rec = self.find(name)
        if rec is None:
            raise NotFound(f"colony '{name}' not found", hint="list colonies with 'colony ls'")
        return rec

    def used_indexes(self) -> set[int]:
        return {r[0] for r in self.conn.execute("SELECT idx FROM colonies")}

    def insert(self, rec: ColonyRecord) -> None:
        data = asdict(rec)
        data["idx"] = data.pop("index")
        data["state"] = str(rec.state)
        cols = ", ".join(data)
        marks = ", ".join(f":{k}" for k in data)
        with transaction(self.conn):
            self.conn.execute(f"INSERT INTO colonies ({cols}) VALUES ({marks})", data)
            self._transition(rec.name, Transition(rec.state, rec.created, rec.step, rec.reason))

    def update(self, rec: ColonyRecord, **changes: object) -> ColonyRecord:
        """Store ``changes`` to a colony's fields (not its state) and return the new record."""
        new = replace(rec, **changes)  # type: ignore[arg-type]
        names = {f.name for f in fields(ColonyRecord)}
        bad = set(changes) - names
        if bad:
            raise ValueError(f"unknown colony fields: {bad}")
        sets = ", ".join(f"{_COLONY_COLUMNS.get(k, k)} = :{k}" for k in changes)
        params = {k: (str(v) if isinstance(v, State) else v) for k, v in changes.items()}
        params["name"] = rec.name
        with transaction(self.conn):
            self.conn.execute(f"UPDATE colonies SET {sets} WHERE name = :name", params)
        return new

    def set_state(self, rec: ColonyRecord, t: Transition) -> ColonyRecord:
        """Record a transition: the colony's current state and its history, in one transaction."""
        with transaction(self.conn):
            self.conn.execute(
                "UPDATE colonies SET state = ?, step = ?, reason = ?, updated = ? WHERE name = ?",
                (str(t.state), t.step, t.reason, t.at, rec.name),
            )
            self._transition(rec.name, t)
        return replace(rec, state=t.state, step=t.step, reason=t.reason, updated=t.at)

    def _transition(self, name: str, t: Transition) -> None:
        self.conn.execute(
            "INSERT INTO transitions (colony, state, step, reason, at) VALUES (?, ?, ?, ?, ?)",
            (name, str(t.state), t.step, t.reason, t.at),
        )

    def transitions(self, name: str) -> list[Transition]:
        rows = self.conn.execute(
            "SELECT state, at, step, reason FROM transitions WHERE colony = ? ORDER BY id", (name,)
        ).fetchall()
        return [Transition(State(r["state"]), r["at"], r["step"], r["reason"]) for r in rows]

    def delete(self, name: str) -> None:
        with transaction(self.conn):
            self.conn.execute("DELETE FROM colonies WHERE name = ?", (name,))

    # --- services ---------------------------------------------------------------------

    def services(self, name: str) -> list[ServiceRecord]:
        rows = self.conn.execute(
            "SELECT name, state, pid, started, restarts, exit_code, at FROM services "
            "WHERE colony = ? ORDER BY rowid",
            (name,),
        ).fetchall()
        return [
            ServiceRecord(
                r["name"],
                ServiceState(r["state"]),
                r["pid"],
                r["started"],
                r["restarts"],
                r["exit_code"],
                r["at"],
            )
            for r in rows
        ]

    def save_service(self, colony: str, svc: ServiceRecord) -> None:
        with transaction(self.conn):
            self.conn.execute(
                "INSERT INTO services (colony, name, state, pid, started, restarts, exit_code, at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (colony, name) DO UPDATE SET "
                "state = excluded.state, pid = excluded.pid, started = excluded.started, "
                "restarts = excluded.restarts, exit_code = excluded.exit_code, at = excluded.at",
                (
                    colony,
                    svc.name,
                    str(svc.state),
                    svc.pid,
                    svc.started,
                    svc.restarts,
                    svc.exit_code,
                    svc.at,
                ),
            )

    def clear_services(self, colony: str) -> None:
        with transaction(self.conn):
            self.conn.execute("DELETE FROM services WHERE colony = ?", (colony,))
