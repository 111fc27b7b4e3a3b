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

from colony.api.auth import COOKIE, Auth, AuthMiddleware, Login, web_routes
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

ORIGIN = "http://bloom.localhost:8000"


@pytest.fixture
def auth(tokens: Tokens) -> Auth:
    auth = Auth(tokens, clock=Clock())
    auth.base_url = ORIGIN
    return auth


@pytest.fixture
def client(auth: Auth) -> TestClient:
    async def whoami(request: Request) -> JSONResponse:
        return JSONResponse({"user": request.state.user, "uid": request.state.peer_uid})

    async def page(request: Request) -> JSONResponse:
        return JSONResponse({"page": request.url.path})

    async def echo(ws: WebSocket) -> None:
        await ws.accept()
        await ws.send_json({"user": ws.state.user})
        await ws.close()

    app = Starlette(
        routes=[
            *web_routes(auth),
            Route("/", page),
            Route("/ui/colonies/{name}", page),
            Route("/whoami", whoami, methods=["GET", "POST"]),
            WebSocketRoute("/events", echo),
        ]
    )
    return TestClient(AuthMiddleware(app, auth), base_url=ORIGIN, follow_redirects=False)


def logged_in(client: TestClient, auth: Auth) -> Login:
    """Log in as ann: the client keeps the cookie; the token is returned for the 'script'."""
    done = auth.login(auth.login_url("ann", 1000)["url"].split("token=")[1])
    assert done is not None
    client.cookies.set(COOKIE, done.cookie)
    return done


def test_no_token_is_401(client: TestClient) -> None:
    response = client.get("/whoami")
    assert response.status_code == 401
    assert response.json()["error"]["type"] == "Unauthorized"
    assert "colony dashboard" in client.get("/whoami", headers={"Accept": "text/html"}).text


def test_bearer_acts_as_the_tokens_user(client: TestClient, auth: Auth) -> None:
    token = auth.api_token("ann", 1000)["token"]
    response = client.get("/whoami", headers={"Authorization": f"Bearer {token}"})
    assert response.json() == {"user": "ann", "uid": 1000}


def test_login_sets_a_host_only_cookie_and_hands_the_page_a_token(
    client: TestClient, auth: Auth
) -> None:
    """When a login URL is visited, the answer sets a strict, HttpOnly cookie without Domain
    (host-only) and is a page that hands Bloom's script a token; the URL works once."""
    url = auth.login_url("ann", 1000)["url"]
    assert url.startswith(f"{ORIGIN}/login?token=")
    response = client.get(url)
    assert response.status_code == 200
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie
    assert "samesite=strict" in cookie
    assert "domain" not in cookie
    assert response.headers["cache-control"] == "no-store"
    assert '<script src="/static/login.js">' in response.text
    token = response.text.split('data-token="')[1].split('"')[0]
    assert client.get("/whoami", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    assert client.get(url).status_code == 401  # used up


def test_the_cookie_alone_opens_only_page_skeletons(client: TestClient, auth: Auth) -> None:
    """When a request carries only the session cookie (what any server on Bloom's name but
    another port can make a browser send, issue 11), pages open, and the API, writes and
    WebSockets are refused, even from Bloom's own origin."""
    logged_in(client, auth)
    assert client.get("/").json() == {"page": "/"}
    assert client.get("/ui/colonies/x").status_code == 200
    origin = {"Origin": ORIGIN}
    assert client.get("/whoami").status_code == 403
    forbidden = client.post("/whoami", headers=origin)
    assert forbidden.status_code == 403
    assert "only Bloom's session cookie" in forbidden.json()["error"]["message"]
    with pytest.raises(WebSocketDisconnect), client.websocket_connect("/events", headers=origin):
        pass


def test_the_token_works_from_bloom_only(client: TestClient, auth: Auth) -> None:
    """When Bloom's script sends its token, it acts as the user; a request from any other
    origin is refused, whatever its Host says; the cookie is not a token."""
    done = logged_in(client, auth)
    bearer = {"Authorization": f"Bearer {done.token}"}
    assert client.post("/whoami", headers={**bearer, "Origin": ORIGIN}).status_code == 200
    assert client.get("/whoami", headers=bearer).status_code == 200  # no Origin: a script
    for origin in ("http://127.0.0.1:8000", "http://evil.localhost", "http://bloom.localhost:9"):
        replay = {**bearer, "Origin": origin, "Host": origin.removeprefix("http://")}
        assert client.post("/whoami", headers=replay).status_code == 403, origin
    cookie_as_token = {"Authorization": f"Bearer {done.cookie}"}
    assert client.get("/whoami", headers=cookie_as_token).status_code == 401


def test_websockets_take_the_token_as_a_subprotocol(client: TestClient, auth: Auth) -> None:
    """When a browser's WebSocket offers 'colony' and 'colony.token.<token>', it opens with
    'colony' chosen; without the token or from another origin it is refused."""
    done = logged_in(client, auth)
    offered = ["colony", f"colony.token.{done.token}"]
    origin = {"Origin": ORIGIN}
    with client.websocket_connect("/events", subprotocols=offered, headers=origin) as ws:
        assert ws.accepted_subprotocol == "colony"
        assert ws.receive_json() == {"user": "ann"}
    evil = {"Origin": "http://127.0.0.1:3000"}
    with (
        pytest.raises(WebSocketDisconnect),
        client.websocket_connect("/events", subprotocols=offered, headers=evil),
    ):
        pass
    with (
        pytest.raises(WebSocketDisconnect),
        client.websocket_connect("/events", subprotocols=["colony", "colony.token.x.y"]),
    ):
        pass


def test_logout_ends_the_token_and_the_session(client: TestClient, auth: Auth) -> None:
    done = logged_in(client, auth)
    bearer = {"Authorization": f"Bearer {done.token}", "Origin": ORIGIN}
    assert client.post("/logout", headers=bearer).status_code == 200
    client.cookies.set(COOKIE, done.cookie)
    assert client.get("/").status_code == 401
    assert (
        client.get("/whoami", headers={"Authorization": f"Bearer {done.token}"}).status_code == 401
    )


def test_login_url_needs_the_listener(tokens: Tokens) -> None:
    from colony.errors import Conflict

    auth = Auth(tokens, clock=Clock(), off="Bloom is not listening: port taken")
    with pytest.raises(Conflict, match="port taken"):
        auth.login_url("ann", 1000)
