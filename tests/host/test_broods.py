"""Broods (issue 6) on a real Mycelium: N colonies from one base, at most K agents at once,
[check] in each, ranking, pick. Scripted agents stand in for the agent CLI."""

from __future__ import annotations

import textwrap
from pathlib import Path

from tests.conftest import git, make_repo
from tests.host.conftest import Daemon
from tests.host.workflow_helpers import wait_until

CONFIG = textwrap.dedent("""
    [agent]
    preset = "claude"

    [check]
    command = "test \\"$(cat answer.txt 2>/dev/null)\\" = 42"
""")


def read_int(path: Path) -> int:
    return int(path.read_text() or 0) if path.exists() else 0


def test_brood_runs_at_most_k_agents_ranks_and_picks(
    d: Daemon, tmp_path: Path, exchange: Path
) -> None:
    """When a brood of 4 runs with max-parallel 2, never more than 2 agents run at once;
    [check] results rank the members; pick merges the best and trashes the other three."""
    client = d.client
    assert client is not None
    repo = make_repo(tmp_path / "repo", {"README.md": "# x\n", "colony.toml": CONFIG})
    base = git(repo, "rev-parse", "HEAD").strip()
    count = exchange / "count"
    count.mkdir(mode=0o777)
    count.chmod(0o777)
    gate = exchange / "gate"
    objective = "\n".join(
        [
            f"count {count}",
            f"wait-for {gate}",
            "when -2: write answer.txt: 42",
            "when -3: write answer.txt: 41",
            "when -4: write answer.txt: 42",
            "when -4: write extra.txt: more\\nlines\\nhere",
        ]
    )
    brood = client.brood_spawn(objective, 4, repo, max_parallel=2, name="fix")
    assert [m.colony for m in sorted(brood.members, key=lambda m: m.position)] == [
        "fix-1",
        "fix-2",
        "fix-3",
        "fix-4",
    ]
    assert brood.base == base

    def states() -> list[str]:
        members = client.brood("fix").members
        return [m.state for m in sorted(members, key=lambda m: m.position)]

    wait_until(lambda: read_int(count / "running") == 2, what="two agents running")
    assert states().count("agent") == 2
    assert states().count("queued") == 2
    gate.touch()
    wait_until(lambda: client.brood("fix").state == "done", timeout=60, what="the brood")
    assert read_int(count / "max") == 2
    assert read_int(count / "running") == 0
    shown = client.brood("fix")
    ranked = sorted(shown.members, key=lambda m: m.rank)
    assert [m.colony for m in ranked[:2]] == ["fix-2", "fix-4"]
    assert [m.check for m in ranked] == [True, True, False, False]
    assert all(m.status == "completed" for m in ranked)
    for colony in ("fix-1", "fix-2", "fix-3", "fix-4"):
        assert client.colony(colony).base == base
    sessions = [s for s in client.agent_sessions().sessions if s.brood == "fix"]
    starts = sorted((s.started, +1) for s in sessions)
    ends = sorted((s.ended, -1) for s in sessions)
    running = top = 0
    for _, delta in sorted(starts + ends, key=lambda e: (e[0], e[1])):
        running += delta
        top = max(top, running)
    assert top <= 2

    picked = client.brood_pick("fix", squash=True)
    assert picked.picked == "fix-2"
    assert sorted(picked.trashed) == ["fix-1", "fix-3", "fix-4"]
    assert (repo / "answer.txt").read_text() == "42\n"
    assert not (repo / "extra.txt").exists()
    assert [c.name for c in client.colonies().colonies] == ["fix-2"]
    assert sorted(e.name for e in client.trash().trash) == ["fix-1", "fix-3", "fix-4"]
    assert client.brood("fix").state == "picked"
