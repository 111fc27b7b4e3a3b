"""Colonies as the API describes them (contract: Colony JSON), as Text: their state, services,
limits, the ``colony ls`` table and the ``colony show`` page."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import tzinfo
from typing import Any

from rich.text import Text

from colony.core.lifecycle import shown_state
from colony.core.notices import exit_text
from colony.core.resources import format_size
from colony.present.text import dash, format_age, format_clock, format_duration, grid, header

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
EMPTY = "no colonies (spawn one with 'colony spawn NAME')"


def format_state(state: str) -> Text:
    return Text(state, style=STATE_STYLES.get(state, "cyan"))


def format_service_state(svc: Mapping[str, Any]) -> Text:
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
        out.append_text(format_service_state(svc))
    return out


def format_table(colonies: Sequence[Mapping[str, Any]], now: float) -> Text:
    """The ``colony ls`` table: NAME, STATE, SERVICES, OWNER, CREATED, ADDRESS."""
    if not colonies:
        return Text(EMPTY)
    rows = [header("NAME", "STATE", "SERVICES", "OWNER", "CREATED", "ADDRESS")]
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
    return grid(rows)


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
            and f"{format_clock(c['created'], tz, date=True)} ({format_age(c['created'], now)})",
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
        ("secrets", format_secrets(c.get("secrets") or [])),
    ]
    rows = [[Text(label, style="dim"), Text(str(value))] for label, value in fields if value]
    if rows:
        out.append("\n")
        out.append_text(grid(rows, indent=2))
    services = c.get("services") or []
    if services:
        out.append("\n\n")
        out.append("services\n", style="bold")
        table = [header("NAME", "PORT", "STATE", "PID", "RESTARTS", "URL")]
        for svc in services:
            table.append(
                [Text(str(svc.get("name"))), Text(_port(svc)), format_service_state(svc)]
                + [Text(dash(svc.get(k))) for k in ("pid", "restarts", "url")]
            )
        out.append_text(grid(table, indent=2))
    transitions = c.get("transitions") or []
    if transitions:
        out.append("\n\n")
        out.append("transitions\n", style="bold")
        table = []
        for i, tr in enumerate(transitions):
            until = transitions[i + 1]["at"] if i + 1 < len(transitions) else None
            took = format_duration((until or now) - tr["at"]) + ("" if until else " so far")
            detail = ": ".join(str(x) for x in (tr.get("step"), tr.get("reason")) if x)
            table.append(
                [
                    Text(format_clock(tr["at"], tz), style="dim"),
                    format_state(str(tr.get("state"))),
                    Text(took),
                    Text(detail),
                ]
            )
        out.append_text(grid(table, indent=2))
    return out


def format_sandbox(colony: Mapping[str, Any]) -> str:
    """``"strict: moderate + mount namespace: …"`` (issue 3), or the bare level."""
    level = str(colony.get("sandbox") or "")
    text = (colony.get("containment") or {}).get("description")
    return f"{level}: {text}" if level and text else level


def format_secrets(secrets: list[Mapping[str, Any]]) -> str:
    """``API_KEY → api.example.com; TOKEN → a.example, b.example`` (issue 17): no values."""
    return "; ".join(f"{s.get('key')} → {', '.join(s.get('hosts') or [])}" for s in secrets)


def format_user(containment: Mapping[str, Any]) -> str:
    """``"nobody (uid 65534): owner root: colonies never run as root"``; or why it cannot."""
    user = containment.get("user")
    if not user:
        return str(containment.get("user_error") or "")
    return f"{user['name']} (uid {user['uid']}): {user['why']}; no_new_privs"


def format_limits(limits: Mapping[str, Any], containment: Mapping[str, Any]) -> str:
    """``"cpu 0.5 cores, memory 128M (swap 0), pids 64"``; ``"none"`` when unlimited."""

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
    return f"{port} (host {host_port})" if host_port is not None else dash(port)
