"""Who may use which route (issue 14), on the real app: every route has an access rule, and
sharing a colony is checked and recorded. (Playing other users needs real accounts: the host
tier's test_users.py does that.)"""

from __future__ import annotations

import os
import pwd
from pathlib import Path

import pytest
from starlette.routing import BaseRoute, Mount, Route, WebSocketRoute

from colony.api import bloom
from colony.api.access import RULES
from colony.api.app import create_app
from colony.api.auth import Auth, unix_routes, web_routes
from colony.contract_responses import dump
from colony.errors import ConfigError, NotFound
from colony.store.tokens import Tokens
from tests.api.conftest import Api, make_repo, settle

WEB = '[services.web]\ncommand = "sleep 300"\n'


def _keys(routes: list[BaseRoute]) -> set[tuple[str, str]]:
    keys: set[tuple[str, str]] = set()
    for route in routes:
        if isinstance(route, Route):
            keys |= {(m, route.path) for m in route.methods or () if m != "HEAD"}
        elif isinstance(route, WebSocketRoute):
            keys.add(("WS", route.path))
        else:
            assert isinstance(route, Mount), route
    return keys


def test_every_route_has_an_access_rule_and_every_rule_a_route(api: Api) -> None:
    """When a route is added, it has to say who may use it (a route without a rule is
    refused); a rule whose route went away is stale."""
    auth = Auth(Tokens(api.services.access.store.conn), clock=api.services.clock)
    app = create_app(api.services, on_stop=lambda: None, info={}, extra=unix_routes(auth))
    served = (
        _keys(app.routes)
        | _keys(web_routes(auth))
        | _keys(
            bloom.routes(
                api.services.colonies,
                api.services.usage,
                api.services.network,
                api.services.review,
                api.services.agents,
                api.services.conflicts,
                api.services.broods,
                api.services.secrets,
            )
        )
    )
    assert served - set(RULES) == set(), "routes without an access rule"
    assert set(RULES) - served == set(), "rules of no route"


def test_sharing_is_checked_recorded_and_audited(api: Api, tmp_path: Path) -> None:
    """When the owner shares a colony, the listing names the user and role; a user the host
    does not know, the owner, or a role that cannot be given is one line and changes
    nothing; unsharing twice says there is nothing to end; the audit log says who did it."""
    me = pwd.getpwuid(os.getuid()).pw_name
    repo = make_repo(tmp_path / "repo", {"colony.toml": WEB})
    with api.client() as client:
        client.spawn("web", repo)
        settle(client, "web", "running")
        assert dump(client.shares("web")) == {"colony": "web", "owner": me, "shares": []}
        shared = client.share("web", "nobody", "operator")
        assert dump(shared.shares) == [{"user": "nobody", "role": "operator"}]
        with pytest.raises(ConfigError, match=r"^user: 'no-such-user-x' is not a user of"):
            client.share("web", "no-such-user-x")
        with pytest.raises(ConfigError, match=rf"^user: '{me}' owns colony 'web'"):
            client.share("web", me)
        with pytest.raises(
            ConfigError, match=r"^role: 'owner' is not a role .* viewer or operator"
        ):
            client.share("web", "nobody", "owner")
        assert dump(client.shares("web").shares) == [{"user": "nobody", "role": "operator"}]
        assert client.unshare("web", "nobody").shares == []
        with pytest.raises(NotFound, match="not shared with 'nobody'"):
            client.unshare("web", "nobody")
        with pytest.raises(NotFound):
            client.share("gone", "nobody")
        entries = client.audit(colony="web", kind="lifecycle").entries
    messages = [(e.user, e.msg) for e in entries if "shared" in e.msg]
    assert messages == [
        (me, "web: shared with nobody as operator"),
        (me, "web: no longer shared with nobody"),
    ]


def test_the_caller_is_an_admin_only_as_root_or_in_colony_admin(api: Api) -> None:
    """When root asks, it is an admin; a user the host knows who is not in colony-admin is
    not; a name whose uid is not the one the kernel gave is not either."""
    access = api.services.access
    assert access.caller("root", 0).admin
    nobody = pwd.getpwnam("nobody")
    assert not access.caller("nobody", nobody.pw_uid).admin
    assert not access.caller("nobody", 12345).admin
    assert not access.caller("no-such-user-x", None).admin
