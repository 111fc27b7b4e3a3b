"""Agent sessions through the real client (issue 13): the scripted agents of tests/agents
stand in for the agent CLIs on colonies' PATH; they run on the host (FakeIsolation)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from colony.client import Client
from colony.contract_responses import Session
from colony.errors import ConfigError, Conflict, NotFound
from tests.api.conftest import Api, make_repo, settle


def colony(client: Client, tmp_path: Path, name: str = "ag") -> Path:
    repo = make_repo(tmp_path / "repo", {"app.py": "print('hello')\n"})
    client.spawn(name, repo)
    return Path(settle(client, name, "running").workspace)


def ended(client: Client, name: str, session: int) -> Session:
    deadline = time.monotonic() + 20
    while (rec := client.agent_session(name, session)).status == "running":
        assert time.monotonic() < deadline, rec
        time.sleep(0.05)
    return rec


def test_an_agent_runs_its_task_and_is_continued(api: Api, tmp_path: Path) -> None:
    """When an agent is given a task, it does it in the workspace, its session ends completed
    with its events (also as a followed stream), the listings show it, and continuing makes a
    new session whose parent it is."""
    with api.client() as client:
        ws = colony(client, tmp_path)
        started = client.agent_run("ag", "write notes.txt: from the agent", preset="claude")
        streamed = list(client.agent_events("ag", started.id, follow=True))
        first = ended(client, "ag", started.id)
        again = client.agent_continue("ag", "write more.txt: again")
        second = ended(client, "ag", again.id)
        mine = client.agent_sessions("ag").sessions
        every = client.agent_sessions().sessions
        later = list(client.agent_events("ag", started.id, after=1))
        with pytest.raises(ConfigError, match=r"^events: expected an integer, got 'x'$"):
            client._request("GET", f"/colonies/ag/agents/{again.id}", params={"events": "x"})
    assert started.status == "running"
    assert (ws / "notes.txt").read_text().strip() == "from the agent"
    assert first.status == "completed", first
    assert first.events[0].kind == "init"
    assert "tool_call" in [e.kind for e in first.events]
    assert streamed[-1]["kind"] == "ended"
    assert [e["seq"] for e in streamed[:-1]] == [e.seq for e in first.events]
    assert all(e["seq"] > 1 for e in later)
    assert second.status == "completed"
    assert second.parent == started.id
    assert (ws / "more.txt").exists()
    assert sorted(s.id for s in mine) == sorted([started.id, again.id])
    assert [s.id for s in every] == [s.id for s in mine]


def test_a_running_agent_is_stopped_either_way(api: Api, tmp_path: Path) -> None:
    """When an agent waits, a second run is refused; stopping the colony's agent, or the
    session by its id, ends it interrupted; stopping again is a conflict."""
    with api.client() as client:
        colony(client, tmp_path)
        waiting = "wait-for never.txt"
        one = client.agent_run("ag", waiting, preset="claude")
        with pytest.raises(Conflict, match="ag"):
            client.agent_run("ag", waiting, preset="claude")
        stopped = client.agent_stop("ag")
        two = client.agent_run("ag", waiting, preset="claude")
        by_id = client.agent_stop("ag", two.id)
        with pytest.raises(Conflict):
            client.agent_stop("ag", two.id)
    assert (stopped.id, stopped.status) == (one.id, "interrupted")
    assert (by_id.id, by_id.status) == (two.id, "interrupted")


def test_agent_mistakes_are_one_line(api: Api, tmp_path: Path) -> None:
    with api.client() as client:
        colony(client, tmp_path)
        with pytest.raises(ConfigError, match=r"^agent: unknown preset 'nobody': expected one"):
            client.agent_run("ag", "do it", preset="nobody")
        with pytest.raises(NotFound, match="nowhere"):
            client.agent_run("nowhere", "do it", preset="claude")
        with pytest.raises(NotFound):
            client.agent_session("ag", 999)
        # Was a 500: an id beyond SQLite's integers raised OverflowError in the store.
        with pytest.raises(NotFound, match=r"^colony 'ag' has no agent session 9{20}$"):
            client.agent_session("ag", int("9" * 20))
        # Was a 500 (a bare ColonyError): there is nothing to continue.
        with pytest.raises(NotFound, match=r"^colony 'ag' has no agent sessions$"):
            client.agent_continue("ag")
        with pytest.raises(NotFound):
            list(client.agent_events("ag", 999))
        with pytest.raises(ConfigError, match=r"^request body: env: expected an object"):
            client._request("POST", "/colonies/ag/agents/run", body={"task": "x", "env": [1]})
        assert client.agent_sessions("ag").sessions == []
