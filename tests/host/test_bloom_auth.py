"""The HTTP listener's tokens against a real Mycelium: nothing without a token, login URLs work
once, and `colony dashboard --revoke` ends every token and session of the user."""

from __future__ import annotations

import os
import subprocess
import sys

import httpx
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect as ws_connect

from colony.api.auth import COOKIE
from tests.host.conftest import ROOT, Daemon


def colony_cli(d: Daemon, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "colony", "--socket", str(d.socket), *args],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def base_url(d: Daemon) -> str:
    assert d.client is not None
    return str(d.client.health()["http_url"])


def ws_status(url: str, headers: dict[str, str] | None = None) -> int:
    """The HTTP status of a WebSocket handshake (101 when it opened)."""
    try:
        with ws_connect(url, additional_headers=headers, open_timeout=10):
            return 101
    except InvalidStatus as exc:
        return exc.response.status_code


def test_without_a_token_everything_answers_401(daemon: Daemon) -> None:
    """When no token is sent, the TCP API, Bloom's pages and the WebSockets answer 401, while
    the login page and the Unix socket need none."""
    base = base_url(daemon)
    ws = base.replace("http://", "ws://")
    with httpx.Client(base_url=base, timeout=10) as http:
        for path in ("/", "/colonies", "/health", "/ui/colonies/x", "/ui/fragments/rows"):
            response = http.get(path)
            assert response.status_code == 401, path
        assert http.get("/", headers={"Accept": "text/html"}).text.count("colony dashboard")
        assert http.get("/colonies").json()["error"]["type"] == "Unauthorized"
        assert http.post("/colonies", json={"name": "x", "repo": "/"}).status_code == 401
        assert http.get("/colonies", headers={"Authorization": "Bearer abc.def"}).status_code == 401
        assert http.get("/colonies", headers={"Cookie": f"{COOKIE}=abc.def"}).status_code == 401
        assert http.get("/login?token=abc.def").status_code == 401
        assert http.get("/static/bloom.js").status_code == 200  # public: no secrets in it
    assert ws_status(f"{ws}/events") == 401
    assert ws_status(f"{ws}/colonies/x/exec") == 401
    assert daemon.client is not None
    assert daemon.client.colonies() == {"colonies": []}  # the Unix socket: no token


def test_login_url_works_once_and_revoke_ends_every_token(daemon: Daemon) -> None:
    """When a login URL is used, it yields a session cookie and cannot be used again; after
    `colony dashboard --revoke` the session, an API token and an unused login URL all fail."""
    base = base_url(daemon)
    url = colony_cli(daemon, "dashboard", "--no-open").strip().splitlines()[-1]
    assert url.startswith(f"{base}/login?token=")
    spare = colony_cli(daemon, "dashboard", "--no-open").strip().splitlines()[-1]
    api_token = colony_cli(daemon, "dashboard", "--token").strip()

    with httpx.Client(timeout=10) as http:
        first = http.get(url)
        assert first.status_code == 303
        assert first.headers["location"] == "/"
        cookie_header = first.headers["set-cookie"]
        assert "HttpOnly" in cookie_header
        assert "samesite=strict" in cookie_header.lower()
        session = first.cookies[COOKIE]
        assert http.get(url).status_code == 401  # a login URL works once

    cookies = {"Cookie": f"{COOKIE}={session}"}
    bearer = {"Authorization": f"Bearer {api_token}"}
    with httpx.Client(base_url=base, timeout=10) as http:
        page = http.get("/", headers=cookies)
        assert page.status_code == 200
        assert "Bloom" in page.text
        assert page.headers["content-security-policy"].startswith("default-src 'self'")
        assert http.get("/colonies", headers=cookies).json() == {"colonies": []}
        assert http.get("/colonies", headers=bearer).json() == {"colonies": []}
        # A cookie alone cannot change anything from another origin.
        evil = {"Origin": "http://evil.localhost:8000"}
        assert http.post("/gc", headers={**cookies, **evil}).status_code == 403
    ws = base.replace("http://", "ws://")
    origin = {"Origin": base}
    assert ws_status(f"{ws}/events", {**origin, "Cookie": f"{COOKIE}={session}"}) == 101
    assert ws_status(f"{ws}/events", {"Cookie": f"{COOKIE}={session}"}) == 403

    out = colony_cli(daemon, "dashboard", "--revoke")
    assert "revoked 3 tokens and sessions of" in out

    with httpx.Client(base_url=base, timeout=10) as http:
        assert http.get("/", headers=cookies).status_code == 401
        assert http.get("/colonies", headers=bearer).status_code == 401
        assert http.get(spare.removeprefix(base)).status_code == 401
    assert ws_status(f"{ws}/events", {**origin, "Cookie": f"{COOKIE}={session}"}) == 401
