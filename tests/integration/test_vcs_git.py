"""GitWorktrees against real git repositories made in tmp_path."""

from __future__ import annotations

import subprocess
import threading
from pathlib import Path

import pytest

from colony.errors import ColonyError, ConfigError, Conflict, NotFound
from colony.vcs import Vcs, Workspace, detect, open_vcs, repo_root
from colony.vcs.git import GitWorktrees


@pytest.fixture(autouse=True)
def _isolated_git(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep the machine's git configuration out of the tests, and give commits an author."""
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", "/dev/null")
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for var in ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL"):
        monkeypatch.delenv(var, raising=False)


def git(cwd: Path, *args: str) -> str:
    ident = ["-c", "user.name=Test", "-c", "user.email=test@example.invalid"]
    done = subprocess.run(
        ["git", *ident, *args], cwd=cwd, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def commit(repo: Path, files: dict[str, str], message: str) -> str:
    for name, text in files.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(text)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD")


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    path = tmp_path / "repo"
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    commit(path, {"README": "one\n", ".gitignore": "*.log\n", "src/app.py": "x = 1\n"}, "first")
    return path


@pytest.fixture
def vcs() -> GitWorktrees:
    return GitWorktrees()


def worktrees(repo: Path) -> list[str]:
    out = git(repo, "worktree", "list", "--porcelain")
    return [line.split(" ", 1)[1] for line in out.splitlines() if line.startswith("worktree ")]


def branch_exists(repo: Path, branch: str) -> bool:
    done = subprocess.run(
        ["git", "-C", str(repo), "show-ref", "--verify", "--quiet", f"refs/heads/{branch}"],
        check=False,
    )
    return done.returncode == 0


def test_create_checks_out_branch(repo: Path, vcs: GitWorktrees, tmp_path: Path) -> None:
    """When a workspace is created, it is a worktree on colony/<name> at HEAD."""
    head = git(repo, "rev-parse", "HEAD")
    ws = vcs.create(repo, "web", tmp_path / "ws" / "web")
    assert ws == Workspace("git", repo, tmp_path / "ws" / "web", "web", "colony/web", head)
    assert git(ws.path, "rev-parse", "--abbrev-ref", "HEAD") == "colony/web"
    assert (ws.path / "src" / "app.py").read_text() == "x = 1\n"
    assert ws.to_json()["branch"] == "colony/web"
    assert ws.to_json()["repo"] == str(repo)
    assert vcs.list(repo) == [ws.path]
    assert vcs.remove(ws) is None


def test_commit_in_worktree_is_seen_from_main(
    repo: Path, vcs: GitWorktrees, tmp_path: Path
) -> None:
    """When the agent commits inside the worktree, the main repository sees it on the branch."""
    ws = vcs.create(repo, "web", tmp_path / "ws" / "web")
    commit(ws.path, {"feature.txt": "done\n"}, "agent work")
    assert git(repo, "log", "--format=%s", "colony/web").splitlines()[0] == "agent work"
    assert vcs.remove(ws) is None
    assert git(repo, "show", "colony/web:feature.txt") == "done"


def test_create_from_chosen_rev(repo: Path, vcs: GitWorktrees, tmp_path: Path) -> None:
    """When a revision is given, the workspace starts there, by its full commit id."""
    first = git(repo, "rev-parse", "HEAD")
    commit(repo, {"README": "two\n"}, "second")
    git(repo, "tag", "v1", first)
    ws = vcs.create(repo, "old", tmp_path / "ws" / "old", rev="v1")
    assert ws.base == first
    assert (ws.path / "README").read_text() == "one\n"
    short = vcs.create(repo, "short", tmp_path / "ws" / "short", rev=first[:7])
    assert short.base == first
    vcs.remove(ws)
    vcs.remove(short)


def test_create_from_subdirectory_names_root(repo: Path, vcs: GitWorktrees, tmp_path: Path) -> None:
    """When the repository is given by a subdirectory, the workspace records its root."""
    ws = vcs.create(repo / "src", "sub", tmp_path / "ws" / "sub")
    assert ws.repo == repo
    assert repo_root(repo / "src") == repo
    assert repo_root(ws.path) == repo  # from inside a linked worktree, too
    vcs.remove(ws)


def test_bad_rev_leaves_nothing(repo: Path, vcs: GitWorktrees, tmp_path: Path) -> None:
    """When the revision does not exist, the error names it and the repo, and nothing is made."""
    with pytest.raises(NotFound) as info:
        vcs.create(repo, "web", tmp_path / "ws" / "web", rev="no-such-branch")
    assert "no-such-branch" in str(info.value)
    assert str(repo) in str(info.value)
    assert not (tmp_path / "ws").exists()
    assert not branch_exists(repo, "colony/web")
    assert worktrees(repo) == [str(repo)]


def test_existing_branch_conflicts_and_is_kept(
    repo: Path, vcs: GitWorktrees, tmp_path: Path
) -> None:
    """When colony/<name> exists, create raises Conflict with a hint and leaves all as it was."""
    first = git(repo, "rev-parse", "HEAD")
    git(repo, "branch", "colony/web")
    commit(repo, {"README": "two\n"}, "second")
    with pytest.raises(Conflict) as info:
        vcs.create(repo, "web", tmp_path / "ws" / "web")
    assert "colony/web" in str(info.value)
    assert info.value.hint is not None
    assert "branch -D colony/web" in info.value.hint
    assert git(repo, "rev-parse", "colony/web") == first
    assert not (tmp_path / "ws" / "web").exists()
    assert worktrees(repo) == [str(repo)]


def test_existing_path_conflicts(repo: Path, vcs: GitWorktrees, tmp_path: Path) -> None:
    """When the workspace path exists, create raises Conflict and makes no branch."""
    target = tmp_path / "ws" / "web"
    target.mkdir(parents=True)
    (target / "keep.txt").write_text("mine")
    with pytest.raises(Conflict, match="already exists"):
        vcs.create(repo, "web", target)
    assert (target / "keep.txt").read_text() == "mine"
    assert not branch_exists(repo, "colony/web")


def test_invalid_name_is_refused(repo: Path, vcs: GitWorktrees, tmp_path: Path) -> None:
    """When the colony name is not a valid name, create raises ConfigError before any git."""
    with pytest.raises(ConfigError):
        vcs.create(repo, "../evil", tmp_path / "ws" / "evil")
    assert not (tmp_path / "ws").exists()


def test_remove_dirty_saves_exact_work(repo: Path, vcs: GitWorktrees, tmp_path: Path) -> None:
    """When a dirty worktree is removed, a ref keeps every unsaved file with its exact bytes."""
    ws = vcs.create(repo, "web", tmp_path / "ws" / "web")
    (ws.path / "README").write_text("edited, not staged\n")
    (ws.path / "src" / "app.py").write_text("x = 2\n")
    git(ws.path, "add", "src/app.py")  # staged
    (ws.path / "notes").mkdir()
    (ws.path / "notes" / "todo.md").write_text("untracked\n  with  spaces \n")
    (ws.path / "debug.log").write_text("ignored\n")
    (ws.path / "empty.txt").write_text("")
    main_index = (repo / ".git" / "index").read_bytes()
    assert vcs.dirty(ws)

    ref = vcs.remove(ws)

    assert ref is not None
    assert ref.startswith("refs/colony/saved/web/")
    assert git(repo, "cat-file", "-p", f"{ref}:README") == "edited, not staged"
    blob = subprocess.run(
        ["git", "-C", str(repo), "cat-file", "blob", f"{ref}:notes/todo.md"],
        capture_output=True,
        check=True,
    ).stdout
    assert blob == b"untracked\n  with  spaces \n"
    assert git(repo, "cat-file", "-p", f"{ref}:src/app.py") == "x = 2"
    files = git(repo, "ls-tree", "-r", "--name-only", ref).splitlines()
    assert sorted(files) == [".gitignore", "README", "empty.txt", "notes/todo.md", "src/app.py"]
    assert git(repo, "rev-parse", f"{ref}^") == ws.base
    assert git(repo, "rev-parse", "colony/web") == ws.base  # the branch did not move
    assert (repo / ".git" / "index").read_bytes() == main_index
    assert not ws.path.exists()
    assert worktrees(repo) == [str(repo)]


def test_remove_clean_returns_none(repo: Path, vcs: GitWorktrees, tmp_path: Path) -> None:
    """When a clean worktree is removed, nothing is saved and the branch stays."""
    ws = vcs.create(repo, "web", tmp_path / "ws" / "web")
    (ws.path / "debug.log").write_text("ignored files do not count\n")
    assert not vcs.dirty(ws)
    assert vcs.remove(ws) is None
    assert not ws.path.exists()
    assert branch_exists(repo, "colony/web")
    assert git(repo, "for-each-ref", "refs/colony") == ""


def test_remove_twice_in_one_second_keeps_both(repo: Path, tmp_path: Path) -> None:
    """When two saves land in the same second, the second gets its own ref, not an overwrite."""
    vcs = GitWorktrees(clock=lambda: 1_700_000_000)
    refs = []
    for text in ("first\n", "second\n"):
        ws = vcs.create(repo, "web", tmp_path / "ws" / "web")
        (ws.path / "scratch.txt").write_text(text)
        refs.append(vcs.remove(ws))
        git(repo, "branch", "-D", "colony/web")
    assert refs == ["refs/colony/saved/web/1700000000", "refs/colony/saved/web/1700000000-2"]
    assert git(repo, "show", f"{refs[0]}:scratch.txt") == "first"
    assert git(repo, "show", f"{refs[1]}:scratch.txt") == "second"


def test_snapshot_leaves_worktree_untouched(repo: Path, vcs: GitWorktrees, tmp_path: Path) -> None:
    """When a snapshot is taken, the worktree's branch, index and files stay as they were."""
    ws = vcs.create(repo, "web", tmp_path / "ws" / "web")
    (ws.path / "README").write_text("draft\n")
    (ws.path / "new.txt").write_text("new\n")
    git(ws.path, "add", "new.txt")
    status = git(ws.path, "status", "--porcelain")

    sha = vcs.snapshot(ws, "before refactor")

    assert git(repo, "log", "-1", "--format=%s", sha) == "before refactor"
    assert git(repo, "show", f"{sha}:README") == "draft"
    assert git(ws.path, "status", "--porcelain") == status
    assert git(ws.path, "rev-parse", "HEAD") == ws.base
    assert git(repo, "for-each-ref", "--format=%(objectname)", "refs/colony/snapshots/web") == sha
    vcs.remove(ws)


def test_concurrent_creates_all_succeed(repo: Path, vcs: GitWorktrees, tmp_path: Path) -> None:
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
    assert sorted(vcs.list(repo)) == sorted(ws.path for ws in made)
    removers = [threading.Thread(target=vcs.remove, args=(ws,)) for ws in made]
    for t in removers:
        t.start()
    for t in removers:
        t.join()
    assert worktrees(repo) == [str(repo)]


def test_open_vcs_and_detect(repo: Path, tmp_path: Path) -> None:
    """When a path is opened, git repos get GitWorktrees; others get a clear error."""
    vcs: Vcs = open_vcs(repo / "src")
    assert isinstance(vcs, GitWorktrees)
    assert detect(repo) == "git"
    plain = tmp_path / "plain"
    plain.mkdir()
    assert detect(plain) is None
    with pytest.raises(ConfigError, match="not a git or jj repository"):
        open_vcs(plain)
    with pytest.raises(NotFound):
        open_vcs(tmp_path / "missing")
    (repo / ".jj").mkdir()  # a colocated jj repository counts as jj
    assert detect(repo / "src") == "jj"


def test_error_is_a_colony_error_for_non_repo(vcs: GitWorktrees, tmp_path: Path) -> None:
    """When create is pointed at a directory outside any repository, it raises ConfigError."""
    plain = tmp_path / "plain"
    plain.mkdir()
    with pytest.raises(ColonyError, match="not a git or jj repository"):
        vcs.create(plain, "web", tmp_path / "ws" / "web")


def test_discard_removes_workspace_and_new_branch(
    repo: Path, vcs: GitWorktrees, tmp_path: Path
) -> None:
    """When a workspace is discarded, its directory and its untouched branch are gone."""
    ws = vcs.create(repo, "gone", tmp_path / "ws")
    (ws.path / "scratch.txt").write_text("throwaway\n")
    vcs.discard(ws)
    assert not ws.path.exists()
    assert not branch_exists(repo, "colony/gone")
    assert vcs.list(repo) == []
