"""The CLI's pure rendering and parsing: one call, one assert."""

from __future__ import annotations

import io
from datetime import UTC
from typing import Any

import pytest

from colony.cli import (
    EMPTY,
    default_colony_name,
    exit_status,
    format_age,
    format_already,
    format_colony,
    format_duration,
    format_gc,
    format_log_line,
    format_removed,
    format_service_event,
    format_settled,
    format_table,
    format_transition,
    format_urls,
    parse_pairs,
    parse_value,
)
from colony.contract_responses import Collected, Colony, Removed, load
from tests.answers import service_json

NOW = 1_700_000_000.0


def colony(name: str = "shop", **over: Any) -> Colony:
    """A colony as the API returns it (colony.contract_responses.Colony)."""
    data: dict[str, Any] = {
        "name": name,
        "state": "running",
        "degraded": [],
        "step": None,
        "reason": None,
        "owner": "alice",
        "created": NOW - 125,
        "updated": NOW - 100,
        "repo": "/home/alice/shop",
        "rev": "main",
        "vcs": "git",
        "branch": f"colony/{name}",
        "base": "0123456789abcdef0123",
        "workspace": f"/var/lib/colony/workspaces/{name}",
        "data_dir": f"/var/lib/colony/colonies/{name}/data",
        "db": f"/var/lib/colony/colonies/{name}/data/colony.db",
        "address": "10.213.0.2",
        "netns": f"colony-{name}",
        "sandbox": "basic",
        "containment": {
            "level": "basic",
            "description": "",
            "user": None,
            "user_error": None,
            "unapplied_limits": [],
            "disk": None,
        },
        "usage": None,
        "limits": {"cpu": 1.5, "memory": 2 << 30},
        "services": [service_json(pid=4242, url=f"http://web.{name}.localhost:7080/")],
        "transitions": [
            {"state": "spawning", "at": NOW - 125, "step": None, "reason": None},
            {"state": "provisioning", "at": NOW - 124.9, "step": None, "reason": None},
            {"state": "running", "at": NOW - 120, "step": None, "reason": None},
        ],
    }
    data.update(over)
    return load(Colony, data)


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [
        (0.4, "just now"),
        (42, "42s ago"),
        (125, "2m ago"),
        (3 * 3600 + 5, "3h ago"),
        (5 * 86400, "5d ago"),
    ],
)
def test_format_age(seconds: float, shown: str) -> None:
    """When a moment lies `seconds` back, it reads as the largest whole unit."""
    assert format_age(NOW - seconds, NOW) == shown


def test_format_age_future() -> None:
    """When the clock of the daemon runs ahead, the age is never negative."""
    assert format_age(NOW + 5, NOW) == "just now"


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [(0.34, "340ms"), (0.0999, "100ms"), (2.14, "2.1s"), (185, "3m05s"), (7800, "2h10m")],
)
def test_format_duration(seconds: float, shown: str) -> None:
    """When a step took `seconds`, it reads in ms, s, m or h."""
    assert format_duration(seconds) == shown


def test_format_table() -> None:
    """When colonies exist, ls shows one aligned row each, sorted by name."""
    rows = [
        colony("web"),
        colony("api", state="failed", address=None, services=[], created=NOW - 3600),
    ]
    assert format_table(rows, NOW).plain == (
        "NAME  STATE    SERVICES          OWNER  CREATED  ADDRESS\n"
        "api   failed   -                 alice  1h ago   -\n"
        "web   running  web:3000 running  alice  2m ago   10.213.0.2"
    )


def test_format_table_and_show_a_degraded_colony() -> None:
    """When a running colony has a service that gave up, ls and show say degraded and name
    the service (issue 12)."""
    svc = service_json(state="fatal", exit_code=1)
    sick = colony("web", services=[svc], degraded=["web"])
    assert format_table([sick], NOW).plain.splitlines()[1].split()[1] == "degraded"
    shown = format_colony(sick, NOW).plain.splitlines()[0]
    assert shown == "web  degraded (running; gave up: web)"


