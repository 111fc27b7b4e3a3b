"""Agents, review and merge (issue 6) on a real Mycelium: scripted agents stand in for the
agent CLIs; namespaces, cgroups, git and the store are real."""

from __future__ import annotations

from pathlib import Path

import pytest

from colony.client import Client
from colony.contract_responses import Session
from colony.errors import Conflict
from tests.conftest import git, make_repo
from tests.host.conftest import Daemon, git_in, wait_state
from tests.host.workflow_helpers import (
    wait_ended,
    wait_event,
    wait_until,
)

NAMES = ("one", "two", "three")
TASKS = {
    "one": "write app.py: print('one')",
    "two": "write app.py: print('two')\nwrite notes.txt: two was here",
    "three": "write docs/guide.md: # Guide",
}


def project(tmp_path: Path, agent: str = "claude") -> Path:
    return make_repo(
        tmp_path / "repo",
        {
            "app.py": "print('hello')\n",
            "README.md": "# app\n",
            "colony.toml": f'[agent]\npreset = "{agent}"\n',
        },
    )


def spawn_all(client: Client, repo: Path, names: tuple[str, ...]) -> None:
    for name in names:
        client.spawn(name, str(repo))
    for name in names:
        colony = wait_state(client, name, "running", "failed")
        assert colony.state == "running", colony.reason


def run_three(client: Client, repo: Path) -> dict[str, Session]:
    """Three colonies, each agent given its task; returns the ended sessions."""
    spawn_all(client, repo, NAMES)
    started = {name: client.agent_run(name, TASKS[name]) for name in NAMES}
    return {name: wait_ended(client, name, s.id) for name, s in started.items()}


def test_three_agents_diff_and_conflicts(d: Daemon, tmp_path: Path) -> None:
    """When three colonies' agents edit the project differently, each diff shows its own change,
    and the two that touched app.py appear in conflicts and raised a conflict event."""
    client = d.client
    assert client is not None
    repo = project(tmp_path)
    with client.events() as events:
        ended = run_three(client, repo)
        event = wait_event(events, lambda e: e["type"] == "conflict" and e["path"] == "app.py")
    assert event["colonies"] == ["one", "two"]
    for session in ended.values():
        assert session.status == "completed", session
        assert session.agent == "claude"
        assert session.cost > 0
        assert session.tokens_in > 0
    assert "+print('one')" in client.diff("one").diff
    assert "+print('two')" in client.diff("two").diff
    three = client.diff("three", stat=True)
    assert three.stat.paths == ["docs/guide.md"]
    assert "docs/guide.md" in three.diff
    conflicts = client.conflicts().conflicts
    assert [(c.path, c.colonies) for c in conflicts] == [("app.py", ["one", "two"])]
    kinds = [e.kind for e in client.agent_session("one", ended["one"].id).events]
    assert kinds[0] == "init"
    assert "tool_call" in kinds
    assert kinds[-1] == "result"


def test_merge_refuses_conflict_and_squash_gives_one_commit(d: Daemon, tmp_path: Path) -> None:
    """When the first colony is merged, the conflicting second is refused with the file list
    and nothing changes; the third merged with --squash adds exactly one commit."""
    client = d.client
    assert client is not None
    repo = project(tmp_path)
    run_three(client, repo)
    merged = client.merge("one")
    assert (merged.merged, merged.into) == (True, "main")
    assert (repo / "app.py").read_text() == "print('one')\n"
    main = git(repo, "rev-parse", "main")
    before = (git_in(client, "two", "rev-parse", "HEAD"), git_in(client, "two", "status", "-s"))
    with pytest.raises(Conflict, match=r"would conflict in 1 file\(s\): app\.py$"):
        client.merge("two")
    assert git(repo, "rev-parse", "main") == main
    assert (
        git_in(client, "two", "rev-parse", "HEAD"),
        git_in(client, "two", "status", "-s"),
    ) == before
    assert git(repo, "status", "--porcelain") == ""
    squashed = client.merge("three", squash=True)
    assert squashed.squash is True
    assert git(repo, "rev-list", "--count", f"{main.strip()}..main").strip() == "1"
    assert len(git(repo, "log", "-1", "--format=%P", "main").split()) == 1
    assert (repo / "docs" / "guide.md").read_text() == "# Guide\n"


def test_interrupted_session_continues_with_same_session_id(
    d: Daemon, tmp_path: Path, exchange: Path
) -> None:
    """When a running agent is stopped it ends as interrupted; continue resumes it with the
    same agent session id and finishes."""
    client = d.client
    assert client is not None
    repo = project(tmp_path)
    spawn_all(client, repo, ("slow",))
    gate = exchange / "gate-never-opened"
    first = client.agent_run("slow", f"write progress.txt: started\nwait-for {gate}")

    def started() -> bool:
        events = client.agent_session("slow", first.id).events
        return any(e.kind == "tool_result" for e in events)

    wait_until(started, what="the agent to start working")
    stopped = client.agent_stop("slow")
    assert stopped.status == "interrupted"
    assert stopped.exit_code == 130  # it got SIGINT first, and ended on it
    assert stopped.session_id
    again = client.agent_continue("slow", "write after.txt: resumed")
    assert again.parent == first.id
    done = wait_ended(client, "slow", again.id)
    assert done.status == "completed"
    assert done.session_id == stopped.session_id
    workspace = Path(client.colony("slow").workspace)
    assert (workspace / "after.txt").read_text() == "resumed\n"
    assert [s.status for s in client.agent_sessions("slow").sessions] == [
        "interrupted",
        "completed",
    ]


@pytest.mark.parametrize("agent", ["codex", "gemini", "aider"])
def test_other_presets_run_and_report(d: Daemon, tmp_path: Path, agent: str) -> None:
    """When a colony's [agent] is Codex, Gemini CLI or Aider, the agent edits the workspace and
    its output is parsed into events with its tokens."""
    client = d.client
    assert client is not None
    spawn_all(client, project(tmp_path, agent), ("x",))
    session = client.agent_run("x", "write hello.txt: hi")
    done = wait_ended(client, "x", session.id)
    assert (done.status, done.agent) == ("completed", agent)
    assert done.tokens_in > 0
    assert client.diff("x", stat=True).stat.paths == ["hello.txt"]
    kinds = {e.kind for e in client.agent_session("x", session.id).events}
    assert "tool_call" in kinds


def test_agent_outlives_a_daemon_crash_and_is_adopted(
    d: Daemon, tmp_path: Path, exchange: Path
) -> None:
    """When Mycelium is killed while an agent works, the agent keeps running; the restarted
    Mycelium adopts it, reads the rest of its output and records how it ended."""
    client = d.client
    assert client is not None
    spawn_all(client, project(tmp_path), ("durable",))
    gate = exchange / "gate"
    session = client.agent_run(
        "durable", f"write before.txt: b\nwait-for {gate}\nwrite after.txt: a"
    )
    workspace = Path(client.colony("durable").workspace)
    wait_until(lambda: (workspace / "before.txt").exists(), what="the agent to start")
    d.kill9()
    gate.touch()
    wait_until(lambda: (workspace / "after.txt").exists(), what="the agent to go on alone")
    client = d.start()
    done = wait_ended(client, "durable", session.id)
    assert done.status == "completed"
    assert done.cost > 0
    kinds = [e.kind for e in client.agent_session("durable", session.id).events]
    assert kinds.count("init") == 1
    assert kinds[-1] == "result"
