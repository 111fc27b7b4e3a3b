"""Bloom, the web dashboard: server-rendered pages over the API, served on the HTTP listener.

Pages are Jinja templates (``colony/web/templates``); ``colony/web/static/bloom.js`` keeps them
live: it subscribes to ``/events`` over one WebSocket and, on each event, fetches the fragment
of the page that changed (``/ui/fragments/...``) so rows and timelines are rendered in one
place. Everything else goes through the same JSON API that scripts use.

A page itself is a skeleton without data: the session cookie alone opens it, and a stolen
cookie must show nothing (issue 11; see :mod:`colony.api.auth`). The script fills it from the
fragments, which, like the API, need Bloom's token.

Example:
    >>> api = create_app(services, on_stop=stop, info={})  # doctest: +SKIP
    >>> app = create_bloom_app(api, services, auth)  # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from colony.api.access import AccessMiddleware, sight
from colony.api.auth import PAGE_HEADERS, Auth, AuthMiddleware, web_routes
from colony.api.common import error_response
from colony.api.ports import (
    Agents,
    ApiServices,
    Broods,
    Colonies,
    Conflicts,
    Network,
    Review,
    Usage,
)
from colony.api.secrets import Secrets
from colony.core.access import Action, allows
from colony.core.agents.presets import MAX_TASK, PRESETS
from colony.core.broods import MAX_COUNT
from colony.core.lifecycle import shown_state
from colony.core.notices import exit_text
from colony.core.review import FileConflict, render_visible
from colony.errors import ColonyError, NotFound
from colony.web import agentview, diffview, filters

log = logging.getLogger("colony.bloom")
WEB = Path(__file__).resolve().parents[1] / "web"
TEMPLATES = WEB / "templates"
STATIC = WEB / "static"


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = filters.format_time
    env.filters["bytes"] = filters.format_bytes
    env.filters["usage"] = filters.format_usage
    env.filters["exit"] = exit_text  # issue 12: 'killed by SIGKILL', not 'exit -9'
    env.filters["visible"] = render_visible  # control characters as \\xNN
    env.globals["actions_for"] = filters.actions_for
    env.globals["age"] = filters.format_age
    env.globals["shown_state"] = shown_state  # issue 12: degraded
    return env


class UsageSampler:
    """CPU, memory and process counts of colonies, from the daemon's resource monitor
    (issue 3): Bloom reads usage through the same service as ``GET /usage``."""

    def __init__(self, usage: Usage) -> None:
        self.usage = usage

    async def sample(self, names: list[str]) -> dict[str, dict[str, Any]]:
        found = await self.usage.samples(names, isolated=True)
        return {name: dict(sample) for name, sample in found.items()}


class UsageTicker:
    """Adds usage samples to ``/events?usage=SECONDS[&colony=NAME]`` on the HTTP listener.

    Bloom shows CPU and memory live without polling: while its one WebSocket is open, the
    daemon sends ``{"type": "usage", "at", "colonies": {name: {..., "text"}}}`` every SECONDS
    (at least 1) next to the events. Without ``usage`` the stream is exactly ``/events``.
    """

    def __init__(self, app: ASGIApp, usage: Usage) -> None:
        self.app = app
        self.usage = usage

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        query = parse_qs(scope.get("query_string", b"").decode())
        if scope["type"] != "websocket" or scope["path"] != "/events" or "usage" not in query:
            await self.app(scope, receive, send)
            return
        try:
            period = max(1.0, float(query["usage"][0]))
        except ValueError:
            period = 2.0
        only = query.get("colony", [None])[0]
        accepted = asyncio.Event()

        async def forward(message: Message) -> None:
            await send(message)
            if message["type"] == "websocket.accept":
                accepted.set()

        async with asyncio.TaskGroup() as tg:
            ticker = tg.create_task(self._tick(send, accepted, period, only))
            try:
                await self.app(scope, receive, forward)
            finally:
                ticker.cancel()

    async def _tick(
        self, send: Send, accepted: asyncio.Event, period: float, only: str | None
    ) -> None:
        await accepted.wait()
        sampler = UsageSampler(self.usage)
        while True:
            names = [only] if only else self.usage.names()
            usage = await sampler.sample(names)
            for sample in usage.values():
                sample["text"] = filters.format_usage(sample)
            message = {"type": "usage", "at": time.time(), "colonies": usage}
            try:
                await send({"type": "websocket.send", "text": json.dumps(message)})
            except Exception:  # the socket closed under us: the stream's handler ends it
                log.debug("usage ticker: send failed", exc_info=True)
                return
            await asyncio.sleep(period)


BLOCKED_ROWS = 30  # refused names a colony page lists
MAX_CHECK_OUTPUT = 20_000  # characters of a brood member's check output shown
MAX_CONFLICTS = 50  # conflicting files a banner lists


class Watch:
    """What the colonies list shows of each colony's work (issue 18): its agent's status,
    last event line, cost and tokens so far, its diff's size and whether a file it changed
    is changed by another colony of its repository too."""

    def __init__(self, agents: Agents, review: Review, conflicts: Conflicts) -> None:
        self.agents = agents
        self.review = review
        self.conflicts = conflicts

    async def of(self, colonies: list[dict[str, Any]], sees: Callable[[str], bool]) -> None:
        """Adds ``agent``, ``diff`` and ``conflicts`` to each colony (in place); the other
        colonies of a conflict are named only if the caller may see them (``sees``)."""
        try:
            found = await self.conflicts.current()
        except ColonyError:
            found = []
        stats = await asyncio.gather(*(self._stat(c) for c in colonies))
        for colony, stat in zip(colonies, stats, strict=True):
            name = colony["name"]
            colony["agent"] = self.agent(name)
            colony["diff"] = stat
            colony["conflicts"] = sorted(
                f"{f.path} (also {', '.join(self._named(f.colonies, name, sees))})"
                for f in found
                if name in f.colonies
            )

    @staticmethod
    def _named(colonies: Iterable[str], name: str, sees: Callable[[str], bool]) -> list[str]:
        return [o if sees(o) else "another colony" for o in colonies if o != name]

    def agent(self, name: str) -> dict[str, Any]:
        try:
            sessions = self.agents.sessions_of(name)
        except ColonyError:
            sessions = []
        latest = sessions[-1] if sessions else None
        last = self.agents.sessions.events(latest.id, limit=1) if latest else []
        return {
            "status": agentview.status_of(latest, queued=name in self.agents.queued),
            "line": agentview.line_of(last[-1] if last else None),
            "usage": agentview.totals(sessions).text,
            "session": latest.id if latest else None,
        }

    async def _stat(self, colony: dict[str, Any]) -> dict[str, Any] | None:
        if not colony.get("workspace") or colony.get("vcs") not in (None, "git"):
            return None
        try:
            found: dict[str, Any] = (await self.review.diff(colony["name"], stat=True))["stat"]
            return found
        except ColonyError:
            return None


def routes(
    myc: Colonies,
    usage: Usage,
    net: Network,
    review: Review,
    agents: Agents,
    conflicts: Conflicts,
    broods: Broods,
    secrets: Secrets,
) -> list[BaseRoute]:
    env = _environment()
    sampler = UsageSampler(usage)
    watch = Watch(agents, review, conflicts)

    def render(request: Request, template: str, status: int = 200, **context: Any) -> Response:
        text = env.get_template(template).render(
            user=getattr(request.state, "user", None), now=time.time(), **context
        )
        return HTMLResponse(text, status_code=status, headers=PAGE_HEADERS)

    async def listing(request: Request) -> dict[str, Any]:
        sees = sight(request)
        colonies = [c for c in myc.colonies() if sees.colony(c["name"])]
        for colony in colonies:
            colony["role"] = str(sees.role(colony["name"]))
        usage = await sampler.sample([c["name"] for c in colonies])
        for colony in colonies:
            colony["usage"] = colony.get("usage") or usage.get(colony["name"])
        await watch.of(colonies, sees.colony)
        return {"colonies": colonies}

    async def detail(request: Request, name: str) -> dict[str, Any]:
        colony = myc.colony(name)
        colony["role"] = str(sight(request).role(name))
        usage = await sampler.sample([name])
        colony["usage"] = colony.get("usage") or usage.get(name)
        return {"colony": colony}

    async def index(request: Request) -> Response:
        # a skeleton: rows come later
        return render(
            request,
            "index.html",
            colonies=None,
            presets=sorted(PRESETS),
            max_task=MAX_TASK,
            max_brood=MAX_COUNT,
        )

    async def rows(request: Request) -> Response:
        return render(request, "_rows.html", **await listing(request))

    async def colony_page(request: Request) -> Response:
        name = request.path_params["name"]
        role = sight(request).role(name)
        return render(request, "colony.html", name=name, can_exec=allows(role, Action.EXEC))

    async def previews(request: Request) -> Response:
        return render(request, "_previews.html", colony=myc.colony(request.path_params["name"]))

    async def blocked(request: Request) -> Response:
        """The names refused lately, with an "Allow" button for whoever may change the
        policy (it sends ``PATCH /colonies/{name}/policy``, issue 16)."""
        name = request.path_params["name"]
        myc.actor(name)  # 404 for an unknown colony
        rows = net.blocked(name)[:BLOCKED_ROWS]
        can_allow = allows(sight(request).role(name), Action.POLICY)
        return render(request, "_blocked.html", name=name, rows=rows, can_allow=can_allow)

    async def network_fragment(request: Request) -> Response:
        """The colony's egress policy (issues 4, 16, 18): mode, allow and deny entries and
        where the policy comes from, next to the names refused lately."""
        name = request.path_params["name"]
        myc.actor(name)  # 404 for an unknown colony
        found = net.view(name, 0)
        return render(request, "_network.html", name=name, view=found, policy=found["policy"])

    async def secrets_fragment(request: Request) -> Response:
        """The colony's secrets (issue 17): keys, hosts and headers, never values, for whoever
        may list them (the secrets API's rule: its owner and admins)."""
        name = request.path_params["name"]
        myc.actor(name)  # 404 for an unknown colony
        may = allows(sight(request).role(name), Action.POLICY)
        rows = secrets.listing(name)["secrets"] if may else []
        return render(request, "_secrets.html", name=name, rows=rows, may=may)

    async def diff_page(request: Request) -> Response:
        return render(request, "diff.html", name=request.path_params["name"])

    async def diff_fragment(request: Request) -> Response:
        """The colony's review (issue 18): its files against its base with +/- counts and
        highlighted lines, its branch's commits, its snapshots, and the buttons the caller's
        role allows (they call the review API, which checks the role again)."""
        name = request.path_params["name"]
        found = await review.diff(name)
        work = await review.work(name)
        snapshots = await review.snapshots(name)
        view = diffview.build(found["diff"], found["stat"]["paths"], work["uncommitted"])
        role = sight(request).role(name)
        return render(
            request,
            "_diff.html",
            name=name,
            found=found,
            view=view,
            commits=work["commits"],
            uncommitted=work["uncommitted"],
            snapshots=list(reversed(snapshots)),
            can_merge=allows(role, Action.MERGE),
            can_snapshot=allows(role, Action.OPERATE),
            can_remove=allows(role, Action.REMOVE),
        )

    async def agent_fragment(request: Request) -> Response:
        """The colony's agent (issue 18): the task box and continue/stop buttons for whoever
        may run agents in it (the agents API checks the role again), and the timeline of its
        latest session's events, every text escaped and capped."""
        name = request.path_params["name"]
        myc.actor(name)  # 404 for an unknown colony
        sessions = agents.sessions_of(name)
        latest = sessions[-1] if sessions else None
        events = agents.sessions.events(latest.id, limit=agentview.MAX_EVENTS) if latest else []
        return render(
            request,
            "_agent.html",
            name=name,
            latest=latest,
            agent_status=agentview.status_of(latest, queued=name in agents.queued),
            totals=agentview.totals(sessions),
            timeline=agentview.timeline(events),
            presets=sorted(PRESETS),
            max_task=MAX_TASK,
            can_agent=allows(sight(request).role(name), Action.AGENT),
        )

    async def broods_page(request: Request) -> Response:
        return render(request, "broods.html")

    async def broods_fragment(request: Request) -> Response:
        """The caller's broods (issue 18): each member's colony, diff and check output, and
        pick while none is picked (the brood API checks the caller's role again)."""
        sees = sight(request)
        found = [b for b in broods.all() if sees.owns(b.get("owner"))]
        return render(request, "_broods.html", broods=found, max_check=MAX_CHECK_OUTPUT)

    async def conflicts_fragment(request: Request) -> Response:
        """The conflicts banner (issue 18): files two colonies of one repository both change,
        of the colony ``?colony=`` only if given; a conflict shows only if the caller sees one
        of its colonies, and names only the colonies the caller may see."""
        sees = sight(request)
        only = request.query_params.get("colony")
        rows = []
        if only and not sees.colony(only):  # no hint that an unseen colony conflicts
            return render(request, "_conflicts.html", rows=[], more=0)
        for f in await _conflicts():
            if (only and only not in f.colonies) or not any(map(sees.colony, f.colonies)):
                continue
            named = [c for c in f.colonies if sees.colony(c)]
            rows.append(
                {
                    "path": f.path,
                    "repo": f.repo,
                    "named": named,
                    "unnamed": len(f.colonies) - len(named),
                }
            )
        return render(
            request,
            "_conflicts.html",
            rows=rows[:MAX_CONFLICTS],
            more=max(0, len(rows) - MAX_CONFLICTS),
        )

    async def conflict_page(request: Request) -> Response:
        return render(request, "conflict.html")

    async def conflict_fragment(request: Request) -> Response:
        """One conflicting file side by side (issue 18): each colony's diff of it, for the
        colonies the caller may see; the others are counted, not named."""
        repo = request.query_params.get("repo", "")
        path = request.query_params.get("path", "")
        sees = sight(request)
        found = next((f for f in await _conflicts() if f.repo == repo and f.path == path), None)
        named = [c for c in found.colonies if sees.colony(c)] if found else []
        if not named:
            raise NotFound(f"no conflict on {path!r} among the colonies you may see")
        sides = await asyncio.gather(*(_side(c, path) for c in named))
        return render(
            request,
            "_conflict.html",
            path=path,
            sides=sides,
            unnamed=len(found.colonies) - len(named) if found else 0,
        )

    async def _conflicts() -> list[FileConflict]:
        try:
            return await conflicts.current()
        except ColonyError:
            return []

    async def _side(name: str, path: str) -> dict[str, Any]:
        try:
            found = await review.diff(name)
        except ColonyError as e:
            return {"name": name, "file": None, "error": str(e)}
        view = diffview.build(found["diff"], found["stat"]["paths"])
        shown = render_visible(path)
        file = next((f for f in view.files if f.path == shown), None)
        return {"name": name, "file": file, "error": None if file else "no change to it now"}

    async def colony_fragment(request: Request) -> Response:
        return render(request, "_detail.html", **await detail(request, request.path_params["name"]))

    return [
        Route("/", index, methods=["GET"], include_in_schema=False),
        Route("/ui/colonies/{name}", colony_page, methods=["GET"], include_in_schema=False),
        Route("/ui/broods", broods_page, methods=["GET"], include_in_schema=False),
        Route("/ui/fragments/broods", broods_fragment, methods=["GET"], include_in_schema=False),
        Route("/ui/conflict", conflict_page, methods=["GET"], include_in_schema=False),
        Route(
            "/ui/fragments/conflicts", conflicts_fragment, methods=["GET"], include_in_schema=False
        ),
        Route(
            "/ui/fragments/conflict", conflict_fragment, methods=["GET"], include_in_schema=False
        ),
        Route("/ui/fragments/rows", rows, methods=["GET"], include_in_schema=False),
        Route(
            "/ui/fragments/colonies/{name}",
            colony_fragment,
            methods=["GET"],
            include_in_schema=False,
        ),
        Route(
            "/ui/fragments/colonies/{name}/previews",
            previews,
            methods=["GET"],
            include_in_schema=False,
        ),
        Route("/ui/colonies/{name}/diff", diff_page, methods=["GET"], include_in_schema=False),
        Route(
            "/ui/fragments/colonies/{name}/diff",
            diff_fragment,
            methods=["GET"],
            include_in_schema=False,
        ),
        Route(
            "/ui/fragments/colonies/{name}/agent",
            agent_fragment,
            methods=["GET"],
            include_in_schema=False,
        ),
        Route(
            "/ui/fragments/colonies/{name}/network",
            network_fragment,
            methods=["GET"],
            include_in_schema=False,
        ),
        Route(
            "/ui/fragments/colonies/{name}/secrets",
            secrets_fragment,
            methods=["GET"],
            include_in_schema=False,
        ),
        Route(
            "/ui/fragments/colonies/{name}/blocked",
            blocked,
            methods=["GET"],
            include_in_schema=False,
        ),
    ]


def create_bloom_app(api: ASGIApp, services: ApiServices, auth: Auth) -> ASGIApp:
    """The HTTP listener's app: login, Bloom's pages and static files, then the whole API,
    all behind :class:`AuthMiddleware`; each page checked by :class:`AccessMiddleware` as the
    API's routes are."""

    async def colony_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ColonyError)
        return error_response(exc)

    app = Starlette(
        routes=[
            *web_routes(auth),
            *routes(
                services.colonies,
                services.usage,
                services.network,
                services.review,
                services.agents,
                services.conflicts,
                services.broods,
                services.secrets,
            ),
            Mount("/static", StaticFiles(directory=STATIC), name="static"),
            Mount("", app=api),
        ],
        exception_handlers={ColonyError: colony_error},
        middleware=[Middleware(AccessMiddleware, directory=services.access)],
    )
    return AuthMiddleware(UsageTicker(app, services.usage), auth)
