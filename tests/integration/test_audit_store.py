"""The audit store on a real SQLite file: appends, direct edits of the file found by verify,
retention behind a signed checkpoint, the key's permissions, secrets kept out."""

from __future__ import annotations

import sqlite3
import stat
from pathlib import Path

import pytest

from colony.core.audit_events import Query
from colony.store.audit import AuditStore, load_key


@pytest.fixture
def store(tmp_path: Path):
    s = AuditStore(tmp_path / "audit.db", load_key(tmp_path / "audit.key"))
    yield s
    s.close()


def fill(store: AuditStore, n: int, start: float = 100.0) -> None:
    store.append(
        [
            {"type": "state", "colony": "web", "state": f"s{i}", "user": "alice", "at": start + i}
            for i in range(n)
        ],
        now=start + n,
    )


def tamper(path: Path, *statements: str) -> None:
    """Edit the file as an intruder would: the guard triggers go first."""
    conn = sqlite3.connect(path)
    conn.execute("DROP TRIGGER IF EXISTS entries_append_only")
    conn.execute("DROP TRIGGER IF EXISTS entries_keep")
    for sql in statements:
        conn.execute(sql)
    conn.commit()
    conn.close()


def test_untouched_file_verifies(store: AuditStore) -> None:
    """When entries were only appended, in several batches, the file verifies."""
    fill(store, 5)
    fill(store, 5, start=200.0)
    verdict = store.verify()
    assert (verdict.ok, verdict.checked, verdict.head) == (True, 10, 10)


def test_reopened_store_continues_the_chain(tmp_path: Path, store: AuditStore) -> None:
    """When the daemon restarts, new entries continue the chain and it still verifies."""
    fill(store, 3)
    store.close()
    again = AuditStore(tmp_path / "audit.db", load_key(tmp_path / "audit.key"))
    fill(again, 2, start=300.0)
    assert again.verify().ok
    assert [e.seq for e in again.query(Query())] == [1, 2, 3, 4, 5]
    again.close()


def test_guards_refuse_changes(store: AuditStore) -> None:
    """When code tries to update or delete an entry, SQLite refuses."""
    fill(store, 2)
    conn = sqlite3.connect(store.path)
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        conn.execute("UPDATE entries SET user = 'mallory' WHERE seq = 1")
    with pytest.raises(sqlite3.DatabaseError, match="are kept"):
        conn.execute("DELETE FROM entries WHERE seq = 1")
    conn.close()


def test_edited_row_is_named(store: AuditStore) -> None:
    """When a row's user is changed in the file, verify names that entry."""
    fill(store, 5)
    tamper(store.path, "UPDATE entries SET user = 'mallory' WHERE seq = 3")
    verdict = store.verify()
    assert (verdict.ok, verdict.first) == (False, 3)
    assert verdict.problem == "entry 3 edited: its content does not match its hash"


def test_deleted_row_is_named(store: AuditStore) -> None:
    """When a row is deleted from the file, verify names the missing entry."""
    fill(store, 5)
    tamper(store.path, "DELETE FROM entries WHERE seq = 2")
    verdict = store.verify()
    assert (verdict.ok, verdict.first) == (False, 2)
    assert verdict.problem == "entry 2 deleted: entry 1 is followed by entry 3"


def test_reordered_rows_are_named(store: AuditStore) -> None:
    """When two rows swap their places in the file, verify names the first one moved."""
    fill(store, 5)
    tamper(
        store.path,
        "UPDATE entries SET seq = -3 WHERE seq = 3",
        "UPDATE entries SET seq = 3 WHERE seq = 4",
        "UPDATE entries SET seq = 4 WHERE seq = -3",
    )
    verdict = store.verify()
    assert (verdict.ok, verdict.first) == (False, 3)
    assert verdict.problem == "entry 3 reordered: it links to entry 4, which comes after it"


def test_inserted_row_is_named(store: AuditStore) -> None:
    """When a copy of a row is inserted in the file, verify names it."""
    fill(store, 5)
    tamper(
        store.path,
        "UPDATE entries SET seq = seq + 10 WHERE seq >= 3",
        "UPDATE entries SET seq = seq - 9 WHERE seq >= 13",
        "INSERT INTO entries SELECT 3, at, kind, colony, 'mallory', msg, data, prev, hash "
        "FROM entries WHERE seq = 2",
    )
    verdict = store.verify()
    assert (verdict.ok, verdict.first) == (False, 3)
    assert verdict.problem == "entry 3 reordered or inserted: it links to entry 1, not entry 2"


