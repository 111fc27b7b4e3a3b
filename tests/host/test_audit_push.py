"""The push of the audit log to VictoriaLogs, against a small HTTP receiver in the test:
JSON lines with the documented fields; queued on disk while the receiver is down."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from colony.contract_responses import AuditEntry
from tests.host.conftest import Daemon, wait_for


class Receiver:
    """A stand-in for VictoriaLogs' /insert/jsonline that keeps what it was sent."""

    def __init__(self, port: int = 0) -> None:
        self.posts: list[tuple[str, dict[str, list[str]], str, bytes]] = []
        posts = self.posts

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                url = urlsplit(self.path)
                posts.append((url.path, parse_qs(url.query), self.headers["Content-Type"], body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", port), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        """Stop answering and free the port (again: a no-op)."""
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(10)

    def lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for *_, body in self.posts for line in body.splitlines()]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.stop()


@pytest.fixture
def push_to_receiver(receiver: Receiver, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLONY_AUDIT_PUSH", f"http://127.0.0.1:{receiver.port}")


@pytest.fixture
def pushing(push_to_receiver: None, daemon: Daemon) -> Daemon:
    """A Mycelium started with COLONY_AUDIT_PUSH pointing at the receiver."""
    return daemon


def pushed_cursor(d: Daemon) -> int:
    with sqlite3.connect(d.state_dir / "audit.db") as db:
        row = db.execute("SELECT seq FROM cursors WHERE name = 'victorialogs'").fetchone()
    return 0 if row is None else int(row[0])


def test_push_sends_json_lines_and_buffers_while_down(pushing: Daemon, receiver: Receiver) -> None:
    """When entries are pushed, each POST is VictoriaLogs JSON lines with _msg, _time and the
    stream fields; while the receiver is down they wait in audit.db and arrive once it is up."""
    client = pushing.client
    assert client is not None
    client.gc()
    wait_for(lambda: receiver.lines(), what="the first push")
    path, query, content_type, _ = receiver.posts[0]
    assert path == "/insert/jsonline"
    assert query["_stream_fields"] == ["colony,user,kind"]
    assert content_type == "application/stream+json"
    line = receiver.lines()[0]
    assert {"_msg", "_time", "colony", "user", "kind", "seq", "hash", "data"} <= set(line)
    assert (line["_msg"], line["user"], line["kind"]) == (
        "gc removed 0 objects",
        "root",
        "lifecycle",
    )
    assert dt.datetime.fromisoformat(line["_time"]).tzinfo is not None

    receiver.stop()
    for _ in range(3):
        client.gc()

    def gcs() -> list[AuditEntry]:
        return [e for e in client.audit(limit=0).entries if e.data["type"] == "gc"]

    wait_for(lambda: len(gcs()) == 4, what="three more entries")
    entries = gcs()[1:]
    assert pushed_cursor(pushing) < entries[0].seq  # queued on disk, not sent

    back = Receiver(receiver.port)
    try:
        wait_for(lambda: len(back.lines()) >= 3, 60, "the queued entries")
        seqs = [line["seq"] for line in back.lines()]
        assert seqs == sorted(seqs)
        assert [e.seq for e in entries] == seqs[:3]
        wait_for(lambda: pushed_cursor(pushing) >= entries[-1].seq, what="the cursor")
    finally:
        back.stop()
