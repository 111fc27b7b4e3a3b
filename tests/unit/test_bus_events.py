"""Typed bus events: each renders to the JSON its publisher sent as a dict literal before
(same keys, same order, same values), and every event class goes through render_event."""

from __future__ import annotations

import json
from typing import Any

import pytest

from colony.core import bus_events as be
from colony.core.model import State, Transition
from colony.core.policy import Policy
from colony.core.routes import RequestRecord
from colony.daemon.events import EventBus

# (typed event, the dict literal its publish site built before) for each event type
CASES: list[tuple[be.BusEvent, dict[str, Any]]] = [
    (
        be.StateEvent(
            colony="web", transition=Transition(State.FAILED, 1.0, "build", "exit 1"), user="al"
        ),
        {"type": "state", "colony": "web", "state": "failed", "at": 1.0, "step": "build",
         "reason": "exit 1", "user": "al"},
    ),
    (
        be.StateEvent(colony="web", transition=Transition(State.SPAWNING, 2.0)),
        {"type": "state", "colony": "web", "state": "spawning", "at": 2.0, "step": None,
         "reason": None},
    ),
    (
        be.ServiceEvent(
            colony="web", service="api", state="running", pid=42, at=3.0, exit_code=None
        ),
        {"type": "service", "colony": "web", "service": "api", "state": "running", "pid": 42,
         "at": 3.0, "exit_code": None},
    ),
    (
        be.HealthEvent(colony="web", state="degraded", degraded=("api",), at=4.0, user="al"),
        {"type": "health", "colony": "web", "state": "degraded", "degraded": ["api"],
         "at": 4.0, "user": "al"},
    ),
    (
        be.RemovedEvent(colony="web", at=5.0, user="al"),
        {"type": "removed", "colony": "web", "at": 5.0, "user": "al"},
    ),
    (
        be.GcEvent(removed=({"kind": "netns", "name": "c-x"},), at=6.0),
        {"type": "gc", "removed": [{"kind": "netns", "name": "c-x"}], "at": 6.0},
    ),
    (
        be.ResourceEvent(colony="web", user="al", kind="oom", detail="killed", at=7.0),
        {"type": "resource", "colony": "web", "user": "al", "kind": "oom", "detail": "killed",
         "at": 7.0},
    ),
    (
        be.ResourceEvent(colony="web", kind="limit", detail="watch limit", at=7.5),
        {"type": "resource", "colony": "web", "kind": "limit", "detail": "watch limit",
         "at": 7.5},
    ),
    (
        be.MergeEvent(colony="web", into="main", user="al", commit="abc", squash=True, at=8.0),
        {"type": "merge", "colony": "web", "into": "main", "user": "al", "commit": "abc",
         "squash": True, "at": 8.0},
    ),
    (
        be.ConflictEvent(path="a.py", colonies=("a", "b"), repo="/r", at=9.0),
        {"type": "conflict", "path": "a.py", "colonies": ["a", "b"], "repo": "/r", "at": 9.0},
    ),
    (
        be.FilesEvent(colony="web", paths=("a", "b"), count=2, at=10.0),
        {"type": "files", "colony": "web", "paths": ["a", "b"], "count": 2, "at": 10.0},
    ),
    (
        be.FilesEvent(colony="web", paths=(), count=0, at=10.0, more=9412, overflow=True),
        {"type": "files", "colony": "web", "paths": [], "count": 0, "at": 10.0, "more": 9412,
         "overflow": True},
    ),
    (
        be.AgentStarted(colony="web", session=3, user="al", at=11.0, agent="claude",
                        task="fix it", parent=None, brood="b", pid=77),
        {"type": "agent", "colony": "web", "session": 3, "kind": "started", "user": "al",
         "at": 11.0, "agent": "claude", "task": "fix it", "parent": None, "brood": "b",
         "pid": 77},
    ),
    (
        be.AgentOutput(colony="web", session=3, kind="tool_call", user="al", at=12.0, seq=4,
                       text="ls", tool="Bash", data={"input": {"command": "ls"}}),
        {"type": "agent", "colony": "web", "session": 3, "kind": "tool_call", "user": "al",
         "at": 12.0, "seq": 4, "text": "ls", "tool": "Bash",
         "data": {"input": {"command": "ls"}}},
    ),
    (
        be.AgentEnded(colony="web", session=3, user="al", at=13.0, status="done", exit_code=0,
                      duration=2.5, cost=0.01, tokens_in=10, tokens_out=20, session_id="s-1"),
        {"type": "agent", "colony": "web", "session": 3, "kind": "ended", "user": "al",
         "at": 13.0, "status": "done", "exit_code": 0, "duration": 2.5, "cost": 0.01,
         "tokens_in": 10, "tokens_out": 20, "session_id": "s-1"},
    ),
    (
        be.BroodSpawned(brood="b", at=14.0, count=3, max_parallel=2, user="al"),
        {"type": "brood", "brood": "b", "kind": "spawned", "at": 14.0, "count": 3,
         "max_parallel": 2, "user": "al"},
    ),
    (
        be.BroodDone(brood="b", at=15.0),
        {"type": "brood", "brood": "b", "kind": "done", "at": 15.0},
    ),
    (
        be.BroodMember(brood="b", at=16.0, colony="b-1", state="checked", reason=None,
                       check_code=0),
        {"type": "brood", "brood": "b", "kind": "member", "at": 16.0, "colony": "b-1",
         "state": "checked", "reason": None, "check_code": 0},
    ),
    (
        be.BroodPicked(brood="b", at=17.0, colony="b-1", trashed=("b-2",), user="al"),
        {"type": "brood", "brood": "b", "kind": "picked", "at": 17.0, "colony": "b-1",
         "trashed": ["b-2"], "user": "al"},
    ),
    (
        be.BroodRemoved(brood="b", at=17.5, removed=("b-1", "b-2"), user="al"),
        {"type": "brood", "brood": "b", "kind": "removed", "at": 17.5,
         "removed": ["b-1", "b-2"], "user": "al"},
    ),
    (
        be.ExecEvent(colony="web", user="al", argv=("ls", "-l"), env={"A": "1"}, cwd="/w",
                     tty=False, at=18.0),
        {"type": "exec", "colony": "web", "user": "al", "argv": ["ls", "-l"], "env": {"A": "1"},
         "cwd": "/w", "tty": False, "at": 18.0},
    ),
    (
        be.ExecEndEvent(colony="web", user="al", argv=("ls",), code=0, duration=0.5, at=19.0),
        {"type": "exec_end", "colony": "web", "user": "al", "argv": ["ls"], "code": 0,
         "duration": 0.5, "at": 19.0},
    ),
    (
        be.PolicyEvent(colony="web", user="al", at=20.0, reset=False,
                       policy=Policy("allowlist", ("pypi.org",), ())),
        {"type": "policy", "colony": "web", "user": "al", "at": 20.0, "reset": False,
         "egress": "allowlist", "allow": ["pypi.org"], "deny": []},
    ),
    (
        be.PolicyEvent(colony="web", user="al", at=20.0, reset=False,
                       policy=Policy("allowlist", ("pypi.org",), ()), change="allowed pypi.org"),
        {"type": "policy", "colony": "web", "user": "al", "at": 20.0, "reset": False,
         "egress": "allowlist", "allow": ["pypi.org"], "deny": [], "change": "allowed pypi.org"},
    ),
    (
        be.PolicyEvent(colony="web", user="al", at=20.0, reset=True, policy=None),
        {"type": "policy", "colony": "web", "user": "al", "at": 20.0, "reset": True},
    ),
    (
        be.ShareEvent(colony="web", user="al", to="bob", role="viewer", at=20.5),
        {"type": "share", "colony": "web", "user": "al", "to": "bob", "role": "viewer",
         "at": 20.5},
    ),
    (
        be.SecretEvent(colony="web", user="al", variable="API_KEY", hosts=["a.example"], at=20.6),
        {"type": "secret", "colony": "web", "user": "al", "variable": "API_KEY",
         "hosts": ["a.example"], "at": 20.6},
    ),
    (
        be.NetEvent(colony="web", user="al", dest="1.2.3.4", port=443, proto="tcp",
                    verdict="deny", at=21.0),
        {"type": "net", "colony": "web", "user": "al", "dest": "1.2.3.4", "port": 443,
         "proto": "tcp", "verdict": "deny", "at": 21.0},
    ),
    (
        be.DnsEvent(colony="web", user="al", name="pypi.org", qtype="A", verdict="accept",
                    answer=("151.101.0.223",), reason="allowed by 'pypi.org'", at=21.5),
        {"type": "dns", "colony": "web", "user": "al", "name": "pypi.org", "qtype": "A",
         "verdict": "accept", "answer": ["151.101.0.223"], "reason": "allowed by 'pypi.org'",
         "count": 1, "at": 21.5},
    ),
    (
        be.RequestEvent.of(
            RequestRecord("web", "api", 3000, "GET", "/x", "api.web.localhost", None, 0, 0.01),
            22.0,
        ),
        {"type": "request", "colony": "web", "service": "api", "port": 3000, "method": "GET",
         "host": "api.web.localhost", "path": "/x", "status": None, "bytes": 0,
         "duration": 0.01, "at": 22.0},
    ),
]  # fmt: skip


