"""Bloom's "start work" and "watch" (issue 18) against a real Mycelium: a colony spawned from
Bloom's "new colony" with a task runs, its scripted agent starts on the task once it does
(contained, in the colony), and the list and the colony's timeline show what it did."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import make_repo
from tests.host.conftest import Daemon, wait_state
from tests.host.test_bloom_auth import bloom, colony_cli
from tests.host.workflow_helpers import wait_ended, wait_until

HOSTILE = "<img src=x onerror=alert(1)>"


def test_a_new_colony_with_a_task_is_worked_on_and_watched(d: Daemon, tmp_path: Path) -> None:
    """When Bloom spawns a colony with a task for the scripted claude, the agent writes the
    file in the colony once it runs; the list shows it done, its cost and tokens and its
    diff's size; its timeline shows the tool call and what it said, escaped."""
    client = d.client
    assert client is not None
    repo = make_repo(tmp_path / "repo", {"app.py": "print('hello')\n"})
    token = colony_cli(d, "dashboard", "--token").strip()
    task = f"write notes.txt: from bloom\n{HOSTILE}"
    with bloom(d) as http:
        auth = {"Authorization": f"Bearer {token}"}
        body = {"name": "bw", "repo": str(repo), "task": task, "agent": "claude"}
        made = http.post("/colonies", headers=auth, json=body)
        assert made.status_code == 202, made.text
        colony = wait_state(client, "bw", "running", "failed")
        assert colony.state == "running", colony.reason
        first = wait_until(
            lambda: next(iter(client.agent_sessions("bw").sessions), None),
            30,
            "the agent of bw to start",
        )
        rec = wait_ended(client, "bw", first.id)
        rows = http.get("/ui/fragments/rows", headers=auth).text
        timeline = http.get("/ui/fragments/colonies/bw/agent", headers=auth).text
    assert rec.status == "completed", rec
    assert rec.task == task
    assert colony_cli(d, "exec", "bw", "--", "cat", "notes.txt").strip() == "from bloom"
    row = rows.split('id="row-bw"')[1].split("</tr>")[0]
    assert '<span class="agent-badge agent-done">done</span>' in row
    assert "$0.0" in row
    assert " in / " in row
    assert '<span class="plus">+1</span> <span class="minus">&minus;0</span> · 1 file(s)' in row
    assert '<span class="kind">tool call</span> <code class="tool">Write</code>' in timeline
    assert '<span class="kind">result</span>' in timeline
    assert HOSTILE not in timeline
    assert "&lt;img src=x onerror=alert(1)&gt;" in timeline
