"""Review without surprises (issue 12): merged work leaves `colony conflicts`, merges carry the
owner's git identity, a refused merge changes nothing; on a real Mycelium and real git."""

from __future__ import annotations

import os
import pwd
import subprocess
from pathlib import Path

import pytest

from colony.errors import Conflict
from colony.vcs.repo import FALLBACK_IDENTITY
from tests.conftest import git, make_repo
from tests.host.conftest import Daemon, git_in, running_daemon, sh_in
from tests.host.test_trash import files, spawn
from tests.host.test_workflow_cli import colony, one_line_error
from tests.host.workflow_helpers import wait_ended


def conflicted(d: Daemon) -> list[tuple[str, list[str]]]:
    assert d.client is not None
    return [(c.path, c.colonies) for c in d.client.conflicts().conflicts]


def test_merged_work_drops_out_of_conflicts(daemon: Daemon, tmp_path: Path) -> None:
    """When two colonies changed app.py and one of them is merged, app.py is no longer a
    conflict: the merged colony's change is in the target branch already. A new file that
    three colonies made alike stops conflicting too once one of them is merged."""
    client = daemon.client
    assert client is not None
    repo = make_repo(tmp_path / "repo", {"app.py": "base\n", "b.txt": "b\n"})
    for name in ("one", "two", "three"):
        spawn(client, repo, name)
        assert sh_in(client, name, "echo same > shared.txt")[0] == 0
    assert sh_in(client, "one", "echo one > app.py && echo new > one.txt")[0] == 0
    assert sh_in(client, "two", "echo two > app.py && echo two > b.txt")[0] == 0
    assert conflicted(daemon) == [
        ("app.py", ["one", "two"]),
        ("shared.txt", ["one", "three", "two"]),
    ]

    assert client.merge("one").merged is True
    assert conflicted(daemon) == []
    # What one has not merged still counts: a later change to b.txt conflicts with two's.
    assert sh_in(client, "one", "echo one > b.txt")[0] == 0
    assert conflicted(daemon) == [("b.txt", ["one", "two"])]


def owner_identity(repo: Path) -> tuple[str, str]:
    """What the repository's owner sees as user.name and user.email there (HOME theirs)."""
    home = pwd.getpwuid(repo.stat().st_uid).pw_dir
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "XDG_"))}
    env["HOME"] = home

    def get(key: str) -> str:
        done = subprocess.run(
            ["git", "-C", str(repo), "config", key], capture_output=True, text=True, env=env
        )
        return done.stdout.strip()

    return (get("user.name") or FALLBACK_IDENTITY[0], get("user.email") or FALLBACK_IDENTITY[1])


