"""Colony's block of preview names in a hosts file: one call, one assert."""

from __future__ import annotations

from colony.contract_responses import HostsStatus
from colony.core.hosts import BEGIN, END, managed_names, preview_names, render_hosts
from colony.core.routes import RouteTable, plan_previews

SYSTEM = "127.0.0.1 localhost\n::1 localhost ip6-localhost\n# a comment of the admin\n"


def test_block_is_added_after_the_rest() -> None:
    """When names are written, the file keeps every other line and gains one block."""
    text = render_hosts(SYSTEM, ["web.a.localhost", "api.a.localhost"])
    assert text == SYSTEM + f"{BEGIN}\n127.0.0.1 api.a.localhost web.a.localhost\n{END}\n"


def test_block_is_replaced_not_repeated() -> None:
    """When names are written again, the old block is replaced."""
    once = render_hosts(SYSTEM, ["web.a.localhost"])
    twice = render_hosts(once, ["web.b.localhost"])
    assert managed_names(twice) == ["web.b.localhost"]
    assert twice.count(BEGIN) == 1


def test_no_names_removes_the_block() -> None:
    """When there are no names, the block goes and the file is as it was."""
    assert render_hosts(render_hosts(SYSTEM, ["web.a.localhost"]), []) == SYSTEM


def test_long_lists_are_split_over_lines() -> None:
    """When there are many names, each line holds a few of them."""
    names = [f"s{i}.c.localhost" for i in range(20)]
    text = render_hosts("", names)
    assert sorted(managed_names(text)) == sorted(names)
    assert all(len(line.split()) <= 9 for line in text.splitlines())


def test_preview_names_of_services_with_ports() -> None:
    """When colonies have services with ports, each gets <service>.<colony>.<domain>."""
    table = RouteTable(
        {
            "shop": plan_previews({"web": 3000, "api": 8000}, {"web": 3000, "api": 8000}),
            "blog": plan_previews({}, {}),
        }
    )
    assert preview_names(table, "localhost") == ["api.shop.localhost", "web.shop.localhost"]


def test_format_says_what_is_missing_and_what_to_run() -> None:
    """When names are missing, the output lists them and says how to add them."""
    from colony.cli.hosts import format_hosts

    text = format_hosts(
        HostsStatus(path="/etc/hosts", present=[], missing=["web.a.localhost"], stale=[])
    ).plain
    assert text.splitlines() == [
        "/etc/hosts: 0 preview name(s) of Colony",
        "  missing  web.a.localhost",
        "run 'colony hosts --add' to write the current names",
    ]
