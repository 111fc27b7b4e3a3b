"""Bloom's "start work" and "watch" (issue 18) through plain HTTP, with the scripted agents of
tests/agents on the colonies' PATH: the task box for whoever may run agents and none for a
viewer (whom the agents API refuses); a task from the page starts a session through the
agent service, continue and stop; "new colony" with a task starts its agent once it runs;
the colonies list shows each agent's status, last event, cost, the diff's size and a
conflict; the timeline shows an agent's events as escaped text."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from colony.client import Client
from colony.contract_responses import Session
from tests.api.conftest import Api, make_repo, settle
from tests.api.test_bloom import login, token_for
from tests.api.test_review import FILES, spawned

HOSTILE = "<img src=x onerror=alert(1)>"
ESCAPED = "&lt;img src=x onerror=alert(1)&gt;"


def ended(client: Client, name: str, session: int) -> Session:
    deadline = time.monotonic() + 20
    while (rec := client.agent_session(name, session)).status == "running":
        assert time.monotonic() < deadline, rec
        time.sleep(0.05)
    return rec


def sessions(client: Client, name: str, count: int) -> list[Session]:
    """The colony's sessions once there are ``count`` of them."""
    deadline = time.monotonic() + 20
    while len(found := client.agent_sessions(name).sessions) < count:
        assert time.monotonic() < deadline, found
        time.sleep(0.05)
    return found


def test_the_task_box_is_the_owners_and_a_viewer_is_refused(api: Api, tmp_path: Path) -> None:
    """The owner's agent fragment has the task box with every preset; a viewer's has no form
    and no button, and the agents API refuses the viewer's run, continue and stop, starting
    nothing."""
    repo = make_repo(tmp_path / "repo", {"app.py": "print('hello')\n"})
    with api.client() as client:
        client.spawn("ag", repo)
        settle(client, "ag", "running")
        client.share("ag", "nobody", "viewer")
    _cookie, token = login(api)
    viewer = token_for(api, "nobody", 65534)
    with api.bloom(headers={"Authorization": f"Bearer {token}"}) as owner:
        mine = owner.get("/ui/fragments/colonies/ag/agent")
        page = owner.get("/ui/colonies/ag")
        index = owner.get("/")
        missing = owner.get("/ui/fragments/colonies/nobody/agent")
    with api.bloom(headers={"Authorization": f"Bearer {viewer}"}) as other:
        seen = other.get("/ui/fragments/colonies/ag/agent")
        refused = [
            other.post("/colonies/ag/agents/run", json={"task": "write x.txt: no"}),
            other.post("/colonies/ag/agents/continue", json={}),
            other.post("/colonies/ag/agents/stop", json={}),
        ]
    with api.client() as client:
        left = client.agent_sessions("ag").sessions
    assert mine.status_code == 200, mine.text
    assert 'id="agent-form"' in mine.text
    for preset in ("aider", "claude", "codex", "gemini"):
        assert f'<option value="{preset}">' in mine.text
    assert "colony.toml's [agent]" in mine.text
    assert "No agent has worked here yet" in mine.text
    assert 'id="agent"' in page.text  # the page's panel the fragment fills
    assert 'name="task"' in index.text  # "new colony" takes a task
    assert missing.status_code == 404
    assert seen.status_code == 200
    assert "agent-form" not in seen.text
    assert "data-agent" not in seen.text
    assert [r.status_code for r in refused] == [403, 403, 403]
    assert left == []


