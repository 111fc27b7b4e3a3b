"""SQLite access: one writer connection, WAL, STRICT tables, ordered migrations.

All SQL lives in ``colony/store``. The daemon owns the single writer; every write runs in
``BEGIN IMMEDIATE`` so a crash never leaves half a change.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

MIGRATIONS: list[str] = [
    """
    CREATE TABLE colonies (
        name TEXT PRIMARY KEY,
        idx INTEGER NOT NULL UNIQUE,
        state TEXT NOT NULL,
        step TEXT,
        reason TEXT,
        owner TEXT NOT NULL,
        created REAL NOT NULL,
        updated REAL NOT NULL,
        repo TEXT NOT NULL,
        rev TEXT,
        config_source TEXT NOT NULL,
        config_text TEXT NOT NULL,
        overrides TEXT NOT NULL,
        vcs TEXT,
        branch TEXT,
        base TEXT,
        workspace TEXT,
        workspace_created INTEGER NOT NULL DEFAULT 0,
        isolated INTEGER NOT NULL DEFAULT 0,
        provisioned INTEGER NOT NULL DEFAULT 0
    ) STRICT;
    CREATE TABLE transitions (
        id INTEGER PRIMARY KEY,
        colony TEXT NOT NULL REFERENCES colonies(name) ON DELETE CASCADE,
        state TEXT NOT NULL,
        step TEXT,
        reason TEXT,
        at REAL NOT NULL
    ) STRICT;
    CREATE INDEX transitions_colony ON transitions(colony, id);
    CREATE TABLE services (
        colony TEXT NOT NULL REFERENCES colonies(name) ON DELETE CASCADE,
        name TEXT NOT NULL,
        state TEXT NOT NULL,
        pid INTEGER,
        started INTEGER,
        restarts INTEGER NOT NULL DEFAULT 0,
        exit_code INTEGER,
        at REAL NOT NULL,
        PRIMARY KEY (colony, name)
    ) STRICT;
    """,
]


def connect(path: Path) -> sqlite3.Connection:
    """Open (and migrate) the database at ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA busy_timeout=5000")
    migrate(conn)
    return conn


def migrate(conn: sqlite3.Connection) -> None:
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    for number, sql in enumerate(MIGRATIONS[version:], start=version + 1):
        with transaction(conn):
            _script(conn, sql)
            conn.execute(f"PRAGMA user_version = {number}")


def _script(conn: sqlite3.Connection, sql: str) -> None:
    for statement in sql.split(";"):
        if statement.strip():
            conn.execute(statement)


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """``BEGIN IMMEDIATE`` … ``COMMIT``, rolled back on any exception."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
