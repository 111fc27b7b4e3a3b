"""Workspaces: one checkout of the repository per colony, behind a small Protocol.

Two backends implement :class:`Vcs`: :class:`colony.vcs.git.GitWorktrees` (one
``git worktree`` per colony on branch ``colony/<name>``) and
:class:`colony.vcs.jj.JjWorkspaces` (one ``jj workspace`` per colony). The daemon gets one as a
constructor argument; its unit tests use :class:`colony.testing.fake_vcs.FakeVcs`.

Example:
    >>> vcs = open_vcs(Path("~/src/shop").expanduser())
    >>> ws = vcs.create(Path("~/src/shop").expanduser(), "web", Path("/var/lib/colony/ws/web"))
    >>> ws.branch
    'colony/web'
    >>> vcs.remove(ws)  # None when clean, else the ref that keeps the unsaved work
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from colony.errors import ConfigError, Conflict, NotFound


@dataclass(frozen=True)
class Workspace:
    """One colony's checkout of a repository."""

    kind: str  # "git" | "jj"
    repo: Path  # repository root (toplevel of the main worktree)
    path: Path  # the colony's workspace directory
    name: str  # colony name
    branch: str  # "colony/<name>" for git; for jj the workspace name
    base: str  # full commit id the workspace was created from

    def to_json(self) -> dict[str, str]:
        return {
            "kind": self.kind,
            "repo": str(self.repo),
            "path": str(self.path),
            "name": self.name,
            "branch": self.branch,
            "base": self.base,
        }


class Vcs(Protocol):
    """A workspace backend. Implementations are thread-safe and serialize create/remove per repo."""

    kind: str

    def create(self, repo: Path, name: str, path: Path, rev: str | None = None) -> Workspace:
        """Make a workspace for colony ``name`` at ``path``, based on ``rev`` (default: HEAD).

        Raises:
            NotFound: ``rev`` is not a commit of ``repo``.
            Conflict: ``path`` exists, or the colony's branch/workspace name is taken.
        """
        ...

    def remove(self, ws: Workspace) -> str | None:
        """Delete the workspace; return the reference that keeps its unsaved work, or None."""
        ...

    def discard(self, ws: Workspace) -> None:
        """Undo a ``create`` whose colony never came up: delete the workspace without saving,
        and its branch while it still points at the base (no work of anyone's is on it)."""
        ...

    def snapshot(self, ws: Workspace, message: str) -> str:
        """Record the workspace's current files as a commit without touching it; return its id."""
        ...

    def dirty(self, ws: Workspace) -> bool:
        """Whether the workspace has changes not recorded in a commit (ignored files excluded)."""
        ...

    def list(self, repo: Path) -> list[Path]:
        """Paths of the workspaces this backend knows in ``repo``, except the main one."""
        ...


_locks: dict[Path, threading.Lock] = {}
_locks_guard = threading.Lock()


def repo_lock(repo: Path) -> threading.Lock:
    """The process-wide lock that serializes workspace creation and removal in ``repo``.

    ``git worktree add`` races on ``.git/worktrees`` and on ref locks, and concurrent jj
    operations would fork the operation log, so every backend takes this lock around them.
    """
    key = repo.resolve()
    with _locks_guard:
        return _locks.setdefault(key, threading.Lock())


def find_marker(repo: Path) -> tuple[str, Path] | None:
    """The nearest ``.jj`` or ``.git`` at or above ``repo``: (kind, directory holding it)."""
    start = repo.resolve()
    for directory in (start, *start.parents):
        if (directory / ".jj").is_dir():
            return "jj", directory
        if (directory / ".git").exists():
            return "git", directory
    return None


def check_free(name: str, path: Path) -> None:
    """Refuse to create colony ``name``'s workspace at ``path`` if anything is there already
    (a dangling symlink too). Call it under :func:`repo_lock`."""
    if path.exists() or path.is_symlink():
        raise Conflict(
            f"colony '{name}': cannot create workspace: {path} already exists",
            hint="remove that directory or pick another colony name",
        )


def last_line(text: str) -> str:
    """The last non-blank line of a command's output (where its error usually is)."""
    rows = [r.strip() for r in text.strip().splitlines() if r.strip()]
    return rows[-1] if rows else "no output"


def name_taken(name: str, root: Path, taken: str, remedy: str) -> Conflict:
    """The error of a backend that refused colony ``name``'s workspace because ``taken`` (its
    branch or workspace name) already exists in ``root``; ``remedy`` says how to free it."""
    return Conflict(
        f"colony '{name}': cannot create workspace: {taken} already exists in {root}",
        hint=f"pick another colony name, or {remedy}",
    )


def detect(repo: Path) -> str | None:
    """``"jj"`` if a ``.jj`` directory is at or above ``repo``, ``"git"`` for a git repo, else None.

    A colocated repository (``.jj`` and ``.git`` side by side) is a jj repository. Reads the
    file system only, so it costs no command.
    """
    found = find_marker(repo)
    return found[0] if found else None


def open_vcs(repo: Path) -> Vcs:
    """The backend for the repository at ``repo``.

    Raises:
        NotFound: ``repo`` does not exist.
        ConfigError: ``repo`` is neither a git nor a jj repository.
    """
    if not repo.exists():
        raise NotFound(f"{repo}: no such directory", hint="check the repository path")
    kind = detect(repo)
    if kind == "jj":
        from colony.vcs.jj import JjWorkspaces

        return JjWorkspaces()
    if kind == "git":
        from colony.vcs.git import GitWorktrees

        return GitWorktrees()
    raise ConfigError(
        f"{repo}: not a git or jj repository",
        hint=f"run 'git init' in {repo}, or point Colony at a repository",
    )


def repo_root(repo: Path) -> Path:
    """The root of the repository containing ``repo`` (the main worktree's toplevel for git).

    Raises:
        NotFound: ``repo`` does not exist.
        ConfigError: ``repo`` is neither a git nor a jj repository.
    """
    vcs = open_vcs(repo)
    if vcs.kind == "jj":
        from colony.vcs.jj import jj_root

        return jj_root(repo)
    from colony.vcs.git import git_root

    return git_root(repo)


__all__ = ["Vcs", "Workspace", "detect", "find_marker", "open_vcs", "repo_lock", "repo_root"]
