"""Bloom's tokens in a real SQLite file, and the auth middleware over Starlette's TestClient."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from colony.api.auth import COOKIE, Auth, AuthMiddleware, web_routes
from colony.store.db import connect
from colony.store.tokens import Tokens

with warnings.catch_warnings():
    # Starlette 1.x would rather drive its TestClient with httpx2; httpx still works.
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def tokens(tmp_path: Path) -> Tokens:
    return Tokens(connect(tmp_path / "mycelium.db"))


def test_a_token_is_stored_only_as_a_hash(tokens: Tokens, tmp_path: Path) -> None:
    """When a token is made, the database holds its id and a hash, never the secret."""
    raw = tokens.create("api", "ann", 1000, now=1.0, expires=None)
    ident, secret = raw.split(".")
    row = tokens.conn.execute("SELECT * FROM tokens").fetchone()
    assert row["id"] == ident
    assert secret not in (tmp_path / "mycelium.db").read_bytes().decode("latin-1")
    assert secret not in tuple(str(v) for v in row)


def test_check_needs_the_right_secret_kind_and_time(tokens: Tokens) -> None:
    raw = tokens.create("session", "ann", 1000, now=1.0, expires=10.0)
    rec = tokens.check(raw, "session", now=5.0)
    assert rec is not None
    assert (rec.user, rec.uid) == ("ann", 1000)
    assert tokens.check(raw, "api", now=5.0) is None  # wrong kind
    assert tokens.check(raw, ("api", "session"), now=5.0) is not None
    assert tokens.check(raw + "x", "session", now=5.0) is None  # wrong secret
    assert tokens.check(raw, "session", now=10.0) is None  # expired
    assert tokens.check("junk", "session", now=5.0) is None


def test_consume_works_once(tokens: Tokens) -> None:
    raw = tokens.create("login", "ann", 1000, now=1.0, expires=100.0)
    assert tokens.consume(raw, "login", now=2.0) is not None
    assert tokens.consume(raw, "login", now=2.0) is None


def test_revoke_ends_only_that_users_tokens(tokens: Tokens) -> None:
    ann = [tokens.create(kind, "ann", 1000, now=1.0, expires=None) for kind in ("api", "session")]
    bob = tokens.create("api", "bob", 1001, now=1.0, expires=None)
    assert tokens.revoke("ann") == 2
    assert all(tokens.check(t, ("api", "session"), now=2.0) is None for t in ann)
    assert tokens.check(bob, "api", now=2.0) is not None


def test_purge_drops_expired_tokens(tokens: Tokens) -> None:
    tokens.create("login", "ann", 1000, now=1.0, expires=5.0)
    tokens.create("api", "ann", 1000, now=1.0, expires=None)
    assert tokens.purge(now=6.0) == 1


# --- the middleware ------------------------------------------------------------------------


@pytest.fixture
def auth(tokens: Tokens) -> Auth:
    auth = Auth(tokens, clock=Clock())
    auth.base_url = "http://testserver"
    return auth


@pytest.fixture
def client(auth: Auth) -> TestClient:
    async def whoami(request: Request) -> JSONResponse:
        return JSONResponse({"user": request.state.user, "uid": request.state.peer_uid})

    async def echo(ws: WebSocket) -> None:
        await ws.accept()
        await ws.send_json({"user": ws.state.user})
        await ws.close()

    app = Starlette(
        routes=[
            *web_routes(auth),
            Route("/whoami", whoami, methods=["GET", "POST"]),
            WebSocketRoute("/events", echo),
        ]
    )
    return TestClient(AuthMiddleware(app, auth), follow_redirects=False)


def test_no_token_is_401(client: TestClient) -> None:
    response = client.get("/whoami")
    assert response.status_code == 401
    assert response.json()["error"]["type"] == "Unauthorized"
    assert "colony dashboard" in client.get("/whoami", headers={"Accept": "text/html"}).text


def test_bearer_acts_as_the_tokens_user(client: TestClient, auth: Auth) -> None:
    token = auth.api_token("ann", 1000)["token"]
    response = client.get("/whoami", headers={"Authorization": f"Bearer {token}"})
    assert response.json() == {"user": "ann", "uid": 1000}


def test_login_sets_a_strict_httponly_cookie_once(client: TestClient, auth: Auth) -> None:
    url = auth.login_url("ann", 1000)["url"]
    response = client.get(url)
    assert response.status_code == 303
    assert "httponly" in response.headers["set-cookie"].lower()
    assert "samesite=strict" in response.headers["set-cookie"].lower()
    session = response.cookies[COOKIE]
    client.cookies.set(COOKIE, session)
    assert client.get("/whoami").json()["user"] == "ann"
    assert client.get(url).status_code == 401  # used up


def test_cookie_writes_need_bloom_as_origin(client: TestClient, auth: Auth) -> None:
    session = auth.login(auth.login_url("ann", 1000)["url"].split("token=")[1])
    assert session is not None
    client.cookies.set(COOKIE, session)
    assert client.post("/whoami").status_code == 403  # no Origin
    assert client.post("/whoami", headers={"Origin": "http://evil.localhost"}).status_code == 403
    assert client.post("/whoami", headers={"Origin": "http://testserver"}).status_code == 200
    assert client.get("/whoami").status_code == 200  # reads need no Origin


def test_websockets_need_a_token_and_bloom_as_origin(client: TestClient, auth: Auth) -> None:
    with pytest.raises(WebSocketDisconnect), client.websocket_connect("/events"):
        pass
    session = auth.login(auth.login_url("ann", 1000)["url"].split("token=")[1])
    assert session is not None
    client.cookies.set(COOKIE, session)
    with pytest.raises(WebSocketDisconnect), client.websocket_connect("/events"):
        pass
    with client.websocket_connect("/events", headers={"Origin": "http://testserver"}) as ws:
        assert ws.receive_json() == {"user": "ann"}


def test_logout_ends_the_session(client: TestClient, auth: Auth) -> None:
    session = auth.login(auth.login_url("ann", 1000)["url"].split("token=")[1])
    assert session is not None
    client.cookies.set(COOKIE, session)
    assert client.post("/logout", headers={"Origin": "http://testserver"}).status_code == 200
    client.cookies.set(COOKIE, session)
    assert client.get("/whoami").status_code == 401


def test_login_url_needs_the_listener(tokens: Tokens) -> None:
    from colony.errors import Conflict

    auth = Auth(tokens, clock=Clock(), off="Bloom is not listening: port taken")
    with pytest.raises(Conflict, match="port taken"):
        auth.login_url("ann", 1000)
