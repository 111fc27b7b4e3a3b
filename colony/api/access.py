"""Who may use which route (issue 14), enforced in one place for the whole API.

Every route has a rule in :data:`RULES`: the action it is on the colony (or brood) its path
names, or who may use it at all (any member of the group ``colony``, or admins only). The
middleware finds the route a request is for, works out the caller (the Unix socket's peer
credentials, or the user a token was made for), and refuses what the caller's role does not
allow before any handler runs. A route without a rule is refused: a new route cannot be
forgotten open. Handlers of lists and streams narrow what they return with :func:`visible`.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from starlette.datastructures import Headers
from starlette.requests import HTTPConnection
from starlette.routing import Match, Mount
from starlette.types import ASGIApp, Receive, Scope, Send

from colony.api.auth import deny
from colony.core.access import Action, Caller, Role, allows, check, role_of
from colony.errors import ColonyError, Forbidden
from colony.host import user_name


class Who(enum.Enum):
    """Rules of routes that name no colony."""

    ANYONE = "anyone"  # any caller that reached the API (lists narrow themselves)
    ADMIN = "admin"  # root and members of colony-admin


Rule = Action | Who
BROOD = "brood"  # rules keyed with this path parameter are about a brood, not a colony

# (method, route path) → rule; "WS" is a WebSocket route's method.
RULES: dict[tuple[str, str], Rule] = {
    ("GET", "/health"): Who.ANYONE,
    ("GET", "/openapi.json"): Who.ANYONE,
    ("POST", "/daemon/stop"): Who.ADMIN,
    ("POST", "/gc"): Who.ADMIN,
    ("GET", "/doctor"): Who.ADMIN,
    ("GET", "/hosts"): Who.ANYONE,
    ("POST", "/hosts"): Who.ADMIN,  # writes /etc/hosts
    ("GET", "/audit/verify"): Who.ADMIN,
    ("GET", "/audit"): Who.ANYONE,
    ("GET", "/audit/export"): Who.ANYONE,
    ("GET", "/colonies"): Who.ANYONE,
    ("POST", "/colonies"): Who.ANYONE,  # the caller owns what it spawns
    ("POST", "/colonies/remove"): Who.ANYONE,  # each name as DELETE /colonies/{name}: REMOVE
    ("GET", "/usage"): Who.ANYONE,
    ("GET", "/conflicts"): Who.ANYONE,
    ("GET", "/agents"): Who.ANYONE,
    ("GET", "/broods"): Who.ANYONE,
    ("POST", "/broods"): Who.ANYONE,
    ("GET", "/trash"): Who.ANYONE,
    ("DELETE", "/trash"): Who.ANYONE,  # purges only the caller's entries unless admin
    ("DELETE", "/trash/{which}"): Who.ANYONE,  # the handler checks the entry's owner
    ("POST", "/trash/{which}/restore"): Who.ANYONE,
    ("WS", "/events"): Who.ANYONE,
    ("POST", "/auth/dashboard"): Who.ANYONE,  # tokens are the caller's own
    ("POST", "/auth/token"): Who.ANYONE,
    ("POST", "/auth/revoke"): Who.ANYONE,
    ("GET", "/login"): Who.ANYONE,
    ("POST", "/logout"): Who.ANYONE,
    ("GET", "/"): Who.ANYONE,
    ("GET", "/ui/broods"): Who.ANYONE,
    ("GET", "/ui/fragments/broods"): Who.ANYONE,  # the caller's broods only
    ("GET", "/ui/conflict"): Who.ANYONE,  # a skeleton
    ("GET", "/ui/fragments/conflicts"): Who.ANYONE,  # names only the colonies one may see
    ("GET", "/ui/fragments/conflict"): Who.ANYONE,  # diffs only of colonies one may see
    ("GET", "/ui/fragments/rows"): Who.ANYONE,
    ("GET", "/ui/colonies/{name}"): Action.VIEW,
    ("GET", "/ui/fragments/colonies/{name}"): Action.VIEW,
    ("GET", "/ui/fragments/colonies/{name}/previews"): Action.VIEW,
    ("GET", "/ui/fragments/colonies/{name}/blocked"): Action.VIEW,
    ("GET", "/ui/fragments/colonies/{name}/network"): Action.VIEW,
    ("GET", "/ui/fragments/colonies/{name}/secrets"): Action.VIEW,  # lists to POLICY only
    ("GET", "/ui/fragments/colonies/{name}/agent"): Action.VIEW,
    ("GET", "/ui/colonies/{name}/diff"): Action.VIEW,
    ("GET", "/ui/fragments/colonies/{name}/diff"): Action.VIEW,
    ("GET", "/colonies/{name}"): Action.VIEW,
    ("DELETE", "/colonies/{name}"): Action.REMOVE,
    ("POST", "/colonies/{name}/{action:str}"): Action.OPERATE,
    ("GET", "/colonies/{name}/logs"): Action.VIEW,
    ("GET", "/colonies/{name}/urls"): Action.VIEW,
    ("GET", "/colonies/{name}/usage"): Action.VIEW,
    ("GET", "/colonies/{name}/network"): Action.VIEW,
    ("GET", "/colonies/{name}/firewall"): Action.VIEW,
    ("PUT", "/colonies/{name}/policy"): Action.POLICY,
    ("DELETE", "/colonies/{name}/policy"): Action.POLICY,
    ("PATCH", "/colonies/{name}/policy"): Action.POLICY,  # live approvals (issue 16)
    ("GET", "/colonies/{name}/workspace/diff"): Action.VIEW,
    ("GET", "/colonies/{name}/workspace/snapshots"): Action.VIEW,
    ("POST", "/colonies/{name}/workspace/snapshots"): Action.OPERATE,
    ("POST", "/colonies/{name}/workspace/merge"): Action.MERGE,
    ("POST", "/colonies/{name}/workspace/undo"): Action.MERGE,
    ("GET", "/colonies/{name}/agents"): Action.VIEW,
    ("POST", "/colonies/{name}/agents/run"): Action.AGENT,
    ("POST", "/colonies/{name}/agents/continue"): Action.AGENT,
    ("POST", "/colonies/{name}/agents/stop"): Action.AGENT,
    ("GET", "/colonies/{name}/agents/{session:int}"): Action.VIEW,
    ("GET", "/colonies/{name}/agents/{session:int}/events"): Action.VIEW,
    ("POST", "/colonies/{name}/agents/{session:int}/stop"): Action.AGENT,
    ("GET", "/colonies/{name}/shares"): Action.VIEW,
    ("PUT", "/colonies/{name}/shares/{user}"): Action.SHARE,
    ("DELETE", "/colonies/{name}/shares/{user}"): Action.SHARE,
    ("GET", "/colonies/{name}/secrets"): Action.POLICY,  # issue 17: owner, admin
    ("PUT", "/colonies/{name}/secrets/{key}"): Action.POLICY,
    ("DELETE", "/colonies/{name}/secrets/{key}"): Action.POLICY,
    ("WS", "/colonies/{name}/exec"): Action.EXEC,
    ("GET", "/broods/{brood}"): Action.VIEW,
    ("POST", "/broods/{brood}/pick"): Action.MERGE,
    ("DELETE", "/broods/{brood}"): Action.REMOVE,  # and each of its colonies, as REMOVE
}


class Directory(Protocol):
    """What the check needs to know of the daemon: who callers are and who owns what."""

    def caller(self, user: str, uid: int | None) -> Caller:
        """The caller ``user`` (uid ``uid``), with whether an admin."""
        ...

    def owner(self, colony: str) -> str | None:
        """The owner of ``colony``; None: there is none of that name."""
        ...

    def shares(self, colony: str) -> Mapping[str, Role]:
        """Who else may use ``colony``, and as what."""
        ...

    def brood_owner(self, brood: str) -> str | None:
        """The owner of ``brood``; None: there is none of that name."""
        ...


def caller_of(scope: Scope, directory: Directory) -> Caller | None:
    """The caller of a request: the token's user (HTTP listener), else the Unix socket
    peer's; None when neither is known."""
    state = scope.get("state") or {}
    uid = state.get("peer_uid")
    user = state.get("user")
    if isinstance(user, str):
        return directory.caller(user, uid if isinstance(uid, int) else None)
    if isinstance(uid, int):
        return directory.caller(user_name(uid), uid)
    return None


