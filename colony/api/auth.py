"""Tokens for Mycelium's HTTP listener (Bloom): login URLs, browser sessions, API tokens.

The Unix socket identifies callers by their peer credentials and needs no token. The TCP
listener serves the same API plus Bloom on a name of its own (``http://bloom.localhost:8000``),
and :class:`AuthMiddleware` lets a request through only with a token; the caller then acts as
the user the token was made for.

How a browser logs in: ``colony dashboard`` asks ``POST /auth/dashboard`` on the Unix socket
for a one-time login URL; visiting it swaps the login token for two: a session cookie
(HttpOnly, SameSite=Strict, host-only) and an API token that the login page hands to Bloom's
script, which keeps it in the origin's own storage and sends it as ``Authorization: Bearer``
(and in the WebSocket subprotocol ``colony.token.<token>``, browsers sending no headers there).

Why two (issue 11): cookies are not isolated by port, so any server on ``bloom.localhost:<any
port>`` (a colony at level none, any local user) can make the browser hand it the cookie. The
cookie alone therefore opens only Bloom's page skeletons, which hold no data; the API, the
fragments, the WebSockets and every change need the token, which storage keeps per origin
(port included). A request whose ``Origin`` is not Bloom's configured origin is refused.
``POST /auth/revoke`` ends every token and session of the caller.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from colony.api.common import caller
from colony.errors import ColonyError, Conflict, Forbidden, Unauthorized
from colony.store.tokens import TokenRecord, Tokens

COOKIE = "colony_session"
WS_PROTOCOL = "colony"  # the subprotocol a browser's WebSocket offers next to its token's
WS_TOKEN = "colony.token."  # prefix of the subprotocol that carries the token
LOGIN_TTL = 600.0  # seconds a login URL stays valid (it works once)
SESSION_TTL = 7 * 86400.0  # seconds a browser session lasts
PUBLIC = ("/login", "/static/", "/favicon.ico")
PAGES = re.compile(r"/|/ui/broods|/ui/colonies/[^/]+")  # skeletons: the cookie opens these
LOGIN_HINT = "run 'colony dashboard' for a login URL, or send 'Authorization: Bearer <token>'"
COOKIE_ONLY = "this request carries only Bloom's session cookie, which opens Bloom's pages only"
COOKIE_HINT = (
    "Bloom's pages send their token; if this browser lost it, run 'colony dashboard' for a new "
    "login URL. Scripts send 'Authorization: Bearer <token>' ('colony dashboard --token')"
)


@dataclass(frozen=True)
class Login:
    """What a used login URL yields: the session cookie and the token for Bloom's script."""

    cookie: str
    token: str


@dataclass(frozen=True)
class Caller:
    """Who sent a request: the token's record, and whether it came only as the cookie."""

    rec: TokenRecord
    cookie_only: bool


