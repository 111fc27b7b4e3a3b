"""GitWorkspaces against real git repositories made in tmp_path (issue 10).

Each colony's git runs as an unprivileged uid of its own (LocalInside: the same commands and
hardening as the daemon's runner, without the namespaces), the repository's as its owner.
"""

from __future__ import annotations

import os
import subprocess
import threading
from pathlib import Path

import pytest

from colony.errors import ColonyError, ConfigError, NotFound
from colony.testing.inside import LocalInside
from colony.vcs import Vcs, Workspace, detect, open_vcs, repo_root
from colony.vcs.git import GitWorkspaces
from tests.conftest import git, make_repo, passable

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run git as other uids")
UID = 1_899_000_000


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    passable(tmp_path)
    return make_repo(
        tmp_path / "repo", {"README": "one\n", ".gitignore": "*.log\n", "src/app.py": "x = 1\n"}
    )


def new_colony(
    repo: Path, tmp_path: Path, name: str, rev: str | None = None, vcs: GitWorkspaces | None = None
) -> tuple[Workspace, LocalInside]:
    """Colony ``name``'s workspace, made as the daemon makes it, and its runner."""
    uid = UID + sum(name.encode())
    path = tmp_path / "ws" / name
    path.parent.mkdir(exist_ok=True)
    path.parent.chmod(0o711)
    for folder in (path, tmp_path / "ws" / f"{name}.home"):
        folder.mkdir()
        os.chown(folder, uid, uid)
    inside = LocalInside(path, uid)
    vcs = vcs or GitWorkspaces()
    objects = str(vcs.open(repo).objects)
    return vcs.create(repo, name, path, rev, inside=inside, objects=objects), inside


def cgit(inside: LocalInside, *args: str) -> str:
    """git in the colony, as the colony."""
    done = inside(["git", *args])
    assert done.code == 0, done.stderr
    return done.stdout.decode()


def test_create_checks_out_the_colony_branch(repo: Path, tmp_path: Path) -> None:
    """When a colony is made, its workspace is a repository of its own on colony/<name> at
    the base, with the repository's branches copied and its files owned by the colony."""
    ws, inside = new_colony(repo, tmp_path, "web")
    assert ws.branch == "colony/web"
    assert ws.base == git(repo, "rev-parse", "HEAD").strip()
    assert cgit(inside, "rev-parse", "--abbrev-ref", "HEAD").strip() == "colony/web"
    assert cgit(inside, "rev-parse", "main").strip() == ws.base
    assert (ws.path / "src" / "app.py").read_text() == "x = 1\n"
    assert (ws.path / ".git").is_dir()
    assert (ws.path / "src" / "app.py").stat().st_uid == inside.uid
    assert git(repo, "rev-parse", "refs/colony/base/web").strip() == ws.base


def test_colony_commits_stay_in_the_colony(repo: Path, tmp_path: Path) -> None:
    """When a colony commits, the commit is on its own branch and nowhere in the repository:
    its objects are its own, the repository's are read through the alternate; it carries the
    repository owner's git identity."""
    git(repo, "config", "user.name", "Ann Owner")
    git(repo, "config", "user.email", "ann@example.invalid")
    ws, inside = new_colony(repo, tmp_path, "web")
    (ws.path / "README").write_text("two\n")
    cgit(inside, "commit", "-qam", "colony work")
    sha = cgit(inside, "rev-parse", "HEAD").strip()
    found = subprocess.run(["git", "-C", str(repo), "cat-file", "-e", sha], check=False)
    assert found.returncode != 0
    assert (ws.path / ".git" / "objects" / sha[:2] / sha[2:]).exists()
    assert cgit(inside, "log", "-1", "--format=%an %ae").strip() == "Ann Owner ann@example.invalid"


def test_create_from_chosen_rev_and_subdirectory(repo: Path, tmp_path: Path) -> None:
    """When a revision and a subdirectory of the repository are given, the workspace is based
    on that revision and the repository is its root."""
    first = git(repo, "rev-parse", "HEAD").strip()
    (repo / "README").write_text("two\n")
    git(repo, "commit", "-qam", "second")
    ws, _ = new_colony(repo / "src", tmp_path, "old", rev=first)
    assert ws.base == first
    assert ws.repo == repo
    assert (ws.path / "README").read_text() == "one\n"
    assert repo_root(repo / "src") == repo


def test_bad_rev_and_bad_name_make_nothing(repo: Path, tmp_path: Path) -> None:
    """When the revision or the name is bad, create raises and leaves no pin, no files."""
    with pytest.raises(NotFound, match="revision 'nope' not found"):
        new_colony(repo, tmp_path, "bad", rev="nope")
    assert not any((tmp_path / "ws" / "bad").iterdir())
    with pytest.raises(ConfigError, match="colony name"):
        GitWorkspaces().plan(repo, "Bad_Name", None)
    assert git(repo, "for-each-ref", "refs/colony") == ""