def test_format_already() -> None:
    """When a start or stop had nothing to do, it says so (issue 12)."""
    assert format_already("web", "running").plain == "colony 'web' is already running"
    assert format_already("web", "stopped").plain == "colony 'web' is already stopped"
    assert format_already("web", "failed").plain == "colony 'web' is failed: nothing to stop"


def test_format_table_colors_states() -> None:
    """When a colony failed, its state is drawn red."""
    text = format_table([colony(state="failed")], NOW)
    assert any("red" in str(span.style) for span in text.spans)


def test_format_table_services_without_port() -> None:
    """When a service has no port, it shows by name with its state."""
    svc = service_json(name="worker", port=None, state="backoff", exit_code=1)
    assert "worker backoff (exit 1)" in format_table([colony(services=[svc])], NOW).plain


def test_format_table_empty() -> None:
    """When there are no colonies, ls says how to make one."""
    assert format_table([], NOW).plain == EMPTY


def test_format_colony_fields() -> None:
    """When a colony is shown, paths, network and limits each get a line."""
    text = format_colony(colony(), NOW, tz=UTC).plain
    for line in (
        "shop  running",
        "  owner      alice",
        "  created    2023-11-14 22:11:15 (2m ago)",
        "  repo       /home/alice/shop @ main (git)",
        "  workspace  /var/lib/colony/workspaces/shop",
        "  branch     colony/shop (base 0123456789ab)",
        "  data dir   /var/lib/colony/colonies/shop/data",
        "  db         /var/lib/colony/colonies/shop/data/colony.db",
        "  address    10.213.0.2 (netns colony-shop)",
        "  limits     cpu 1.5 cores, memory 2G",
    ):
        assert line in text.splitlines()


def test_format_colony_services() -> None:
    """When a colony has services, each shows port, state, pid, restarts and URL."""
    text = format_colony(colony(), NOW, tz=UTC).plain
    assert "  NAME  PORT  STATE    PID   RESTARTS  URL" in text
    assert "  web   3000  running  4242  0         http://web.shop.localhost:7080/" in text


def test_format_colony_transitions() -> None:
    """When a colony is shown, each transition has its time and how long it lasted."""
    text = format_colony(colony(), NOW, tz=UTC).plain
    assert "  22:11:15.000  spawning      100ms" in text
    assert "  22:11:15.100  provisioning  4.9s" in text
    assert "  22:11:20.000  running       2m00s so far" in text


def test_format_colony_failed() -> None:
    """When a colony failed, its headline names the step and the reason."""
    failed = colony(state="failed", step="building", reason="'npm run build' exited 1")
    first = format_colony(failed, NOW, tz=UTC).plain.splitlines()[0]
    assert first == "shop  failed at building: 'npm run build' exited 1"


def test_format_colony_sparse() -> None:
    """When a colony is still spawning, fields not known yet are left out, not shown as
    None."""
    unknown = dict.fromkeys(("owner", "rev", "vcs", "branch", "base", "workspace", "address"))
    sparse = colony("x", state="spawning", services=[], transitions=[], **unknown)
    text = format_colony(sparse, NOW).plain
    assert "None" not in text
    assert [line.split()[0] for line in text.splitlines()] == [
        "x",
        "created",
        "repo",
        "data",
        "db",
        "sandbox",
        "limits",
    ]


def test_format_colony_escapes_nothing() -> None:
    """When a reason contains brackets, it is printed as is (no markup)."""
    text = format_colony(colony(state="failed", reason="[bold]x[/]"), NOW, tz=UTC).plain
    assert "[bold]x[/]" in text


def test_format_transition() -> None:
    """When a state ends, the progress line names it and how long it took."""
    assert format_transition("provisioning", 3.42).plain == "  provisioning 3.4s"


