"""Colonies and the daemon's own routes through the real client and CLI (issue 13): the
lifecycle actions, logs, URLs, usage, gc, hosts, doctor, the OpenAPI document and stop."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from colony.cli import main
from colony.contract_responses import dump
from colony.errors import ConfigError, NotFound
from tests.api.conftest import Api, make_repo, settle

WEB = "[services.web]\ncommand = \"sh -c 'echo web says hello; exec sleep 300'\"\n"


def running(api: Api, tmp_path: Path, name: str = "web", toml: str = WEB) -> None:
    repo = make_repo(tmp_path / f"repo-{name}", {"colony.toml": toml})
    with api.client() as client:
        client.spawn(name, repo)
        colony = settle(client, name, "running", "failed")
    assert colony.state == "running", colony.reason


def test_restart_gives_the_service_a_new_process_and_a_bad_action_is_404(
    api: Api, tmp_path: Path
) -> None:
    """When a colony is restarted its service runs again under a new pid; an action other
    than stop, start or restart is one line naming it."""
    running(api, tmp_path)
    with api.client() as client:
        before = client.colony("web").services[0].pid
        client.restart("web")
        settle(client, "web", "running")
        after = client.colony("web").services[0]
        with pytest.raises(NotFound, match=r"^no action 'jump': expected stop, start or restart$"):
            client._request("POST", "/colonies/web/jump")
    assert after.state == "running"
    assert after.pid not in (None, before)


def test_logs_hold_the_colony_and_its_service_and_refuse_a_bad_count(
    api: Api, tmp_path: Path
) -> None:
    """When a colony has run, its log has the lifecycle and the service's output, one service
    can be picked, and a count that is not a number is a 400 naming it."""
    running(api, tmp_path)
    with api.client() as client:
        for _ in range(200):
            lines = list(client.logs("web", service="web"))
            if any(e["line"] == "web says hello" for e in lines):
                break
        everything = list(client.logs("web"))
        last = list(client.logs("web", lines=1))
        with pytest.raises(ConfigError, match=r"^lines: expected an integer, got 'many'$"):
            list(client._lines("/colonies/web/logs", {"lines": "many"}, 5))
        with pytest.raises(ConfigError, match=r"^lines: expected an integer of at least 0"):
            list(client.logs("web", lines=-5))
        with pytest.raises(NotFound, match="nobody"):
            list(client.logs("nobody"))
    assert {e["source"] for e in lines} == {"web"}
    assert "web says hello" in [e["line"] for e in lines]
    assert [e["line"] for e in everything if e["source"] == "colony"][:3] == [
        "spawning",
        "starting",
        "running",
    ]
    assert len(last) == 1


def test_urls_and_usage_of_a_colony_and_of_all(api: Api, tmp_path: Path) -> None:
    """When a colony runs, its URLs (none: no service has a port) and usage come back, the
    usage of all colonies lists it, and an unknown colony is 404 on each."""
    running(api, tmp_path)
    with api.client() as client:
        assert client.urls("web").urls == {}
        one = client.colony_usage("web")
        every = client.usage().usage
        with pytest.raises(NotFound):
            client.urls("nobody")
        with pytest.raises(NotFound):
            client.colony_usage("nobody")
    assert (one.colony, one.state, one.level) == ("web", "running", "basic")
    assert one.limits.pids > 0
    assert [u.colony for u in every] == ["web"]


def test_gc_removes_only_what_this_daemon_left(api: Api) -> None:
    """When the fake kernel holds a namespace of no colony that this daemon made and one that
    someone else made, gc removes the first, keeps the second and says what it removed."""
    api.iso.objects[("ca-api", "netns")] = {"ghost", "theirs"}
    api.iso.foreign.add(("ca-api", "netns", "theirs"))
    with api.client() as client:
        removed = dump(client.gc().removed)
        again = client.gc().removed
    assert removed == [{"kind": "netns", "name": "ghost"}]
    assert again == []
    assert api.iso.objects[("ca-api", "netns")] == {"theirs"}


def test_hosts_shows_the_names_and_refuses_an_unknown_action(api: Api) -> None:
    """When asked, the hosts route names the file and no preview names are missing (no
    colony has a port); an action other than add or remove is one line, and nothing is
    written."""
    with api.client() as client:
        shown = client.hosts()
        with pytest.raises(ConfigError) as bad:
            client.hosts_update("replace")
    assert shown.path == "/etc/hosts"
    assert shown.missing == []
    assert str(bad.value) == "request body: action: expected 'add' or 'remove', got 'replace'"


def test_doctor_lists_each_check_with_a_status(api: Api, tmp_path: Path) -> None:
    running(api, tmp_path)
    with api.client() as client:
        checks = {c.name: c for c in client.doctor().checks}
    assert {c.status for c in checks.values()} <= {"ok", "warn", "fail"}
    assert checks["audit"].status == "ok"
    assert checks["firewall"].detail == "every colony has its nft table (1)"


def test_openapi_documents_the_routes(api: Api) -> None:
    with api.client() as client:
        schema = client._request("GET", "/openapi.json")
    assert schema["info"]["title"] == "Mycelium"
    assert "post" in schema["paths"]["/colonies"]
    assert "409" in schema["paths"]["/colonies"]["post"]["responses"]
    assert "/colonies/{name}/workspace/merge" in schema["paths"]


def test_daemon_stop_asks_the_daemon_to_stop(api: Api) -> None:
    with api.client() as client:
        assert client.stop_daemon() == {"stopping": True}
    assert api.stops == ["stop"]


def test_the_cli_restarts_and_removes(api: Api, tmp_path: Path) -> None:
    """When the real CLI restarts a colony and removes it, the API shows each change."""
    running(api, tmp_path, "cli")
    runner = CliRunner()
    env = {"COLONY_SOCKET": str(api.socket)}
    restarted = runner.invoke(main, ["restart", "cli"], env=env)
    assert restarted.exit_code == 0, restarted.output
    with api.client() as client:
        settle(client, "cli", "running")
    removed = runner.invoke(main, ["rm", "--force", "cli"], env=env)
    assert removed.exit_code == 0, removed.output
    listed = runner.invoke(main, ["ls", "--json"], env=env)
    assert json.loads(listed.output)["colonies"] == []


def test_several_colonies_are_removed_in_one_call_each_on_its_own(api: Api, tmp_path: Path) -> None:
    """When several colonies are removed in one call (issue 15), each is answered in the
    order asked: a stopped one goes to the trash, while an unknown name and a running one
    (no force) fail on their own and stop neither the others nor a later forced call; a name
    given twice is removed once; no names, or a name that is no string, is one line."""
    for name in ("a", "b", "c"):
        running(api, tmp_path, name)
    with api.client() as client:
        client.stop("b")
        settle(client, "b", "stopped")
        first = client.remove_many(["b", "nosuch", "a", "b"]).results
        forced = client.remove_many(["a", "c"], force=True).results
        left = [c.name for c in client.colonies().colonies]
        trash = sorted(e.name for e in client.trash().trash)
        with pytest.raises(ConfigError, match=r"^request body: names: expected a non-empty"):
            client.remove_many([])
        with pytest.raises(ConfigError, match=r"^request body: names: expected a non-empty"):
            client._request("POST", "/colonies/remove", body={"names": ["a", 5]})
    assert [r.name for r in first] == ["b", "nosuch", "a"]
    assert first[0].removed == "b"
    assert first[0].trash
    assert first[1].error is not None
    assert first[1].error.type == "NotFound"
    assert first[2].error is not None
    assert first[2].error.type == "Conflict"
    assert "running" in first[2].error.message
    assert [(r.name, r.removed) for r in forced] == [("a", "a"), ("c", "c")]
    assert left == []
    assert trash == ["a", "b", "c"]


def test_the_cli_removes_several_and_reports_each(api: Api, tmp_path: Path) -> None:
    """When `colony rm` is given several names, the ones that can go go; each failure is
    its own error line, the exit code is 1 and the last line counts them; --json lists a
    result per name, an "error" and "hint" per failure."""
    for name in ("x", "y", "z"):
        running(api, tmp_path, name)
    runner = CliRunner()
    env = {"COLONY_SOCKET": str(api.socket)}
    with api.client() as client:
        client.stop("x")
        settle(client, "x", "stopped")
    said = runner.invoke(main, ["rm", "x", "nosuch", "y"], env=env)
    listed = runner.invoke(main, ["rm", "--json", "--force", "y", "nosuch2", "z"], env=env)
    assert said.exit_code == 1
    assert "removed colony 'x'" in said.output
    assert "error: colony 'nosuch' not found\nhint: list colonies with 'colony ls'" in said.output
    assert said.output.rstrip().endswith("2 of 3 colonies not removed: nosuch, y")
    assert listed.exit_code == 1
    results = json.loads(listed.output[: listed.output.rindex("]") + 1])
    assert [r.get("removed") for r in results] == ["y", None, "z"]
    assert results[1]["name"] == "nosuch2"
    assert results[1]["error"]
