"""Workspaces: one repository of its own per colony, behind a small Protocol (issue 10).

:class:`colony.vcs.git.GitWorkspaces` gives each colony a git repository of its own, on
branch ``colony/<name>``, that borrows the user's repository's objects read-only; its jj
variant (:class:`colony.vcs.jj.JjWorkspaces`) does the same for a jj repository's git store.
Its files come from one shared checkout per (repository, base commit)
(:mod:`colony.vcs.checkouts`) that the daemon mounts as the lower layer of an overlay
(issue 15), with the checkout's index given to the colony's git: making a workspace costs the
same whatever the repository's size. Git in a colony's workspace runs as the colony, through
an :class:`~colony.vcs.inside.Inside` runner the daemon provides; git on the user's
repository runs as its owner (:class:`colony.vcs.repo.Repo`). The daemon gets a backend as
a constructor argument; its unit tests use :class:`colony.testing.fake_vcs.FakeVcs`.

Example:
    >>> vcs = open_vcs(Path("~/src/shop").expanduser())
    >>> ws = vcs.create(repo, "web", path, inside=inside, objects="/run/colony/objects")
    >>> ws.branch
    'colony/web'
"""

from __future__ import annotations

from pathlib import Path

from colony.errors import ConfigError, NotFound
from colony.vcs.base import Vcs, Workspace, detect, find_marker, last_line, repo_lock
from colony.vcs.git import GitWorkspaces, git_root
from colony.vcs.inside import Inside
from colony.vcs.jj import JjWorkspaces, jj_root


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
        return JjWorkspaces()
    if kind == "git":
        return GitWorkspaces()
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
        return jj_root(repo)
    return git_root(repo)


__all__ = [
    "Inside",
    "Vcs",
    "Workspace",
    "detect",
    "find_marker",
    "last_line",
    "open_vcs",
    "repo_lock",
    "repo_root",
]
