"""Preview routing: Host header → upstream, and the URLs `colony url` prints."""

from __future__ import annotations

import pytest

from colony.core.routes import (
    Previews,
    RequestBatch,
    RequestRecord,
    RequestTally,
    RouteTable,
    Upstream,
    explain_miss,
    parse_host,
    plan_previews,
    render_url,
    resolve,
)

SHOP = {"web": 3000, "api": 8000, "8080": 9999}
TABLE = RouteTable(
    {
        "shop": plan_previews(SHOP, SHOP, [5173, 1, 65535]),
        "blog": plan_previews({"web": 4000}, {"web": 4000}),
        # level none: services on the host ports they were given
        "none": plan_previews({"web": 3000, "db": 5432}, {"web": 41234}, [22], shared=True),
    }
)


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("web.shop.localhost", ("web", "shop")),
        ("web.shop.localhost:7080", ("web", "shop")),
        ("WEB.Shop.LocalHost:7080", ("web", "shop")),
        ("web.shop.localhost.", ("web", "shop")),
        ("web.shop.localhost.:7080", ("web", "shop")),
        ("  web.shop.localhost  ", ("web", "shop")),
        ("5173.shop.localhost", ("5173", "shop")),
        ("my-app.shop-2.localhost", ("my-app", "shop-2")),
    ],
)
def test_parse_host_accepts(host, expected):
    """When the host is <label>.<colony>.localhost in any case, with or without port, it splits."""
    assert parse_host(host) == expected


@pytest.mark.parametrize(
    "host",
    [
        "",
        ":",
        "localhost",
        "localhost:7080",
        "shop.localhost",
        "a.web.shop.localhost",
        "web.shop.example.com",
        "web.shop.localhost.evil.com",
        "web.shoplocalhost",
        "web..localhost",
        ".shop.localhost",
        "-web.shop.localhost",
        "web-.shop.localhost",
        "we_b.shop.localhost",
        "wéb.shop.localhost",
        "web.shop.localhost:",
        "web.shop.localhost:80:80",
        "web.shop.localhost:abc",
        "web.shop.localhost:123456",
        "web.shop.localhost:٣٠٠٠",
        "web.shop.localhost\n",
        "web\n.shop.localhost",
        "[::1]",
        "[::1]:7080",
        "[web.shop.localhost]:7080",
        "::1",
        "127.0.0.1:7080",
        "user@web.shop.localhost",
        "x" * 64 + ".shop.localhost",
    ],
)
def test_parse_host_rejects(host):
    """When the host is not exactly <label>.<colony>.localhost[:port], it is None."""
    assert parse_host(host) is None


def test_parse_host_other_domain():
    """When a domain is given, hosts under it split and localhost ones do not."""
    assert parse_host("web.shop.dev.test:443", "dev.test") == ("web", "shop")
    assert parse_host("web.shop.DEV.test", "dev.TEST") == ("web", "shop")
    assert parse_host("web.shop.localhost", "dev.test") is None


def test_resolve_service():
    """When the label names a service of the colony, the upstream is its port."""
    assert resolve(TABLE, "api.shop.localhost:7080") == Upstream("shop", 8000, "api")
    assert resolve(TABLE, "WEB.BLOG.localhost") == Upstream("blog", 4000, "web")


def test_resolve_port_label():
    """When the label is a port the colony declares (a service's or [previews] ports), that
    port answers."""
    assert resolve(TABLE, "5173.shop.localhost") == Upstream("shop", 5173, None)
    assert resolve(TABLE, "1.shop.localhost") == Upstream("shop", 1, None)
    assert resolve(TABLE, "65535.shop.localhost") == Upstream("shop", 65535, None)
    assert resolve(TABLE, "4000.blog.localhost") == Upstream("blog", 4000, None)


@pytest.mark.parametrize(
    "host",
    ["4000.shop.localhost", "22.shop.localhost", "5173.blog.localhost", "8000.blog.localhost"],
)
def test_resolve_undeclared_port(host):
    """When the label is a port the colony does not declare, nothing resolves (issue 11)."""
    assert resolve(TABLE, host) is None
    assert "declare it as a service's port or in [previews] ports" in explain_miss(TABLE, host)


def test_level_none_reaches_only_its_services_host_ports():
    """When a colony shares the host's loopback (level none), a service and its declared port
    reach the service's host port; [previews] ports, a service without its host port yet and
    any other port (the host's own services) do not resolve."""
    assert resolve(TABLE, "web.none.localhost") == Upstream("none", 41234, "web")
    assert resolve(TABLE, "3000.none.localhost") == Upstream("none", 41234, None)
    for host in ("22.none.localhost", "41234.none.localhost", "8000.none.localhost"):
        assert resolve(TABLE, host) is None, host
        assert "sandbox level none" in explain_miss(TABLE, host)
    assert resolve(TABLE, "db.none.localhost") is None
    assert resolve(TABLE, "5432.none.localhost") is None


