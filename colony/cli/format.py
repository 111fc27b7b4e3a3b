"""What the CLI shows, as pure functions: ``parse_*`` read arguments, ``format_*`` return Text.

Nothing here touches click, the client, the clock or the terminal; ``now`` and ``tz`` are
arguments, so each function is one call and one assert in tests/unit/test_cli_format.py.
"""

from __future__ import annotations

import contextlib
import re
import zlib
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any

from rich.text import Text

from colony.core.lifecycle import shown_state
from colony.core.notices import exit_text

EMPTY = "no colonies (spawn one with 'colony spawn NAME')"
STATE_STYLES = {
    "running": "green",
    "degraded": "bold yellow",
    "stopped": "dim",
    "stopping": "yellow",
    "failed": "bold red",
}
SERVICE_STYLES = {
    "running": "green",
    "backoff": "yellow",
    "stopping": "yellow",
    "stopped": "dim",
    "exited": "dim",
    "fatal": "bold red",
}
SOURCE_STYLES = ("cyan", "magenta", "green", "yellow", "blue", "bright_magenta", "bright_cyan")


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


def format_age(then: float, now: float) -> str:
    """``"just now"``, ``"42s ago"``, ``"2m ago"``, ``"3h ago"``, ``"4d ago"``."""
    seconds = int(max(0.0, now - then))
    if seconds < 1:
        return "just now"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit} ago"
    return f"{seconds}s ago"


def format_duration(seconds: float) -> str:
    """``"340ms"``, ``"2.1s"``, ``"3m05s"``, ``"2h10m"``."""
    seconds = max(0.0, seconds)
    if round(seconds * 1000) < 1000:
        return f"{round(seconds * 1000)}ms"
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def format_state(state: str) -> Text:
    return Text(state, style=STATE_STYLES.get(state, "cyan"))


def _service_state(svc: Mapping[str, Any]) -> Text:
    state = str(svc.get("state") or "?")
    text = Text(state, style=SERVICE_STYLES.get(state, "cyan"))
    if svc.get("exit_code") is not None and state != "running":
        text.append(f" ({exit_text(svc['exit_code'])})")
    return text


def format_colony_state(colony: Mapping[str, Any]) -> Text:
    """A colony's state as front ends show it: ``degraded`` while a service gave up."""
    return format_state(shown_state(str(colony.get("state") or "?"), colony.get("degraded")))


def format_services(services: Sequence[Mapping[str, Any]]) -> Text:
    """``"web:3000 running, worker running"`` (states colored), or ``"-"``."""
    if not services:
        return Text("-")
    out = Text()
    for i, svc in enumerate(services):
        if i:
            out.append(", ")
        port = svc.get("port")
        out.append(f"{svc.get('name')}:{port} " if port is not None else f"{svc.get('name')} ")
        out.append_text(_service_state(svc))
    return out


def _grid(rows: Sequence[Sequence[Text]], indent: int = 0) -> Text:
    """Left-aligned columns two spaces apart."""
    widths = [max(row[i].cell_len for row in rows) for i in range(len(rows[0]))]
    lines = []
    for row in rows:
        line = Text(" " * indent)
        for cell, width in zip(row, widths, strict=False):
            line.append_text(cell)
            line.append(" " * (width - cell.cell_len + 2))
        line.rstrip()
        lines.append(line)
    return Text("\n").join(lines)


def _header(*names: str) -> list[Text]:
    return [Text(name, style="bold") for name in names]


def format_table(colonies: Sequence[Mapping[str, Any]], now: float) -> Text:
    """The ``colony ls`` table: NAME, STATE, SERVICES, OWNER, CREATED, ADDRESS."""
    if not colonies:
        return Text(EMPTY)
    rows = [_header("NAME", "STATE", "SERVICES", "OWNER", "CREATED", "ADDRESS")]
    for col in sorted(colonies, key=lambda c: str(c.get("name"))):
        created = col.get("created")
        rows.append(
            [
                Text(str(col.get("name"))),
                format_colony_state(col),
                format_services(col.get("services") or []),
                Text(str(col.get("owner") or "-")),
                Text(format_age(created, now) if created else "-"),
                Text(str(col.get("address") or "-")),
            ]
        )
    return _grid(rows)


