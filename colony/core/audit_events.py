"""From daemon events to audit drafts, and from entries to queries and exported lines.

Pure. Every event is redacted (:mod:`colony.core.redact`) before anything else looks at it,
so no secret reaches a message, the store or an export.

Example:
    >>> event = {"type": "exec", "colony": "web", "user": "alice", "argv": ["ls"], "at": 5.0}
    >>> plan_draft(event, now=9.0).msg
    'web: exec ls'
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shlex
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from colony.core.audit import Draft, Entry
from colony.core.bus_events import RequestEvent, render_event
from colony.core.notices import exit_text, plural
from colony.core.redact import redact_event
from colony.core.routes import RequestRecord
from colony.errors import ConfigError

# Audit kinds, and the event types each one records.
EVENT_KINDS = {
    "state": "lifecycle",
    "service": "lifecycle",
    "removed": "lifecycle",
    "health": "lifecycle",
    "gc": "lifecycle",
    "share": "lifecycle",
    "secret": "lifecycle",
    "exec": "exec",
    "exec_end": "exec",
    "agent": "agent",
    "request": "request",
    "net": "net",
    "dns": "net",
    "files": "files",
    "resource": "resource",
    "conflict": "conflict",
}
KINDS = ("lifecycle", "exec", "agent", "request", "net", "files", "resource", "conflict", "other")
STREAM_FIELDS = "colony,user,kind"


def plan_draft(event: dict[str, Any], now: float) -> Draft:
    """The audit draft of one bus event: redacted, classified, with a one-line message."""
    safe: dict[str, Any] = redact_event(event)
    etype = str(safe.get("type") or "event")
    at = safe.get("at")
    user = safe.get("user")
    colony = safe.get("colony")
    return Draft(
        at=float(at) if isinstance(at, int | float) and not isinstance(at, bool) else now,
        kind=EVENT_KINDS.get(etype, "other"),
        colony=colony if isinstance(colony, str) else None,
        user=user if isinstance(user, str) else None,
        msg=format_event(safe),
        data=safe,
    )


def _argv(event: dict[str, Any]) -> str:
    argv = event.get("argv")
    if isinstance(argv, list):
        return shlex.join(str(a) for a in argv)
    return "the terminal"


def _ms(seconds: Any) -> str:
    return f"{float(seconds) * 1000:.0f} ms" if isinstance(seconds, int | float) else "?"


def _format_by_type(t: str, e: dict[str, Any]) -> str | None:
    if t == "state":
        detail = f" at {e['step']}: {e['reason']}" if e.get("reason") else ""
        return f"{e.get('state')}{detail}"
    if t == "service":
        pid = f" (pid {e['pid']})" if e.get("pid") else ""
        code = f" ({exit_text(e['exit_code'])})" if e.get("exit_code") is not None else ""
        return f"service {e.get('service')} {e.get('state')}{pid}{code}"
    if t == "removed":
        return "removed"
    if t == "health":
        services = ", ".join(str(s) for s in e.get("degraded") or [])
        return f"degraded: {services} gave up" if services else "recovered: every service runs"
    if t == "gc":
        removed = e.get("removed") or []
        names = ", ".join(f"{r.get('kind')} {r.get('name')}" for r in removed[:5])
        more = f" and {len(removed) - 5} more" if len(removed) > 5 else ""
        return f"gc removed {len(removed)} objects" + (f": {names}{more}" if names else "")
    if t == "share":
        role = e.get("role")
        return (
            f"shared with {e.get('to')} as {role}"
            if role
            else f"no longer shared with {e.get('to')}"
        )
    if t == "secret":
        hosts = e.get("hosts")
        if hosts is None:
            return f"secret {e.get('variable')} removed"
        return f"secret {e.get('variable')} set for {', '.join(str(h) for h in hosts)}"
    if t == "exec":
        return f"{'shell' if e.get('tty') else 'exec'} {_argv(e)}"
    if t == "exec_end":
        return f"exec {_argv(e)} exited {e.get('code')} after {_ms(e.get('duration'))}"
    if t == "request":
        return _format_request(e)
    if t == "net":
        if e.get("reason"):  # the egress gate's refusal, as the colony was told (issue 16)
            return str(e["reason"]).removeprefix(f"colony '{e.get('colony')}': ")
        to = f"{e['host']} ({e.get('dest')})" if e.get("host") else e.get("dest")
        return f"{e.get('verdict')} {e.get('proto')} to {to}:{e.get('port')}"
    if t == "policy" and e.get("change"):  # an amendment (issue 16): what it did
        return f"policy {e.get('egress')}: {e['change']}"
    if t == "dns":
        answer = ", ".join(str(a) for a in e.get("answer") or []) or "no address"
        told = answer if e.get("verdict") == "accept" else f"NXDOMAIN ({e.get('reason')})"
        times = f" x{e['count']}" if isinstance(e.get("count"), int) and e["count"] > 1 else ""
        return f"dns {e.get('qtype')} {e.get('name')}{times} -> {told}"
    if t == "files":
        return _format_files(e)
    if t == "resource":
        return f"{e.get('kind')}: {e.get('detail')}"
    if t == "agent":
        return f"agent {e.get('kind')} (session {e.get('session')})"
    if t == "conflict":
        colonies = ", ".join(str(c) for c in e.get("colonies") or [])
        return f"conflict on {e.get('path')} between {colonies}"
    return None


def _format_request(e: dict[str, Any]) -> str:
    """One request (``GET web.shop.localhost/ -> 200 (…)``), or a batch of them (issue 15):
    ``12 requests to web.shop.localhost by alice: GET /, GET /app.js, … -> 200 x11, 404 x1``."""
    by = f" by {e['client']}" if e.get("client") else ""
    count = e.get("count") if isinstance(e.get("count"), int) else 1
    if count == 1:
        status = e.get("status") if e.get("status") is not None else "no response"
        return (
            f"{e.get('method')} {e.get('host')}{e.get('path')} -> {status}{by} "
            f"({e.get('bytes')} B, {_ms(e.get('duration'))})"
        )
    paths = [str(p) for p in (e.get("paths") or [])]
    more = e.get("more_paths") if isinstance(e.get("more_paths"), int) else 0
    shown = ", ".join(paths[:5]) + (", …" if len(paths) > 5 or more else "")
    statuses = e.get("statuses")
    codes = ", ".join(f"{k} x{v}" for k, v in sorted((statuses or {}).items()))
    return (
        f"{count} requests to {e.get('host')}{by}: {shown} -> {codes} "
        f"({e.get('bytes')} B, {_ms(e.get('duration'))} in all)"
    )


def _format_files(e: dict[str, Any]) -> str:
    """``3 files changed: a, b, c``; paths the rate limit held back (issue 11) end it as
    ``… and 9,412 more``."""
    paths = [str(p) for p in (e.get("paths") or [])]
    more = e.get("more") if isinstance(e.get("more"), int) else 0
    if not paths and more:
        return f"… and {more:,} more files changed"
    shown = ", ".join(paths[:3]) + (", …" if len(paths) > 3 or more else "")
    text = f"{plural(e.get('count', len(paths)), 'file')} changed" + (f": {shown}" if shown else "")
    return text + (f" and {more:,} more" if more else "")


def format_event(event: dict[str, Any]) -> str:
    """One line saying what an event records (the entry's ``msg``, VictoriaLogs' ``_msg``)."""
    etype = str(event.get("type") or "event")
    text = _format_by_type(etype, event)
    if text is None:
        rest = {k: v for k, v in event.items() if k not in ("type", "colony", "user", "at")}
        text = f"{etype} {json.dumps(rest, sort_keys=True)}"
    colony = event.get("colony")
    return f"{colony}: {text}" if isinstance(colony, str) else text


def plan_request_event(rec: RequestRecord, at: float) -> dict[str, Any]:
    """The JSON of one preview request's bus event (:class:`RequestEvent`)."""
    return render_event(RequestEvent.of(rec, at))


