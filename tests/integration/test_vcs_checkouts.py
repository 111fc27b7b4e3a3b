"""The shared checkouts overlays are made of (issue 15): real git, real files."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from colony import host
from colony.errors import HostError
from colony.testing.inside import LocalInside
from colony.vcs import inside as colony_git
from colony.vcs.checkouts import Checkouts, reachable
from colony.vcs.repo import Repo
from tests.conftest import git, make_repo

FILES = {"README": "r\n", "src/app.py": "v1\n", "src/lib/util.py": "u\n"}


def made(tmp_path: Path) -> tuple[Checkouts, Repo, str]:
    repo = Repo.open(make_repo(tmp_path / "repo", FILES))
    return Checkouts(tmp_path / "checkouts"), repo, repo.resolve("HEAD", "t")


def test_a_checkout_is_made_once_closed_and_found_again(tmp_path: Path) -> None:
    """The first ensure writes the base's files and index, in a directory only root (or the
    daemon's user) reaches; the next finds it without running git."""
    cache, repo, base = made(tmp_path)
    first = cache.ensure(repo, base)
    assert (first.tree / "src/lib/util.py").read_text() == "u\n"
    assert first.owner == (repo.owner.uid, repo.owner.gid)
    assert (first.tree.parent.parent).stat().st_mode & 0o777 == 0o700
    assert first.read_index().startswith(b"DIRC\x00\x00\x00\x02")  # a plain version-2 index
    made_at = first.tree.stat().st_mtime_ns
    again = cache.ensure(repo, base)
    assert again == first
    assert again.tree.stat().st_mtime_ns == made_at
    assert cache.keys() == [first.key]
    assert [n for n in os.listdir(cache.root) if n.startswith(".")] == []


def test_the_index_makes_a_workspace_of_the_same_files_clean(tmp_path: Path) -> None:
    """A repository given the checkout's index over a copy of its files (as an overlay shows
    them: other inodes) is clean at once, and a change shows."""
    cache, repo, base = made(tmp_path)
    lower = cache.ensure(repo, base)
    ws = tmp_path / "ws"
    subprocess.run(["cp", "-a", str(lower.tree), str(ws)], check=True)
    inside = LocalInside(ws)
    refs = [("refs/heads/colony/t", base)]
    identity = ("T", "t@x")
    objects = str(repo.objects)
    colony_git.init(inside, "colony/t", objects, identity, refs, (), lower.read_index())
    status = ["git", "-C", str(ws), "status", "--porcelain"]
    assert subprocess.run(status, capture_output=True, text=True, check=True).stdout == ""
    (ws / "src/app.py").write_text("v2\n")
    out = subprocess.run(status, capture_output=True, text=True, check=True).stdout
    assert out == " M src/app.py\n"


def test_gc_keeps_what_is_used_or_held_and_removes_the_rest(tmp_path: Path) -> None:
    cache, repo, base = made(tmp_path)
    old = cache.ensure(repo, base)
    git(repo.root, "commit", "-q", "--allow-empty", "-m", "next")
    new = cache.ensure(repo, repo.resolve("HEAD", "t"))
    with cache.holding(old.key):
        assert cache.remove_unused([new.key]) == []
    assert cache.remove_unused([new.key]) == [old.key]
    assert cache.keys() == [new.key]
    assert cache.find_key("../etc") is None


def test_a_checkout_whose_index_is_a_symlink_is_refused(tmp_path: Path) -> None:
    cache, repo, base = made(tmp_path)
    lower = cache.ensure(repo, base)
    lower.index.unlink()
    lower.index.symlink_to("/etc/hostname")
    with pytest.raises(HostError, match="cannot read its index"):
        lower.read_index()


def test_a_base_that_is_no_commit_id_is_refused(tmp_path: Path) -> None:
    cache, repo, _ = made(tmp_path)
    with pytest.raises(HostError, match="not a commit id"):
        cache.ensure(repo, "main")


def test_a_checkout_is_reachable_only_through_directories_its_owner_may_pass(
    tmp_path: Path,
) -> None:
    """When the state directory sits under a directory other users may not pass (0700, as
    pytest's or /root), a repository owner's git could not write a shared checkout there, so
    it is not reachable; once the directory is passable, it is; root reaches it anyway."""
    someone = host.Credentials(uid=65534, gid=65534, groups=(), home="/")
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    for folder in tmp_path.parents:
        if not folder.stat().st_mode & 0o001:
            folder.chmod(folder.stat().st_mode | 0o001)
    tmp_path.chmod(0o711)
    target = private / "state" / "checkouts"
    assert not reachable(target, someone)
    assert reachable(target, host.Credentials(uid=0, gid=0, groups=(), home="/root"))
    private.chmod(0o711)
    assert reachable(target, someone)
