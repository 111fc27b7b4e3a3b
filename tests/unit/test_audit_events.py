"""From bus events to audit drafts; queries, time filters and VictoriaLogs lines."""

from __future__ import annotations

import json

import pytest

from colony.core.audit import GENESIS, chain
from colony.core.audit_events import (
    KINDS,
    Query,
    format_time,
    matches,
    parse_duration,
    parse_kind,
    parse_since,
    plan_draft,
    plan_request_event,
    push_url,
    render_jsonline,
)
from colony.core.routes import RequestRecord
from colony.errors import ConfigError


@pytest.mark.parametrize(
    ("event", "kind", "msg"),
    [
        (
            {"type": "state", "colony": "web", "state": "failed", "step": "build", "reason": "x"},
            "lifecycle",
            "web: failed at build: x",
        ),
        (
            {"type": "service", "colony": "web", "service": "api", "state": "running", "pid": 7},
            "lifecycle",
            "web: service api running (pid 7)",
        ),
        ({"type": "removed", "colony": "web"}, "lifecycle", "web: removed"),
        (
            {"type": "gc", "removed": [{"kind": "netns", "name": "c-x"}]},
            "lifecycle",
            "gc removed 1 objects: netns c-x",
        ),
        (
            {"type": "exec", "colony": "web", "argv": ["ls", "-l"], "tty": False},
            "exec",
            "web: exec ls -l",
        ),
        (
            {"type": "exec", "colony": "web", "argv": ["bash"], "tty": True},
            "exec",
            "web: shell bash",
        ),
        (
            {"type": "exec_end", "colony": "web", "argv": ["ls"], "code": 2, "duration": 0.25},
            "exec",
            "web: exec ls exited 2 after 250 ms",
        ),
        (
            {
                "type": "net",
                "colony": "web",
                "dest": "10.0.0.1",
                "port": 443,
                "proto": "tcp",
                "verdict": "deny",
            },
            "net",
            "web: deny tcp to 10.0.0.1:443",
        ),
        (
            {
                "type": "net",
                "colony": "web",
                "dest": "10.0.0.1",
                "port": 443,
                "proto": "tcp",
                "verdict": "accept",
                "host": "pypi.org",
            },
            "net",
            "web: accept tcp to pypi.org (10.0.0.1):443",
        ),
        (
            {
                "type": "net",
                "colony": "web",
                "dest": "10.0.0.1",
                "port": 443,
                "proto": "tcp",
                "verdict": "deny",
                "host": "x.test",
                "reason": "colony 'web': egress to x.test:443 is not allowed (policy allowlist)",
            },
            "net",
            "web: egress to x.test:443 is not allowed (policy allowlist)",
        ),
        (
            {
                "type": "policy",
                "colony": "web",
                "user": "al",
                "egress": "allowlist",
                "change": "allowed x.test:443",
            },
            "other",
            "web: policy allowlist: allowed x.test:443",
        ),
        (
            {"type": "files", "colony": "web", "paths": ["a", "b", "c", "d"], "count": 4},
            "files",
            "web: 4 files changed: a, b, c, …",
        ),
        (
            {"type": "files", "colony": "web", "paths": ["a", "b"], "count": 2, "more": 9412},
            "files",
            "web: 2 files changed: a, b, … and 9,412 more",
        ),
        (
            {"type": "files", "colony": "web", "paths": [], "count": 0, "more": 9412},
            "files",
            "web: … and 9,412 more files changed",
        ),
        (
            {"type": "resource", "colony": "web", "kind": "limit", "detail": "inotify watch…"},
            "resource",
            "web: limit: inotify watch…",
        ),
        (
            {"type": "resource", "colony": "web", "kind": "oom", "detail": "killed 12"},
            "resource",
            "web: oom: killed 12",
        ),
        (
            {"type": "health", "colony": "web", "state": "degraded", "degraded": ["api"]},
            "lifecycle",
            "web: degraded: api gave up",
        ),
        ({"type": "mystery", "colony": "web", "x": 1}, "other", 'web: mystery {"x": 1}'),
    ],
)
def test_plan_draft(event: dict, kind: str, msg: str) -> None:
    """When an event is planned, it gets its kind and a one-line message."""
    draft = plan_draft({**event, "at": 5.0}, now=9.0)
    assert (draft.kind, draft.msg, draft.at) == (kind, msg, 5.0)


def test_plan_draft_user_and_time() -> None:
    """When an event names its user, the draft carries it; without a time, now is used."""
    draft = plan_draft({"type": "state", "colony": "web", "state": "stopping", "user": "bob"}, 9.0)
    assert (draft.user, draft.colony, draft.at) == ("bob", "web", 9.0)


def test_plan_draft_redacts() -> None:
    """When an event holds a secret, neither its data nor its message keeps it."""
    event = {"type": "exec", "colony": "w", "argv": ["deploy", "--token", "c4n4ry"], "at": 1.0}
    draft = plan_draft(event, 1.0)
    assert "c4n4ry" not in json.dumps(draft.data)
    assert "c4n4ry" not in draft.msg


