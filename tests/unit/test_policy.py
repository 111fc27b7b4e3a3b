"""The pure network policy: entries, validation, planned address sets, exposures, name files."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from colony.core import values as v
from colony.core.config import parse_config_text
from colony.core.policy import (
    AddressSets,
    Peer,
    Policy,
    Target,
    check_config_exposures,
    parse_hosts,
    parse_nameservers,
    parse_policy,
    parse_target,
    plan_exposures,
    plan_rules,
)
from colony.errors import ConfigError


@pytest.mark.parametrize(
    ("entry", "target"),
    [
        ("pypi.org", Target(host="pypi.org")),
        ("PyPI.org.:443", Target(host="pypi.org", port=443)),
        ("10.1.2.3", Target(network=ipaddress.ip_network("10.1.2.3/32"))),
        ("10.1.2.3:80", Target(network=ipaddress.ip_network("10.1.2.3/32"), port=80)),
        ("10.1.2.0/24", Target(network=ipaddress.ip_network("10.1.2.0/24"))),
        ("10.1.2.0/24:53", Target(network=ipaddress.ip_network("10.1.2.0/24"), port=53)),
        ("2001:db8::1", Target(network=ipaddress.ip_network("2001:db8::1/128"))),
        ("[2001:db8::1]:443", Target(network=ipaddress.ip_network("2001:db8::1/128"), port=443)),
        ("2001:db8::/32", Target(network=ipaddress.ip_network("2001:db8::/32"))),
        ("2001:db8::/32:22", Target(network=ipaddress.ip_network("2001:db8::/32"), port=22)),
    ],
)
def test_entries_parse(entry: str, target: Target) -> None:
    """When an allow entry is written in any accepted form, it parses to host or network+port."""
    assert parse_target(entry) == target


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("999.1.1.1", "expected 'host', '*.host', 'host:port', an IP address or a CIDR network"),
        ("host:70000", "expected a port 1-65535 in 'host:70000', got '70000'"),
        ("host:", "expected a port 1-65535 in 'host:', got ''"),
        ("10.0.0.1/24", "got '10.0.0.1/24'"),  # host bits set
        ("10.0.0.0/33", "got '10.0.0.0/33'"),
        ("[pypi.org]:443", "got '[pypi.org]:443'"),
        (" pypi.org", "got ' pypi.org'"),
        ("", "got ''"),
        ("a b", "got 'a b'"),
    ],
)
def test_bad_entries_say_what_was_expected(entry: str, message: str) -> None:
    """When an entry is malformed, the error says what was expected and shows the value."""
    with pytest.raises(ValueError, match=r"^expected") as info:
        parse_target(entry)
    assert message in str(info.value)


@given(st.text(alphabet="0123456789abcdef.:/[]-xyz", max_size=24))
def test_parser_agrees_with_the_config_reader(entry: str) -> None:
    """When any string is checked, parse_target accepts exactly what colony.toml accepts."""
    try:
        parse_target(entry)
        ok = True
    except ValueError:
        ok = False
    assert ok == v.is_egress_rule(entry)


def test_policy_errors_name_the_flag_value_and_expectation() -> None:
    """When a policy is bad, the one-line error names the caller's spelling of the field."""
    flags = {"egress": "--egress", "allow": "--allow", "deny": "--deny"}
    with pytest.raises(ConfigError) as info:
        parse_policy("maybe", names=flags)
    assert str(info.value) == "--egress: expected one of allow, deny, allowlist, got 'maybe'"
    with pytest.raises(ConfigError, match=r"^--deny: expected a port 1-65535 in 'x:0', got '0'$"):
        parse_policy("allow", [], ["x:0"], names=flags)
    with pytest.raises(ConfigError, match=r"^allow: expected a string, got 5$"):
        parse_policy("allowlist", [5])


def test_policy_drops_duplicate_entries_keeping_order() -> None:
    """When an entry is given twice, the policy keeps it once, in first-seen order."""
    assert parse_policy("allowlist", ["b.test", "a.test", "b.test"]).allow == ("b.test", "a.test")