def test_format_service_event() -> None:
    """When a service changes, the progress line shows its state and pid."""
    event = {"type": "service", "service": "web", "state": "running", "pid": 7, "reason": None}
    assert format_service_event(event).plain == "  · web  running  pid 7"


def test_format_settled() -> None:
    """When a colony settles, one line says its state and the total time."""
    assert format_settled("shop", "running", 14.23).plain == "colony 'shop' is running (14.2s)"


def test_format_urls_one() -> None:
    """When a colony has one URL, only the URL is printed."""
    assert format_urls({"web": "http://web.x.localhost:7080/"}).plain == (
        "http://web.x.localhost:7080/"
    )


def test_format_urls_many() -> None:
    """When a colony has several URLs, the URL is last on each line."""
    urls = {"web": "http://web.x.localhost:7080/", "api": "http://api.x.localhost:7080/", "q": None}
    assert format_urls(urls).plain == (
        "api  http://api.x.localhost:7080/\nweb  http://web.x.localhost:7080/"
    )


def test_format_log_line() -> None:
    """When a log entry is printed, the source is padded and colored before the line."""
    text = format_log_line({"t": NOW, "source": "web", "line": "GET / 200\n"}, width=6)
    assert text.plain == "web    | GET / 200"
    assert text.spans[0].style


def test_format_log_line_ansi() -> None:
    """When a service writes ANSI colors, they become styles, not escape garbage."""
    text = format_log_line({"source": "web", "line": "\x1b[32mok\x1b[0m"})
    assert text.plain == "web | ok"


def test_format_log_line_stable_color() -> None:
    """When the same source appears twice, it gets the same color."""
    one = format_log_line({"source": "api", "line": "a"}).spans[0].style
    assert format_log_line({"source": "api", "line": "b"}).spans[0].style == one


def test_format_gc() -> None:
    """When gc removed objects, each is listed by kind and name."""
    result = {
        "removed": [{"kind": "netns", "name": "colony-x"}, {"kind": "veth", "name": "colonyh3"}]
    }
    assert (
        format_gc(load(Collected, result)).plain == "removed netns colony-x\nremoved veth colonyh3"
    )


def test_format_gc_nothing() -> None:
    """When gc found nothing, it says so."""
    assert format_gc(Collected(removed=[])).plain == "nothing to clean"


def test_format_removed() -> None:
    """When a colony is removed, the snapshot, where its workspace is kept and how to bring it
    back are named."""
    result = Removed(
        removed="x",
        saved="/st/trash/x-1/workspace",
        branch="colony/x",
        snapshot="0123456789abcdef",
        trash="/st/trash/x-1",
    )
    assert format_removed(result).plain == (
        "removed colony 'x'\n"
        "final snapshot 0123456789ab recorded\n"
        "workspace (colony/x, commits and uncommitted files) kept in /st/trash/x-1/workspace\n"
        "data and logs moved to /st/trash/x-1\n"
        "bring it back with 'colony trash restore x'"
    )


def test_parse_pairs() -> None:
    """When pairs are given, the first '=' splits key from value."""
    assert parse_pairs(["cpu=1.5", "A=x=y", "E="]) == {"cpu": "1.5", "A": "x=y", "E": ""}


@pytest.mark.parametrize("bad", ["cpu", "=1"])
def test_parse_pairs_bad(bad: str) -> None:
    """When a pair has no key or no '=', the error names the value."""
    with pytest.raises(ValueError, match=repr(bad)):
        parse_pairs([bad])


@pytest.mark.parametrize(("text", "value"), [("512", 512), ("1.5", 1.5), ("2G", "2G")])
def test_parse_value(text: str, value: object) -> None:
    """When a limit is given on the command line, it is typed as TOML would type it."""
    assert parse_value(text) == value


@pytest.mark.parametrize(
    ("dirname", "name"), [("My_Shop", "my-shop"), ("shop", "shop"), ("__", "colony")]
)
def test_default_colony_name(dirname: str, name: str) -> None:
    """When init gets no --name, the directory name becomes a valid colony name."""
    assert default_colony_name(dirname) == name