def _classes(base: type[be.BusEvent]) -> set[type[be.BusEvent]]:
    found = set()
    for sub in base.__subclasses__():
        found |= {sub, *_classes(sub)}
    return found


@pytest.mark.parametrize(("event", "expected"), CASES, ids=lambda x: type(x).__name__)
def test_json_shape(event: be.BusEvent, expected: dict[str, Any]) -> None:
    """When an event is rendered, its JSON text is the one of the dict literal of before:
    same keys in the same order, same values, optional keys only when set."""
    assert json.dumps(be.render_event(event)) == json.dumps(expected)
    assert be.render_event(event) == expected


def test_user_is_left_out_unless_someone_asked() -> None:
    """When no user asked, the events that carry ``user`` only sometimes leave it out."""
    assert "user" not in be.render_event(be.RemovedEvent(colony="w", at=1.0))
    assert "user" not in be.render_event(
        be.ServiceEvent(colony="w", service="s", state="stopped", pid=None, at=1.0, exit_code=0)
    )
    assert be.render_event(be.GcEvent(removed=(), at=1.0, user="root"))["user"] == "root"


def test_every_event_class_is_covered_and_rendered_by_render_event() -> None:
    """When a new event class is added, it has a case here, it has a TYPE, and only
    render_event turns it into JSON (no class of its own renders itself)."""
    concrete = {c for c in _classes(be.BusEvent) if c not in (be.AgentEvent, be.BroodEvent)}
    assert concrete == {type(e) for e, _ in CASES}
    for cls in concrete:
        assert isinstance(cls.TYPE, str)
        assert not any("to_json" in vars(c) for c in cls.__mro__ if c is not object), cls
    for event, _ in CASES:
        assert be.render_event(event)["type"] == type(event).TYPE


async def test_bus_hands_subscribers_the_rendered_json() -> None:
    """When a typed event is published, every subscriber gets render_event's dict."""
    bus = EventBus()
    event = be.RemovedEvent(colony="web", at=1.0, user="al")
    async with bus.subscribe() as a, bus.subscribe() as b:
        bus.publish(event)
        assert a.get_nowait() == b.get_nowait() == be.render_event(event)
