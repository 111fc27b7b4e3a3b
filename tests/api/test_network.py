"""A colony's network through the real client (issue 13): the view, the firewall text as it
would be loaded, and policy changes that reach the (fake) kernel or are refused whole."""

from __future__ import annotations

from pathlib import Path

import pytest

from colony.contract_responses import dump
from colony.errors import ColonyError, ConfigError, NotFound
from tests.api.conftest import Api, make_repo, settle


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
