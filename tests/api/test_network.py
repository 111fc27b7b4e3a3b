"""A colony's network through the real client (issue 13): the view, the firewall text as it
would be loaded, and policy changes that reach the (fake) kernel or are refused whole."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from colony.cli import main
from colony.contract_responses import Network, dump, load
from colony.core.egress import GateRecord
from colony.errors import ColonyError, ConfigError, NotFound
from tests.api.conftest import Api, make_repo, settle
from tests.api.test_answers import _http


def running(api: Api, tmp_path: Path, name: str = "net") -> None:
    repo = make_repo(tmp_path / "repo", {"README": "x\n"})
    with api.client() as client:
        client.spawn(name, repo)
        settle(client, name, "running")


def test_a_policy_reaches_the_firewall_text_and_the_kernel(api: Api, tmp_path: Path) -> None:
    """When an allowlist is set, the firewall text has its entry in the allow set, the fake
    kernel got the rules, and resetting brings back colony.toml's default."""
    running(api, tmp_path)
    with api.client() as client:
        before = client.firewall("net").text
        changed = client.set_policy("net", "allowlist", allow=["192.0.2.0/24"])
        text = client.firewall("net").text
        view = client.network("net", limit=5)
        reset = client.reset_policy("net")
    assert "elements = { 0.0.0.0/0 }" in before
    assert dump(changed.policy) == {"egress": "allowlist", "allow": ["192.0.2.0/24"], "deny": []}
    assert "set allow4 { type ipv4_addr; flags interval; elements = { 192.0.2.0/24 }; }" in text
    assert "0.0.0.0/0" not in text
    assert view.source == "override"
    assert reset.policy.egress == "allow"
    assert reset.warnings == []
    assert [c[0] for c in api.iso.calls].count("set_network") >= 3


def test_bad_policies_are_one_line_and_change_nothing(api: Api, tmp_path: Path) -> None:
    running(api, tmp_path)
    with api.client() as client:
        with pytest.raises(ConfigError, match=r"^request body: allow: expected list, got 'x'$"):
            client._request("PUT", "/colonies/net/policy", body={"egress": "deny", "allow": "x"})
        with pytest.raises(ColonyError) as entry:
            client.set_policy("net", "allowlist", allow=["not a host!"])
        with pytest.raises(ConfigError, match=r"^limit: expected an integer, got 'all'$"):
            client._request("GET", "/colonies/net/network", params={"limit": "all"})
        assert client.network("net").source != "override"
    assert "not a host!" in str(entry.value)
    assert "\n" not in str(entry.value)


def test_an_unknown_colony_has_no_network(api: Api) -> None:
    with api.client() as client:
        for call in (
            lambda: client.network("nobody"),
            lambda: client.firewall("nobody"),
            lambda: client.set_policy("nobody", "deny"),
            lambda: client.reset_policy("nobody"),
        ):
            with pytest.raises(NotFound, match="nobody"):
                call()


ALLOWLIST = '[network]\negress = "allowlist"\nallow = ["ok.test:443"]\n'


def listed(api: Api, tmp_path: Path, name: str = "net") -> None:
    repo = make_repo(tmp_path / "repo", {"colony.toml": ALLOWLIST})
    with api.client() as client:
        client.spawn(name, repo)
        settle(client, name, "running")


def refuse(api: Api, colony: str, host: str, port: int | None) -> None:
    """A refusal as the egress gate (a port) or the DNS stub (None) reports one."""

    async def report() -> None:
        net = api.services.network
        if port is None:
            net.on_query(colony, host, "A", "deny", (), f"{host} is not in the allowlist")
        else:
            line = f"colony '{colony}': egress to {host}:{port} is not allowed (policy allowlist)"
            net.on_gate(GateRecord(colony, host, "198.51.100.9", port, "deny", line))

    api.run(report())


