"""Answers of the API as tests need them (issue 13): a colony's JSON as Mycelium sends it,
and the typed :class:`colony.contract_responses.Colony` the client makes of it."""

from __future__ import annotations

from typing import Any

from colony.contract_responses import Colony, Containment, Sample, Session, load


def service_json(**changes: Any) -> dict[str, Any]:
    """A service as Mycelium's answers show it."""
    data: dict[str, Any] = {
        "name": "web",
        "port": 3000,
        "host_port": None,
        "state": "running",
        "pid": None,
        "restarts": 0,
        "exit_code": None,
        "url": None,
    }
    return {**data, **changes}


def containment_json(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "level": "basic",
        "description": "own network namespace and cgroup",
        "user": None,
        "user_error": None,
        "unapplied_limits": [],
        "disk": None,
    }
    return {**data, **changes}


def sample_json(**changes: Any) -> dict[str, Any]:
    """A colony's usage sample as Mycelium sends it (numbers it does not know are None)."""
    data: dict[str, Any] = {
        "colony": "web",
        "state": "running",
        "level": "basic",
        "user": None,
        "at": 1700000004.5,
        "cpu_percent": None,
        "cpu_usec": None,
        "memory": None,
        "pids": None,
        "io_read": None,
        "io_write": None,
        "oom_kills": None,
        "memory_hits": None,
        "pids_hits": None,
        "limits": {},
    }
    return {**data, **changes}


def a_sample(**changes: Any) -> Sample:
    return load(Sample, sample_json(**changes))


def colony_json(**changes: Any) -> dict[str, Any]:
    """A colony as Mycelium's ``GET /colonies/{name}`` answers it."""
    data: dict[str, Any] = {
        "name": "web",
        "state": "running",
        "degraded": [],
        "step": None,
        "reason": None,
        "owner": "al",
        "created": 1700000000.25,
        "updated": 1700000003,
        "repo": "/home/al/shop",
        "rev": None,
        "vcs": "git",
        "branch": "colony/web",
        "base": "a" * 40,
        "workspace": "/var/lib/colony/colonies/web/workspace",
        "data_dir": "/var/lib/colony/colonies/web/data",
        "db": "/var/lib/colony/colonies/web/data/db.sqlite",
        "address": "10.0.0.2",
        "netns": "ca-web",
        "sandbox": "basic",
        "containment": containment_json(
            user={"name": "colony-web", "uid": 61000, "gid": 61000, "why": "its own uid"}
        ),
        "usage": sample_json(cpu_percent=1.5, memory=1024, limits={"cpu": 2}),
        "limits": {"cpu": 2},
        "services": [service_json(pid=42, url="http://web.web.localhost:7777")],
        "transitions": [
            {"state": "spawning", "at": 1700000000.25, "step": None, "reason": None},
            {"state": "running", "at": 1700000003, "step": None, "reason": None},
        ],
    }
    return {**data, **changes}


def session_json(**changes: Any) -> dict[str, Any]:
    """An agent session as Mycelium sends it."""
    data: dict[str, Any] = {
        "id": 1,
        "colony": "web",
        "agent": "claude",
        "task": "add a /health route",
        "argv": ["claude", "-p", "add a /health route"],
        "status": "running",
        "user": "al",
        "started": 1700000010.0,
        "ended": None,
        "duration": None,
        "exit_code": None,
        "pid": 4321,
        "session_id": None,
        "model": None,
        "cost": None,
        "tokens_in": None,
        "tokens_out": None,
        "result": None,
        "is_error": False,
        "parent": None,
        "brood": None,
    }
    return {**data, **changes}


def a_session(**changes: Any) -> Session:
    return load(Session, session_json(**changes))


def a_colony(**changes: Any) -> Colony:
    return load(Colony, colony_json(**changes))


def a_containment(**changes: Any) -> Containment:
    return load(Containment, containment_json(**changes))
