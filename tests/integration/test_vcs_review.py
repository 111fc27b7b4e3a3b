"""The git side of review (issue 10): diff, import, conflict check, merge and restore, with
the colony's git run as the colony (LocalInside) and the repository's as its owner."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import IO

import pytest

from colony.errors import Conflict, HostError
from colony.testing.inside import LocalInside
from colony.vcs import Workspace
from colony.vcs import review as rv
from colony.vcs.git import GitWorkspaces
from colony.vcs.inside import Ran
from colony.vcs.repo import Repo
from tests.conftest import git, make_repo
from tests.integration.test_vcs_git import cgit, new_colony

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run git as other uids")


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    from tests.conftest import passable

    passable(tmp_path)
    return make_repo(tmp_path / "repo", {"app.py": "a\nb\nc\n", "keep.txt": "k\n"})


def rev(repo: Path, name: str) -> str:
    return git(repo, "rev-parse", name).strip()


def merge(
    repo: Path, ws: Workspace, inside: LocalInside, into: str = "main", squash: bool = False
) -> dict[str, object]:
    found = Repo.open(repo)
    plan = rv.plan_merge(found, ws, into, "work", inside=inside)
    assert not plan.conflicts
    return rv.apply_merge(found, ws, plan, squash=squash, message="m", inside=inside)


def test_diff_covers_committed_uncommitted_and_untracked(repo: Path, tmp_path: Path) -> None:
    """When a colony commits, edits, deletes and adds files, its diff against the base shows
    all of it and nothing of its index moves."""
    ws, inside = new_colony(repo, tmp_path, "one")
    (ws.path / "app.py").write_text("A\nb\nc\n")
    cgit(inside, "commit", "-qam", "edit")
    (ws.path / "keep.txt").unlink()
    (ws.path / "new.py").write_text("print(1)\n")
    text, stat = rv.diff(ws, inside=inside)
    assert "+A" in text
    assert "new.py" in text
    assert sorted(stat.paths) == ["app.py", "keep.txt", "new.py"]
    assert (stat.added, stat.deleted) == (2, 2)
    assert rv.changed_paths(ws, inside=inside) == {"app.py", "keep.txt", "new.py"}
    assert cgit(inside, "status", "--porcelain") == " D keep.txt\n?? new.py\n"
    short, _ = rv.diff(ws, inside=inside, stat=True)
    assert "3 files changed" in short


def test_merge_refuses_conflicts_and_changes_nothing(repo: Path, tmp_path: Path) -> None:
    """When two colonies change the same line, merging the second after the first is refused
    with the file, and no branch of the repository or of the colony, no index, no file moves."""
    one, in_one = new_colony(repo, tmp_path, "one")
    two, in_two = new_colony(repo, tmp_path, "two")
    (one.path / "app.py").write_text("ONE\nb\nc\n")
    (two.path / "app.py").write_text("TWO\nb\nc\n")
    git(repo, "checkout", "-q", "--detach")  # main is not checked out anywhere
    merge(repo, one, in_one)
    main = rev(repo, "main")
    before = (cgit(in_two, "rev-parse", "HEAD"), cgit(in_two, "status", "--porcelain"))
    plan = rv.plan_merge(Repo.open(repo), two, "main", "work", inside=in_two)
    assert plan.conflicts == ("app.py",)
    assert rev(repo, "main") == main
    assert (cgit(in_two, "rev-parse", "HEAD"), cgit(in_two, "status", "--porcelain")) == before


def test_squash_makes_one_commit_and_ff_keeps_history(repo: Path, tmp_path: Path) -> None:
    """When a colony with two commits is squash-merged, the branch gains one commit with one
    parent; a fast-forward merge keeps the colony's commits and moves the checkout's files."""
    ws, inside = new_colony(repo, tmp_path, "one")
    for i in range(2):
        (ws.path / f"f{i}.txt").write_text(f"{i}\n")
        cgit(inside, "add", "-A")
        cgit(inside, "commit", "-qm", f"c{i}")
    git(repo, "branch", "other")
    old = rev(repo, "other")
    done = merge(repo, ws, inside, into="other", squash=True)
    assert git(repo, "rev-list", "--count", f"{old}..other").strip() == "1"
    assert git(repo, "log", "-1", "--format=%P%n%s", "other").split() == [old, "m"]
    assert done["fast_forward"] is False
    done = merge(repo, ws, inside)
    assert done["fast_forward"] is True
    assert git(repo, "rev-list", "--count", "main").strip() == "3"
    assert (repo / "f1.txt").read_text() == "1\n"  # main is checked out: its files moved


def test_merge_commits_uncommitted_work_on_the_colony_branch(repo: Path, tmp_path: Path) -> None:
    """When a colony's work is uncommitted, merging records it on the colony's branch too,
    and the workspace is clean afterwards."""
    ws, inside = new_colony(repo, tmp_path, "one")
    (ws.path / "new.py").write_text("x\n")
    done = merge(repo, ws, inside)
    assert done["committed_work"] is True
    assert cgit(inside, "status", "--porcelain") == ""
    assert cgit(inside, "log", "-1", "--format=%s", "colony/one").strip() == "work"
    assert (repo / "new.py").read_text() == "x\n"


def test_checked_out_target_with_changes_in_the_way_is_refused(repo: Path, tmp_path: Path) -> None:
    """When the target branch is checked out with local changes to a file the merge changes,
    the merge is refused: the branch, the local edit and the colony's branch stay put."""
    ws, inside = new_colony(repo, tmp_path, "one")
    (ws.path / "keep.txt").write_text("colony\n")
    (repo / "keep.txt").write_text("local edit\n")
    main = rev(repo, "main")
    found = Repo.open(repo)
    plan = rv.plan_merge(found, ws, "main", "w", inside=inside)
    with pytest.raises(Conflict, match="cannot update 'main' checked out in"):
        rv.apply_merge(found, ws, plan, squash=True, message="m", inside=inside)
    assert rev(repo, "main") == main
    assert (repo / "keep.txt").read_text() == "local edit\n"
    assert cgit(inside, "rev-parse", "HEAD").strip() == ws.base
    assert cgit(inside, "status", "--porcelain") == " M keep.txt\n"


