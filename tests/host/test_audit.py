"""The audit log of a real Mycelium: what a session records, tampering found by `colony audit
verify`, secrets kept out, a 10,000-file burst, bad queries."""

from __future__ import annotations

import json
import sqlite3
import textwrap
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from colony.cli import main
from colony.client import Client
from colony.contract_responses import AuditEntry, dump
from colony.errors import ConfigError
from tests.conftest import make_repo
from tests.host.conftest import Daemon, wait_for, wait_state

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "webapp" / "app.py"
WEB = textwrap.dedent("""
    [services.web]
    command = "python3 app.py"
    port = 3000
""")


def run(client: Client, name: str, argv: list[str], env: dict[str, str] | None = None) -> int:
    with client.exec_session(name, argv, env=env) as session:
        while session.recv(120) is not None:
            pass
        assert session.exit_code is not None
        return session.exit_code


def entries(client: Client, **filters: Any) -> list[AuditEntry]:
    return list(client.audit(limit=0, **filters).entries)


def wait_entry(client: Client, what: str, **want: Any) -> AuditEntry:
    """The first entry whose data has the fields ``want``, once it is there."""

    def found() -> AuditEntry | None:
        for entry in entries(client):
            if all(entry.data.get(k) == v for k, v in want.items()):
                return entry
        return None

    return wait_for(found, timeout=60, what=what)  # type: ignore[no-any-return]


def cli(d: Daemon, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), env={"COLONY_SOCKET": str(d.socket)})
    return result.exit_code, result.stdout, result.stderr


def signature(entry: AuditEntry) -> tuple[Any, ...]:
    data = entry.data
    kind = data["type"]
    if kind in ("state", "service"):
        return (kind, data.get("state"), entry.user)
    if kind == "exec":
        return (kind, tuple(data["argv"]), entry.user)
    if kind == "exec_end":
        return (kind, tuple(data["argv"]), data["code"], entry.user)
    if kind == "request":
        return (kind, data["method"], data["status"])
    if kind == "files":
        return (kind, tuple(data["paths"]))
    return (kind, entry.user)


def in_order(found: list[tuple[Any, ...]], expected: list[tuple[Any, ...]]) -> bool:
    it = iter(found)
    return all(any(item == want for item in it) for want in expected)


def test_scripted_session_is_recorded_in_order(daemon: Daemon, tmp_path: Path) -> None:
    """When a session spawns, execs, previews, edits files, stops and removes a colony, the
    audit log holds those events in order, each with its colony and the user who asked."""
    client = daemon.client
    assert client is not None
    repo = make_repo(tmp_path / "repo", {"app.py": EXAMPLE.read_text(), "colony.toml": WEB})
    followed: list[AuditEntry] = []
    follower = Client(daemon.socket)

    def follow() -> None:
        for entry in follower.audit_follow(limit=0, colony="au"):
            followed.append(entry)
            if entry.data["type"] == "removed":
                return  # leaving the loop closes the stream

    thread = threading.Thread(target=follow, daemon=True)
    thread.start()
    try:
        client.spawn("au", str(repo))
        wait_state(client, "au", "running")
        assert run(client, "au", ["echo", "hello"]) == 0
        url = f"http://127.0.0.1:{daemon.proxy_port}/"
        answer = httpx.get(url, headers={"Host": "web.au.localhost"}, timeout=10)
        assert answer.status_code == 200
        wait_entry(client, "the request", type="request", colony="au")
        edit = ["sh", "-c", "echo note > notes.txt"]
        assert run(client, "au", edit) == 0
        wait_entry(client, "the file edit", type="files", colony="au", paths=["notes.txt"])
        client.stop("au")
        wait_state(client, "au", "stopped")
        client.remove("au")
        wait_entry(client, "the removal", type="removed", colony="au")
        thread.join(30)
        assert not thread.is_alive()
    finally:
        follower.close()
    recorded = entries(client, colony="au")
    assert all(e.colony == "au" for e in recorded)
    expected = [
        ("state", "spawning", "root"),
        ("state", "running", "root"),
        ("exec", ("echo", "hello"), "root"),
        ("exec_end", ("echo", "hello"), 0, "root"),
        ("request", "GET", 200),
        ("exec", tuple(edit), "root"),
        ("files", ("notes.txt",)),
        ("state", "stopping", "root"),
        ("state", "stopped", "root"),
        ("removed", "root"),
    ]
    found = [signature(e) for e in recorded]
    assert in_order(found, expected), found
    assert [e.seq for e in followed] == [e.seq for e in recorded]
    code, out, _ = cli(daemon, "audit", "--colony", "au", "--kind", "exec")
    assert code == 0
    assert "au: exec echo hello" in out
    assert "lifecycle" not in out


