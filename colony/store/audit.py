"""The audit log's own SQLite file: append-only entries, signed checkpoints, push cursors.

One writer (the daemon's audit task) appends batches, each in one ``BEGIN IMMEDIATE``
transaction that also moves the signed head checkpoint. Reads (queries, exports,
verification) open their own connection, so they never wait on the writer's transaction.
Triggers refuse updates, and deletes of anything after the retention checkpoint; they guard
against mistakes, while the hash chain is what shows deliberate edits.

Example:
    >>> state = Path("/var/lib/colony")
    >>> log = AuditStore(state / "audit.db", load_key(state / "audit.key"))  # doctest: +SKIP
    >>> log.append([{"type": "gc", "user": "root", "at": 1.0}], now=1.0)  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import os
import secrets
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from colony.core.audit import (
    GENESIS,
    Checkpoint,
    Draft,
    Entry,
    Verdict,
    chain,
    sign_checkpoint,
    verify_chain,
)
from colony.core.audit_events import Query, plan_draft
from colony.errors import HostError
from colony.store.db import connect, transaction

MIGRATIONS: list[str] = [
    """
    CREATE TABLE entries (
        seq INTEGER PRIMARY KEY,
        at REAL NOT NULL,
        kind TEXT NOT NULL,
        colony TEXT,
        user TEXT,
        msg TEXT NOT NULL,
        data TEXT NOT NULL,
        prev TEXT NOT NULL,
        hash TEXT NOT NULL
    ) STRICT;
    CREATE INDEX entries_at ON entries(at);
    CREATE INDEX entries_colony ON entries(colony, seq);
    CREATE TABLE checkpoints (
        name TEXT PRIMARY KEY,
        seq INTEGER NOT NULL,
        hash TEXT NOT NULL,
        at REAL NOT NULL,
        mac TEXT NOT NULL
    ) STRICT;
    CREATE TABLE cursors (
        name TEXT PRIMARY KEY,
        seq INTEGER NOT NULL
    ) STRICT;
    """,
]

# Single statements with BEGIN … END bodies: run one by one, not through the migration splitter.
GUARDS = [
    "CREATE TRIGGER IF NOT EXISTS entries_append_only BEFORE UPDATE ON entries "
    "BEGIN SELECT RAISE(ABORT, 'audit entries are append-only'); END",
    "CREATE TRIGGER IF NOT EXISTS entries_keep BEFORE DELETE ON entries "
    "WHEN old.seq > coalesce((SELECT seq FROM checkpoints WHERE name = 'cut'), 0) "
    "BEGIN SELECT RAISE(ABORT, 'audit entries after the retention checkpoint are kept'); END",
]

_COLUMNS = "seq, at, kind, colony, user, msg, data, prev, hash"


def load_key(path: Path) -> bytes:
    """The HMAC key that signs checkpoints: made on first use, readable by its owner only."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    except OSError as exc:
        raise HostError(f"audit key {path}: cannot create: {exc.strerror}") from exc
    else:
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32) + "\n")
    try:
        os.chmod(path, 0o600)
        return bytes.fromhex(path.read_text().strip())
    except (OSError, ValueError) as exc:
        raise HostError(f"audit key {path}: cannot read: {exc}") from exc


def _entry(row: sqlite3.Row) -> Entry:
    return Entry(*row)


def _checkpoint(row: sqlite3.Row | None) -> Checkpoint | None:
    return None if row is None else Checkpoint(*row)


def _where(q: Query) -> tuple[str, list[Any]]:
    clauses: list[str] = ["seq > ?"]
    args: list[Any] = [q.after]
    for column, value in (("colony", q.colony), ("kind", q.kind), ("user", q.user)):
        if value is not None:
            clauses.append(f"{column} = ?")
            args.append(value)
    if q.since is not None:
        clauses.append("at >= ?")
        args.append(q.since)
    if q.until is not None:
        clauses.append("at < ?")
        args.append(q.until)
    return " AND ".join(clauses), args


