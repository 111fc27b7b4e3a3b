"""Who may open a preview (issue 14): tokens, links, cookies and the default mode."""

from __future__ import annotations

import pytest

from colony.core import preview_auth as pa
from colony.errors import ConfigError

KEY = b"k" * 32


def test_a_token_names_its_user_for_one_colony_until_it_expires() -> None:
    token = pa.mint(KEY, "alice", "web", expires=100)
    assert pa.verify(KEY, token, "web", now=99) == "alice"
    assert pa.verify(KEY, token, "web", now=100) is None  # expired
    assert pa.verify(KEY, token, "api", now=1) is None  # another colony's preview
    assert pa.verify(b"x" * 32, token, "web", now=1) is None  # another daemon's key
    body, _, sig = token.partition(".")
    forged = pa.mint(b"x" * 32, "root", "web", expires=100).partition(".")[0] + "." + sig
    assert pa.verify(KEY, forged, "web", now=1) is None
    for junk in ("", ".", "a.b", body, "é.é", "x" * 2000):
        assert pa.verify(KEY, junk, "web", now=1) is None


def test_a_link_carries_the_token_and_the_visit_drops_it() -> None:
    link = pa.with_token("http://web.shop.localhost:7080/", "T.S")
    assert link == "http://web.shop.localhost:7080/?colony_token=T.S"
    assert pa.take_param("/app?x=1&colony_token=T.S&y=2") == ("/app?x=1&y=2", "T.S")
    assert pa.take_param("/app?x=1") == ("/app?x=1", None)
    assert pa.take_param("/?colony_token=A") == ("/", "A")
    answer = pa.render_redirect("/app?x=1", "T.S").decode()
    assert answer.startswith("HTTP/1.1 303 See Other\r\nLocation: /app?x=1\r\n")
    assert "Set-Cookie: colony_preview=T.S; Path=/; HttpOnly; SameSite=Lax" in answer
    assert "Location: /\r\n" in pa.render_redirect("/a\r\nX-Evil: 1", "T").decode()


def test_the_cookie_is_found_among_others() -> None:
    assert pa.cookie_token(["a=1; colony_preview=T.S; b=2"]) == "T.S"
    assert pa.cookie_token(["a=1", 'colony_preview="Q"']) == "Q"
    assert pa.cookie_token(["colony_previewx=1", "a"]) is None


def test_the_default_asks_for_proof_where_several_people_have_accounts() -> None:
    assert pa.default_mode(0) == "off"
    assert pa.default_mode(1) == "off"
    assert pa.default_mode(2) == "users"
    assert pa.is_human(1000, "/bin/bash")
    assert not pa.is_human(1000, "/usr/sbin/nologin")
    assert not pa.is_human(65534, "/bin/sh")  # nobody
    assert not pa.is_human(999, "/bin/sh")  # a system account
    assert pa.parse_mode("local") == "local"
    with pytest.raises(ConfigError, match="'open' is not a mode; expected off, local or users"):
        pa.parse_mode("open")


def test_a_refused_visitor_is_told_whom_to_ask() -> None:
    assert pa.denial("web", "alice", "bob", "users") == (
        "bob may not open the preview of colony 'web'; ask alice or an admin: "
        "colony share web --with bob"
    )
    assert "open the link 'colony url' prints" in pa.denial("web", "alice", None, "users")
    assert "link" not in pa.denial("web", "alice", None, "local")