def test_merge_commit_carries_the_owners_identity_not_the_daemons(
    tmp_path: Path, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When Mycelium runs with a HOME of its own (a service's), a merge commit is authored
    with the identity the repository's owner has in git, not the daemon's HOME's."""
    daemon_home = tmp_path / "daemon-home"
    daemon_home.mkdir()
    (daemon_home / ".gitconfig").write_text(
        "[user]\n\tname = Not The Owner\n\temail = daemon@wrong.invalid\n"
    )
    monkeypatch.setenv("HOME", str(daemon_home))
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    repo = make_repo(tmp_path / "repo", {"app.py": "base\n"})
    expected = owner_identity(repo)
    assert expected[0] != "Not The Owner"
    with running_daemon(tmp_path, request) as d:
        client = d.client
        assert client is not None
        spawn(client, repo, "who")
        assert sh_in(client, "who", "echo work > work.txt")[0] == 0
        (repo / "other.txt").write_text("moved on\n")
        git(repo, "add", "other.txt")
        git(repo, "commit", "-q", "-m", "main moves on")
        merged = client.merge("who")
        assert merged.fast_forward is False
        author = git(repo, "log", "-1", "--format=%an%n%ae%n%cn%n%ce", "main").split("\n")
        assert tuple(author[:2]) == expected
        assert tuple(author[2:4]) == expected
        work = git_in(client, "who", "log", "-1", "--format=%an", "colony/who").strip()
        assert work == expected[0]


def test_a_refused_merge_changes_nothing_and_names_the_blocking_files(
    daemon: Daemon, tmp_path: Path
) -> None:
    """When the target branch's checkout has local changes the merge would overwrite (an
    edited file, an untracked file the work adds), the merge is refused naming them, and
    nothing changes: not the branch, not the checkout, not the colony's branch or files."""
    client = daemon.client
    assert client is not None
    repo = make_repo(tmp_path / "repo", {"app.py": "base\n", "keep.txt": "k\n"})
    spawn(client, repo, "busy")
    ws = Path(client.colony("busy").workspace)
    assert sh_in(client, "busy", "echo colony > app.py && echo n > new.txt")[0] == 0
    (repo / "app.py").write_text("mine, not committed\n")
    (repo / "new.txt").write_text("mine too\n")
    (repo / "keep.txt").write_text("unrelated local edit\n")

    def state() -> tuple[object, ...]:
        return (
            files(repo),
            git(repo, "rev-parse", "main"),
            git(repo, "status", "--porcelain"),
            git_in(client, "busy", "rev-parse", "HEAD"),
            git_in(client, "busy", "status", "--porcelain"),
            files(ws),
        )

    before = state()
    for squash in (False, True):
        with pytest.raises(Conflict) as refused:
            client.merge("busy", squash=squash)
        message = str(refused.value)
        assert "local changes" in message
        assert "app.py, new.txt" in message
        assert "keep.txt" not in message
        assert state() == before

    (repo / "app.py").write_text("base\n")
    (repo / "new.txt").unlink()
    merged = client.merge("busy")
    assert merged.merged is True
    assert (repo / "keep.txt").read_text() == "unrelated local edit\n"
    assert (repo / "app.py").read_text() == "colony\n"


def test_every_agent_turn_is_bracketed_by_snapshots_and_undone_by_session(
    d: Daemon, tmp_path: Path
) -> None:
    """When agents run two turns, each turn leaves a snapshot at its start and its end,
    listed with its session; undo --session N gives back the files from before session N
    started, and undo --session 1 those from before any agent ran."""
    client = d.client
    assert client is not None
    repo = make_repo(
        tmp_path / "repo", {"a.txt": "base\n", "colony.toml": "[agent]\npreset = 'claude'\n"}
    )
    ws = Path(spawn(client, repo, "turns").workspace)
    untouched = files(ws)
    first = client.agent_run("turns", "write a.txt: one\nwrite new.txt: n")
    assert wait_ended(client, "turns", first.id).status == "completed"
    after_first = files(ws)
    second = client.agent_continue("turns", "write a.txt: two")
    assert wait_ended(client, "turns", second.id).status == "completed"
    assert (ws / "a.txt").read_text() == "two\n"

    listed = client.snapshots("turns").snapshots
    assert [(s.session, s.turn) for s in listed] == [
        (first.id, "start"),
        (first.id, "end"),
        (second.id, "start"),
        (second.id, "end"),
    ]
    table = colony(d, "snapshot", "turns", "--list").stdout
    assert f"{first.id} start" in table
    assert f"{second.id} end" in table

    assert client.undo("turns", session=second.id).restored.turn == "start"
    assert files(ws) == after_first
    client.undo("turns", session=first.id)
    assert files(ws) == untouched
    missing = colony(d, "undo", "turns", "--session", "99")
    one_line_error(missing, "--session 99: colony 'turns' has no snapshot from before agent")
    assert files(ws) == untouched


def test_a_snapshot_that_cannot_be_taken_does_not_fail_the_agent(d: Daemon, tmp_path: Path) -> None:
    """When the colony's repository cannot record a snapshot (its HEAD is gone), the agent
    still runs and completes, and the colony's log says the snapshot could not be taken."""
    client = d.client
    assert client is not None
    repo = make_repo(
        tmp_path / "repo", {"a.txt": "base\n", "colony.toml": "[agent]\npreset = 'claude'\n"}
    )
    ws = Path(spawn(client, repo, "broken").workspace)
    assert sh_in(client, "broken", "git update-ref -d HEAD")[0] == 0
    run = client.agent_run("broken", "write a.txt: still works")
    assert wait_ended(client, "broken", run.id).status == "completed"
    assert (ws / "a.txt").read_text() == "still works\n"
    lines = [e["line"] for e in client.logs("broken", lines=500)]
    assert any(
        f"cannot take the snapshot before agent session {run.id}" in line for line in lines
    ), lines
    assert any(f"cannot take the snapshot after agent session {run.id}" in line for line in lines)
