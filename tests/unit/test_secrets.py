"""Pure rules of colony secrets (issue 17): checks, injection into a request head, leaks."""

from __future__ import annotations

import pytest

from colony.core.config import SecretDecl, parse_config_text, render_default_config
from colony.core.secrets import (
    Secret,
    check_hosts,
    check_secret,
    find_placeholder,
    for_host,
    inject,
    new_placeholder,
    plan_declared,
)
from colony.errors import ConfigError

P = new_placeholder()
SECRET = Secret("API_KEY", "sk-real", ("api.example.test",), "x-api-key", P)
ANY = Secret("TOKEN", "gh-real", ("api.example.test",), None, new_placeholder())


def test_the_value_goes_in_the_named_header_only() -> None:
    head = (
        f"POST /v1 HTTP/1.1\r\nHost: api.example.test\r\nX-API-Key: {P}\r\nX-Echo: {P}\r\n\r\n"
    ).encode()
    out = inject(head, for_host([SECRET], "api.example.test"))
    assert (
        out
        == (
            f"POST /v1 HTTP/1.1\r\nHost: api.example.test\r\nX-API-Key: sk-real\r\n"
            f"X-Echo: {P}\r\n\r\n"
        ).encode()
    )


def test_without_a_header_every_header_carrying_it_gets_it_but_not_the_target() -> None:
    head = f"GET /{ANY.placeholder} HTTP/1.1\r\nAuthorization: Bearer {ANY.placeholder}\r\n\r\n"
    out = inject(head.encode(), for_host([ANY], "api.example.test"))
    assert (
        out == f"GET /{ANY.placeholder} HTTP/1.1\r\nAuthorization: Bearer gh-real\r\n\r\n".encode()
    )


def test_other_hosts_get_nothing_and_a_placeholder_is_found_anywhere() -> None:
    assert for_host([SECRET, ANY], "other.test") == []
    assert find_placeholder(f"GET /?k={P} HTTP/1.1\r\n\r\n".encode(), {P}) == P
    assert find_placeholder(f"x {new_placeholder()}".encode(), {P}) is None
    assert find_placeholder(b"nothing here", {P}) is None


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("K", "", ["a.example"], None), "secret value: expected a non-empty value, got nothing"),
        (("K", "a\nb", ["a.example"], None), "secret value: expected one line"),
        (("K", "v", [], None), "secret hosts: expected one or more host names"),
        (("K", "v", ["*.example.com"], None), "secret hosts: expected a host name"),
        (("K", "v", ["a.example:443"], None), "secret hosts: expected a host name"),
        (("K-1", "v", ["a.example"], None), "secret key: expected an environment variable"),
        (("K", "v", ["a.example"], "a:b"), "secret header: expected an HTTP header name"),
    ],
)
def test_bad_secrets_are_one_line(args: tuple[object, ...], message: str) -> None:
    with pytest.raises(ConfigError) as err:
        check_secret(*args)
    assert str(err.value).startswith(message)
    assert "\n" not in str(err.value)


def test_hosts_are_normalized_and_deduplicated() -> None:
    assert check_hosts("API.example.test, api.example.test,b.example.test") == (
        "api.example.test",
        "b.example.test",
    )


def test_colony_toml_declares_secrets_and_bad_ones_are_one_line() -> None:
    cfg = parse_config_text(
        '[secrets.API_KEY]\nhosts = ["API.example.test"]\nfrom_env = "MY_KEY"\n'
        'header = "x-api-key"\n'
    )
    assert cfg.secrets == (SecretDecl("API_KEY", ("api.example.test",), "MY_KEY", "x-api-key"),)
    for text, message in (
        ('[secrets.K]\nhosts = ["a b"]\nfrom_env = "X"', "secrets.K.hosts: expected a host name"),
        ('[secrets.K]\nhosts = ["a.example"]', "secrets.K.from_env: expected a value, got nothing"),
        ('[secrets.1K]\nhosts = ["a.example"]\nfrom_env = "X"', "secrets.1K: expected an env"),
        ('[secrets.K]\nhosts = ["a.example"]\nfrom_env = "X"\nheader = "a b"', "header: expected"),
        ("secrets = 3", "secrets: expected [secrets.KEY] tables, got 3"),
    ):
        with pytest.raises(ConfigError) as err:
            parse_config_text(text)
        assert message in str(err.value)
        assert "\n" not in str(err.value)
    assert parse_config_text(render_default_config("web")).secrets == ()


def test_only_declared_secrets_are_stored_at_spawn() -> None:
    declared = parse_config_text(
        '[secrets.A]\nhosts = ["a.example"]\nfrom_env = "X"\n'
        '[secrets.B]\nhosts = ["b.example"]\nfrom_env = "Y"\n'
    ).secrets
    assert [s.key for s in plan_declared(declared, {"B": "v"})] == ["B"]
    with pytest.raises(ConfigError, match=r"^secrets: expected keys .* \(A, B\), got 'C'$"):
        plan_declared(declared, {"C": "v"})
    with pytest.raises(ConfigError, match=r"^secret value: expected a non-empty value"):
        plan_declared(declared, {"A": ""})