def test_tampering_is_found_by_verify(daemon: Daemon) -> None:
    """When rows of audit.db are edited or deleted behind the daemon's back, `colony audit
    verify` names the entry and exits 1; an untouched log verifies."""
    client = daemon.client
    assert client is not None
    for _ in range(4):
        client.gc()
    wait_for(lambda: len(entries(client, kind="lifecycle")) >= 4, what="gc entries")
    code, out, _ = cli(daemon, "audit", "verify")
    assert code == 0, out
    assert out.startswith("audit log verified:")

    db = sqlite3.connect(daemon.state_dir / "audit.db")
    db.execute("DROP TRIGGER entries_append_only")
    db.execute("DROP TRIGGER entries_keep")
    db.execute("UPDATE entries SET user = 'mallory' WHERE seq = 2")
    db.commit()
    code, _, err = cli(daemon, "audit", "verify")
    assert code == 1
    assert err.splitlines()[0] == (
        "error: audit log does not verify: entry 2 edited: its content does not match its hash"
    )

    db.execute("UPDATE entries SET user = 'root' WHERE seq = 2")
    db.commit()
    assert cli(daemon, "audit", "verify")[0] == 0

    db.execute("DELETE FROM entries WHERE seq = 3")
    db.commit()
    db.close()
    verdict = client.audit_verify()
    assert (verdict.ok, verdict.first) == (False, 3)
    assert verdict.problem == "entry 3 deleted: entry 2 is followed by entry 4"


def test_canary_secret_never_reaches_store_or_export(daemon: Daemon, tmp_path: Path) -> None:
    """When a canary secret is passed to exec in env and argv, neither audit.db nor the
    export holds it, while the exec itself is recorded."""
    client = daemon.client
    assert client is not None
    canary = "c4n4ry-Zq3xK9pLm2Vb7Nc4"
    client.spawn("sec", str(make_repo(tmp_path / "repo", {"README": "hi\n"})))
    wait_state(client, "sec", "running")
    argv = ["sh", "-c", 'test -n "$API_TOKEN"', "--password", canary, f"--token={canary}"]
    assert run(client, "sec", argv, env={"API_TOKEN": canary, "DB_PASSWORD": canary}) == 0
    assert run(client, "sec", ["curl", "-H", f"Authorization: Bearer {canary}", "-V"]) in (0, 2)
    end = wait_entry(client, "the exec's end", type="exec_end", colony="sec", code=0)
    assert end.data["argv"][4] == "[redacted]"
    wait_for(lambda: len(entries(client, kind="exec", colony="sec")) == 4, what="exec entries")
    started = entries(client, kind="exec", colony="sec")[0]
    assert started.data["env"] == {"API_TOKEN": "[redacted]", "DB_PASSWORD": "[redacted]"}
    code, export, _ = cli(daemon, "audit", "export")
    assert code == 0
    assert "--password" in export
    assert canary not in export
    assert canary not in json.dumps(dump(entries(client)))
    raw = b"".join(p.read_bytes() for p in daemon.state_dir.glob("audit.db*"))
    assert canary.encode() not in raw


def test_ten_thousand_files_are_counted_while_the_api_answers(
    daemon: Daemon, tmp_path: Path
) -> None:
    """When an agent writes 10,000 files, they arrive as batched files events whose counts add
    up to exactly 10,000, and the API keeps answering meanwhile."""
    client = daemon.client
    assert client is not None
    client.spawn("burst", str(make_repo(tmp_path / "repo", {"README": "hi\n"})))
    wait_state(client, "burst", "running")
    dirs = " ".join(f"out/d{i}" for i in range(10))
    assert run(client, "burst", ["sh", "-c", f"mkdir -p {dirs} && echo p > probe.txt"]) == 0
    wait_entry(client, "the probe", type="files", colony="burst", paths=["probe.txt"])

    script = "i=0; while [ $i -lt 10000 ]; do echo $i > out/d$((i % 10))/f$i; i=$((i + 1)); done"
    codes: list[int] = []
    writer = threading.Thread(
        target=lambda: codes.append(run(client, "burst", ["sh", "-c", script]))
    )
    answers = 0
    with Client(daemon.socket, timeout=30) as api:
        writer.start()
        while writer.is_alive():
            assert api.health()["ok"]
            assert [c.name for c in api.colonies().colonies] == ["burst"]
            answers += 1
        writer.join()
    assert codes == [0]
    assert answers > 0

    def burst() -> list[dict[str, Any]]:
        found = entries(client, kind="files", colony="burst")
        return [e for e in found if e.data["paths"][0].startswith("out/")]

    wait_for(lambda: sum(e.data["count"] for e in burst()) >= 10000, 60, "10,000 files")
    batches = burst()
    paths = [p for e in batches for p in e.data["paths"]]
    assert sum(e.data["count"] for e in batches) == 10000
    assert len(set(paths)) == 10000
    assert len(batches) >= 10
    assert all(e.data["count"] == len(e.data["paths"]) <= 1000 for e in batches)
    assert not any(e.data.get("overflow") for e in batches)


def test_bad_queries_are_one_line_errors(daemon: Daemon) -> None:
    """When a query names an unknown kind or an unreadable time, the API and the CLI answer
    with one line naming the parameter, the value and what was expected."""
    client = daemon.client
    assert client is not None
    with pytest.raises(ConfigError) as caught:
        client.audit(since="yesterdayish")
    assert str(caught.value) == (
        "since: expected a duration such as 90s, 30m, 1h or 2d, or a time such as "
        "2024-05-01T10:00, got 'yesterdayish'"
    )
    with pytest.raises(ConfigError, match=r"^kind: expected one of lifecycle, exec,"):
        client.audit(kind="nope")
    code, out, err = cli(daemon, "audit", "--kind", "nope")
    assert (code, out) == (1, "")
    assert err.count("\n") == 1
    assert err.startswith("error: --kind: expected one of lifecycle,")
