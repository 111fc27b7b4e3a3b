"""JjWorkspaces against real jj repositories made in tmp_path (skipped without jj)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from colony.errors import NotFound
from colony.testing.inside import LocalInside
from colony.vcs import Workspace, detect, open_vcs, repo_root
from colony.vcs import review as rv
from colony.vcs.jj import JjWorkspaces
from tests.conftest import passable

pytestmark = pytest.mark.skipif(
    shutil.which("jj") is None,
    reason="jj (Jujutsu) is not installed on this machine; install it to run the jj backend tests",
)


@pytest.fixture(autouse=True)
def _isolated_jj(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Keep the machine's jj and git configuration out of the tests; give commits an author."""
    config = tmp_path / "jj-config.toml"
    config.write_text("")
    monkeypatch.setenv("JJ_CONFIG", str(config))
    monkeypatch.setenv("JJ_USER", "Test")
    monkeypatch.setenv("JJ_EMAIL", "test@example.invalid")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", "/dev/null")
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")


def jj(cwd: Path, *args: str) -> str:
    done = subprocess.run(["jj", *args], cwd=cwd, capture_output=True, text=True, check=True)
    return done.stdout.strip()


def commit_id(repo: Path, rev: str) -> str:
    return jj(repo, "log", "-r", rev, "--no-graph", "-T", "commit_id")


def workspace_names(repo: Path) -> list[str]:
    out = jj(repo, "workspace", "list")
    return [line.split(":", 1)[0] for line in out.splitlines() if ":" in line]


def write_and_commit(repo: Path, files: dict[str, str], message: str) -> str:
    for name, text in files.items():
        (repo / name).write_text(text)
    jj(repo, "commit", "-m", message)
    return commit_id(repo, "@-")


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    path = tmp_path / "repo"
    subprocess.run(["jj", "git", "init", str(path)], capture_output=True, check=True)
    write_and_commit(path, {"README": "one\n"}, "first")
    return path


def colony(
    repo: Path, tmp_path: Path, name: str, rev: str | None = None
) -> tuple[Workspace, LocalInside]:
    uid = 1_899_100_000 + sum(name.encode())
    path = tmp_path / "ws" / name
    path.parent.mkdir(exist_ok=True)
    path.parent.chmod(0o711)
    for folder in (path, tmp_path / "ws" / f"{name}.home"):
        folder.mkdir()
        os.chown(folder, uid, uid)
    inside = LocalInside(path, uid)
    vcs = JjWorkspaces()
    objects = str(vcs.open(repo).objects)
    return vcs.create(repo, name, path, rev, inside=inside, objects=objects), inside


def test_create_is_a_git_workspace_of_the_git_store(repo: Path, tmp_path: Path) -> None:
    """When a colony of a jj repository is made, it is a git repository of its own on
    colony/<name>, based on the parent of the working copy, with that commit's files."""
    passable(tmp_path)
    base = commit_id(repo, "@-")
    ws, inside = colony(repo, tmp_path, "web")
    assert (ws.kind, ws.branch, ws.base) == ("git", "colony/web", base)
    assert (ws.path / "README").read_text() == "one\n"
    assert inside(["git", "rev-parse", "HEAD"]).stdout.decode().strip() == base
    assert workspace_names(repo) == ["default"]  # no jj workspace: the store stays the repo's


def test_create_from_chosen_rev_and_bad_rev(repo: Path, tmp_path: Path) -> None:
    """When a revision is given, the workspace is based on it; an unknown one is NotFound
    naming it and the repository."""
    passable(tmp_path)
    first = commit_id(repo, "@-")
    write_and_commit(repo, {"README": "two\n"}, "second")
    ws, _ = colony(repo, tmp_path, "old", rev=first)
    assert ws.base == first
    assert (ws.path / "README").read_text() == "one\n"
    with pytest.raises(NotFound) as info:
        JjWorkspaces().plan(repo, "web", "no-such-bookmark")
    assert "no-such-bookmark" in str(info.value)
    assert str(repo) in str(info.value)


def test_merge_moves_the_bookmark_jj_sees(repo: Path, tmp_path: Path) -> None:
    """When a colony's work is merged into a bookmark, jj sees the bookmark on the merge."""
    passable(tmp_path)
    jj(repo, "bookmark", "create", "main", "-r", "@-")
    ws, inside = colony(repo, tmp_path, "web")
    (ws.path / "new.txt").write_text("from the colony\n")
    found = JjWorkspaces().open(repo)
    plan = rv.plan_merge(found, ws, "main", "work", inside=inside)
    done = rv.apply_merge(found, ws, plan, squash=False, message="m", inside=inside)
    assert commit_id(repo, "main") == done["commit"]
    assert jj(repo, "file", "show", "-r", "main", "new.txt") == "from the colony"


def test_open_vcs_picks_jj(repo: Path) -> None:
    """When a jj repository is opened, the jj backend serves it and its root is found."""
    assert detect(repo) == "jj"
    assert isinstance(open_vcs(repo), JjWorkspaces)
    assert repo_root(repo) == repo