def visible(caller: Caller, owner: str, shares: Mapping[str, Role]) -> bool:
    """Whether ``caller`` may see a colony of ``owner`` with ``shares`` (lists, events)."""
    return allows(role_of(caller, owner, shares), Action.VIEW)


@dataclass(frozen=True)
class Sight:
    """What one caller may see: lists and streams keep only that (admins see everything)."""

    caller: Caller
    directory: Directory

    def colony(self, name: object) -> bool:
        if self.caller.admin:
            return True
        return isinstance(name, str) and self.role(name) is not None

    def role(self, name: str) -> Role | None:
        """The caller's role on colony ``name``; None: none (or no such colony)."""
        owner = self.directory.owner(name)
        if owner is None:
            return Role.ADMIN if self.caller.admin else None
        return role_of(self.caller, owner, self.directory.shares(name))

    def require(self, name: str, action: Action) -> None:
        """Refuse ``action`` on colony ``name`` unless the caller's role allows it; a name of
        no colony passes (whoever handles it says there is none).

        Raises:
            Forbidden: names the caller, the colony and the action.
        """
        owner = self.directory.owner(name)
        if owner is not None:
            check(self.caller, name, owner, self.directory.shares(name), action)

    def owns(self, owner: object) -> bool:
        """Whether something of ``owner`` (a brood, a trash entry) is the caller's."""
        return self.caller.admin or owner == self.caller.user

    def brood(self, name: object) -> bool:
        if self.caller.admin:
            return True
        return isinstance(name, str) and self.owns(self.directory.brood_owner(name))

    def event(self, event: Mapping[str, object]) -> bool:
        """An event about a colony or brood the caller sees; others are admins' only."""
        if self.caller.admin:
            return True
        if "colony" in event:
            return self.colony(event["colony"])
        if "brood" in event:
            return self.brood(event["brood"])
        return False