def test_a_task_from_the_page_runs_continues_and_stops(api: Api, tmp_path: Path) -> None:
    """The owner's task (what the task box posts) starts a session of the chosen preset
    through the agent service; its timeline shows its message, tool calls and result
    readably, the hostile text escaped; continue makes a second session; a waiting agent
    shows Stop, and stopping it ends it."""
    repo = make_repo(tmp_path / "repo", {"app.py": "print('hello')\n"})
    with api.client() as client:
        client.spawn("ag", repo)
        ws = Path(settle(client, "ag", "running").workspace or "")
    _cookie, token = login(api)
    task = f"write notes.txt: from bloom\n{HOSTILE}"
    with api.bloom(headers={"Authorization": f"Bearer {token}"}) as owner, api.client() as client:
        started = owner.post("/colonies/ag/agents/run", json={"task": task, "preset": "claude"})
        first = ended(client, "ag", started.json()["id"])
        done = owner.get("/ui/fragments/colonies/ag/agent").text
        again = owner.post("/colonies/ag/agents/continue", json={"task": "write more.txt: x"})
        second = ended(client, "ag", again.json()["id"])
        waiting = owner.post("/colonies/ag/agents/run", json={"task": "wait-for never.txt"})
        running = owner.get("/ui/fragments/colonies/ag/agent").text
        stopped = owner.post("/colonies/ag/agents/stop", json={})
        after = owner.get("/ui/fragments/colonies/ag/agent").text
    assert started.status_code == 202, started.text
    assert first.status == "completed"
    assert first.agent == "claude"
    assert (ws / "notes.txt").read_text().strip() == "from bloom"
    assert f"session {first.id} · claude" in done
    assert '<span class="agent-badge agent-done">done</span>' in done
    assert '<span class="kind">tool call</span> <code class="tool">Write</code>' in done
    assert '<span class="kind">message</span>' in done
    assert '<span class="kind">result</span>' in done
    assert "$0.0" in done  # cost so far
    assert HOSTILE not in done
    assert ESCAPED in done
    assert 'data-agent="continue"' in done
    assert '"type"' not in done  # no raw JSON
    assert again.status_code == 202, again.text
    assert second.parent == first.id
    assert (ws / "more.txt").exists()
    assert waiting.status_code == 202, waiting.text
    assert 'data-agent="stop"' in running
    assert "agent-running" in running
    assert stopped.status_code == 200, stopped.text
    assert stopped.json()["status"] == "interrupted"
    assert "agent-stopped" in after


def test_a_hostile_tool_name_shows_as_text(api: Api, tmp_path: Path) -> None:
    """An agent (a colony.toml-style command template) that names its tool like HTML and
    prints a huge message: the timeline and the list show the name only escaped, and the
    message cut."""
    script = tmp_path / "hostile.py"
    lines = [
        {"type": "system", "subtype": "init", "session_id": "s1", "model": "m"},
        {
            "type": "assistant",
            "session_id": "s1",
            "message": {
                "role": "assistant",
                "content": [
                    {"type": "tool_use", "id": "t1", "name": HOSTILE, "input": {"x": HOSTILE}},
                    {"type": "text", "text": "<script>alert(2)</script>" + "y" * 50_000},
                ],
            },
        },
    ]
    body = "".join(f"print({json.dumps(json.dumps(line))})\n" for line in lines)
    script.write_text(f"import sys\n{body}")
    repo = make_repo(tmp_path / "repo", {"app.py": "print('hello')\n"})
    with api.client() as client:
        client.spawn("ag", repo)
        settle(client, "ag", "running")
        command = f"{sys.executable} {script} {{prompt}}"
        rec = client._request(
            "POST", "/colonies/ag/agents/run", body={"task": "go", "command": command}
        )
        ended(client, "ag", rec["id"])
    _cookie, token = login(api)
    with api.bloom(headers={"Authorization": f"Bearer {token}"}) as owner:
        timeline = owner.get("/ui/fragments/colonies/ag/agent").text
        rows = owner.get("/ui/fragments/rows").text
    for text in (timeline, rows):
        assert "<img" not in text
        assert "<script>" not in text
    assert f'<code class="tool">{ESCAPED}</code>' in timeline
    assert "&lt;script&gt;alert(2)&lt;/script&gt;" in timeline
    assert "y" * 5000 not in timeline  # cut
    assert "…" in timeline
    assert len(rows) < 20_000


def test_new_colony_with_a_task_starts_its_agent_once_it_runs(api: Api, tmp_path: Path) -> None:
    """POST /colonies with a task and an agent (Bloom's "new colony") spawns the colony and,
    once it runs, the agent service starts that agent on the task; a bad agent or an empty
    task is refused before anything is created."""
    repo = make_repo(tmp_path / "repo", {"app.py": "print('hello')\n"})
    _cookie, token = login(api)
    with api.bloom(headers={"Authorization": f"Bearer {token}"}) as owner, api.client() as client:
        spawn = {"name": "one", "repo": str(repo), "task": "write t.txt: made", "agent": "codex"}
        made = owner.post("/colonies", json=spawn)
        ws = Path(settle(client, "one", "running").workspace or "")
        rec = ended(client, "one", sessions(client, "one", 1)[0].id)
        bad_agent = owner.post("/colonies", json={**spawn, "name": "two", "agent": "nobody"})
        empty = owner.post("/colonies", json={**spawn, "name": "three", "task": " "})
        names = [c.name for c in client.colonies().colonies]
    assert made.status_code == 202, made.text
    assert rec.agent == "codex"
    assert rec.task == "write t.txt: made"
    assert rec.status == "completed"
    assert (ws / "t.txt").read_text().strip() == "made"
    assert bad_agent.status_code == 400
    assert "nobody" in bad_agent.json()["error"]["message"]
    assert empty.status_code == 400
    assert "task" in empty.json()["error"]["message"]
    assert names == ["one"]


