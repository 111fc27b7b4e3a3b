"""git backend: one ``git worktree`` per colony, on branch ``colony/<name>``.

Every command goes through :func:`colony.host.run`. ``create`` costs two git invocations
(``rev-parse`` and ``worktree add``); ``remove`` of a clean worktree costs three.

Example:
    >>> vcs = GitWorktrees()
    >>> ws = vcs.create(Path("/src/shop"), "web", Path("/var/lib/colony/ws/web"), rev="main")
    >>> vcs.remove(ws)  # dirty: 'refs/colony/saved/web/1718000000'; clean: None
"""

from __future__ import annotations

import builtins
import os
import shutil
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from colony import host
from colony.core.model import check_name
from colony.errors import ConfigError, Conflict, HostError, NotFound
from colony.vcs import Workspace, check_free, last_line, name_taken, repo_lock

# Variables that would point git at another repository or index than the one we name.
_REPO_VARS = frozenset(
    {
        "GIT_DIR",
        "GIT_WORK_TREE",
        "GIT_INDEX_FILE",
        "GIT_OBJECT_DIRECTORY",
        "GIT_ALTERNATE_OBJECT_DIRECTORIES",
        "GIT_COMMON_DIR",
        "GIT_NAMESPACE",
        "GIT_PREFIX",
    }
)
# Author of saved-work commits unless the environment names one. Colony makes these commits,
# and a daemon host often has no git identity configured (commit-tree would then fail).
_IDENTITY = {
    "GIT_AUTHOR_NAME": "Colony",
    "GIT_AUTHOR_EMAIL": "colony@localhost",
    "GIT_COMMITTER_NAME": "Colony",
    "GIT_COMMITTER_EMAIL": "colony@localhost",
}
_REF_ATTEMPTS = 20


def git_env(**extra: str) -> dict[str, str]:
    """The environment for git: ours, minus repository overrides, with untranslated messages."""
    env = {k: v for k, v in os.environ.items() if k not in _REPO_VARS}
    # LANGUAGE only picks the message catalog, so hooks keep the user's locale and charset;
    # we match a few of git's English messages below.
    env.update(LANGUAGE="C", GIT_TERMINAL_PROMPT="0", **extra)
    # Workspaces belong to the colony's user while the daemon runs git as root: without this,
    # git refuses them as "dubious ownership" (issue 3). Command-scope config, as `-c` would.
    count = env.get("GIT_CONFIG_COUNT", "")
    n = int(count) if count.isdigit() else 0
    env.update(
        {
            "GIT_CONFIG_COUNT": str(n + 1),
            f"GIT_CONFIG_KEY_{n}": "safe.directory",
            f"GIT_CONFIG_VALUE_{n}": "*",
        }
    )
    return env


def git(
    where: Path, *args: str, check: bool = True, env: dict[str, str] | None = None
) -> host.Completed:
    """Run ``git -C where ARGS``."""
    return host.run(["git", "-C", str(where), *args], check=check, env=env or git_env())


def _locate(repo: Path, *args: str, check: bool = True) -> host.Completed:
    # rev-parse prints --show-toplevel and --git-common-dir before verifying the revision.
    return git(
        repo,
        "rev-parse",
        "--path-format=absolute",
        "--show-toplevel",
        "--git-common-dir",
        *args,
        check=check,
    )


def _main_root(toplevel: str, common_dir: str) -> Path:
    # From a linked worktree, --show-toplevel names that worktree; the main one holds .git.
    common = Path(common_dir)
    return common.parent if common.name == ".git" else Path(toplevel)


def _not_a_repo(repo: Path) -> ConfigError:
    return ConfigError(
        f"{repo}: not a git or jj repository",
        hint=f"run 'git init' in {repo}, or point Colony at a repository",
    )


def git_root(repo: Path) -> Path:
    """The toplevel of the main worktree of the git repository containing ``repo``."""
    done = _locate(repo, check=False)
    lines = done.stdout.splitlines()
    if done.returncode != 0 or len(lines) < 2:
        raise _not_a_repo(repo)
    return _main_root(lines[0], lines[1])


