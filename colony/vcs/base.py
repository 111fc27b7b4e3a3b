"""What every workspace backend shares: the :class:`Workspace` record, the :class:`Vcs`
protocol, the per-repository lock and repository detection. :mod:`colony.vcs` picks a
backend."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from colony.vcs.inside import Inside
from colony.vcs.repo import Repo


@dataclass(frozen=True)
class Workspace:
    """One colony's checkout of a repository."""

    kind: str  # "git" (a jj repository's colonies are git workspaces of its git store too)
    repo: Path  # repository root (toplevel of the main worktree)
    path: Path  # the colony's workspace directory
    name: str  # colony name
    branch: str  # "colony/<name>"
    base: str  # full commit id the workspace was created from
    objects: str = ""  # the repository's object directory (host path), shared read-only

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
    """A workspace backend. Implementations are thread-safe."""

    kind: str

    def open(self, repo: Path) -> Repo:
        """The repository containing ``repo``, for git run as its owner."""
        ...

    def plan(self, repo: Path, name: str, rev: str | None) -> tuple[Repo, str]:
        """Check that ``repo`` is a repository and ``rev`` (default: HEAD) a commit of it:
        (the repository, the base commit id). Creates nothing.

        Raises:
            NotFound: ``rev`` is not a commit of ``repo``.
            ConfigError: ``repo`` is not a repository of this backend.
        """
        ...

    def create(
        self,
        repo: Path,
        name: str,
        path: Path,
        rev: str | None = None,
        *,
        inside: Inside,
        objects: str,
        base: str | None = None,
        index: bytes | None = None,
    ) -> Workspace:
        """Make colony ``name``'s repository in the empty directory ``path``, based on ``rev``
        (or on ``base``, a commit :meth:`plan` resolved already).

        ``objects`` is where the colony sees the repository's objects (read-only); ``index``
        the base's index when ``path`` shows the base's files already (issue 15).
        """
        ...

    def refresh(self, ws: Workspace, *, inside: Inside) -> None:
        """Bring the colony's copies of the repository's branches up to date."""
        ...

    def release(self, repo: Path, name: str) -> None:
        """Forget colony ``name`` in the repository (its base is no longer kept from gc)."""
        ...

    def snapshot(self, ws: Workspace, message: str, *, inside: Inside) -> str:
        """Record the workspace's current files as a commit without touching it; its id."""
        ...

    def dirty(self, ws: Workspace, *, inside: Inside) -> bool:
        """Whether the workspace has changes not recorded in a commit (ignored files excluded)."""
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


def last_line(text: str) -> str:
    """The last non-blank line of a command's output (where its error usually is)."""
    rows = [r.strip() for r in text.strip().splitlines() if r.strip()]
    return rows[-1] if rows else "no output"


def detect(repo: Path) -> str | None:
    """``"jj"`` if a ``.jj`` directory is at or above ``repo``, ``"git"`` for a git repo, else None.

    A colocated repository (``.jj`` and ``.git`` side by side) is a jj repository. Reads the
    file system only, so it costs no command.
    """
    found = find_marker(repo)
    return found[0] if found else None


__all__ = ["Vcs", "Workspace", "detect", "find_marker", "last_line", "repo_lock"]
