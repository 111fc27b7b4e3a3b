"""Which routes of the API the tier exercised (issue 13): every route must be reached.

:class:`Recorder` wraps a served app and notes ``(method, route path)`` of every request a
route handled (``"WS"`` for a WebSocket); :func:`routes_of` lists what an app serves, Mount
sub-routes and WebSocket routes included. ``test_routes_covered.py`` compares the two once the
whole tier has run.
"""

from __future__ import annotations

from collections.abc import Iterable

from starlette.routing import BaseRoute, Mount, Route, WebSocketRoute
from starlette.types import ASGIApp, Receive, Scope, Send

Key = tuple[str, str]
EXERCISED: set[Key] = set()


def key_of(route: BaseRoute, method: str) -> Key | None:
    """The key of ``route`` for a request of ``method``; None when the route does not serve
    that method (it answered 405)."""
    if isinstance(route, WebSocketRoute):
        return ("WS", route.path)
    if isinstance(route, Route):
        method = "GET" if method == "HEAD" else method
        return (method, route.path) if method in (route.methods or ()) else None
    if isinstance(route, Mount):  # an app without routes of its own (static files)
        return ("GET", route.path_format)
    return None


def routes_of(routes: Iterable[BaseRoute]) -> set[Key]:
    """Every (method, path) ``routes`` serve, through Mounts of apps with routes."""
    keys: set[Key] = set()
    for route in routes:
        if isinstance(route, Mount) and route.routes:
            # The recorder sees the inner route's own path: only a mount at "" keeps it whole.
            assert route.path == "", f"mount at {route.path!r}: prefix its routes here"
            keys |= routes_of(route.routes)
        elif isinstance(route, Route):
            keys |= {k for m in route.methods or () if (k := key_of(route, m))}
        elif (found := key_of(route, "GET")) is not None:
            keys.add(found)
        else:
            raise AssertionError(f"a route of unknown kind: {route!r}")
    return keys


def app_routes(app: object) -> set[Key]:
    """The routes of ``app``, through middleware that wraps it (``.app``)."""
    while not hasattr(app, "routes"):
        app = app.app  # type: ignore[attr-defined]
    return routes_of(app.routes)


class Recorder:
    """Notes in :data:`EXERCISED` the route of every request ``app`` serves."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self.app(scope, receive, send)
        finally:
            # Starlette's router puts the route it picked into the scope; the innermost wins.
            route = scope.get("route")
            if isinstance(route, Mount) and route.routes:
                route = None  # the mounted app's router found nothing: a 404, no route
            if route is not None and scope["type"] in ("http", "websocket"):
                found = key_of(route, scope.get("method", "WS"))
                if found is not None:
                    EXERCISED.add(found)
