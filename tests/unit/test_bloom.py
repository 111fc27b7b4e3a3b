"""Pure parts of Bloom and Stem: formatting, the buttons a state offers, the --http-port value."""

from __future__ import annotations

import click
import pytest
from rich.text import Text
from starlette.datastructures import Headers

from colony.api.auth import Caller, bearer_token, check_origin, plan_denial
from colony.cli.daemon import _host_name, _http_port
from colony.cli.dashboard import format_login
from colony.contract_responses import Login
from colony.store.tokens import TokenRecord, hash_secret, split_token
from colony.tui.widgets.colonies import format_row
from colony.tui.widgets.dialogs import KEYS
from colony.web import filters
from tests.answers import a_colony, service_json


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0s ago"), (59, "59s ago"), (60, "1m ago"), (3600, "1h ago"), (2 * 86400, "2d ago")],
)
def test_format_age(seconds: int, text: str) -> None:
    assert filters.format_age(1000.0, now=1000.0 + seconds) == text


def test_format_age_of_nothing_is_empty() -> None:
    assert filters.format_age(None, now=1.0) == ""


@pytest.mark.parametrize(
    ("n", "text"), [(0, "0 B"), (1023, "1023 B"), (1536, "1.5 KiB"), (3 << 20, "3.0 MiB")]
)
def test_format_bytes(n: int, text: str) -> None:
    assert filters.format_bytes(n) == text


def test_cpu_percent_between_two_samples() -> None:
    """When 0.5 s of CPU was used in 2 s, that is 25% of one core."""
    assert filters.cpu_percent((10.0, 1_000_000), (12.0, 1_500_000)) == 25.0


def test_cpu_percent_needs_a_previous_sample() -> None:
    assert filters.cpu_percent(None, (12.0, 1)) is None
    assert filters.cpu_percent((12.0, 1), (12.0, 5)) is None


def test_format_usage_shows_what_is_known() -> None:
    assert filters.format_usage({"cpu_percent": 12.5, "memory": 2 << 20, "pids": 3}) == (
        "12.5% CPU · 2.0 MiB · 3 pids"
    )
    assert filters.format_usage({"cpu_usec": 1_500_000, "cpu_percent": None}) == "1.5s CPU"
    assert filters.format_usage(None) == ""


def test_actions_follow_the_state() -> None:
    assert filters.actions_for("running") == ["stop", "restart", "remove"]
    assert filters.actions_for("stopped") == ["start", "remove"]
    assert filters.actions_for("failed") == ["start", "remove"]


def test_format_time_has_milliseconds() -> None:
    assert filters.format_time(0.25).endswith(".250")
    assert filters.format_time(None) == ""


def test_format_login_puts_the_url_last() -> None:
    text = format_login(
        Login(url="http://bloom.localhost:8000/login?token=a.b", user="ann", expires=700.0),
        now=100.0,
    )
    assert text.splitlines() == [
        "Bloom login for ann (works once, for 10 minutes):",
        "http://bloom.localhost:8000/login?token=a.b",
    ]


@pytest.mark.parametrize(
    ("value", "port"), [("off", None), ("OFF", None), ("0", 0), ("8000", 8000)]
)
def test_http_port_values(value: str, port: int | None) -> None:
    assert _http_port(click.Context(click.Command("x")), click.Option(["--p"]), value) == port


@pytest.mark.parametrize("value", ["70000", "-1", "web", ""])
def test_http_port_rejects_other_values(value: str) -> None:
    with pytest.raises(click.BadParameter, match="expected a port 0-65535 or 'off'"):
        _http_port(click.Context(click.Command("x")), click.Option(["--p"]), value)


@pytest.mark.parametrize(
    ("value", "name"), [("bloom.localhost", "bloom.localhost"), ("Dash.Example.", "dash.example")]
)
def test_http_name_values(value: str, name: str) -> None:
    assert _host_name(click.Context(click.Command("x")), click.Option(["--n"]), value) == name


@pytest.mark.parametrize("value", ["localhost", "127.0.0.1", "a_b.localhost", "-a.localhost", ""])
def test_http_name_rejects_other_values(value: str) -> None:
    """When --http-name is not a dotted host name (127.0.0.1 and localhost are where every
    other local server lives, and cookies ignore ports), it is refused in one line."""
    with pytest.raises(click.BadParameter, match=r"expected a host name such as bloom\.localhost"):
        _host_name(click.Context(click.Command("x")), click.Option(["--n"]), value)