def _clock(at: float, tz: tzinfo | None, *, date: bool = False) -> str:
    moment = datetime.fromtimestamp(at, tz)
    if date:
        return moment.strftime("%Y-%m-%d %H:%M:%S")
    return moment.strftime("%H:%M:%S.") + f"{moment.microsecond // 1000:03d}"


def _state_line(state: str, step: str | None, reason: str | None) -> Text:
    text = format_state(state)
    if step:
        text.append(f" at {step}" if state == "failed" else f" ({step})")
    if reason:
        text.append(f": {reason}")
    return text


def format_colony(colony: Mapping[str, Any], now: float, tz: tzinfo | None = None) -> Text:
    """``colony show``: state, places, services and the timeline of one colony."""
    c = colony
    out = Text.assemble((str(c.get("name")), "bold"), "  ")
    if format_colony_state(c).plain == "degraded":  # issue 12: running, but a service gave up
        out.append_text(format_colony_state(c))
        out.append(f" (running; gave up: {', '.join(c['degraded'])})")
    else:
        out.append_text(_state_line(str(c.get("state") or "?"), c.get("step"), c.get("reason")))
    repo = f"{c.get('repo')}" + (f" @ {c['rev']}" if c.get("rev") else "")
    limits = format_limits(c["limits"] or {}, c.get("containment") or {}) if "limits" in c else ""
    fields = [
        ("owner", c.get("owner")),
        (
            "created",
            c.get("created")
            and f"{_clock(c['created'], tz, date=True)} ({format_age(c['created'], now)})",
        ),
        ("repo", c.get("repo") and repo + (f" ({c['vcs']})" if c.get("vcs") else "")),
        ("workspace", c.get("workspace")),
        (
            "branch",
            c.get("branch")
            and c["branch"] + (f" (base {c['base'][:12]})" if c.get("base") else ""),
        ),
        ("data dir", c.get("data_dir")),
        ("db", c.get("db")),
        (
            "address",
            c.get("address")
            and c["address"] + (f" (netns {c['netns']})" if c.get("netns") else ""),
        ),
        ("sandbox", format_sandbox(c)),
        ("runs as", format_user(c.get("containment") or {})),
        ("limits", limits),
    ]
    rows = [[Text(label, style="dim"), Text(str(value))] for label, value in fields if value]
    if rows:
        out.append("\n")
        out.append_text(_grid(rows, indent=2))
    services = c.get("services") or []
    if services:
        out.append("\n\n")
        out.append("services\n", style="bold")
        grid = [_header("NAME", "PORT", "STATE", "PID", "RESTARTS", "URL")]
        for svc in services:
            grid.append(
                [Text(str(svc.get("name"))), Text(_port(svc)), _service_state(svc)]
                + [Text(_dash(svc.get(k))) for k in ("pid", "restarts", "url")]
            )
        out.append_text(_grid(grid, indent=2))
    transitions = c.get("transitions") or []
    if transitions:
        out.append("\n\n")
        out.append("transitions\n", style="bold")
        grid = []
        for i, tr in enumerate(transitions):
            until = transitions[i + 1]["at"] if i + 1 < len(transitions) else None
            took = format_duration((until or now) - tr["at"]) + ("" if until else " so far")
            detail = ": ".join(str(x) for x in (tr.get("step"), tr.get("reason")) if x)
            grid.append(
                [
                    Text(_clock(tr["at"], tz), style="dim"),
                    format_state(str(tr.get("state"))),
                    Text(took),
                    Text(detail),
                ]
            )
        out.append_text(_grid(grid, indent=2))
    return out


def format_sandbox(colony: Mapping[str, Any]) -> str:
    """``"strict: moderate + mount namespace: …"`` (issue 3), or the bare level."""
    level = str(colony.get("sandbox") or "")
    text = (colony.get("containment") or {}).get("description")
    return f"{level}: {text}" if level and text else level