# --- export -------------------------------------------------------------------------------


def format_time(at: float) -> str:
    """RFC 3339 in UTC with microseconds, as VictoriaLogs' ``_time`` takes it."""
    stamp = dt.datetime.fromtimestamp(at, dt.UTC).isoformat(timespec="microseconds")
    return stamp.replace("+00:00", "Z")


def render_jsonline(entry: Entry) -> dict[str, Any]:
    """An entry as one object of VictoriaLogs' ``/insert/jsonline``.

    ``_msg`` and ``_time`` are its message and time; ``colony``, ``user`` and ``kind`` are
    meant as stream fields; the event's own fields are nested under ``data`` (VictoriaLogs
    flattens them to ``data.*``), with ``seq`` and ``hash`` for cross-checking with the log.
    """
    return {
        "_time": format_time(entry.at),
        "_msg": entry.msg,
        "colony": entry.colony or "",
        "user": entry.user or "",
        "kind": entry.kind,
        "seq": entry.seq,
        "hash": entry.hash,
        "data": json.loads(entry.data),
    }


# --- queries ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Query:
    """Which entries to show: all given conditions hold; ``after`` is a seq."""

    colony: str | None = None
    kind: str | None = None
    user: str | None = None
    since: float | None = None
    until: float | None = None
    after: int = 0