BLOOM = "http://bloom.localhost:8000"
ANN = TokenRecord("id", "api", "ann", 1000, 0.0, None)


def scope(path: str, method: str = "GET", kind: str = "http") -> dict:
    return {"type": kind, "path": path, "method": method}


def test_origin_is_compared_with_blooms_own() -> None:
    """When a request has an Origin, only Bloom's configured one passes; none is a script."""
    assert check_origin(None, BLOOM)
    assert check_origin(BLOOM, BLOOM)
    assert not check_origin("http://127.0.0.1:8000", BLOOM)
    assert not check_origin("http://bloom.localhost:3000", BLOOM)  # same name, other port
    assert not check_origin(BLOOM, None)


def test_the_cookie_alone_opens_only_page_skeletons() -> None:
    """When the caller has only the session cookie, GETs of pages pass and the API, fragments,
    writes and WebSockets are refused (403); a token opens everything; nobody gets 401."""
    cookie, token = Caller(ANN, cookie_only=True), Caller(ANN, cookie_only=False)
    for path in ("/", "/ui/broods", "/ui/colonies/web"):
        assert plan_denial(cookie, scope(path), None, BLOOM) is None
    for refused in (
        scope("/colonies"),
        scope("/ui/fragments/rows"),
        scope("/ui/colonies/web/x"),
        scope("/", "POST"),
        scope("/events", kind="websocket"),
    ):
        denial = plan_denial(cookie, refused, BLOOM, BLOOM)
        assert denial is not None, refused
        assert denial.status == 403, refused
        assert plan_denial(token, refused, BLOOM, BLOOM) is None
    assert plan_denial(None, scope("/"), None, BLOOM).status == 401  # type: ignore[union-attr]
    evil = plan_denial(token, scope("/gc", "POST"), "http://127.0.0.1:3000", BLOOM)
    assert "not Bloom's origin" in str(evil)


def test_the_token_comes_as_bearer_or_as_a_websocket_subprotocol() -> None:
    assert bearer_token(Headers({"authorization": "Bearer a.b"})) == "a.b"
    offered = Headers({"sec-websocket-protocol": "colony, colony.token.c.d"})
    assert bearer_token(offered) == "c.d"
    assert bearer_token(Headers({"sec-websocket-protocol": "colony"})) is None
    assert bearer_token(Headers({"cookie": "colony_session=a.b"})) is None


def test_split_token() -> None:
    assert split_token("abc.def") == ("abc", "def")
    assert split_token("abcdef") is None
    assert split_token(".def") is None
    assert split_token("abc.") is None
    assert split_token("a." + "x" * 300) is None


def test_hash_secret_is_sha256_hex() -> None:
    assert hash_secret("s") == hash_secret("s")
    assert len(hash_secret("s")) == 64
    assert hash_secret("s") != "s"


def test_stem_row_cells() -> None:
    colony = a_colony(name="web", owner="ann", created=40.0, services=[service_json()])
    cells = [str(c) for c in format_row(colony, now=100.0)]
    assert cells[0] == "web"
    assert cells[1] == "running"
    assert cells[2:4] == ["", ""]  # agent and diff: not looked at yet
    assert "web" in cells[4]
    assert cells[5:] == ["ann", "1m ago"]
    watched = (Text("done"), Text("+1 -1 1f"))
    cells = [str(c) for c in format_row(colony, now=100.0, watched=watched)]
    assert cells[2:4] == ["done", "+1 -1 1f"]


def test_stem_help_lists_every_action_key() -> None:
    keys = {key for group in KEYS.values() for key, _ in group}
    assert {"n", "s", "t", "r", "d", "o", "e", "?", "q"} <= keys


def test_actions_follow_the_callers_role() -> None:
    """Bloom shows only the buttons the caller's role allows (issue 14)."""
    assert filters.actions_for("running", "viewer") == []
    assert filters.actions_for("running", "None") == []
    assert filters.actions_for("running", "operator") == ["stop", "restart"]
    assert filters.actions_for("stopped", "operator") == ["start"]
    assert filters.actions_for("running", "owner") == ["stop", "restart", "remove"]
