"""Host names decided against a colony's policy: normalisation, wildcards, ports, deny."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from colony.core.hostmatch import Verdict, decide
from colony.core.hostname import matches, normalize_name, normalize_pattern
from colony.core.policy import Target, parse_policy, parse_target


@pytest.mark.parametrize(
    ("name", "normal"),
    [
        ("PyPI.org", "pypi.org"),
        ("pypi.org.", "pypi.org"),
        ("_dmarc.Example.COM", "_dmarc.example.com"),
        ("bücher.de", "xn--bcher-kva.de"),
        ("xn--bcher-kva.de", "xn--bcher-kva.de"),
        ("localhost", "localhost"),
        ("a" * 63 + ".org", "a" * 63 + ".org"),
    ],
)
def test_names_normalise(name: str, normal: str) -> None:
    """When a name differs only in case, a trailing dot or Unicode form, it normalises alike."""
    assert normalize_name(name) == normal


@pytest.mark.parametrize(
    "name",
    [
        "",
        ".",
        "a..b",
        ".pypi.org",
        "pypi.org..",
        "-a.org",
        "a-.org",
        "a b.org",
        "a\x00.org",
        "pypi.org\n",
        "10.0.0.1",
        "1.2.3.999",
        "a" * 64 + ".org",
        ".".join(["abcdefghi"] * 26),  # 259 characters
        "*.pypi.org",
        "xn--a.org",  # not valid punycode
        "a/b.org",
        "a:b.org",
        None,
        42,
    ],
)
def test_weird_names_are_refused(name: object) -> None:
    """When a name is not a plain DNS name, normalising it raises, naming what was given."""
    with pytest.raises(ValueError, match="expected a host name"):
        normalize_name(name)


@given(st.text(max_size=80))
def test_normalise_never_crashes_and_is_idempotent(text: str) -> None:
    """When any text is normalised, it is refused with ValueError or yields a fixed point."""
    try:
        normal = normalize_name(text)
    except ValueError:
        return
    assert normalize_name(normal) == normal
    assert normal.isascii()
    assert normal == normal.lower()


def test_wildcards_match_names_below_not_the_base() -> None:
    """When a pattern is *.host, names at any depth below host match; host itself and names
    that merely end in its text do not."""
    assert normalize_pattern("*.PythonHosted.org.") == "*.pythonhosted.org"
    assert matches("*.pythonhosted.org", "files.pythonhosted.org")
    assert matches("*.pythonhosted.org", "a.b.pythonhosted.org")
    assert not matches("*.pythonhosted.org", "pythonhosted.org")
    assert not matches("*.pythonhosted.org", "evilpythonhosted.org")
    assert matches("pypi.org", "pypi.org")
    assert not matches("pypi.org", "www.pypi.org")
    for bad in ("*", "*.", "**.a.org", "a.*.org", "*a.org", "*.10.0.0.1"):
        with pytest.raises(ValueError, match="expected a host name or"):
            normalize_pattern(bad)


def test_policy_entries_take_wildcards_and_only_exact_names_are_resolved() -> None:
    """When an entry is a wildcard it parses as a host pattern; Policy.hosts() (what the
    daemon pins ahead) leaves wildcards out."""
    assert parse_target("*.PythonHosted.org:443") == Target(host="*.pythonhosted.org", port=443)
    assert parse_target("Bücher.de") == Target(host="xn--bcher-kva.de")
    policy = parse_policy("allowlist", ["pypi.org:443", "*.pythonhosted.org"], ["*.evil.test"])
    assert policy.hosts() == frozenset({"pypi.org"})
    with pytest.raises(Exception, match=r"got 'a\.\*\.org'"):
        parse_policy("allowlist", ["a.*.org"])


ALLOWLIST = parse_policy(
    "allowlist",
    ["pypi.org:443", "*.pythonhosted.org", "10.0.0.0/8", "git.test"],
    ["bad.pythonhosted.org", "git.test:22"],
)


@pytest.mark.parametrize(
    ("name", "port", "allowed", "reason"),
    [
        ("pypi.org", 443, True, "allowed by 'pypi.org:443'"),
        ("PYPI.org.", None, True, "allowed by 'pypi.org:443'"),
        (
            "pypi.org",
            80,
            False,
            "port 80 of pypi.org is not allowed (allowlist: 'pypi.org:443')",
        ),
        ("files.pythonhosted.org", 443, True, "allowed by '*.pythonhosted.org'"),
        ("files.pythonhosted.org", None, True, "allowed by '*.pythonhosted.org'"),
        (
            "pythonhosted.org",
            None,
            False,
            "egress to pythonhosted.org is not allowed (not in the allowlist)",
        ),
        (
            "bad.pythonhosted.org",
            None,
            False,
            "bad.pythonhosted.org is denied by 'bad.pythonhosted.org'",
        ),
        ("git.test", None, True, "allowed by 'git.test'"),  # deny git.test:22 is one port
        ("git.test", 22, False, "git.test:22 is denied by 'git.test:22'"),
        ("git.test", 443, True, "allowed by 'git.test'"),
        (
            "example.com",
            443,
            False,
            "egress to example.com:443 is not allowed (not in the allowlist)",
        ),
        ("10.1.2.3", None, False, "'10.1.2.3' is not a valid host name"),
        ("a..pypi.org", 443, False, "'a..pypi.org' is not a valid host name"),
    ],
)
def test_allowlist_decides_names_with_reasons(
    name: str, port: int | None, allowed: bool, reason: str
) -> None:
    """When a colony's egress is allowlist, a name passes only through a name entry (exact or
    wildcard, with its port), minus deny entries, and the verdict says why."""
    verdict = decide(ALLOWLIST, name, port)
    assert (verdict.allowed, verdict.reason) == (allowed, reason)


def test_allow_and_deny_modes() -> None:
    """When egress is allow, every name but deny entries passes; when deny, none does."""
    open_ = parse_policy("allow", [], ["*.evil.test", "tracker.test:443"])
    assert decide(open_, "example.com", 443) == Verdict(True, "allowed (policy allow)")
    assert decide(open_, "x.evil.test").reason == "x.evil.test is denied by '*.evil.test'"
    assert decide(open_, "x.evil.test").entry == "*.evil.test"
    assert decide(open_, "tracker.test").allowed  # its address is needed for other ports
    assert not decide(open_, "tracker.test", 443).allowed
    assert decide(open_, "tracker.test", 80).allowed
    shut = parse_policy("deny", ["pypi.org"])
    assert decide(shut, "pypi.org", 443) == Verdict(
        False, "egress to pypi.org:443 is not allowed (policy deny)"
    )
