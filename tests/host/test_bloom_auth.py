"""The HTTP listener's tokens against a real Mycelium: nothing without a token, login URLs work
once, and `colony dashboard --revoke` ends every token and session of the user."""

from __future__ import annotations

import os
import socket
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
    """Bloom's origin, e.g. http://bloom.localhost:41234 (issue 11: a name of its own)."""
    assert d.client is not None
    return str(d.client.health()["http_url"])


def bloom(d: Daemon) -> httpx.Client:
    """An HTTP client of Bloom. glibc does not resolve *.localhost (browsers and curl do):
    connect to 127.0.0.1 and send Bloom's name as Host."""
    base = base_url(d)
    port = base.rsplit(":", 1)[1]
    host = base.removeprefix("http://")
    return httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"Host": host}, timeout=10)


def ws_status(
    base: str, path: str, headers: dict[str, str] | None = None, token: str | None = None
) -> int:
    """The HTTP status of a WebSocket handshake to Bloom (101 when it opened); ``token`` is
    offered as a browser does, in the subprotocol colony.token.<token>."""
    port = int(base.rsplit(":", 1)[1])
    sock = socket.create_connection(("127.0.0.1", port))
    protocols = ["colony", f"colony.token.{token}"] if token else None
    try:
        with ws_connect(
            base.replace("http://", "ws://") + path,
            sock=sock,
            additional_headers=headers,
            subprotocols=protocols,  # type: ignore[arg-type]
            open_timeout=10,
        ):
            return 101
    except InvalidStatus as exc:
        return exc.response.status_code
    finally:
        sock.close()


def test_without_a_token_everything_answers_401(daemon: Daemon) -> None:
    """When no token is sent, the TCP API, Bloom's pages and the WebSockets answer 401, while
    the login page and the Unix socket need none."""
    base = base_url(daemon)
    assert base.startswith("http://bloom.localhost:")
    with bloom(daemon) as http:
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
    assert ws_status(base, "/events") == 401
    assert ws_status(base, "/colonies/x/exec") == 401
    assert daemon.client is not None
    assert daemon.client.colonies().colonies == []  # the Unix socket: no token


def test_login_url_works_once_and_revoke_ends_every_token(daemon: Daemon) -> None:
    """When a login URL is used, it yields a session cookie and a token for Bloom's script and
    cannot be used again; the cookie alone opens only pages; after `colony dashboard --revoke`
    the session, its token, an API token and an unused login URL all fail."""
    base = base_url(daemon)
    url = colony_cli(daemon, "dashboard", "--no-open").strip().splitlines()[-1]
    assert url.startswith(f"{base}/login?token=")
    spare = colony_cli(daemon, "dashboard", "--no-open").strip().splitlines()[-1]
    api_token = colony_cli(daemon, "dashboard", "--token").strip()

    with bloom(daemon) as http:
        first = http.get(url.removeprefix(base))
        assert first.status_code == 200
        cookie_header = first.headers["set-cookie"]
        assert "HttpOnly" in cookie_header
        assert "samesite=strict" in cookie_header.lower()
        assert "domain" not in cookie_header.lower()  # host-only: bloom.localhost
        session = first.cookies[COOKIE]
        page_token = first.text.split('data-token="')[1].split('"')[0]
        assert http.get(url.removeprefix(base)).status_code == 401  # a login URL works once

    cookies = {"Cookie": f"{COOKIE}={session}"}
    origin = {"Origin": base}
    with bloom(daemon) as http:
        page = http.get("/", headers=cookies)
        assert page.status_code == 200
        assert "Bloom" in page.text
        assert page.headers["content-security-policy"].startswith("default-src 'self'")
        assert http.get("/colonies", headers=cookies).status_code == 403  # the cookie: pages only
        assert http.post("/gc", headers={**cookies, **origin}).status_code == 403
        for token in (api_token, page_token):
            bearer = {"Authorization": f"Bearer {token}"}
            assert http.get("/colonies", headers=bearer).json() == {"colonies": []}
            assert http.post("/gc", headers={**bearer, **origin}).status_code == 200
            # from another origin, whatever the Host says
            evil = {"Origin": "http://127.0.0.1:8000", "Host": "127.0.0.1:8000"}
            assert http.post("/gc", headers={**bearer, **evil}).status_code == 403
    assert ws_status(base, "/events", origin, token=page_token) == 101
    assert ws_status(base, "/events", {**origin, **cookies}) == 403
    assert ws_status(base, "/events", {"Origin": "http://127.0.0.1:3000"}, token=page_token) == 403

    out = colony_cli(daemon, "dashboard", "--revoke")
    assert "revoked 4 tokens and sessions of" in out

    with bloom(daemon) as http:
        assert http.get("/", headers=cookies).status_code == 401
        assert (
            http.get("/colonies", headers={"Authorization": f"Bearer {api_token}"}).status_code
            == 401
        )
        assert http.get(spare.removeprefix(base)).status_code == 401
    assert ws_status(base, "/events", origin, token=page_token) == 401