def test_snapshot_leaves_workspace_untouched(repo: Path, tmp_path: Path) -> None:
    """When a snapshot is taken, the workspace's branch, index and files stay as they were,
    and two snapshots in one second get refs of their own."""
    vcs = GitWorkspaces(clock=lambda: 1_700_000_000)
    ws, inside = new_colony(repo, tmp_path, "web", vcs=vcs)
    (ws.path / "README").write_text("draft\n")
    (ws.path / "new.txt").write_text("new\n")
    cgit(inside, "add", "new.txt")
    status = cgit(inside, "status", "--porcelain")
    first = vcs.snapshot(ws, "before refactor", inside=inside)
    second = vcs.snapshot(ws, "again", inside=inside)
    assert cgit(inside, "log", "-1", "--format=%s", first).strip() == "before refactor"
    assert cgit(inside, "show", f"{first}:README") == "draft\n"
    assert cgit(inside, "status", "--porcelain") == status
    assert cgit(inside, "rev-parse", "HEAD").strip() == ws.base
    refs = cgit(inside, "for-each-ref", "--format=%(refname)", "refs/colony/snapshots/web")
    assert refs.split() == [
        "refs/colony/snapshots/web/1700000000",
        "refs/colony/snapshots/web/1700000000-2",
    ]
    assert second != first  # another message: another commit, under a ref of its own


def test_dirty_ignores_ignored_files(repo: Path, tmp_path: Path) -> None:
    """When only an ignored file is new, the workspace is clean; an edit makes it dirty."""
    vcs = GitWorkspaces()
    ws, inside = new_colony(repo, tmp_path, "web", vcs=vcs)
    (ws.path / "debug.log").write_text("ignored files do not count\n")
    assert not vcs.dirty(ws, inside=inside)
    (ws.path / "README").write_text("edit\n")
    assert vcs.dirty(ws, inside=inside)


def test_refresh_follows_the_repository(repo: Path, tmp_path: Path) -> None:
    """When the repository's branch moves, a refresh brings the colony's copy along and
    leaves the colony's own branch alone."""
    vcs = GitWorkspaces()
    ws, inside = new_colony(repo, tmp_path, "web", vcs=vcs)
    (repo / "README").write_text("moved\n")
    git(repo, "commit", "-qam", "moved")
    vcs.refresh(ws, inside=inside)
    assert cgit(inside, "rev-parse", "main").strip() == git(repo, "rev-parse", "main").strip()
    assert cgit(inside, "rev-parse", "colony/web").strip() == ws.base


def test_release_drops_the_pin(repo: Path, tmp_path: Path) -> None:
    """When a colony is released, its base is no longer kept in the repository."""
    vcs = GitWorkspaces()
    new_colony(repo, tmp_path, "web", vcs=vcs)
    vcs.release(repo, "web")
    assert git(repo, "for-each-ref", "refs/colony") == ""


def test_concurrent_creates_all_succeed(repo: Path, tmp_path: Path) -> None:
    """When 8 threads create workspaces in one repository at once, all of them succeed."""
    made: list[Workspace] = []
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            made.append(new_colony(repo, tmp_path, f"c{i}")[0])
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(git(repo, "for-each-ref", "refs/colony/base").splitlines()) == 8


def test_open_vcs_and_detect(repo: Path, tmp_path: Path) -> None:
    """When a path is opened, git repos get GitWorkspaces; others get a clear error."""
    vcs: Vcs = open_vcs(repo / "src")
    assert isinstance(vcs, GitWorkspaces)
    assert detect(repo) == "git"
    plain = tmp_path / "plain"
    plain.mkdir()
    assert detect(plain) is None
    with pytest.raises(ConfigError, match="not a git or jj repository"):
        open_vcs(plain)
    with pytest.raises(NotFound):
        open_vcs(tmp_path / "missing")
    with pytest.raises(ColonyError, match="not a git or jj repository"):
        GitWorkspaces().plan(plain, "web", None)
    (repo / ".jj").mkdir()  # a colocated jj repository counts as jj
    assert detect(repo / "src") == "jj"


def test_repository_git_runs_as_its_owner(tmp_path: Path) -> None:
    """When the repository belongs to another user, Mycelium's git there runs as that user:
    a hook or fsmonitor the owner configured never runs as root."""
    owner = UID + 7
    passable(tmp_path)
    repo = make_repo(tmp_path / "theirs", {"README": "x\n"})
    for root, dirs, files in os.walk(repo):
        for entry in (root, *(os.path.join(root, f) for f in (*dirs, *files))):
            os.chown(entry, owner, owner, follow_symlinks=False)
    marker = tmp_path / "ran-as"
    git(repo, "config", "core.fsmonitor", f"{tmp_path}/fsmonitor.sh")
    script = tmp_path / "fsmonitor.sh"
    script.write_text(f"#!/bin/sh\nid -u > {marker}\n")
    script.chmod(0o755)
    tmp_path.chmod(0o777)
    found = GitWorkspaces().open(repo)
    assert found.owner.uid == owner
    found.git("status")
    assert not marker.exists()  # Mycelium's invocations turn fsmonitor off
    found.git("-c", f"core.fsmonitor={script}", "status")  # even if it ran, it runs as them
    assert marker.read_text().strip() == str(owner)
