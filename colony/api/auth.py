"""Tokens for Mycelium's HTTP listener (Bloom): login URLs, browser sessions, API tokens.

The Unix socket identifies callers by their peer credentials and needs no token. The TCP
listener serves the same API plus Bloom, and :class:`AuthMiddleware` lets a request through
only with a session cookie (browsers) or ``Authorization: Bearer <token>`` (scripts). The
caller then acts as the user the token was made for.

How a browser logs in: ``colony dashboard`` asks ``POST /auth/dashboard`` on the Unix socket
for a one-time login URL; visiting it swaps the login token for a session cookie (HttpOnly,
SameSite=Strict) and redirects to Bloom. ``POST /auth/revoke`` ends every token and session of
the caller.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from colony.api.common import caller
from colony.errors import ColonyError, Conflict, Forbidden, Unauthorized
from colony.store.tokens import TokenRecord, Tokens

COOKIE = "colony_session"
LOGIN_TTL = 600.0  # seconds a login URL stays valid (it works once)
SESSION_TTL = 7 * 86400.0  # seconds a browser session lasts
PUBLIC = ("/login", "/static/", "/favicon.ico")
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
LOGIN_HINT = "run 'colony dashboard' for a login URL, or send 'Authorization: Bearer <token>'"


@dataclass
class Auth:
    """Issues and checks the tokens of one daemon.

    ``base_url`` is set once the HTTP listener is bound; while it is None, ``off`` says why.
    """

    tokens: Tokens
    clock: Callable[[], float]
    base_url: str | None = None
    off: str = "Bloom is off (Mycelium was started with --http-port off)"

    def login_url(self, user: str, uid: int | None) -> dict[str, Any]:
        if self.base_url is None:
            raise Conflict(self.off, hint="restart Mycelium with --http-port PORT")
        now = self.clock()
        self.tokens.purge(now)
        token = self.tokens.create("login", user, uid, now=now, expires=now + LOGIN_TTL)
        url = f"{self.base_url}/login?token={token}"
        return {"url": url, "user": user, "expires": now + LOGIN_TTL}

    def api_token(self, user: str, uid: int | None) -> dict[str, Any]:
        token = self.tokens.create("api", user, uid, now=self.clock(), expires=None)
        return {"token": token, "user": user, "url": self.base_url}

    def login(self, token: str) -> str | None:
        """A new session token for a valid login token (which is used up), else None."""
        now = self.clock()
        rec = self.tokens.consume(token, "login", now=now)
        if rec is None:
            return None
        return self.tokens.create("session", rec.user, rec.uid, now=now, expires=now + SESSION_TTL)

    def identify(self, headers: Headers) -> tuple[TokenRecord | None, bool]:
        """(the token's record or None, whether it came from the cookie)."""
        bearer = headers.get("authorization", "")
        if bearer[:7].lower() == "bearer ":
            token = bearer[7:].strip()
            return self.tokens.check(token, ("api", "session"), now=self.clock()), False
        cookie = _cookies(headers).get(COOKIE)
        if cookie:
            return self.tokens.check(cookie, "session", now=self.clock()), True
        return None, False

    def revoke(self, user: str) -> int:
        return self.tokens.revoke(user)


def _cookies(headers: Headers) -> dict[str, str]:
    jar: dict[str, str] = {}
    for header in headers.getlist("cookie"):
        for part in header.split(";"):
            key, eq, value = part.strip().partition("=")
            if eq:
                jar[key] = value
    return jar


def same_origin(headers: Headers, scheme: str) -> bool:
    """Whether the request's Origin is the listener itself (a browser always sends Origin on
    WebSocket handshakes and on fetches that change something)."""
    origin = headers.get("origin")
    host = headers.get("host")
    return bool(origin and host) and origin == f"{scheme}://{host}"


class AuthMiddleware:
    """Refuses every request without a valid token except the login page and static files.

    Cookie-authenticated requests that change something (and WebSockets) must also come from
    Bloom's own origin, so another site cannot ride on the browser's session.
    """

    def __init__(self, app: ASGIApp, auth: Auth) -> None:
        self.app = app
        self.auth = auth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or scope["path"].startswith(PUBLIC):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        rec, from_cookie = self.auth.identify(headers)
        error: ColonyError | None = None
        if rec is None:
            error = Unauthorized("no valid token or session", hint=LOGIN_HINT)
        elif from_cookie and (scope["type"] == "websocket" or scope["method"] not in SAFE_METHODS):
            scheme = "https" if scope.get("scheme") in ("https", "wss") else "http"
            if not same_origin(headers, scheme):
                error = Forbidden("cross-origin request refused: the Origin is not Bloom's")
        if error is not None:
            await _deny(scope, receive, send, error, headers)
            return
        assert rec is not None
        state = scope.setdefault("state", {})
        state.update(peer_uid=rec.uid, user=rec.user, token_id=rec.id)
        await self.app(scope, receive, send)


async def _deny(
    scope: Scope, receive: Receive, send: Send, exc: ColonyError, headers: Headers
) -> None:
    if scope["type"] == "websocket":
        await receive()  # websocket.connect
        if "websocket.http.response" in scope.get("extensions", {}):
            body = JSONResponse({"error": exc.to_json()}, status_code=exc.status)
            await send(
                {
                    "type": "websocket.http.response.start",
                    "status": exc.status,
                    "headers": body.raw_headers,
                }
            )
            await send({"type": "websocket.http.response.body", "body": body.body})
        else:
            await send({"type": "websocket.close", "code": 1008, "reason": str(exc)})
        return
    response: Response
    if "text/html" in headers.get("accept", ""):
        response = HTMLResponse(_page(str(exc), exc.hint), status_code=exc.status)
    else:
        response = JSONResponse({"error": exc.to_json()}, status_code=exc.status)
    await response(scope, receive, send)


def _page(message: str, hint: str | None) -> str:
    hint_html = f"<p>{html.escape(hint)}</p>" if hint else ""
    return (
        "<!doctype html><meta charset=utf-8><title>Bloom: log in</title>"
        '<link rel="stylesheet" href="/static/bloom.css">'
        f'<main class="login"><h1>Bloom</h1><p>{html.escape(message)}</p>{hint_html}'
        "<p>Run <code>colony dashboard</code> in a terminal to get a login link.</p></main>"
    )


def unix_routes(auth: Auth) -> list[BaseRoute]:
    """Routes only the Unix socket serves: they mint and revoke tokens for its caller."""

    def _uid(request: Request) -> int | None:
        uid = getattr(request.state, "peer_uid", None)
        return uid if isinstance(uid, int) else None

    async def dashboard(request: Request) -> JSONResponse:
        """
        summary: A one-time Bloom login URL for the caller (valid 10 minutes).
        responses:
          200: {description: '{"url", "user", "expires"}'}
          409: {description: Bloom is off or its port was taken}
        """
        return JSONResponse(auth.login_url(caller(request), _uid(request)))

    async def token(request: Request) -> JSONResponse:
        """
        summary: An API token for scripts (Authorization Bearer), valid until revoked.
        responses:
          200: {description: '{"token", "user", "url"}'}
        """
        return JSONResponse(auth.api_token(caller(request), _uid(request)))

    async def revoke(request: Request) -> JSONResponse:
        """
        summary: End every login URL, session and API token of the caller.
        responses:
          200: {description: '{"revoked": N, "user"}'}
        """
        user = caller(request)
        return JSONResponse({"revoked": auth.revoke(user), "user": user})

    return [
        Route("/auth/dashboard", dashboard, methods=["POST"]),
        Route("/auth/token", token, methods=["POST"]),
        Route("/auth/revoke", revoke, methods=["POST"]),
    ]


def web_routes(auth: Auth) -> list[BaseRoute]:
    """The login and logout pages of the HTTP listener."""

    async def login(request: Request) -> Response:
        session = auth.login(request.query_params.get("token", ""))
        if session is None:
            message = "This login link is not valid: it was used already, expired or revoked."
            return HTMLResponse(_page(message, None), status_code=401)
        response = RedirectResponse("/", status_code=303)
        response.set_cookie(
            COOKIE,
            session,
            max_age=int(SESSION_TTL),
            path="/",
            httponly=True,
            samesite="strict",
        )
        return response

    async def logout(request: Request) -> Response:
        ident = getattr(request.state, "token_id", None)
        if isinstance(ident, str):
            auth.tokens.delete(ident)
        response = HTMLResponse(_page("You are logged out.", None))
        response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
        return response

    return [
        Route("/login", login, methods=["GET"], include_in_schema=False),
        Route("/logout", logout, methods=["POST"], include_in_schema=False),
    ]
