"""Every route of the API is exercised by this tier (issue 13): the fixture's servers note
the route of each request they serve (:class:`tests.api.routes.Recorder`); this test, run
last, names the routes no test reached. It checks only after the whole tier ran."""

from __future__ import annotations

import pytest

from colony.api.app import create_app
from colony.api.auth import Auth, unix_routes
from colony.api.bloom import create_bloom_app
from colony.store.tokens import Tokens
from tests.api.conftest import TIER, Api
from tests.api.routes import EXERCISED, app_routes


def test_every_route_is_exercised(api: Api) -> None:
    """When the tier has run, every route of the Unix socket's app and of Bloom's app (the
    HTTP listener's: its pages, login, static files and the API again) served a request."""
    if TIER["partial"]:
        pytest.skip(f"the route check needs the whole tier: {TIER['partial']}")
    if TIER["failed"]:
        pytest.skip(f"{len(TIER['failed'])} tests of the tier failed; their routes may be unmet")
    services = api.services
    auth = Auth(Tokens(services.access.store.conn), clock=services.clock)
    unix = create_app(services, on_stop=lambda: None, info={}, extra=unix_routes(auth))
    tcp = create_app(services, on_stop=lambda: None, info={})
    bloom = create_bloom_app(tcp, services, auth)
    served = app_routes(unix) | app_routes(bloom)
    missing = sorted(served - EXERCISED, key=lambda key: (key[1], key[0]))
    assert not missing, "routes no test of tests/api reached:\n" + "\n".join(
        f"  {method} {path}" for method, path in missing
    )