@pytest.mark.parametrize(("code", "status"), [(0, 0), (7, 7), (-9, 137), (None, 1), (300, 255)])
def test_exit_status(code: int | None, status: int) -> None:
    """When a command ends, its code becomes ours; a signal death reads like a shell's."""
    assert exit_status(code) == status


def test_interrupted_spawn_says_how_to_cancel() -> None:
    """When Ctrl-C stops watching a spawn, the line says it goes on and how to cancel it."""
    from colony.cli.format import format_interrupted

    assert format_interrupted("spawn", "web").plain == (
        "colony 'web' is still spawning in the background; 'colony rm --force web' to cancel"
    )


def test_auto_names_take_the_first_free_number() -> None:
    """When spawn has no NAME, it takes the first free <prefix>-<n>, within 63 characters."""
    from colony.cli.format import plan_auto_name

    assert plan_auto_name("flaskr", set()) == "flaskr-1"
    assert plan_auto_name("flaskr", {"flaskr-1", "flaskr-3"}) == "flaskr-2"
    assert len(plan_auto_name("a" * 63, set())) == 63


def test_default_config_points_to_the_readme() -> None:
    """When init writes colony.toml, it points to the README, not a specification users do
    not have, and says what [colony] name does (issue 12)."""
    from colony.core.config import render_default_config

    text = render_default_config("flaskr")
    assert "specification" not in text
    assert "README" in text
    assert "flaskr-1" in text


@pytest.mark.parametrize(
    "colonies",
    [
        [],
        [colony("web")],
        [
            colony("web", services=[service_json(state="fatal", exit_code=1)], degraded=["web"]),
            colony("api", state="failed", address=None, owner=None, services=[], created=0),
            colony("db", services=[service_json(name="db", port=None, state="backoff")]),
            colony("job", services=[service_json(state="exited", exit_code=-9), service_json()]),
            colony("x", state="weird", services=[service_json(state="starting", exit_code=3)]),
        ],
    ],
    ids=["none", "one", "many"],
)
def test_plain_table_is_what_rich_writes_to_a_pipe(colonies: list[Colony]) -> None:
    """When `colony ls` writes to a pipe without rich (issue 15), it writes what rich's Console
    writes of format_table there, byte for byte."""
    from rich.console import Console

    from colony.present.table import plain_table

    out = io.StringIO()
    Console(file=out, soft_wrap=True, highlight=False).print(format_table(colonies, NOW))
    assert plain_table(colonies, NOW) == out.getvalue().removesuffix("\n")


def test_plain_table_leaves_what_is_not_printable_ascii_to_rich() -> None:
    """When a cell holds wide or control characters, the plain table is not made (rich
    measures and cleans those) and `colony ls` renders with rich."""
    from colony.present.table import plain_table

    assert plain_table([colony("web", owner="名前")], NOW) is None
    assert plain_table([colony("web", owner="a\x1bb")], NOW) is None


@pytest.mark.parametrize(
    "urls",
    [
        {"web": "http://web.shop.localhost:7777"},
        {"web": "http://w:1", "api": "http://a:2", "x": None},
    ],
    ids=["one", "two"],
)
def test_plain_urls_are_what_rich_writes_to_a_pipe(urls: dict[str, str | None]) -> None:
    """When `colony url` writes to a pipe without rich (issue 15), its lines are what rich's
    Console writes of format_urls there."""
    from rich.console import Console

    from colony.present.table import plain_grid

    out = io.StringIO()
    Console(file=out, soft_wrap=True, highlight=False).print(format_urls(urls))
    known = sorted((svc, url) for svc, url in urls.items() if url)
    plain = known[0][1] if len(known) == 1 else plain_grid(known)
    assert plain == out.getvalue().removesuffix("\n")