class GitWorktrees:
    """Workspaces as git worktrees; thread-safe, serializes create/remove per repository."""

    kind = "git"

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock  # names refs/colony/saved/<name>/<unix-time>

    # --- create ---------------------------------------------------------------------------

    def create(self, repo: Path, name: str, path: Path, rev: str | None = None) -> Workspace:
        check_name(name)
        rev = rev or "HEAD"
        if not repo.is_dir():
            raise NotFound(f"repository {repo}: no such directory")
        root, base = self._resolve(repo, name, rev)
        branch = f"colony/{name}"
        path = path.resolve()
        with repo_lock(root):
            check_free(name, path)
            done = git(
                root, "worktree", "add", "--quiet", "-b", branch, str(path), base, check=False
            )
            if done.returncode != 0:
                self._undo_add(name, root, path, base, done)
        return Workspace("git", root, path, name, branch, base)

    def _resolve(self, repo: Path, name: str, rev: str) -> tuple[Path, str]:
        done = _locate(repo, "--verify", "--end-of-options", f"{rev}^{{commit}}", check=False)
        lines = done.stdout.splitlines()
        if len(lines) < 2 or "not a git repository" in done.stderr:
            raise _not_a_repo(repo)
        root = _main_root(lines[0], lines[1])
        if done.returncode != 0 or len(lines) != 3:
            raise NotFound(
                f"colony '{name}': cannot create workspace: revision '{rev}' not found in {root}",
                hint=f"name a branch, tag or commit of {root} (see 'git -C {root} log --oneline')",
            )
        return root, lines[2]

    def _undo_add(self, name: str, root: Path, path: Path, base: str, done: host.Completed) -> None:
        """Remove whatever a failed ``git worktree add`` left, then raise its error."""
        branch = f"colony/{name}"
        if "a branch named" in done.stderr and "already exists" in done.stderr:
            # git refused before creating anything; the branch is someone else's: keep it.
            command = f"git -C {root} branch -D {branch}"
            remedy = f"delete the branch if its work is no longer needed: {command}"
            raise name_taken(name, root, f"branch '{branch}'", remedy)
        # The path did not exist before (checked under the lock), so it is ours to delete.
        shutil.rmtree(path, ignore_errors=True)
        git(root, "worktree", "prune", check=False)
        # Delete the branch only while it still points at base: then it is the one git just made.
        git(root, "update-ref", "-d", f"refs/heads/{branch}", base, check=False)
        raise HostError(
            f"colony '{name}': cannot create worktree {path} in {root}: {last_line(done.stderr)}"
        )

    # --- remove, snapshot -----------------------------------------------------------------

    def remove(self, ws: Workspace) -> str | None:
        saved = None
        if ws.path.exists() and self.dirty(ws):
            message = f"colony {ws.name}: uncommitted work saved on remove"
            saved = self._save(ws, message, f"refs/colony/saved/{ws.name}")[1]
        with repo_lock(ws.repo):
            if ws.path.exists():
                git(ws.repo, "worktree", "remove", "--force", str(ws.path))
            git(ws.repo, "worktree", "prune")
        return saved

    def discard(self, ws: Workspace) -> None:
        with repo_lock(ws.repo):
            if ws.path.exists():
                git(ws.repo, "worktree", "remove", "--force", str(ws.path), check=False)
                shutil.rmtree(ws.path, ignore_errors=True)
            git(ws.repo, "worktree", "prune", check=False)
            git(ws.repo, "update-ref", "-d", f"refs/heads/{ws.branch}", ws.base, check=False)

    def snapshot(self, ws: Workspace, message: str) -> str:
        if not ws.path.is_dir():
            raise NotFound(f"colony '{ws.name}': workspace {ws.path} does not exist")
        return self._save(ws, message, f"refs/colony/snapshots/{ws.name}")[0]

    def dirty(self, ws: Workspace) -> bool:
        if not ws.path.is_dir():
            raise NotFound(f"colony '{ws.name}': workspace {ws.path} does not exist")
        # --no-optional-locks: status must not refresh (and lock) the index an agent may be using.
        done = git(ws.path, "--no-optional-locks", "status", "--porcelain", "-z")
        return bool(done.stdout)

    def _save(self, ws: Workspace, message: str, prefix: str) -> tuple[str, str]:
        """Commit the worktree's files (tracked and untracked, not ignored) on top of HEAD.

        Uses a copy of the worktree's index, so neither its index nor its branch moves.
        Returns (commit id, the ref that now holds it).
        """
        head, index = worktree_head(ws)
        scratch = index.with_name(f"colony-save-{uuid.uuid4().hex}.index")
        env = git_env(GIT_INDEX_FILE=str(scratch))
        try:
            # Starting from the real index keeps its stat cache (only changed files are hashed)
            # and keeps tracked files that match .gitignore.
            if index.exists():
                shutil.copyfile(index, scratch)
            git(ws.path, "add", "--all", env=env)
            tree = git(ws.path, "write-tree", env=env).stdout.strip()
        finally:
            scratch.unlink(missing_ok=True)
        ident = git_env(**{k: os.environ.get(k, v) for k, v in _IDENTITY.items()})
        argv = ("commit-tree", "--no-gpg-sign", "-p", head, "-m", message, tree)
        commit = git(ws.path, *argv, env=ident).stdout.strip()
        return commit, self._keep(ws.repo, prefix, commit)

    def _keep(self, repo: Path, prefix: str, commit: str) -> str:
        """Point a new ref ``PREFIX/<unix-time>`` at ``commit``; never overwrite one."""
        stamp = int(self._clock())
        names = [f"{prefix}/{stamp}"] + [f"{prefix}/{stamp}-{n}" for n in range(2, _REF_ATTEMPTS)]
        for ref in names:
            # An empty old value makes update-ref fail if the ref exists already.
            if git(repo, "update-ref", ref, commit, "", check=False).returncode == 0:
                return ref
        raise HostError(f"cannot record {commit} under {prefix}/{stamp}: refs taken or locked")

    # --- list -----------------------------------------------------------------------------

    def list(self, repo: Path) -> builtins.list[Path]:
        done = git(repo, "worktree", "list", "--porcelain", "-z")
        return parse_worktrees(done.stdout)[1:]


def worktree_head(ws: Workspace) -> tuple[str, Path]:
    """The commit checked out in ``ws`` and the path of its index.

    Raises:
        Conflict: ``ws.path`` is no longer a worktree of its own (e.g. its .git is gone).
    """
    done = git(
        ws.path,
        "rev-parse",
        "--path-format=absolute",
        "--show-toplevel",
        "--git-path",
        "index",
        "--verify",
        "HEAD",
    )
    top, index, head = done.stdout.splitlines()
    if Path(top).resolve() != ws.path.resolve():
        raise Conflict(
            f"colony '{ws.name}': {ws.path} is not a git worktree any more (found {top})",
            hint=f"move its files away, then run 'git -C {ws.repo} worktree prune'",
        )
    return head, Path(index)


def parse_worktrees(porcelain_z: str) -> list[Path]:
    """Worktree paths from ``git worktree list --porcelain -z``, the main one first."""
    fields = porcelain_z.split("\0")
    return [Path(f.removeprefix("worktree ")) for f in fields if f.startswith("worktree ")]


__all__ = ["GitWorktrees", "git_root", "parse_worktrees", "worktree_head"]
