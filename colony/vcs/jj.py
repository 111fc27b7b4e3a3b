"""jj backend: a jj repository's colonies are git workspaces of its git store (issue 10).

A ``jj workspace`` shares the repository's operation log and store, which every jj command in
it writes: a colony could never have one without write access to the repository. So a jj
repository's colony gets the same workspace as a git repository's (:mod:`colony.vcs.git`),
based on the jj repository's git store (``.jj/repo/store/git``, or the colocated ``.git``):

* the base revision is resolved with ``jj log -r REV --no-graph -T 'commit_id'`` (default
  ``@-``, jj's own default parent), as the repository's owner, ``--ignore-working-copy``;
* a merge moves the bookmark's git ref and then runs ``jj git import``, so jj sees it.

Only jj's documented CLI is used (``jj log``, ``jj git import``); the colony itself may run
``jj git init --colocate`` in its workspace to use jj there.

Example:
    >>> vcs = JjWorkspaces()
    >>> ws = vcs.create(Path("/src/shop"), "web", path, inside=inside, objects=OBJECTS)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from colony import host
from colony.core.model import check_name
from colony.errors import ColonyError, ConfigError, NotFound
from colony.vcs.base import find_marker
from colony.vcs.git import GitWorkspaces
from colony.vcs.inside import OID_RE
from colony.vcs.repo import Repo, git_env

_ONE_ID = 'commit_id ++ "\\n"'


def jj_root(repo: Path) -> Path:
    """The directory holding the ``.jj`` of the repository containing ``repo``."""
    found = find_marker(repo)
    if found is None or found[0] != "jj":
        raise ConfigError(f"{repo}: not a jj repository", hint=f"run 'jj git init' in {repo}")
    return found[1]


@dataclass(frozen=True)
class JjRepo(Repo):
    """The git store of a jj repository, with the jj repository's root."""

    jj_root: Path = Path("/")

    def jj(self, *args: str, check: bool = True) -> host.Completed:
        """Run ``jj --repository ROOT --ignore-working-copy ARGS`` as the owner."""
        argv = ["jj", "--repository", str(self.jj_root), "--ignore-working-copy", *args]
        return host.run(argv, check=check, env=git_env(), user=self.owner)

    def resolve(self, rev: str, name: str) -> str:
        done = self.jj("log", "-r", rev, "--no-graph", "--limit", "2", "-T", _ONE_ID, check=False)
        ids = done.stdout.split()
        if done.returncode == 0 and len(ids) == 1 and OID_RE.match(ids[0]):
            return ids[0]
        what = f"colony '{name}': cannot create workspace: revision '{rev}'"
        if done.returncode == 0 and ids:
            raise ColonyError(f"{what} names more than one commit in {self.jj_root}",
                              hint="pick one commit, e.g. by its commit id")  # fmt: skip
        raise NotFound(
            f"{what} not found in {self.jj_root}",
            hint=f"name a commit, change or bookmark of {self.jj_root} "
            f"(see 'jj -R {self.jj_root} log')",
        )

    def after_update(self) -> None:
        """Let jj see the refs Mycelium moved in its git store."""
        self.jj("git", "import")


class JjWorkspaces(GitWorkspaces):
    """Colonies of jj repositories: git workspaces of the repository's git store."""

    kind = "jj"

    def open(self, repo: Path) -> JjRepo:
        root = jj_root(repo)
        owner = host.Credentials.of_uid(root.stat().st_uid)
        store = root / ".jj" / "repo" / "store"
        # Read as the owner: the file is theirs, and may be a symlink to anything.
        target = host.run(["cat", str(store / "git_target")], user=owner, check=False)
        if target.returncode != 0 or not target.stdout.strip():
            raise ConfigError(
                f"{root}: a jj repository without a git store (.jj/repo/store/git_target)",
                hint="Colony supports jj repositories on the git backend ('jj git init')",
            )
        common = (store / target.stdout.strip()).resolve()
        git_root = common.parent if common.name == ".git" else common
        return JjRepo(git_root, common, owner, jj_root=root)

    def plan(self, repo: Path, name: str, rev: str | None) -> tuple[Repo, str]:
        check_name(name)
        found = self.open(repo)
        return found, found.resolve(rev or "@-", name)


__all__ = ["JjRepo", "JjWorkspaces", "jj_root"]
