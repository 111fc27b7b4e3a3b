"""The audit log through the real client and CLI (issue 13): filtered queries, a followed
stream, the VictoriaLogs export, verification, and one-line errors for bad filters."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from colony.cli import main
from colony.client import Client
from colony.contract_responses import AuditEntry
from colony.errors import ConfigError
from tests.api.conftest import Api, make_repo, settle


def lifecycle(client: Client, colony: str, count: int) -> list[AuditEntry]:
    """The colony's first ``count`` lifecycle entries (the audit writer works in batches)."""
    deadline = time.monotonic() + 10
    while len(found := client.audit(colony=colony, kind="lifecycle").entries) < count:
        assert time.monotonic() < deadline, found
        time.sleep(0.02)
    return found


def two_colonies(api: Api, tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", {"README": "x\n"})
    with api.client() as client:
        for name in ("one", "two"):
            client.spawn(name, repo)
            settle(client, name, "running")
        client.stop("two")
        settle(client, "two", "stopped")


def test_queries_filter_by_colony_kind_and_time(api: Api, tmp_path: Path) -> None:
    """When two colonies ran, a query for one returns only its entries, ``limit`` keeps the
    newest, ``after`` only later ones, and ``since`` in the future none."""
    two_colonies(api, tmp_path)
    with api.client() as client:
        one = lifecycle(client, "one", 3)
        two = lifecycle(client, "two", 5)
        newest = client.audit(colony="two", kind="lifecycle", limit=1).entries
        later = client.audit(colony="two", after=two[2].seq, limit=0).entries
        future = client.audit(since=str(time.time() + 3600)).entries
    assert {e.colony for e in one} == {"one"}
    assert [e.data["state"] for e in two][-2:] == ["stopping", "stopped"]
    assert newest == [two[-1]]
    assert all(e.seq > two[2].seq for e in later)
    assert two[-1] in later
    assert future == []


def test_bad_filters_are_one_line_naming_the_parameter(api: Api) -> None:
    with api.client() as client:
        with pytest.raises(ConfigError, match=r"^kind: expected one of .*, got 'gossip'$"):
            client.audit(kind="gossip")
        with pytest.raises(ConfigError, match=r"^since: .*'yesterday-ish'"):
            client.audit(since="yesterday-ish")
        with pytest.raises(ConfigError, match=r"^after: expected an integer, got 'x'$"):
            client.audit(after="x")
        with pytest.raises(ConfigError, match=r"^limit: expected an integer, got 'x'$"):
            client._request("GET", "/audit", params={"limit": "x"})
        # A negative limit used to reach SQLite as "no limit" and return every entry.
        with pytest.raises(
            ConfigError, match=r"^limit: expected an integer of at least 0, got '-3'$"
        ):
            client.audit(limit=-3)


def test_follow_sends_old_entries_then_new_ones(api: Api, tmp_path: Path) -> None:
    """When the log is followed, the backlog comes first and an entry made later arrives on
    the same stream."""
    two_colonies(api, tmp_path)
    with api.client() as client:
        old = lifecycle(client, "one", 3)
        stream = client.audit_follow(colony="one", kind="lifecycle", limit=0)
        backlog = [next(stream) for _ in old]
        client.stop("one")
        fresh = next(stream)
        stream.close()
    assert backlog == old
    assert fresh.colony == "one"
    assert fresh.data["state"] == "stopping"


def test_export_is_victorialogs_lines_and_verify_checks_them(api: Api, tmp_path: Path) -> None:
    """When exported, each entry is a JSON line with VictoriaLogs' fields, filtered like a
    query; the CLI's export gives the same lines; verify checks every entry."""
    two_colonies(api, tmp_path)
    with api.client() as client:
        entries = lifecycle(client, "two", 5)
        lines = [json.loads(line) for line in client.audit_export(colony="two", kind="lifecycle")]
        verdict = client.audit_verify()
    assert [line["_msg"] for line in lines] == [e.msg for e in entries]
    assert {(line["colony"], line["kind"]) for line in lines} == {("two", "lifecycle")}
    assert all("_time" in line and line["user"] for line in lines)
    assert verdict.ok is True
    assert verdict.checked >= len(entries)
    env = {"COLONY_SOCKET": str(api.socket)}
    out = CliRunner().invoke(
        main, ["audit", "export", "--colony", "two", "--kind", "lifecycle"], env=env
    )
    assert out.exit_code == 0, out.output
    assert [json.loads(x)["_msg"] for x in out.output.splitlines()] == [e.msg for e in entries]