def matches(entry: Entry, q: Query) -> bool:
    return (
        entry.seq > q.after
        and (q.colony is None or entry.colony == q.colony)
        and (q.kind is None or entry.kind == q.kind)
        and (q.user is None or entry.user == q.user)
        and (q.since is None or entry.at >= q.since)
        and (q.until is None or entry.at < q.until)
    )


def parse_kind(text: str, what: str = "--kind") -> str:
    if text not in KINDS:
        raise ConfigError(f"{what}: expected one of {', '.join(KINDS)}, got {text!r}")
    return text


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_DURATION = re.compile(r"(?:\d+(?:\.\d+)?[smhdw])+")
_PART = re.compile(r"(\d+(?:\.\d+)?)([smhdw])")


def parse_duration(text: str, what: str) -> float:
    """Seconds in ``90s``, ``30m``, ``1h``, ``2d``, ``1w`` or sums such as ``1h30m``."""
    value = text.strip()
    if not _DURATION.fullmatch(value):
        raise ConfigError(
            f"{what}: expected a duration such as 90s, 30m, 1h, 2d or 1w, got {text!r}"
        )
    return sum(float(n) * _UNITS[u] for n, u in _PART.findall(value))


def push_url(url: str, what: str = "--audit-push") -> str:
    """VictoriaLogs' jsonline endpoint for ``url`` (a base URL or the endpoint itself), with
    ``colony,user,kind`` as stream fields unless the URL names its own.

    Example:
        >>> push_url("http://127.0.0.1:9428")
        'http://127.0.0.1:9428/insert/jsonline?_stream_fields=colony,user,kind'
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"{what}: expected an http(s) URL of VictoriaLogs, got {url!r}")
    path = parts.path if parts.path not in ("", "/") else "/insert/jsonline"
    query = parts.query
    if "_stream_fields=" not in query:
        query = "&".join(q for q in (query, f"_stream_fields={STREAM_FIELDS}") if q)
    return urlunsplit((parts.scheme, parts.netloc, path, query, ""))


def parse_since(text: str, now: float, what: str = "--since") -> float:
    """A unix time from ``1h``/``30m``/``2d``/``1h30m`` (that long before ``now``), an ISO
    time (``2024-05-01``, ``2024-05-01T10:00``, local time unless it says otherwise) or a
    unix time (``1714550000``).

    Example:
        >>> parse_since("1h30m", now=10000.0)
        4600.0
    """
    value = text.strip()
    if _DURATION.fullmatch(value):
        return now - parse_duration(value, what)
    try:
        number = float(value)
    except ValueError:
        number = None
    if number is not None and number >= 1e9:
        return number
    try:
        return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        pass
    raise ConfigError(
        f"{what}: expected a duration such as 90s, 30m, 1h or 2d, or a time such as "
        f"2024-05-01T10:00, got {text!r}"
    )
