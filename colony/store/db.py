"""SQLite access: one writer connection, WAL, STRICT tables, ordered migrations.

All SQL lives in ``colony/store``. The daemon owns the single writer; every write runs in
``BEGIN IMMEDIATE`` so a crash never leaves half a change.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Any

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
    # issue 7: Bloom's login tokens, browser sessions and API tokens (secrets stored hashed)
    """
    CREATE TABLE tokens (
        id TEXT PRIMARY KEY,
        kind TEXT NOT NULL CHECK (kind IN ('login', 'session', 'api')),
        user TEXT NOT NULL,
        uid INTEGER,
        secret_hash TEXT NOT NULL,
        created REAL NOT NULL,
        expires REAL
    ) STRICT;
    CREATE INDEX tokens_user ON tokens(user);
    """,
    # issue 4: network policies set live with `colony policy` (override colony.toml's)
    """
    CREATE TABLE policies (
        colony TEXT PRIMARY KEY REFERENCES colonies(name) ON DELETE CASCADE,
        egress TEXT NOT NULL CHECK (egress IN ('allow', 'deny', 'allowlist')),
        allow TEXT NOT NULL,
        deny TEXT NOT NULL,
        by TEXT NOT NULL,
        at REAL NOT NULL
    ) STRICT;
    """,
    # issue 6: agent sessions and their events, the trash of removed colonies, broods
    """
    CREATE TABLE agent_sessions (
        id INTEGER PRIMARY KEY,
        colony TEXT NOT NULL,
        agent TEXT NOT NULL,
        format TEXT NOT NULL,
        task TEXT NOT NULL,
        argv TEXT NOT NULL,
        status TEXT NOT NULL,
        user TEXT NOT NULL,
        started REAL NOT NULL,
        log TEXT NOT NULL,
        ended REAL,
        exit_code INTEGER,
        pid INTEGER,
        pid_started INTEGER,
        read_offset INTEGER NOT NULL DEFAULT 0,
        agent_session TEXT,
        model TEXT,
        cost REAL,
        tokens_in INTEGER,
        tokens_out INTEGER,
        result TEXT,
        is_error INTEGER NOT NULL DEFAULT 0,
        parent INTEGER,
        brood TEXT
    ) STRICT;
    CREATE INDEX agent_sessions_colony ON agent_sessions(colony, id);
    CREATE TABLE agent_events (
        session INTEGER NOT NULL REFERENCES agent_sessions(id) ON DELETE CASCADE,
        seq INTEGER NOT NULL,
        at REAL NOT NULL,
        kind TEXT NOT NULL,
        text TEXT NOT NULL,
        tool TEXT,
        data TEXT NOT NULL,
        PRIMARY KEY (session, seq)
    ) STRICT;
    CREATE TABLE trash (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        removed REAL NOT NULL,
        owner TEXT NOT NULL,
        repo TEXT NOT NULL,
        vcs TEXT,
        branch TEXT,
        base TEXT,
        saved TEXT,
        snapshot TEXT,
        dir TEXT,
        record TEXT NOT NULL
    ) STRICT;
    CREATE TABLE broods (
        name TEXT PRIMARY KEY,
        objective TEXT NOT NULL,
        repo TEXT NOT NULL,
        base TEXT NOT NULL,
        target TEXT,
        agent TEXT,
        command TEXT,
        count INTEGER NOT NULL,
        max_parallel INTEGER NOT NULL,
        state TEXT NOT NULL,
        owner TEXT NOT NULL,
        created REAL NOT NULL,
        picked TEXT
    ) STRICT;
    CREATE TABLE brood_members (
        brood TEXT NOT NULL REFERENCES broods(name) ON DELETE CASCADE,
        colony TEXT NOT NULL,
        position INTEGER NOT NULL,
        state TEXT NOT NULL,
        reason TEXT,
        session INTEGER,
        check_code INTEGER,
        check_output TEXT,
        diff_files INTEGER,
        diff_lines INTEGER,
        PRIMARY KEY (brood, colony)
    ) STRICT;
    """,
    # issue 3: host ports of services of colonies at sandbox level none (no netns of their own)
    """
    CREATE TABLE host_ports (
        colony TEXT NOT NULL REFERENCES colonies(name) ON DELETE CASCADE,
        service TEXT NOT NULL,
        port INTEGER NOT NULL UNIQUE,
        PRIMARY KEY (colony, service)
    ) STRICT;
    """,
    # issue 10: every colony's own uid, and where its repository's objects are (from the store,
    # never from the colony's files)
    """
    ALTER TABLE colonies ADD COLUMN uid INTEGER;
    ALTER TABLE colonies ADD COLUMN objects TEXT;
    """,
    # issue 14: who else may see or run a colony, and as what (viewer, operator)
    """
    CREATE TABLE shares (
        colony TEXT NOT NULL REFERENCES colonies(name) ON DELETE CASCADE,
        user TEXT NOT NULL,
        role TEXT NOT NULL,
        by TEXT NOT NULL,
        at REAL NOT NULL,
        PRIMARY KEY (colony, user)
    ) STRICT;
    """,
]


class Connection(sqlite3.Connection):
    """The daemon's connection, shared by the event loop and worker threads: one writer at a
    time. Every statement, and every :func:`transaction` as a whole, holds :attr:`lock`, so
    a worker's statement never lands inside another thread's transaction."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lock = threading.RLock()

    def execute(self, sql: str, parameters: Any = (), /) -> sqlite3.Cursor:
        with self.lock:
            return super().execute(sql, parameters)

    def executemany(self, sql: str, parameters: Iterable[Any], /) -> sqlite3.Cursor:
        with self.lock:
            return super().executemany(sql, parameters)

    def executescript(self, sql_script: str, /) -> sqlite3.Cursor:
        with self.lock:
            return super().executescript(sql_script)


def connect(path: Path, migrations: list[str] | None = None) -> sqlite3.Connection:
    """Open (and migrate, with ``migrations``, default :data:`MIGRATIONS`) the database."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, factory=Connection)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA busy_timeout=5000")
    migrate(conn, MIGRATIONS if migrations is None else migrations)
    return conn


def migrate(conn: sqlite3.Connection, migrations: list[str] | None = None) -> None:
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    steps = MIGRATIONS if migrations is None else migrations
    for number, sql in enumerate(steps[version:], start=version + 1):
        with transaction(conn):
            _script(conn, sql)
            conn.execute(f"PRAGMA user_version = {number}")


def _script(conn: sqlite3.Connection, sql: str) -> None:
    for statement in sql.split(";"):
        if statement.strip():
            conn.execute(statement)


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """``BEGIN IMMEDIATE`` … ``COMMIT``, rolled back on any exception; other threads wait
    for it to end (a :class:`Connection`'s lock)."""
    lock: AbstractContextManager[Any] = conn.lock if isinstance(conn, Connection) else nullcontext()
    with lock:
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
