"""The API contract, through the real client and CLI (issue 13): what each route answers,
and that every user mistake is one line with the right status, without root."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from colony.cli import main
from colony.contract_responses import dump
from colony.errors import ColonyError, Conflict, NotFound
from tests.api.conftest import Api, make_repo, settle

WEB = '[services.web]\ncommand = "sleep 300"\n'


def test_health_names_the_daemon(api: Api) -> None:
    with api.client() as client:
        health = client.health()
    assert health["ok"] is True
    assert health["prefix"] == "ca-api"
    assert health["proxy_port"] > 0


def test_a_colony_through_its_life(api: Api, tmp_path: Path) -> None:
    """When a colony is spawned, stopped, started twice and removed through the client, each
    answer says what happened, and the trash lists it afterwards."""
    repo = make_repo(tmp_path / "repo", {"colony.toml": WEB})
    with api.client() as client:
        spawned = client.spawn("web", repo)
        assert spawned.state == "spawning"
        colony = settle(client, "web", "running", "failed")
        assert colony.state == "running", colony.reason
        assert [s.name for s in colony.services] == ["web"]
        assert [c.name for c in client.colonies().colonies] == ["web"]
        client.stop("web")
        assert settle(client, "web", "stopped").services[0].state == "stopped"
        client.start("web")
        assert settle(client, "web", "running").state == "running"
        again = client.start("web")
        assert again.already == "running"
        removed = client.remove("web", force=True)
        assert removed.removed == "web"
        assert client.colonies().colonies == []
        assert [e.name for e in client.trash().trash] == ["web"]
    assert ("destroy", "web") in [call[:2] for call in api.iso.calls]


@pytest.mark.parametrize(
    ("name", "expected"),
    [("../x", ColonyError), ("a;b", ColonyError), ("x" * 300, ColonyError)],
)
def test_bad_names_are_one_line_and_make_nothing(
    api: Api, tmp_path: Path, name: str, expected: type[ColonyError]
) -> None:
    repo = make_repo(tmp_path / "repo", {"README": "x\n"})
    with api.client() as client:
        with pytest.raises(expected) as info:
            client.spawn(name, repo)
        assert "\n" not in str(info.value)
        assert client.colonies().colonies == []
    assert api.vcs.calls == []


def test_a_taken_name_and_an_unknown_colony_say_so(api: Api, tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", {"README": "x\n"})
    with api.client() as client:
        client.spawn("one", repo)
        settle(client, "one", "running")
        with pytest.raises(Conflict) as taken:
            client.spawn("one", repo)
        assert "one" in str(taken.value)
        with pytest.raises(NotFound) as missing:
            client.colony("nobody")
        assert "nobody" in str(missing.value)
        with pytest.raises(NotFound):
            client.stop("nobody")


def test_a_bad_colony_toml_is_refused_before_anything_is_made(api: Api, tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", {"colony.toml": '[services.web]\nport = "abc"\n'})
    with api.client() as client, pytest.raises(ColonyError) as info:
        client.spawn("bad", repo)
    assert str(info.value).startswith("colony.toml: services.web")
    assert not any(call[0] == "create" for call in api.iso.calls)


def test_the_egress_policy_changes_live_and_is_kept(api: Api, tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", {"README": "x\n"})
    with api.client() as client:
        client.spawn("net", repo)
        settle(client, "net", "running")
        changed = client.set_policy("net", egress="deny", deny=["10.9.0.0/16"])
        assert dump(changed.policy) == {"egress": "deny", "allow": [], "deny": ["10.9.0.0/16"]}
        assert client.network("net").policy.egress == "deny"
        with pytest.raises(ColonyError) as bad:
            client.set_policy("net", egress="sometimes")
        assert "\n" not in str(bad.value)
        assert client.network("net").source == "override"
        client.reset_policy("net")
        assert client.network("net").policy.egress == "allow"


def test_the_audit_log_records_the_spawn(api: Api, tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", {"README": "x\n"})
    with api.client() as client:
        client.spawn("seen", repo)
        settle(client, "seen", "running")
        deadline = time.monotonic() + 10
        while len(entries := client.audit(colony="seen").entries) < 3:
            assert time.monotonic() < deadline, entries  # the audit writer works in batches
            time.sleep(0.02)
        verified = client.audit_verify()
    states = [e.data["state"] for e in entries if e.kind == "lifecycle"]
    assert states[:3] == ["spawning", "starting", "running"]
    assert all(e.user == entries[0].user for e in entries)
    assert verified.ok is True


def test_the_cli_reads_the_same_api(api: Api, tmp_path: Path) -> None:
    """When the real CLI runs against the served API, `ls --json` and a one-line error for a
    missing colony come back as a user sees them."""
    repo = make_repo(tmp_path / "repo", {"README": "x\n"})
    with api.client() as client:
        client.spawn("cli", repo)
        settle(client, "cli", "running")
    runner = CliRunner()
    env = {"COLONY_SOCKET": str(api.socket)}
    listed = runner.invoke(main, ["ls", "--json"], env=env)
    assert listed.exit_code == 0, listed.output
    assert [c["name"] for c in json.loads(listed.output)["colonies"]] == ["cli"]
    missing = runner.invoke(main, ["show", "nobody"], env=env)
    assert missing.exit_code != 0
    assert "nobody" in missing.output