def test_the_list_shows_agents_costs_diff_sizes_and_conflicts(git_api: Api, tmp_path: Path) -> None:
    """When one colony's agent wrote a file and both colonies changed app.py, the rows show
    the agent's status, its last event line and cost, each colony's diff size, and the
    conflict on app.py for both; a colony without an agent says none. A viewer of one only
    sees the conflict without the other colony's name."""
    api = git_api
    repo = make_repo(tmp_path / "repo", FILES)
    with api.client() as client:
        ws = spawned(client, repo, "one", "two")
        rec = client.agent_run("one", "write notes.txt: a\nwrite app.py: one", preset="claude")
        ended(client, "one", rec.id)
        client.share("one", "nobody", "viewer")
    (ws["two"] / "app.py").write_text("print('two')\nx = 2\n")
    _cookie, token = login(api)
    viewer = token_for(api, "nobody", 65534)
    with api.bloom(headers={"Authorization": f"Bearer {token}"}) as owner:
        rows = owner.get("/ui/fragments/rows").text
    with api.bloom(headers={"Authorization": f"Bearer {viewer}"}) as other:
        theirs = other.get("/ui/fragments/rows").text
    one = rows.split('id="row-one"')[1].split("</tr>")[0]
    two = rows.split('id="row-two"')[1].split("</tr>")[0]
    assert '<span class="agent-badge agent-done">done</span>' in one
    assert "result" in one  # the last event line
    assert "$0.0" in one
    assert " in / " in one  # tokens
    assert "2 file(s)" in one
    assert '<span class="plus">+' in one
    assert "1 file(s)" in two
    assert '<span class="plus">+2</span> <span class="minus">&minus;1</span>' in two
    assert "conflict: 1 file(s)" in one
    assert "conflict: 1 file(s)" in two
    assert "app.py (also two)" in one
    assert 'id="row-two"' not in theirs  # a viewer of one only: two is not named
    assert "app.py (also another colony)" in theirs
    assert ">two<" not in theirs
    assert "also two" not in theirs
    agent_cell = two.split('<td class="agent">')[1].split("</td>")[0]
    assert agent_cell.strip() == '<span class="dim">none</span>'


def test_a_task_waits_for_its_colony_and_is_dropped_when_it_fails(api: Api, tmp_path: Path) -> None:
    """While a colony spawned with a task is still setting up, the list and its page say its
    agent is waiting; when its set-up fails, the task is dropped with a note in its log and no
    agent ever starts."""
    go = tmp_path / "go"
    setup = f'[setup]\ncommands = ["while [ ! -e {go} ]; do sleep 0.05; done", "false"]\n'
    repo = make_repo(tmp_path / "repo", {"app.py": "print('hello')\n", "colony.toml": setup})
    _cookie, token = login(api)
    with api.bloom(headers={"Authorization": f"Bearer {token}"}) as owner, api.client() as client:
        spawn = {"name": "one", "repo": str(repo), "task": "write t.txt: never"}
        made = owner.post("/colonies", json=spawn)
        settle(client, "one", "provisioning")
        rows = owner.get("/ui/fragments/rows").text
        page = owner.get("/ui/fragments/colonies/one/agent").text
        go.touch()
        settle(client, "one", "failed")
        deadline = time.monotonic() + 20
        while "agent-waiting" in (after := owner.get("/ui/fragments/rows").text):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        notes = [e["line"] for e in client.logs("one", lines=50)]
        left = client.agent_sessions("one").sessions
    assert made.status_code == 202, made.text
    assert '<span class="agent-badge agent-waiting">waiting</span>' in rows
    assert "A task waits for this colony to run" in page
    assert "agent-waiting" not in after
    assert any("its agent's task was dropped: the colony is failed" in n for n in notes), notes
    assert left == []
