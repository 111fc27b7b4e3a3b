"""What the CLI shows, as pure functions: ``parse_*`` read arguments, ``format_*`` return Text.

Nothing here touches click, the client, the clock or the terminal; ``now`` and ``tz`` are
arguments, so each function is one call and one assert in tests/unit/test_cli_format.py.
The views Stem shows as well (a colony, its services, log lines) live in :mod:`colony.present`;
what is the CLI's alone (progress lines, confirmations, arguments) stays here.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from typing import Any

from rich.text import Text

from colony.contract_responses import Collected, Removed, RemoveResult
from colony.present import STATE_STYLES, format_duration, format_service_state, format_state, grid

# --- parsing (pure) -----------------------------------------------------------------------


def parse_pairs(values: Sequence[str], what: str = "KEY=VALUE") -> dict[str, str]:
    """``["a=1", "b=x=y"]`` → ``{"a": "1", "b": "x=y"}``; ValueError names a bad value."""
    pairs: dict[str, str] = {}
    for value in values:
        key, sep, rest = value.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"expected {what}, got {value!r}")
        pairs[key.strip()] = rest
    return pairs


def parse_value(text: str) -> int | float | str:
    """A limit's value as TOML would type it: ``"512"`` → 512, ``"1.5"`` → 1.5, else text."""
    for kind in (int, float):
        with contextlib.suppress(ValueError):
            return kind(text)
    return text


def default_colony_name(dirname: str) -> str:
    """A valid colony name from a directory name: ``"My_Shop"`` → ``"my-shop"``."""
    name = re.sub(r"[^a-z0-9-]+", "-", dirname.lower()).strip("-")
    return name[:63].strip("-") or "colony"


def plan_auto_name(prefix: str, taken: Collection[str]) -> str:
    """The first free ``<prefix>-<n>`` (n from 1), at most 63 characters (issue 12).

    Example:
        >>> plan_auto_name("flaskr", {"flaskr-1"})
        'flaskr-2'
    """
    n = 1
    while True:
        suffix = f"-{n}"
        name = prefix[: 63 - len(suffix)].strip("-") + suffix
        if name not in taken:
            return name
        n += 1


# --- formatting (pure) --------------------------------------------------------------------


def format_transition(state: str, took: float) -> Text:
    """A progress line for a state the colony just left: ``"  building      3.4s"``."""
    return Text.assemble(
        "  ", (f"{state:<13}", STATE_STYLES.get(state, "cyan")), (format_duration(took), "dim")
    )


def format_service_event(event: Mapping[str, Any]) -> Text:
    """A progress line for a service event: ``"  · web  running  pid 4242"``."""
    state = format_service_state(event.get("state"), event.get("exit_code"))
    out = Text.assemble("  · ", str(event.get("service")), "  ", state)
    if event.get("pid") is not None:
        out.append(f"  pid {event['pid']}", style="dim")
    if event.get("reason"):
        out.append(f"  {event['reason']}")
    return out


def format_already(name: str, state: str) -> Text:
    """``"colony 'web' is already running"``: a request that had nothing to do (a stop of a
    failed colony too: nothing of it runs)."""
    if state == "failed":
        return Text.assemble(f"colony '{name}' is ", format_state(state), ": nothing to stop")
    return Text.assemble(f"colony '{name}' is already ", format_state(state))


def format_settled(name: str, state: str, took: float) -> Text:
    """``"colony 'web' is running (14.2s)"``."""
    return Text.assemble(f"colony '{name}' is ", format_state(state), f" ({format_duration(took)})")


def format_warning(text: str) -> Text:
    """``"warning: colony.toml: services.web.restrat: unknown key, ignored (…)"``."""
    return Text.assemble(("warning:", "bold yellow"), f" {text}")


# What goes on after Ctrl-C stops watching a lifecycle request, and how to undo it (issue 12).
_GOES_ON = {
    "spawn": ("still spawning in the background", "'colony rm --force {}' to cancel"),
    "start": ("still starting in the background", "'colony stop {}' to stop it"),
    "restart": ("still restarting in the background", "'colony stop {}' to stop it"),
    "stop": ("still stopping in the background", "'colony show {}' to follow it"),
}


def format_interrupted(action: str, name: str) -> Text:
    """``"colony 'web' is still spawning in the background; 'colony rm --force web' to
    cancel"``: Ctrl-C stops the watching, not the work."""
    state, undo = _GOES_ON.get(action, ("still busy in the background", "'colony show {}'"))
    return Text(f"colony '{name}' is {state}; {undo.format(name)}")


def format_urls(urls: Mapping[str, str | None]) -> Text:
    """One URL alone, or ``"web  http://…"`` per service: the URL is always last."""
    known = {svc: url for svc, url in urls.items() if url}
    if len(known) == 1:
        return Text(next(iter(known.values())))
    return grid([[Text(svc), Text(url)] for svc, url in sorted(known.items())]) if known else Text()


def format_gc(result: Collected) -> Text:
    if not result.removed:
        return Text("nothing to clean")
    return Text("\n".join(f"removed {r.kind} {r.name}" for r in result.removed))


def format_removed(result: Removed | RemoveResult) -> Text:
    """What ``colony rm`` did and where the work stays recoverable."""
    lines = [f"removed colony '{result.removed}'"]
    if result.snapshot:
        lines.append(f"final snapshot {result.snapshot[:12]} recorded")
    if result.saved:
        branch = result.branch or "its branch"
        lines.append(f"workspace ({branch}, commits and uncommitted files) kept in {result.saved}")
    if result.trash:
        lines.append(f"data and logs moved to {result.trash}")
    lines.append(f"bring it back with 'colony trash restore {result.removed}'")
    return Text("\n".join(lines))


def format_health(health: Mapping[str, Any], socket_path: Path) -> Text:
    head = f"Mycelium is running (pid {health.get('pid')}, version {health.get('version')})"
    fields = [
        ("socket", socket_path),
        ("state dir", health.get("state_dir")),
        ("proxy port", health.get("proxy_port")),
        ("prefix", health.get("prefix")),
        ("domain", health.get("domain")),
        ("bloom", health.get("http_url")),  # issue 7: `colony dashboard` logs in there
    ]
    rows = [[Text(k, style="dim"), Text(str(v))] for k, v in fields if v is not None]
    return Text(head + "\n").append_text(grid(rows, indent=2))