def test_rules_collapse_networks_per_port_and_resolve_names() -> None:
    """When entries overlap, the sets hold each address once; names become their addresses;
    a name that resolved to nothing adds nothing."""
    policy = Policy(
        "allowlist",
        allow=(
            "10.1.2.0/24",
            "10.1.2.7",
            "10.1.3.0/24",
            "10.9.0.1:443",
            "10.9.0.0/16:443",
            "10.9.0.1:80",
            "pypi.org:443",
            "gone.test",
            "2001:db8::/32",
        ),
        deny=("169.254.169.254",),
    )
    rules = plan_rules(
        policy,
        {"pypi.org": ("151.101.0.223", "2a04:4e42::223"), "gone.test": ()},
        exposed=[("cth4", 5432), ("cth4", 5432)],
    )
    assert rules.allow == AddressSets(
        v4=("10.1.2.0/23",),
        v6=("2001:db8::/32",),
        v4_ports=(("10.9.0.0/16", 443), ("10.9.0.1", 80), ("151.101.0.223", 443)),
        v6_ports=(("2a04:4e42::223", 443),),
    )
    assert rules.deny == AddressSets(v4=("169.254.169.254",))
    assert rules.exposed == (("cth4", 5432),)
    assert rules.egress == "allowlist"


def test_policy_hosts_are_the_names_it_mentions() -> None:
    """When a policy mixes names and addresses, hosts() lists only the names, lowercased."""
    policy = Policy("allow", allow=("A.test:1", "10.0.0.1"), deny=("b.test",))
    assert policy.hosts() == {"a.test", "b.test"}


def test_exposure_lets_in_the_named_colony_at_the_named_port() -> None:
    """When db exposes its service 'pg' to api, api's veth is let in at pg's port, only on db;
    entries naming absent colonies or itself are inactive."""
    peers = {
        "db": Peer("cth1", ("api:pg", "web:8080", "ghost:1", "db:2"), {"pg": 5432}),
        "api": Peer("cth2"),
        "web": Peer("cth3", ("api:3000",)),
    }
    assert plan_exposures(peers) == {
        "db": (("cth2", 5432), ("cth3", 8080)),
        "api": (),
        "web": (("cth2", 3000),),
    }


def test_exposing_a_service_without_a_port_is_a_config_error() -> None:
    """When expose_to names a service that has no port, the error names the key and services."""
    cfg = parse_config_text(
        '[services.web]\ncommand = "x"\nport = 3000\n[services.worker]\ncommand = "y"\n'
        '[network]\nexpose_to = ["api:web", "api:worker"]\n',
        "colony.toml",
    )
    with pytest.raises(ConfigError) as info:
        check_config_exposures(cfg)
    assert str(info.value) == (
        "colony.toml: network.expose_to[1]: expected a port or a service with a port "
        "(services with ports: web), got 'api:worker'"
    )


def test_deny_is_a_network_key_of_colony_toml() -> None:
    """When colony.toml has network.deny, it is read like allow; a bad entry is an error."""
    cfg = parse_config_text('[network]\ndeny = ["10.0.0.0/8"]\n', "colony.toml")
    assert cfg.network.deny == ("10.0.0.0/8",)
    with pytest.raises(ConfigError, match=r"network\.deny\[0\]"):
        parse_config_text('[network]\ndeny = ["999.1.1.1"]\n', "colony.toml")


def test_hosts_and_resolv_conf_parse() -> None:
    """When hosts(5) and resolv.conf(5) text is read, comments and junk are skipped."""
    hosts = parse_hosts(
        "# comment\n127.0.0.1 localhost\n198.18.0.2 ok.test Other.Test.  # x\n"
        "198.18.0.3 ok.test\nnot-an-ip foo\nfe80::1%eth0 link.test\n"
    )
    assert hosts["ok.test"] == ("198.18.0.2", "198.18.0.3")
    assert hosts["other.test"] == ("198.18.0.2",)
    assert hosts["link.test"] == ("fe80::1",)
    assert "foo" not in hosts
    text = "search x\nnameserver 10.0.0.53\nnameserver bogus\nnameserver fd00::53\noptions a\n"
    assert parse_nameservers(text) == ("10.0.0.53", "fd00::53")
