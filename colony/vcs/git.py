"""git backend: each colony's workspace is a git repository of its own (issue 10).

``create`` resolves the base on the user's repository (as its owner), pins it there
(``refs/colony/base/<name>``), then has the colony itself make its repository: branch
``colony/<name>`` at the base, copies of the repository's branches and tags, and the
repository's objects read-only through ``objects/info/alternates``. When the workspace shows
the base's files already (an overlay of its shared checkout, issue 15) the colony's git gets
the checkout's index instead of checking out. The colony can commit, branch, merge and rebase
in it; none of it can touch the repository or another colony. Its work reaches the repository
only through ``colony merge`` (:mod:`colony.vcs.review`).

Example:
    >>> vcs = GitWorkspaces()
    >>> ws = vcs.create(Path("/src/shop"), "web", Path("/var/lib/colony/workspaces/web"),
    ...                 inside=inside, objects="/run/colony/objects")
    >>> vcs.snapshot(ws, "before the refactor", inside=inside)   # commit id; no branch moves
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from colony.core.model import check_name
from colony.vcs import inside as colony_git
from colony.vcs.base import Workspace, repo_lock
from colony.vcs.inside import Inside
from colony.vcs.repo import Repo

_REF_ATTEMPTS = 20


def git_root(repo: Path) -> Path:
    """The toplevel of the main worktree of the git repository containing ``repo``."""
    return Repo.open(repo).root


class GitWorkspaces:
    """Workspaces as git repositories of their own; thread-safe."""

    kind = "git"

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock  # names refs/colony/snapshots/<name>/<unix-time>

    def open(self, repo: Path) -> Repo:
        return Repo.open(repo)

    def plan(self, repo: Path, name: str, rev: str | None) -> tuple[Repo, str]:
        """The repository and the base commit of colony ``name``; checks, creates nothing.

        Raises:
            NotFound: ``rev`` names no commit.
            ConfigError: ``repo`` is not a git repository.
        """
        check_name(name)
        found = self.open(repo)
        return found, found.resolve(rev or "HEAD", name)

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
        """Make colony ``name``'s repository in the empty directory ``path`` (made by the
        caller and owned by the colony) and check out its base.

        Args:
            objects: where the colony's git finds the repository's objects.
            base: the base commit, when :meth:`plan` already resolved ``rev``.
            index: the base's index, when ``path`` shows the base's files already (an
                overlay of its shared checkout, issue 15): no checkout then.
        """
        if base is None:
            found, base = self.plan(repo, name, rev)
        else:
            found = self.open(repo)
        branch = f"colony/{name}"
        with repo_lock(found.root):
            found.pin(name, base)
        try:
            refs = [(f"refs/heads/{branch}", base), *found.refs()]
            colony_git.init(inside, branch, objects, found.identity(), refs, found.shallow(), index)
        except BaseException:
            with repo_lock(found.root):
                found.unpin(name)
            raise
        return Workspace("git", found.root, path, name, branch, base, str(found.objects))

    def refresh(self, ws: Workspace, *, inside: Inside) -> None:
        """Bring the colony's copies of the repository's branches and tags up to date."""
        colony_git.refresh(inside, self.open(ws.repo).refs())

    def release(self, repo: Path, name: str) -> None:
        """Drop the pin of colony ``name``'s base (its last trace in the repository)."""
        found = self.open(repo)
        with repo_lock(found.root):
            found.unpin(name)

    def snapshot(self, ws: Workspace, message: str, *, inside: Inside) -> str:
        """Record the workspace's files as a commit under ``refs/colony/snapshots/<name>/``
        in the colony's repository, without touching its branch; return its id."""
        prefix = f"refs/colony/snapshots/{ws.name}"
        stamp = int(self._clock())
        refs = [f"{prefix}/{stamp}"] + [f"{prefix}/{stamp}-{n}" for n in range(2, _REF_ATTEMPTS)]
        return colony_git.snapshot(inside, message, refs)[1]

    def dirty(self, ws: Workspace, *, inside: Inside) -> bool:
        return colony_git.dirty(inside)


__all__ = ["GitWorkspaces", "git_root"]