def test_truncated_end_is_named(store: AuditStore) -> None:
    """When the newest rows are deleted, the signed head names what is missing."""
    fill(store, 5)
    tamper(store.path, "DELETE FROM entries WHERE seq >= 4")
    verdict = store.verify()
    assert (verdict.ok, verdict.first) == (False, 4)


def test_retention_keeps_verification(store: AuditStore) -> None:
    """When old entries are pruned, a signed checkpoint lets the rest verify."""
    fill(store, 10)
    assert store.prune(before=105.0, now=500.0) == 5
    verdict = store.verify()
    assert (verdict.ok, verdict.checked, verdict.cut) == (True, 5, 5)
    assert [e.seq for e in store.query(Query())] == [6, 7, 8, 9, 10]
    fill(store, 2, start=600.0)
    assert store.verify().ok


def test_retention_spares_unpushed_entries(store: AuditStore) -> None:
    """When entries have not been pushed yet, retention keeps them."""
    fill(store, 10)
    assert store.prune(before=1000.0, now=500.0, keep_after=3) == 3
    assert store.verify().ok


def test_moved_cut_is_found(store: AuditStore) -> None:
    """When the retention checkpoint is edited to hide more deletions, verify says so."""
    fill(store, 10)
    store.prune(before=105.0, now=500.0)
    tamper(
        store.path,
        "DELETE FROM entries WHERE seq = 6",
        "UPDATE checkpoints SET seq = 6, hash = (SELECT prev FROM entries WHERE seq = 7) "
        "WHERE name = 'cut'",
    )
    verdict = store.verify()
    assert (verdict.ok, verdict.first) == (False, 6)
    assert "retention checkpoint" in (verdict.problem or "")


def test_key_and_file_modes(tmp_path: Path, store: AuditStore) -> None:
    """When the store is made, its key and its file are readable by their owner only."""
    assert stat.S_IMODE((tmp_path / "audit.key").stat().st_mode) == 0o600
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    assert load_key(tmp_path / "audit.key") == store.key


def test_queries(store: AuditStore) -> None:
    """When entries are queried, filters apply and a limit keeps the newest, oldest first."""
    store.append(
        [
            {"type": "exec", "colony": "a", "user": "al", "argv": ["ls"], "at": 1.0},
            {"type": "files", "colony": "b", "paths": ["x"], "count": 1, "at": 2.0},
            {"type": "exec", "colony": "b", "user": "bo", "argv": ["ls"], "at": 3.0},
        ],
        now=4.0,
    )
    assert [e.seq for e in store.query(Query(kind="exec"))] == [1, 3]
    assert [e.seq for e in store.query(Query(colony="b"))] == [2, 3]
    assert [e.seq for e in store.query(Query(user="al"))] == [1]
    assert [e.seq for e in store.query(Query(since=2.0, until=3.0))] == [2]
    assert [e.seq for e in store.query(Query(), limit=2)] == [2, 3]
    assert [[e.seq for e in b] for b in store.batches(Query(), size=2)] == [[1, 2], [3]]


def test_secrets_never_reach_the_file(store: AuditStore) -> None:
    """When events carry a canary secret in env and argv, the file never holds it."""
    canary = "c4n4ryS3cr3tV4lu3"
    store.append(
        [
            {
                "type": "exec",
                "colony": "web",
                "user": "al",
                "argv": ["deploy", f"--password={canary}", "--token", canary],
                "env": {"API_TOKEN": canary},
                "at": 1.0,
            }
        ],
        now=1.0,
    )
    store.close()
    raw = b"".join(p.read_bytes() for p in store.path.parent.glob("audit.db*"))
    assert canary.encode() not in raw


def test_everything_pruned_still_verifies(store: AuditStore) -> None:
    """When retention prunes every entry, the checkpoints alone verify, and new entries too."""
    fill(store, 3)
    assert store.prune(before=1000.0, now=500.0) == 3
    assert store.verify().ok
    fill(store, 2, start=2000.0)
    verdict = store.verify()
    assert (verdict.ok, verdict.checked, verdict.cut, verdict.head) == (True, 2, 3, 5)
