"""git side of review: diff, conflict check, merge, restore, re-attach (real git)."""

from __future__ import annotations

from pathlib import Path

import pytest

from colony.errors import Conflict
from colony.vcs import Workspace
from colony.vcs import review as rv
from colony.vcs.git import GitWorktrees
from tests.conftest import git, make_repo


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "repo", {"app.py": "a\nb\nc\n", "keep.txt": "k\n"})


def colony(repo: Path, tmp_path: Path, name: str) -> Workspace:
    return GitWorktrees().create(repo, name, tmp_path / "ws" / name)


def test_diff_covers_committed_uncommitted_and_untracked(repo: Path, tmp_path: Path) -> None:
    """When a colony commits, edits, deletes and adds files, its diff against the base shows
    all of it and nothing of its index moves."""
    ws = colony(repo, tmp_path, "one")
    (ws.path / "app.py").write_text("A\nb\nc\n")
    git(ws.path, "commit", "-qam", "edit")
    (ws.path / "keep.txt").unlink()
    (ws.path / "new.py").write_text("print(1)\n")
    text, stat = rv.diff(ws)
    assert "+A" in text
    assert "new.py" in text
    assert sorted(stat.paths) == ["app.py", "keep.txt", "new.py"]
    assert rv.changed_paths(ws) == {"app.py", "keep.txt", "new.py"}
    assert git(ws.path, "status", "--porcelain") == " D keep.txt\n?? new.py\n"


def test_merge_refuses_conflicts_and_changes_nothing(repo: Path, tmp_path: Path) -> None:
    """When two colonies change the same line, merging the second after the first is refused
    with the file, and no branch, index or file moves."""
    one, two = colony(repo, tmp_path, "one"), colony(repo, tmp_path, "two")
    (one.path / "app.py").write_text("ONE\nb\nc\n")
    (two.path / "app.py").write_text("TWO\nb\nc\n")
    git(repo, "checkout", "-q", "--detach")  # main is not checked out anywhere
    plan = rv.plan_merge(one, "main", "work")
    rv.apply_merge(one, plan, squash=False, message="m")
    main = rv.rev(repo, "main")
    before = (rv.rev(two.path, "HEAD"), git(two.path, "status", "--porcelain"))
    plan = rv.plan_merge(two, "main", "work")
    assert plan.conflicts == ("app.py",)
    assert rv.rev(repo, "main") == main
    assert (rv.rev(two.path, "HEAD"), git(two.path, "status", "--porcelain")) == before


def test_squash_makes_one_commit_and_ff_keeps_history(repo: Path, tmp_path: Path) -> None:
    """When a colony with two commits is squash-merged, the branch gains one commit with one
    parent; a fast-forward merge keeps the colony's commits."""
    ws = colony(repo, tmp_path, "one")
    for i in range(2):
        (ws.path / f"f{i}.txt").write_text(f"{i}\n")
        git(ws.path, "add", "-A")
        git(ws.path, "commit", "-qm", f"c{i}")
    git(repo, "branch", "other")
    old = rv.rev(repo, "other")
    done = rv.apply_merge(ws, rv.plan_merge(ws, "other", "w"), squash=True, message="squashed")
    assert git(repo, "rev-list", "--count", f"{old}..other").strip() == "1"
    assert git(repo, "log", "-1", "--format=%P%n%s", "other").split() == [str(old), "squashed"]
    assert done["fast_forward"] is False
    done = rv.apply_merge(ws, rv.plan_merge(ws, "main", "w"), squash=False, message="m")
    assert done["fast_forward"] is True
    assert git(repo, "rev-list", "--count", "main").strip() == "3"
    assert (repo / "f1.txt").read_text() == "1\n"  # main is checked out: its files moved


def test_merge_commits_uncommitted_work_on_the_colony_branch(repo: Path, tmp_path: Path) -> None:
    """When a colony's work is uncommitted, merging records it on the colony's branch first,
    and the workspace is clean afterwards."""
    ws = colony(repo, tmp_path, "one")
    (ws.path / "new.py").write_text("x\n")
    done = rv.apply_merge(ws, rv.plan_merge(ws, "main", "agent work"), squash=False, message="m")
    assert done["committed_work"] is True
    assert git(ws.path, "status", "--porcelain") == ""
    assert git(repo, "log", "-1", "--format=%s", "colony/one").strip() == "agent work"
    assert (repo / "new.py").read_text() == "x\n"


def test_checked_out_target_with_changes_in_the_way_is_refused(repo: Path, tmp_path: Path) -> None:
    """When the target branch is checked out with local changes to a file the merge changes,
    the merge is refused and the branch stays where it was."""
    ws = colony(repo, tmp_path, "one")
    (ws.path / "keep.txt").write_text("colony\n")
    (repo / "keep.txt").write_text("local edit\n")
    main = rv.rev(repo, "main")
    with pytest.raises(Conflict, match="cannot update 'main' checked out in"):
        rv.apply_merge(ws, rv.plan_merge(ws, "main", "w"), squash=True, message="m")
    assert rv.rev(repo, "main") == main
    assert (repo / "keep.txt").read_text() == "local edit\n"


def test_restore_gives_back_the_exact_files(repo: Path, tmp_path: Path) -> None:
    """When a workspace is restored to a snapshot, files added since are gone, deleted ones
    are back, edits are undone, ignored files stay, and the branch does not move."""
    ws = colony(repo, tmp_path, "one")
    (ws.path / ".gitignore").write_text("*.log\n")
    (ws.path / "app.py").write_text("snap\n")
    (ws.path / "untracked.txt").write_text("u\n")
    snap = GitWorktrees().snapshot(ws, "s")
    head = rv.rev(ws.path, "HEAD")
    (ws.path / "app.py").write_text("later\n")
    (ws.path / "untracked.txt").unlink()
    (ws.path / "added.txt").write_text("later\n")
    (ws.path / "debug.log").write_text("ignored\n")
    rv.restore(ws, snap)
    assert (ws.path / "app.py").read_text() == "snap\n"
    assert (ws.path / "untracked.txt").read_text() == "u\n"
    assert not (ws.path / "added.txt").exists()
    assert (ws.path / "debug.log").read_text() == "ignored\n"
    assert rv.rev(ws.path, "HEAD") == head


def test_attach_and_delete_refs(repo: Path, tmp_path: Path) -> None:
    """When a removed colony's branch is attached again, its commits are there; deleting its
    refs removes the branch, saved work and snapshots."""
    ws = colony(repo, tmp_path, "one")
    (ws.path / "x.txt").write_text("x\n")
    GitWorktrees().snapshot(ws, "s")
    saved = GitWorktrees().remove(ws)
    assert saved is not None
    again = rv.attach(repo, "one", "colony/one", tmp_path / "ws" / "again", ws.base)
    assert not (again.path / "x.txt").exists()  # uncommitted work is in the saved ref
    rv.restore(again, str(rv.rev(repo, saved)))
    assert (again.path / "x.txt").read_text() == "x\n"
    rv.detach(repo, again.path)
    refs = rv.delete_refs(repo, "one", "colony/one")
    assert len(refs) == 3
    assert git(repo, "for-each-ref", "refs/colony/", "refs/heads/colony/") == ""