class AuditStore:
    """Appends to and reads the audit log at ``path``."""

    def __init__(self, path: Path, key: bytes) -> None:
        self.path = path
        self.key = key
        self.lock = threading.Lock()  # one writer connection, used from worker threads
        path.parent.mkdir(parents=True, exist_ok=True)
        for name in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
            # Owner only, set before SQLite makes its WAL files (they take the file's mode).
            with contextlib.suppress(FileNotFoundError):
                os.chmod(name, 0o600)
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
        self.conn = connect(path, MIGRATIONS)
        for statement in GUARDS:
            self.conn.execute(statement)
        self.last_seq, self.last_hash = self._tail()

    def close(self) -> None:
        with self.lock:
            self.conn.close()

    def _tail(self) -> tuple[int, str]:
        row = self.conn.execute("SELECT seq, hash FROM entries ORDER BY seq DESC LIMIT 1")
        last = row.fetchone()
        if last is not None:
            return int(last[0]), str(last[1])
        cut = self.checkpoint("cut")
        return (cut.seq, cut.hash) if cut else (0, GENESIS)

    @contextlib.contextmanager
    def _reader(self) -> Iterator[sqlite3.Connection]:
        conn = sqlite3.connect(self.path, isolation_level=None)
        try:
            conn.execute("PRAGMA busy_timeout=5000")
            yield conn
        finally:
            conn.close()

    # --- writing ------------------------------------------------------------------------

    def append(self, events: list[dict[str, Any]], now: float) -> list[Entry]:
        """Redact, chain and store ``events`` in one transaction; returns the new entries."""
        drafts = [plan_draft(e, now) for e in events]
        with self.lock:
            return self._append(drafts, now)

    def _append(self, drafts: list[Draft], now: float) -> list[Entry]:
        entries = chain(drafts, last_seq=self.last_seq, last_hash=self.last_hash)
        if not entries:
            return []
        tip = entries[-1]
        head = sign_checkpoint(self.key, "head", tip.seq, tip.hash, now)
        with transaction(self.conn):
            self.conn.executemany(
                f"INSERT INTO entries ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (e.seq, e.at, e.kind, e.colony, e.user, e.msg, e.data, e.prev, e.hash)
                    for e in entries
                ],
            )
            self._put_checkpoint(head)
        self.last_seq, self.last_hash = tip.seq, tip.hash
        return entries

    def _put_checkpoint(self, cp: Checkpoint) -> None:
        self.conn.execute(
            "INSERT OR REPLACE INTO checkpoints (name, seq, hash, at, mac) VALUES (?, ?, ?, ?, ?)",
            (cp.name, cp.seq, cp.hash, cp.at, cp.mac),
        )

    def prune(self, before: float, now: float, keep_after: int | None = None) -> int:
        """Delete entries older than ``before`` (and, if given, none after seq ``keep_after``),
        leaving a signed checkpoint of the chain at the cut. Returns how many went."""
        sql = "SELECT seq, hash FROM entries WHERE at < ? AND seq <= ? ORDER BY seq DESC LIMIT 1"
        with self.lock:
            limit = self.last_seq if keep_after is None else min(keep_after, self.last_seq)
            row = self.conn.execute(sql, (before, limit)).fetchone()
            if row is None:
                return 0
            cut = sign_checkpoint(self.key, "cut", int(row[0]), str(row[1]), now)
            with transaction(self.conn):
                self._put_checkpoint(cut)
                gone = self.conn.execute("DELETE FROM entries WHERE seq <= ?", (cut.seq,))
            return int(gone.rowcount)

    def set_cursor(self, name: str, seq: int) -> None:
        with self.lock, transaction(self.conn):
            self.conn.execute(
                "INSERT OR REPLACE INTO cursors (name, seq) VALUES (?, ?)", (name, seq)
            )

    # --- reading ------------------------------------------------------------------------

    def checkpoint(self, name: str) -> Checkpoint | None:
        sql = "SELECT name, seq, hash, at, mac FROM checkpoints WHERE name = ?"
        with self._reader() as conn:
            return _checkpoint(conn.execute(sql, (name,)).fetchone())

    def cursor(self, name: str) -> int:
        with self._reader() as conn:
            row = conn.execute("SELECT seq FROM cursors WHERE name = ?", (name,)).fetchone()
        return 0 if row is None else int(row[0])

    def query(self, q: Query, limit: int | None = None) -> list[Entry]:
        """Matching entries, oldest first; with ``limit``, the newest ``limit`` of them."""
        where, args = _where(q)
        with self._reader() as conn:
            if limit is None:
                sql = f"SELECT {_COLUMNS} FROM entries WHERE {where} ORDER BY seq"
                return [_entry(r) for r in conn.execute(sql, args)]
            sql = f"SELECT {_COLUMNS} FROM entries WHERE {where} ORDER BY seq DESC LIMIT ?"
            rows = conn.execute(sql, [*args, limit]).fetchall()
        return [_entry(r) for r in reversed(rows)]

    def batches(self, q: Query, size: int = 1000) -> Iterator[list[Entry]]:
        """Matching entries in batches of ``size``, oldest first (for exports)."""
        after = q.after
        while True:
            where, args = _where(Query(q.colony, q.kind, q.user, q.since, q.until, after))
            sql = f"SELECT {_COLUMNS} FROM entries WHERE {where} ORDER BY seq LIMIT ?"
            with self._reader() as conn:
                batch = [_entry(r) for r in conn.execute(sql, [*args, size])]
            if not batch:
                return
            yield batch
            after = batch[-1].seq

    def verify(self) -> Verdict:
        """Walk the whole chain in one read transaction (a consistent snapshot)."""
        with self._reader() as conn:
            conn.execute("BEGIN")
            try:
                sql = "SELECT name, seq, hash, at, mac FROM checkpoints WHERE name = ?"
                cut = _checkpoint(conn.execute(sql, ("cut",)).fetchone())
                head = _checkpoint(conn.execute(sql, ("head",)).fetchone())

                def find(digest: str) -> int | None:
                    found = conn.execute(
                        "SELECT seq FROM entries WHERE hash = ? LIMIT 1", (digest,)
                    ).fetchone()
                    return None if found is None else int(found[0])

                rows = conn.execute(f"SELECT {_COLUMNS} FROM entries ORDER BY seq")
                return verify_chain(
                    (_entry(r) for r in rows), cut=cut, head=head, key=self.key, find=find
                )
            finally:
                conn.execute("COMMIT")