def sight(conn: HTTPConnection) -> Sight:
    """What the caller of ``conn`` may see (put there by :class:`AccessMiddleware`)."""
    found = getattr(conn.state, "sight", None)
    if not isinstance(found, Sight):
        raise Forbidden("cannot tell who is asking (no access check ran for this route)")
    return found


class AccessMiddleware:
    """Refuses a request the caller's role does not allow, and puts the caller into the
    request's state (``caller``) for the handlers that narrow lists."""

    def __init__(self, app: ASGIApp, directory: Directory) -> None:
        self.app = app
        self.directory = directory

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or scope["path"].startswith("/static/"):
            await self.app(scope, receive, send)
            return
        try:
            self._check(scope)
        except ColonyError as exc:
            await deny(scope, receive, send, exc, Headers(scope=scope))
            return
        await self.app(scope, receive, send)

    def _check(self, scope: Scope) -> None:
        found = _route(scope)
        if found is None:
            return  # the router answers 404 or 405 itself
        path, params = found
        method = "WS" if scope["type"] == "websocket" else scope["method"]
        if method == "HEAD":
            method = "GET"
        rule = RULES.get((method, path))
        if rule is None:
            raise Forbidden(f"{method} {path}: no access rule for this route; refused")
        caller = caller_of(scope, self.directory)
        if caller is None:
            if rule is Who.ANYONE:  # Bloom's login page: no one is logged in yet
                return
            raise Forbidden("cannot tell who is asking (no peer credentials and no token)")
        sees = Sight(caller, self.directory)
        scope.setdefault("state", {}).update(caller=caller, sight=sees)
        if rule is Who.ANYONE:
            return
        if rule is Who.ADMIN:
            if not caller.admin:
                raise Forbidden(
                    f"{caller.user} may not {method} {path}: admins only",
                    hint="ask an admin (root or a member of the group colony-admin)",
                )
            return
        assert isinstance(rule, Action)
        if "brood" in params:
            owner = self.directory.brood_owner(str(params["brood"]))
            if owner is not None:
                check(caller, f"brood {params['brood']}", owner, {}, rule)
            return
        sees.require(str(params["name"]), rule)  # none of that name: the handler says so


def _route(scope: Scope) -> tuple[str, dict[str, object]] | None:
    """The path template and path parameters of the route ``scope`` is for."""
    app = scope.get("app")
    router = getattr(app, "router", None)
    for route in getattr(router, "routes", ()):
        if isinstance(route, Mount):
            continue  # static files, or an app with its own check (the API in Bloom's)
        match, child = route.matches(scope)
        if match is Match.FULL:
            return str(getattr(route, "path", "")), dict(child.get("path_params", {}))
    return None


__all__ = [
    "RULES",
    "AccessMiddleware",
    "Directory",
    "Sight",
    "Who",
    "caller_of",
    "sight",
    "visible",
]