def format_user(containment: Mapping[str, Any]) -> str:
    """``"nobody (uid 65534): owner root: colonies never run as root"``; or why it cannot."""
    user = containment.get("user")
    if not user:
        return str(containment.get("user_error") or "")
    return f"{user['name']} (uid {user['uid']}): {user['why']}; no_new_privs"


def format_limits(limits: Mapping[str, Any], containment: Mapping[str, Any]) -> str:
    """``"cpu 0.5 cores, memory 128M (swap 0), pids 64"``; ``"none"`` when unlimited."""
    from colony.core.resources import format_size

    def size(value: object) -> str:
        return format_size(value) if isinstance(value, int | float) else str(value)

    parts = []
    if (cpu := limits.get("cpu")) is not None:
        parts.append(f"cpu {cpu} core" + ("" if cpu == 1 else "s"))
    if (memory := limits.get("memory")) is not None:
        parts.append(f"memory {size(memory)}")
    if (swap := limits.get("swap")) is not None:
        parts.append(f"swap {size(swap)}")
    if (pids := limits.get("pids")) is not None:
        parts.append(f"pids {pids}")
    if (weight := limits.get("io_weight")) is not None:
        parts.append(f"io_weight {weight}")
    if (disk := limits.get("disk")) is not None:
        used = containment.get("disk")
        parts.append(f"disk {size(disk)}" + (f" ({size(used['used'])} used)" if used else ""))
    text = ", ".join(parts) or "none (unlimited)"
    if unapplied := containment.get("unapplied_limits"):
        text += f"; not offered by this kernel: {', '.join(unapplied)}"
    return text


def _port(svc: Mapping[str, Any]) -> str:
    """``"3000"``, or ``"3000 (host 41234)"`` at sandbox level none (issue 3)."""
    port, host_port = svc.get("port"), svc.get("host_port")
    return f"{port} (host {host_port})" if host_port is not None else _dash(port)


def _dash(value: object) -> str:
    return "-" if value is None or value == "" else str(value)


def format_transition(state: str, took: float) -> Text:
    """A progress line for a state the colony just left: ``"  building      3.4s"``."""
    return Text.assemble(
        "  ", (f"{state:<13}", STATE_STYLES.get(state, "cyan")), (format_duration(took), "dim")
    )


def format_service_event(event: Mapping[str, Any]) -> Text:
    """A progress line for a service event: ``"  · web  running  pid 4242"``."""
    out = Text.assemble("  · ", str(event.get("service")), "  ", _service_state(event))
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
    return (
        _grid([[Text(svc), Text(url)] for svc, url in sorted(known.items())]) if known else Text()
    )


def format_log_line(entry: Mapping[str, Any], width: int = 0) -> Text:
    """``"web    | GET / 200"``, the source colored the same way every time."""
    source = str(entry.get("source") or "?")
    style = "dim" if source == "colony" else SOURCE_STYLES[zlib.crc32(source.encode()) % 7]
    out = Text.assemble((source.ljust(width), style), (" | ", style))
    out.append_text(Text.from_ansi(str(entry.get("line", "")).rstrip("\n")))
    return out


def format_gc(result: Mapping[str, Any]) -> Text:
    removed = result.get("removed") or []
    if not removed:
        return Text("nothing to clean")
    return Text("\n".join(f"removed {r.get('kind')} {r.get('name')}" for r in removed))


def format_removed(result: Mapping[str, Any]) -> Text:
    """What ``colony rm`` did and where the work stays recoverable."""
    lines = [f"removed colony '{result.get('removed')}'"]
    if result.get("snapshot"):
        lines.append(f"final snapshot {str(result['snapshot'])[:12]} recorded")
    if result.get("saved"):
        branch = result.get("branch") or "its branch"
        lines.append(
            f"workspace ({branch}, commits and uncommitted files) kept in {result['saved']}"
        )
    if result.get("trash"):
        lines.append(f"data and logs moved to {result['trash']}")
    lines.append(f"bring it back with 'colony trash restore {result.get('removed')}'")
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
    return Text(head + "\n").append_text(_grid(rows, indent=2))