def test_restore_gives_back_the_exact_files(repo: Path, tmp_path: Path) -> None:
    """When a workspace is restored to a snapshot, files added since are gone, deleted ones
    are back, edits are undone, ignored files stay, and the branch does not move."""
    ws, inside = new_colony(repo, tmp_path, "one")
    (ws.path / ".gitignore").write_text("*.log\n")
    (ws.path / "app.py").write_text("snap\n")
    (ws.path / "untracked.txt").write_text("u\n")
    snap = GitWorkspaces().snapshot(ws, "s", inside=inside)
    head = cgit(inside, "rev-parse", "HEAD")
    (ws.path / "app.py").write_text("later\n")
    (ws.path / "untracked.txt").unlink()
    (ws.path / "added.txt").write_text("later\n")
    (ws.path / "debug.log").write_text("ignored\n")
    rv.restore(snap, inside=inside)
    assert (ws.path / "app.py").read_text() == "snap\n"
    assert (ws.path / "untracked.txt").read_text() == "u\n"
    assert not (ws.path / "added.txt").exists()
    assert (ws.path / "debug.log").read_text() == "ignored\n"
    assert cgit(inside, "rev-parse", "HEAD") == head
    listed = rv.list_snapshot_refs("one", inside=inside)
    assert listed.startswith("refs/colony/snapshots/one/")
    assert snap in listed


class Hostile:
    """A colony whose pack leaves out its blobs, or sends garbage instead."""

    def __init__(self, inside: LocalInside, garbage: bool = False) -> None:
        self.inside = inside
        self.garbage = garbage

    def __call__(
        self,
        argv: Sequence[str],
        *,
        input: bytes | None = None,
        stdout: IO[bytes] | None = None,
        timeout: float = 120,
    ) -> Ran:
        if list(argv[:2]) == ["git", "pack-objects"]:
            if self.garbage:
                assert stdout is not None
                stdout.write(b"PACK\0\0\0\2garbage")
                return Ran(0, b"", "")
            argv = [*argv, "--filter=blob:none"]
        return self.inside(argv, input=input, stdout=stdout, timeout=timeout)


@pytest.mark.parametrize("garbage", [False, True], ids=["missing-blobs", "garbage"])
def test_incomplete_or_malformed_work_is_refused(repo: Path, tmp_path: Path, garbage: bool) -> None:
    """When a colony sends a pack without its blobs, or bytes that are no pack, the repository
    refuses it like a fetch from a stranger, and no ref moves."""
    ws, inside = new_colony(repo, tmp_path, "one")
    (ws.path / "secret.txt").write_text("new content\n")
    main = rev(repo, "main")
    hostile = Hostile(inside, garbage)
    with pytest.raises(HostError, match=r"refused|incomplete"):
        rv.plan_merge(Repo.open(repo), ws, "main", "w", inside=hostile)
    assert rev(repo, "main") == main
