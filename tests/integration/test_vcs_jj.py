"""JjWorkspaces against real jj repositories made in tmp_path (skipped without jj)."""

from __future__ import annotations

import shutil
import subprocess
import threading
from pathlib import Path

import pytest

from colony.errors import Conflict, NotFound
from colony.vcs import Workspace, detect, open_vcs, repo_root
from colony.vcs.jj import JjWorkspaces

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


@pytest.fixture
def vcs() -> JjWorkspaces:
    return JjWorkspaces()


def test_create_and_remove_clean(repo: Path, vcs: JjWorkspaces, tmp_path: Path) -> None:
    """When a workspace is created, it is a jj workspace on the last commit; removing it
    clean saves nothing."""
    base = commit_id(repo, "@-")
    ws = vcs.create(repo, "web", tmp_path / "ws" / "web")
    assert ws == Workspace("jj", repo, tmp_path / "ws" / "web", "web", "web", base)
    assert (ws.path / "README").read_text() == "one\n"
    assert "web" in workspace_names(repo)
    assert not vcs.dirty(ws)
    assert vcs.remove(ws) is None
    assert not ws.path.exists()
    assert "web" not in workspace_names(repo)


def test_create_from_chosen_rev(repo: Path, vcs: JjWorkspaces, tmp_path: Path) -> None:
    """When a revision is given, the workspace's working copy sits on that commit."""
    first = commit_id(repo, "@-")
    write_and_commit(repo, {"README": "two\n"}, "second")
    ws = vcs.create(repo, "old", tmp_path / "ws" / "old", rev=first)
    assert ws.base == first
    assert (ws.path / "README").read_text() == "one\n"
    vcs.remove(ws)


def test_bad_rev_leaves_nothing(repo: Path, vcs: JjWorkspaces, tmp_path: Path) -> None:
    """When the revision does not exist, the error names it and the repo, and nothing is made."""
    with pytest.raises(NotFound) as info:
        vcs.create(repo, "web", tmp_path / "ws" / "web", rev="no-such-bookmark")
    assert "no-such-bookmark" in str(info.value)
    assert str(repo) in str(info.value)
    assert not (tmp_path / "ws" / "web").exists()
    assert "web" not in workspace_names(repo)


def test_taken_name_conflicts(repo: Path, vcs: JjWorkspaces, tmp_path: Path) -> None:
    """When the workspace name is taken, create raises Conflict and leaves the other one be."""
    ws = vcs.create(repo, "web", tmp_path / "ws" / "web")
    with pytest.raises(Conflict) as info:
        vcs.create(repo, "web", tmp_path / "ws" / "web2")
    assert info.value.hint is not None
    assert "workspace forget web" in info.value.hint
    assert not (tmp_path / "ws" / "web2").exists()
    assert ws.path.is_dir()
    assert "web" in workspace_names(repo)
    vcs.remove(ws)


def test_remove_dirty_keeps_work(repo: Path, vcs: JjWorkspaces, tmp_path: Path) -> None:
    """When a dirty workspace is removed, the returned commit holds its files exactly."""
    ws = vcs.create(repo, "web", tmp_path / "ws" / "web")
    (ws.path / "README").write_text("edited\n")
    (ws.path / "notes.md").write_text("untracked  \n")
    assert vcs.dirty(ws)
    saved = vcs.remove(ws)
    assert saved is not None
    assert jj(repo, "file", "show", "-r", saved, "README") == "edited"
    assert jj(repo, "file", "show", "-r", saved, "notes.md") == "untracked"
    assert not ws.path.exists()


def test_concurrent_creates_all_succeed(repo: Path, vcs: JjWorkspaces, tmp_path: Path) -> None:
    """When 8 threads create workspaces in one repository at once, all of them succeed."""
    made: list[Workspace] = []
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            made.append(vcs.create(repo, f"c{i}", tmp_path / "ws" / f"c{i}"))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(made) == 8
    for ws in made:
        vcs.remove(ws)
    assert workspace_names(repo) == ["default"]


def test_open_vcs_picks_jj(repo: Path) -> None:
    """When a jj repository is opened, the jj backend serves it and its root is found."""
    assert detect(repo) == "jj"
    assert isinstance(open_vcs(repo), JjWorkspaces)
    assert repo_root(repo) == repo
