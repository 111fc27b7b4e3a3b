"""The daemon's store is shared by the event loop and worker threads (issue 13): a worker's
write never lands inside another thread's transaction."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from colony.store.db import connect, transaction

TABLE = ["CREATE TABLE notes (text TEXT NOT NULL) STRICT"]


def test_a_write_from_another_thread_waits_for_the_open_transaction(tmp_path: Path) -> None:
    """When one thread's transaction is rolled back while another thread writes, the other
    thread's row stays and the rolled back one is gone."""
    conn = connect(tmp_path / "db", TABLE)
    began, trying = threading.Event(), threading.Event()

    def worker() -> None:
        began.wait(10)
        trying.set()
        conn.execute("INSERT INTO notes VALUES ('worker')")

    thread = threading.Thread(target=worker)
    thread.start()
    try:
        with transaction(conn):
            conn.execute("INSERT INTO notes VALUES ('rolled back')")
            began.set()
            trying.wait(10)
            time.sleep(0.1)  # room for the worker's insert to run, were it not held back
            raise RuntimeError("roll back")
    except RuntimeError:
        pass
    thread.join(10)
    rows = [r[0] for r in conn.execute("SELECT text FROM notes")]
    assert rows == ["worker"]