def test_request_event() -> None:
    """When the proxy reports a request, the event has the agreed fields."""
    rec = RequestRecord("web", "api", 3000, "GET", "/x?q=1", "api.web.localhost", 200, 512, 0.01)
    assert plan_request_event(rec, 4.0) == {
        "type": "request",
        "colony": "web",
        "service": "api",
        "port": 3000,
        "method": "GET",
        "host": "api.web.localhost",
        "path": "/x?q=1",
        "status": 200,
        "bytes": 512,
        "duration": 0.01,
        "at": 4.0,
    }
    assert plan_draft(plan_request_event(rec, 4.0), 4.0).msg == (
        "web: GET api.web.localhost/x?q=1 -> 200 (512 B, 10 ms)"
    )


def test_jsonline() -> None:
    """When an entry is exported, it has _msg, _time, the stream fields and its data."""
    draft = plan_draft({"type": "removed", "colony": "web", "user": "al", "at": 1.5}, 2.0)
    entry = chain([draft], last_seq=0, last_hash=GENESIS)[0]
    line = render_jsonline(entry)
    assert line["_msg"] == "web: removed"
    assert line["_time"] == "1970-01-01T00:00:01.500000Z"
    assert (line["colony"], line["user"], line["kind"]) == ("web", "al", "lifecycle")
    assert (line["seq"], line["hash"]) == (1, entry.hash)
    assert line["data"]["type"] == "removed"


def test_jsonline_without_colony_or_user() -> None:
    """When an entry has no colony or user, the stream fields are empty strings."""
    entry = chain([plan_draft({"type": "gc", "removed": []}, 2.0)], last_seq=0, last_hash=GENESIS)
    line = render_jsonline(entry[0])
    assert (line["colony"], line["user"]) == ("", "")


def test_format_time() -> None:
    """When a time is formatted for VictoriaLogs, it is RFC 3339 in UTC."""
    assert format_time(1714550400.25) == "2024-05-01T08:00:00.250000Z"


@pytest.mark.parametrize(
    ("text", "expected"),
    [("90s", 910.0), ("30m", -800.0), ("1h", -2600.0), ("1h30m", -4400.0), ("2d", 1000 - 172800)],
)
def test_since_durations(text: str, expected: float) -> None:
    """When --since is a duration, it counts back from now."""
    assert parse_since(text, now=1000.0) == expected


def test_since_times() -> None:
    """When --since is a time, it is that time (UTC if it says so, unix time as is)."""
    assert parse_since("2024-05-01T08:00:00Z", now=0.0) == 1714550400.0
    assert parse_since("1714550400", now=0.0) == 1714550400.0
    assert isinstance(parse_since("2024-05-01", now=0.0), float)


@pytest.mark.parametrize("text", ["yesterdayish", "1x", "5", "", "h1"])
def test_since_errors(text: str) -> None:
    """When --since is neither a duration nor a time, the error names flag, value, expectation."""
    with pytest.raises(ConfigError) as caught:
        parse_since(text, now=0.0)
    message = str(caught.value)
    assert message.startswith("--since: expected a duration such as 90s")
    assert repr(text) in message
    assert "\n" not in message


def test_duration() -> None:
    """When a retention is given, it is a duration in seconds."""
    assert parse_duration("90d", "--audit-retention") == 90 * 86400
    with pytest.raises(ConfigError, match="--audit-retention: expected a duration"):
        parse_duration("forever", "--audit-retention")


def test_kinds() -> None:
    """When --kind names no kind, the error lists the kinds."""
    assert parse_kind("exec") == "exec"
    with pytest.raises(ConfigError) as caught:
        parse_kind("execs")
    assert str(caught.value) == f"--kind: expected one of {', '.join(KINDS)}, got 'execs'"


def test_matches() -> None:
    """When a query has conditions, an entry matches only if all hold."""
    draft = plan_draft({"type": "exec", "colony": "web", "user": "al", "at": 10.0}, 10.0)
    entry = chain([draft], last_seq=4, last_hash=GENESIS)[0]
    assert matches(entry, Query())
    assert matches(entry, Query(colony="web", kind="exec", user="al", since=10.0, until=11.0))
    assert not matches(entry, Query(after=5))
    assert not matches(entry, Query(kind="files"))
    assert not matches(entry, Query(until=10.0))


def test_push_url() -> None:
    """When a VictoriaLogs URL is configured, the jsonline endpoint and stream fields are added."""
    assert push_url("http://127.0.0.1:9428") == (
        "http://127.0.0.1:9428/insert/jsonline?_stream_fields=colony,user,kind"
    )
    assert push_url("http://v:9428/insert/jsonline?_stream_fields=kind") == (
        "http://v:9428/insert/jsonline?_stream_fields=kind"
    )
    with pytest.raises(ConfigError, match="--audit-push: expected an http"):
        push_url("v:9428")