def test_explain_miss_names_what_is_wrong():
    """When nothing resolves, the 404's message says why in one line."""
    assert "expected <service>.<colony>.localhost" in explain_miss(TABLE, "127.0.0.1:7080")
    assert "no colony 'nope'" in explain_miss(TABLE, "web.nope.localhost")
    assert "no service 'db'" in explain_miss(TABLE, "db.shop.localhost")
    assert "\n" not in explain_miss(TABLE, "x" * 500)


def test_plan_previews():
    """When a colony's previews are planned, service ports and extra ports become labels,
    and a service's own port wins over an extra port of the same number."""
    assert plan_previews({"web": 3000}, {"web": 3000}, [3000, 9229]) == Previews(
        {"web": 3000}, {3000: 3000, 9229: 9229}
    )


@pytest.mark.parametrize(
    "host",
    ["0.shop.localhost", "65536.shop.localhost", "99999.shop.localhost", "05173.shop.localhost"],
)
def test_resolve_bad_port_label(host):
    """When the port label is out of range or has leading zeros, nothing resolves."""
    assert resolve(TABLE, host) is None


def test_resolve_service_named_like_a_port():
    """When a service is named like a number, the service wins over the bare port."""
    assert resolve(TABLE, "8080.shop.localhost") == Upstream("shop", 9999, "8080")


@pytest.mark.parametrize(
    "host",
    ["db.shop.localhost", "web.nope.localhost", "shop.localhost", "", "web.shop.example.com"],
)
def test_resolve_unknown(host):
    """When the colony or service is unknown or the host is not a preview host, it is None."""
    assert resolve(TABLE, host) is None


def test_resolve_empty_table():
    """When no colony has previews, nothing resolves, not even a port label."""
    assert resolve(RouteTable({}), "3000.shop.localhost") is None
    assert resolve(RouteTable({"shop": Previews({}, {})}), "3000.shop.localhost") is None


def test_render_url():
    """When rendering, the URL is <label>.<colony>.<domain>:<port> with a trailing slash."""
    assert render_url("web", "shop", 7080) == "http://web.shop.localhost:7080/"
    assert render_url(5173, "shop", 7080) == "http://5173.shop.localhost:7080/"
    assert render_url("web", "shop", 8443, "dev.test", "https") == "https://web.shop.dev.test:8443/"


def test_render_url_default_port():
    """When the proxy port is the scheme's default, the URL leaves it out."""
    assert render_url("web", "shop", 80) == "http://web.shop.localhost/"
    assert render_url("web", "shop", 443, scheme="https") == "https://web.shop.localhost/"
    assert render_url("web", "shop", 443) == "http://web.shop.localhost:443/"


def test_render_then_resolve():
    """When a rendered URL's host is resolved, it reaches the same upstream."""
    host = render_url("api", "shop", 7080).removeprefix("http://").rstrip("/")
    assert resolve(TABLE, host) == Upstream("shop", 8000, "api")


def test_unreachable_stopped_colony_says_how_to_start_it() -> None:
    """When the colony is stopped, the 502 line says so and how to start it."""
    from colony.core.routes import explain_unreachable

    assert explain_unreachable(Upstream("shop", 3000, "web"), "stopped") == (
        "colony 'shop' is stopped, so service 'web' (port 3000) is not answering; "
        "start it with 'colony start shop'"
    )


def test_unreachable_running_colony_names_the_ports_it_listens_on() -> None:
    """When the colony runs but listens elsewhere, the 502 line names those ports."""
    from colony.core.routes import explain_unreachable

    text = explain_unreachable(Upstream("shop", 3000, "web"), "running", [8000, 3000])
    assert text.endswith("nothing listens on port 3000 inside the colony; it listens on 8000 "
                         "(set the service's port to match)")  # fmt: skip


def test_listen_ports_are_read_from_proc_net_tcp() -> None:
    """When /proc/net/tcp lists listening and connected sockets, only listeners count."""
    from colony.core.procnet import parse_listen_ports

    text = (
        "  sl  local_address rem_address   st\n"
        "   0: 0100007F:1F41 00000000:0000 0A 0\n"
        "   1: 0100007F:0BB8 0100007F:9C40 01 0\n"
    )
    assert parse_listen_ports(text) == {8001}


def test_request_tally_batches_per_client_and_preview():
    """Issue 15: requests become one batch per (preview, host, client user) until drained;
    a batch survives the trip from a worker, and a bad one is refused."""
    tally = RequestTally()
    for path, status, uid in (
        ("/a", 200, 1000),
        ("/b", 404, 1000),
        ("/a", 200, 1000),
        ("/", 200, 0),
    ):
        tally.add(
            RequestRecord(
                "shop", "web", 3000, "GET", path, "web.shop.localhost", status, 10, 0.5, uid
            )
        )
    batches = {b.first.uid: b for b in tally.drain()}
    assert tally.drain() == []
    alice = batches[1000]
    assert (alice.count, alice.bytes_out, alice.duration_s) == (3, 30, 1.5)
    assert alice.paths == ["GET /a", "GET /b"]
    assert dict(alice.statuses) == {"200": 2, "404": 1}
    assert RequestBatch.of_json(alice.to_json()) == alice
    with pytest.raises(ValueError, match="not a request batch"):
        RequestBatch.of_json({"first": ["x"]})
