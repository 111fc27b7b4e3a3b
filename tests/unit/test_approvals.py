"""Live approvals, pure (issue 16): a policy amended entry by entry, and the fix of each
refused host."""

from __future__ import annotations

import pytest

from colony.core.approvals import (
    Fix,
    amend_policy,
    format_change,
    plan_blocked,
    plan_fix,
    plan_warnings,
)
from colony.core.policy import Policy, parse_policy
from colony.errors import ConfigError

BASE = parse_policy("allowlist", ["pypi.org:443", "10.1.0.0/16"], ["bad.test"])


def test_allow_and_deny_add_to_the_policy_in_effect() -> None:
    got = amend_policy(BASE, allow=["example.com:443", "PyPI.org:443"], deny=["*.evil.test"])
    assert got == Policy(
        "allowlist",
        ("pypi.org:443", "10.1.0.0/16", "example.com:443"),  # PyPI.org:443 is pypi.org:443
        ("bad.test", "*.evil.test"),
    )


def test_an_entry_added_to_one_list_leaves_the_other() -> None:
    assert amend_policy(BASE, allow=["Bad.test"]).deny == ()
    assert amend_policy(BASE, deny=["pypi.org:443"]).allow == ("10.1.0.0/16",)


def test_remove_takes_an_entry_out_of_either_list() -> None:
    got = amend_policy(BASE, remove=["10.1.0.0/16", "BAD.test"])
    assert (got.allow, got.deny) == (("pypi.org:443",), ())


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"remove": ["pypi.org:80"]}, r"^--remove: 'pypi.org:80' is not an entry of the policy "),
        ({"allow": ["no such!"]}, r"^--allow: expected 'host'.*got 'no such!'$"),
        ({"remove": ["ok.test:0"]}, r"^--remove: expected a port 1-65535 in 'ok.test:0'"),
        ({"allow": ["a.test"], "deny": ["A.test"]}, r"^--deny: 'a.test' is also given to allow"),
    ],
)
def test_bad_changes_are_one_line_naming_the_flag(change: dict, message: str) -> None:
    names = {"allow": "--allow", "deny": "--deny", "remove": "--remove"}
    with pytest.raises(ConfigError, match=message) as err:
        amend_policy(BASE, **change, names=names)
    assert "\n" not in str(err.value)


def test_warnings_say_when_an_allow_entry_does_nothing() -> None:
    assert plan_warnings(Policy("deny"), ["a.test"])[0].startswith("egress is deny")
    assert plan_warnings(Policy("allow"), ["a.test"])[0].startswith("egress is allow")
    shadowed = parse_policy("allowlist", ["api.evil.test:443"], ["*.evil.test"])
    assert plan_warnings(shadowed, ["api.evil.test:443"]) == [
        "api.evil.test:443: still refused: api.evil.test:443 is denied by '*.evil.test'"
    ]
    assert plan_warnings(BASE, ["pypi.org:443"]) == []


@pytest.mark.parametrize(
    ("host", "port", "fix"),
    [
        ("example.com", 443, Fix(False, entry="example.com:443")),
        ("example.com", None, Fix(False, entry="example.com")),  # the DNS stub: any port
        ("pypi.org", 80, Fix(False, entry="pypi.org:80")),
        ("pypi.org", 443, Fix(True)),
        ("x.bad.test", 443, Fix(False, entry="x.bad.test:443")),  # bad.test only
        ("bad.test", 443, Fix(False, denied_by="bad.test")),
        ("10.1.2.3", 80, Fix(True)),
        ("198.18.0.1", 80, Fix(False, entry="198.18.0.1:80")),
        ("no_such..name", 80, Fix(False)),
    ],
)
def test_the_fix_of_a_refused_host(host: str, port: int | None, fix: Fix) -> None:
    assert plan_fix(BASE, host, port) == fix


def test_the_fix_in_other_modes() -> None:
    assert plan_fix(Policy("deny"), "a.test", 443) == Fix(False)
    assert plan_fix(parse_policy("allow", deny=["a.test"]), "a.test", 443) == Fix(
        False, denied_by="a.test"
    )


def test_blocked_rows_drop_once_allowed_unless_refused_since() -> None:
    rows = [
        {"host": "example.com", "port": 443, "last": 10.0},
        {"host": "pypi.org", "port": 443, "last": 10.0},  # allowed at 20: drops
        {"host": "pypi.org", "port": None, "last": 30.0},  # refused since: another reason
    ]
    got = plan_blocked(rows, BASE, changed=20.0)
    assert [(r["host"], r["port"], r["fix"]) for r in got] == [
        ("example.com", 443, "example.com:443"),
        ("pypi.org", None, None),
    ]
    assert plan_blocked(rows[:1], None, 0.0)[0]["fix"] is None


def test_a_change_in_words() -> None:
    assert format_change(["a.test:443"], [], ["b.test", "10.0.0.0/8"]) == (
        "allowed a.test:443; removed b.test, 10.0.0.0/8"
    )
