"""Review and recovery through the real client (issue 13), on real git workspaces: diff,
snapshots and undo, merge into the repository, conflicts between colonies, and the trash."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from colony.client import Client
from colony.errors import ColonyError, Conflict, NotFound
from tests.api.conftest import Api, make_repo, settle

FILES = {"app.py": "print('hello')\n", "README.md": "# app\n"}


def spawned(client: Client, repo: Path, *names: str) -> dict[str, Path]:
    for name in names:
        client.spawn(name, repo)
    found = {}
    for name in names:
        colony = settle(client, name, "running", "failed")
        assert colony.state == "running", colony.reason
        found[name] = Path(colony.workspace)
    return found


def git(repo: Path, *argv: str) -> str:
    done = subprocess.run(["git", "-C", str(repo), *argv], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_diff_shows_the_work_and_its_stat(git_api: Api, tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", FILES)
    with git_api.client() as client:
        ws = spawned(client, repo, "one")["one"]
        (ws / "app.py").write_text("print('one')\n")
        (ws / "new.txt").write_text("fresh\n")
        diff = client.diff("one")
        stat = client.diff("one", stat=True).stat
        with pytest.raises(NotFound, match="nobody"):
            client.diff("nobody")
    assert "+print('one')" in diff.diff
    assert "-print('hello')" in diff.diff
    assert diff.branch == "colony/one"
    assert stat.paths == ["app.py", "new.txt"]
    assert (stat.files, stat.added, stat.deleted) == (2, 2, 1)


def test_snapshots_and_undo_restore_the_files(git_api: Api, tmp_path: Path) -> None:
    """When a snapshot is taken, the files changed and undo asked for, the files are back as
    they were and what undo replaced is itself a snapshot; a snapshot that is not there is
    404 and changes nothing."""
    repo = make_repo(tmp_path / "repo", FILES)
    with git_api.client() as client:
        ws = spawned(client, repo, "one")["one"]
        (ws / "app.py").write_text("print('v1')\n")
        taken = client.snapshot("one", "v1")
        (ws / "app.py").write_text("print('v2')\n")
        with pytest.raises(NotFound):
            client.undo("one", to=7)
        assert (ws / "app.py").read_text() == "print('v2')\n"
        undone = client.undo("one")
        listed = client.snapshots("one").snapshots
    assert (taken.number, taken.message) == (1, "v1")
    assert (ws / "app.py").read_text() == "print('v1')\n"
    assert undone.restored.number == 1
    assert [s.number for s in listed] == [1, 2]
    assert listed[0].commit == taken.commit
    assert listed[1].commit == undone.saved.commit


def test_merge_lands_the_work_on_the_branch_and_conflicts_refuse(
    git_api: Api, tmp_path: Path
) -> None:
    """When two colonies change the same file, conflicts names both; merging the first moves
    main to a commit with its change, and merging the second then conflicts, names the file
    and leaves main where it was."""
    repo = make_repo(tmp_path / "repo", FILES)
    with git_api.client() as client:
        ws = spawned(client, repo, "one", "two")
        (ws["one"] / "app.py").write_text("print('one')\n")
        (ws["two"] / "app.py").write_text("print('two')\n")
        conflicts = client.conflicts().conflicts
        merged = client.merge("one", message="one's work")
        head = git(repo, "rev-parse", "main")
        with pytest.raises(Conflict) as refused:
            client.merge("two")
        with pytest.raises(ColonyError, match="expected bool"):
            client._request("POST", "/colonies/two/workspace/merge", body={"squash": "yes"})
    assert [(c.path, c.colonies) for c in conflicts] == [("app.py", ["one", "two"])]
    assert merged.into == "main"
    assert merged.commit == head
    assert git(repo, "show", "main:app.py") == "print('one')"
    assert "app.py" in str(refused.value)
    assert git(repo, "rev-parse", "main") == head


def test_the_trash_restores_and_purges(git_api: Api, tmp_path: Path) -> None:
    """When a colony with unsaved work is removed, the trash lists it; restoring brings it
    back with its work; purging one entry and then all leaves the trash empty."""
    repo = make_repo(tmp_path / "repo", FILES)
    with git_api.client() as client:
        ws = spawned(client, repo, "one", "two")
        (ws["one"] / "app.py").write_text("print('kept')\n")
        client.remove("one", force=True)
        client.remove("two", force=True)
        listed = client.trash().trash
        restored = client.trash_restore("one")
        settle(client, "one", "running")
        kept = (Path(client.colony("one").workspace) / "app.py").read_text()
        with pytest.raises(NotFound):
            client.trash_restore("never-was")
        purged = client.trash_purge("two").purged
        client.remove("one", force=True)
        everything = client.trash_purge().purged
        left = client.trash().trash
    assert sorted(e.name for e in listed) == ["one", "two"]
    assert next(e for e in listed if e.name == "one").saved
    assert restored.name == "one"
    assert kept == "print('kept')\n"
    assert [p.name for p in purged] == ["two"]
    assert "one" in [p.name for p in everything]
    assert left == []