def test_a_change_adds_and_removes_entries_of_the_policy_in_effect(
    named_api: Api, tmp_path: Path
) -> None:
    """When entries are added without a mode, colony.toml's allowlist keeps its entry and
    mode and gains the new ones (in the kernel's rules too); an entry allowed leaves deny; a
    removed entry goes; nothing else changes."""
    api = named_api
    listed(api, tmp_path)
    with api.client() as client:
        added = client.change_policy("net", allow=["other.test:443", "10.9.0.0/16"])
        denied = client.change_policy("net", deny=["evil.test"])
        allowed = client.change_policy("net", allow=["evil.test"], remove=["10.9.0.0/16"])
        text = client.firewall("net").text
    assert dump(added.policy) == {
        "egress": "allowlist",
        "allow": ["ok.test:443", "other.test:443", "10.9.0.0/16"],
        "deny": [],
    }
    assert added.source == "override"
    assert added.warnings == []
    assert denied.policy is not None
    assert denied.policy.deny == ["evil.test"]
    assert dump(allowed.policy) == {
        "egress": "allowlist",
        "allow": ["ok.test:443", "other.test:443", "evil.test"],
        "deny": [],
    }
    assert "198.51.100.2 . 443" in text  # other.test:443, as resolved from the hosts file
    assert "10.9.0.0/16" not in text


def test_bad_changes_are_one_line_and_change_nothing(named_api: Api, tmp_path: Path) -> None:
    api = named_api
    listed(api, tmp_path)
    with api.client() as client:
        with pytest.raises(ConfigError, match=r"^remove: 'pypi.org:443' is not an entry "):
            client.change_policy("net", remove=["pypi.org:443"])
        with pytest.raises(ConfigError, match=r"^allow: expected 'host'.*got 'no such!'$"):
            client.change_policy("net", allow=["no such!"])
        with pytest.raises(ConfigError, match=r"^request body: expected entries in allow"):
            client.change_policy("net")
        with pytest.raises(ConfigError, match=r"^request body: remove: expected list"):
            client._request("PATCH", "/colonies/net/policy", body={"remove": "x"})
        with pytest.raises(NotFound, match="nobody"):
            client.change_policy("nobody", allow=["ok.test"])
        assert client.network("net").source == "colony.toml"


def test_refused_names_are_listed_with_their_fix_until_allowed(
    named_api: Api, tmp_path: Path
) -> None:
    """When the gate refused other.test:443 twice and the DNS stub dns-only.test, the view's
    blocked list has both, latest first, with the entry that admits each; once the entry is
    added, its name drops out."""
    api = named_api
    listed(api, tmp_path)
    refuse(api, "net", "other.test", 443)
    refuse(api, "net", "other.test", 443)
    refuse(api, "net", "dns-only.test", None)
    with api.client() as client:
        before = client.network("net").blocked
        client.change_policy("net", allow=["other.test:443"])
        after = client.network("net").blocked
    assert [(b.host, b.port, b.count, b.via, b.fix) for b in before] == [
        ("dns-only.test", None, 1, "dns", "dns-only.test"),
        ("other.test", 443, 2, "gate", "other.test:443"),
    ]
    assert [b.host for b in after] == ["dns-only.test"]


def test_the_network_view_reads_and_writes_back_the_same(named_api: Api, tmp_path: Path) -> None:
    """When a colony has gate records, DNS questions and refused names, its network view and a
    PATCH's answer load into colony.contract_responses with no key left over and dump back
    to the JSON Mycelium sent, key for key and in order; `colony net --json` prints the view's
    keys and `colony net --blocked --json` the view's refused names."""
    api = named_api
    listed(api, tmp_path)
    refuse(api, "net", "other.test", 443)
    refuse(api, "net", "dns-only.test", None)

    async def answered() -> None:
        api.services.network.on_query("net", "ok.test", "A", "accept", ("198.51.100.1",), "")

    api.run(answered())
    cli = CliRunner()
    with _http(api) as http:
        sent = http.get("/colonies/net/network").json()
        shown = cli.invoke(main, ["--socket", str(api.socket), "net", "net", "--json"])
        blocked = cli.invoke(
            main, ["--socket", str(api.socket), "net", "net", "--blocked", "--json"]
        )
        patched = http.patch("/colonies/net/policy", json={"allow": ["evil.test"]}).json()
    assert sent["dns"]["queries"]
    assert sent["blocked"]
    assert sent["records"][0]["host"] == "other.test"  # the gate's record
    for each in (sent, patched):
        typed = load(Network, each)
        assert typed.extra == {}
        assert all(r.extra == {} for r in [*typed.records, *typed.dns.queries, *typed.blocked])
        assert json.dumps(dump(typed)) == json.dumps(each)
    assert shown.exit_code == 0, shown.output
    assert list(json.loads(shown.output)) == list(sent)
    assert blocked.exit_code == 0, blocked.output
    assert json.loads(blocked.output) == {"colony": "net", "blocked": sent["blocked"]}