@dataclass
class Auth:
    """Issues and checks the tokens of one daemon.

    ``base_url`` is set once the HTTP listener is bound: Bloom's origin
    (``http://bloom.localhost:8000``), the only one its requests may come from. While it is
    None, ``off`` says why.
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

    def login(self, token: str) -> Login | None:
        """A session cookie and a token for a valid login token (used up here), else None."""
        now = self.clock()
        rec = self.tokens.consume(token, "login", now=now)
        if rec is None:
            return None
        ends = now + SESSION_TTL
        return Login(
            cookie=self.tokens.create("session", rec.user, rec.uid, now=now, expires=ends),
            token=self.tokens.create("api", rec.user, rec.uid, now=now, expires=ends),
        )

    def identify(self, headers: Headers) -> Caller | None:
        """The caller of a request with a valid token, else None.

        A token (``Authorization: Bearer``, or a WebSocket subprotocol ``colony.token.<t>``)
        must be an API token; the cookie, a session. A token that is sent wins.
        """
        token = bearer_token(headers)
        if token is not None:
            rec = self.tokens.check(token, "api", now=self.clock())
            return None if rec is None else Caller(rec, cookie_only=False)
        cookie = _cookies(headers).get(COOKIE)
        if cookie:
            rec = self.tokens.check(cookie, "session", now=self.clock())
            return None if rec is None else Caller(rec, cookie_only=True)
        return None

    def logout(self, headers: Headers) -> None:
        """End the token and the session cookie a request carries."""
        for token in (bearer_token(headers), _cookies(headers).get(COOKIE)):
            rec = self.tokens.check(token, ("api", "session"), now=self.clock()) if token else None
            if rec is not None:
                self.tokens.delete(rec.id)

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


def bearer_token(headers: Headers) -> str | None:
    """The token of ``Authorization: Bearer``, or of a ``colony.token.<t>`` subprotocol."""
    bearer = headers.get("authorization", "")
    if bearer[:7].lower() == "bearer ":
        return bearer[7:].strip()
    for header in headers.getlist("sec-websocket-protocol"):
        for offered in header.split(","):
            if offered.strip().startswith(WS_TOKEN):
                return offered.strip()[len(WS_TOKEN) :]
    return None


def check_origin(origin: str | None, bloom: str | None) -> bool:
    """Whether a request may come from ``origin``: none (scripts send none), or exactly
    Bloom's configured origin; never compared with the request's own Host (issue 11)."""
    return origin is None or (bloom is not None and origin == bloom)


def plan_denial(
    caller: Caller | None, scope: Scope, origin: str | None, bloom: str | None
) -> ColonyError | None:
    """Why a request on the HTTP listener is refused, or None when it may pass."""
    if caller is None:
        return Unauthorized("no valid token or session", hint=LOGIN_HINT)
    if not check_origin(origin, bloom):
        return Forbidden(
            f"cross-origin request refused: {str(origin)[:100]!r} is not Bloom's origin"
        )
    page = scope["type"] == "http" and scope["method"] in ("GET", "HEAD")
    if caller.cookie_only and not (page and PAGES.fullmatch(scope["path"])):
        return Forbidden(COOKIE_ONLY, hint=COOKIE_HINT)
    return None


CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; frame-src http: https:; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
PAGE_HEADERS = {
    "Content-Security-Policy": CSP,
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


class AuthMiddleware:
    """Refuses every request without a valid token except the login page and static files.

    The session cookie alone opens only the page skeletons; everything else needs the token,
    and no request may come from an origin other than Bloom's (see the module's docstring).
    """

    def __init__(self, app: ASGIApp, auth: Auth) -> None:
        self.app = app
        self.auth = auth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or scope["path"].startswith(PUBLIC):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        caller = self.auth.identify(headers)
        error = plan_denial(caller, scope, headers.get("origin"), self.auth.base_url)
        if error is not None:
            await deny(scope, receive, send, error, headers)
            return
        assert caller is not None
        state = scope.setdefault("state", {})
        state.update(peer_uid=caller.rec.uid, user=caller.rec.user, token_id=caller.rec.id)
        if scope["type"] == "websocket":
            send = _choosing_protocol(send, headers)
        await self.app(scope, receive, send)


def _choosing_protocol(send: Send, headers: Headers) -> Send:
    """A browser that offered subprotocols fails a handshake that picks none: pick
    ``colony`` for handlers that accept without one."""
    offered = [p.strip() for h in headers.getlist("sec-websocket-protocol") for p in h.split(",")]
    if WS_PROTOCOL not in offered:
        return send

    async def choosing(message: Message) -> None:
        if message["type"] == "websocket.accept" and not message.get("subprotocol"):
            message = {**message, "subprotocol": WS_PROTOCOL}
        await send(message)

    return choosing


async def deny(
    scope: Scope, receive: Receive, send: Send, exc: ColonyError, headers: Headers
) -> None:
    """Answer a refused request: the error as JSON (a page for a browser), or a refused
    WebSocket handshake."""
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


def _login_page(token: str) -> str:
    """Hands the token to Bloom's script (``login.js`` keeps it in this origin's storage)."""
    return (
        "<!doctype html><meta charset=utf-8><title>Bloom: logging in</title>"
        '<link rel="stylesheet" href="/static/bloom.css">'
        f'<main class="login" id="login" data-token="{html.escape(token)}"><h1>Bloom</h1>'
        "<p>Logging in…</p><noscript><p>Bloom needs JavaScript.</p></noscript></main>"
        '<script src="/static/login.js"></script>'
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
        done = auth.login(request.query_params.get("token", ""))
        if done is None:
            message = "This login link is not valid: it was used already, expired or revoked."
            return HTMLResponse(_page(message, None), status_code=401)
        response = HTMLResponse(_login_page(done.token), headers=PAGE_HEADERS)
        response.set_cookie(  # no Domain: host-only, for Bloom's own name
            COOKIE,
            done.cookie,
            max_age=int(SESSION_TTL),
            path="/",
            httponly=True,
            samesite="strict",
        )
        return response

    async def logout(request: Request) -> Response:
        auth.logout(request.headers)
        response = JSONResponse({"logged_out": True})
        response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
        return response

    return [
        Route("/login", login, methods=["GET"], include_in_schema=False),
        Route("/logout", logout, methods=["POST"], include_in_schema=False),
    ]
