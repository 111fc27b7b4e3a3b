"""git on the user's repository, run as the repository's owner (issue 10).

Mycelium is root, but a repository's configuration and hooks are its owner's: running git
there as root would let whoever can write ``.git/config`` run programs as root. So every
command here runs with the owner's uid (root only for a repository root owns), never with
``safe.directory=*``, and with hooks and fsmonitor off for Mycelium's own invocations.
Colonies cannot write the repository at all; their work arrives as a pack that
:meth:`Repo.receive` checks like a fetch from a stranger would be checked.

Example:
    >>> repo = Repo.open(Path("/src/shop"))
    >>> repo.resolve("main")
    '3f2a…'
"""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from colony import host
from colony.errors import ConfigError, HostError, NotFound
from colony.vcs.inside import OID_RE

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
        "GIT_CONFIG",
        "GIT_CONFIG_COUNT",
        "GIT_CONFIG_PARAMETERS",
    }
)
# Variables that would make git read another user's configuration than the owner's: the
# daemon's own (a service may have no HOME, or root's XDG_CONFIG_HOME), never the owner's.
_CONFIG_VARS = frozenset(
    {"HOME", "XDG_CONFIG_HOME", "GIT_CONFIG_GLOBAL", "GIT_CONFIG_SYSTEM", "GIT_CONFIG_NOSYSTEM"}
)
NO_HOOKS = ("-c", "core.hooksPath=/dev/null", "-c", "core.fsmonitor=false")
OPEN_TTL = 2.0  # seconds Repo.open's answer is kept for the same directory
_opened: dict[tuple[str, int, int, int], tuple[float, Repo]] = {}
# Author of commits Mycelium makes (merges) when the owner has no git identity.
FALLBACK_IDENTITY = ("Colony", "colony@localhost")


def git_env(**extra: str) -> dict[str, str]:
    """The environment for git: ours, minus repository overrides, with untranslated messages."""
    env = {k: v for k, v in os.environ.items() if k not in _REPO_VARS}
    env.update(LANGUAGE="C", GIT_TERMINAL_PROMPT="0", **extra)
    return env


def not_a_repo(repo: Path) -> ConfigError:
    return ConfigError(
        f"{repo}: not a git or jj repository",
        hint=f"run 'git init' in {repo}, or point Colony at a repository",
    )


@dataclass(frozen=True)
class Repo:
    """A repository: its main worktree's toplevel, its git directory, and who owns it."""

    root: Path
    common: Path  # the git directory shared by its worktrees (absolute)
    owner: host.Credentials
    is_shallow: bool = False

    @classmethod
    def open(cls, path: Path) -> Repo:
        """The repository containing ``path``. A spawn opens its repository four times within
        a few milliseconds: the answer is kept :data:`OPEN_TTL` seconds for the same directory
        (same inode and owner), so that git runs once.

        Raises:
            NotFound: ``path`` does not exist.
            ConfigError: it is not in a git repository.
        """
        try:
            st = path.stat()
        except OSError:
            st = None
        if st is None or not stat.S_ISDIR(st.st_mode):
            raise NotFound(f"repository {path}: no such directory")
        key = (str(path), st.st_dev, st.st_ino, st.st_uid)
        now = time.monotonic()
        kept = _opened.get(key)
        if kept is not None and now - kept[0] < OPEN_TTL:
            return kept[1]
        found = cls._open(path, st.st_uid)
        if len(_opened) > 256:
            _opened.clear()
        _opened[key] = (now, found)
        return found

    @classmethod
    def _open(cls, path: Path, uid: int) -> Repo:
        owner = host.Credentials.of_uid(uid)
        argv = ["rev-parse", "--path-format=absolute", "--show-toplevel", "--git-common-dir"]
        done = _git(owner, path, [*argv, "--is-shallow-repository"], check=False)
        lines = done.stdout.splitlines()
        if done.returncode != 0 or len(lines) < 3:
            raise not_a_repo(path)
        common = Path(lines[1])
        root = common.parent if common.name == ".git" else Path(lines[0])
        repo_owner = host.Credentials.of_uid(common.stat().st_uid)
        return cls(root, common, repo_owner, lines[2].strip() == "true")

    @property
    def objects(self) -> Path:
        return self.common / "objects"

    def git(
        self,
        *args: str,
        check: bool = True,
        env: dict[str, str] | None = None,
        stdin: IO[bytes] | None = None,
        input: str | None = None,
        timeout: float = 120,
    ) -> host.Completed:
        """Run ``git -C ROOT ARGS`` as the repository's owner, hooks and fsmonitor off."""
        return _git(self.owner, self.root, args, check, env, stdin, input, timeout)

    # --- reading ----------------------------------------------------------------------------

    def resolve(self, rev: str, name: str) -> str:
        """The full id of the commit ``rev`` names.

        Raises:
            NotFound: it names no commit.
        """
        done = self.git("rev-parse", "--verify", "-q", "--end-of-options", f"{rev}^{{commit}}",
                        check=False)  # fmt: skip
        if done.returncode != 0 or not OID_RE.match(done.stdout.strip()):
            raise NotFound(
                f"colony '{name}': cannot create workspace: revision '{rev}' not found in "
                f"{self.root}",
                hint=f"name a branch, tag or commit of {self.root} "
                f"(see 'git -C {self.root} log --oneline')",
            )
        return done.stdout.strip()

    def rev(self, name: str) -> str | None:
        """The commit ``name`` names, or None."""
        done = self.git(
            "rev-parse", "--verify", "--quiet", "--end-of-options", f"{name}^{{commit}}",
            check=False,
        )  # fmt: skip
        return done.stdout.strip() if done.returncode == 0 else None

    def refs(self) -> list[tuple[str, str]]:
        """(ref, commit) of the branches and tags a colony gets copies of (not colonies')."""
        fmt = "--format=%(refname) %(objectname) %(*objectname)"
        out = self.git("for-each-ref", fmt, "refs/heads", "refs/tags").stdout
        found = []
        for line in out.splitlines():
            parts = line.split()
            if len(parts) >= 2 and not parts[0].startswith("refs/heads/colony/"):
                found.append((parts[0], parts[1]))
        return found

    def identity(self) -> tuple[str, str]:
        """The owner's git (name, email) here, or :data:`FALLBACK_IDENTITY`: the repository's
        configuration as its owner sees it (their global and the system's included), whatever
        the daemon's own HOME is."""
        out = self.git("config", "--get-regexp", r"^user\.(name|email)$", check=False).stdout
        found = dict(line.partition(" ")[::2] for line in out.splitlines())
        name, email = found.get("user.name", "").strip(), found.get("user.email", "").strip()
        return (name or FALLBACK_IDENTITY[0], email or FALLBACK_IDENTITY[1])

    def uncommitted(self) -> list[str]:
        """Paths in the main worktree with changes no commit has (changed, staged or new and
        not ignored); empty when it is clean or git cannot tell."""
        done = self.git("--no-optional-locks", "status", "--porcelain=v1", "-z",
                        "--untracked-files=normal", check=False, timeout=30)  # fmt: skip
        if done.returncode != 0:
            return []
        paths, fields = [], iter(done.stdout.split("\0"))
        for entry in fields:
            if len(entry) > 3 and entry[2] == " ":
                paths.append(entry[3:])
                if entry[0] in "RC":  # a rename or copy: its source path follows
                    next(fields, None)
        return paths

    def shallow(self) -> list[str]:
        """The commits a shallow clone is cut at (empty for a full repository)."""
        if not self.is_shallow:
            return []
        # Read as the owner: the file is theirs, and may be a symlink to anything.
        text = host.run(["cat", str(self.common / "shallow")], user=self.owner, check=False)
        return [line for line in text.stdout.split() if OID_RE.match(line)]

    def is_ancestor(self, older: str, newer: str) -> bool:
        return self.git("merge-base", "--is-ancestor", older, newer, check=False).returncode == 0

    def current_branch(self) -> str | None:
        """The branch checked out in the main worktree, or None when HEAD is detached."""
        done = self.git("symbolic-ref", "--quiet", "--short", "HEAD", check=False)
        return (done.stdout.strip() or None) if done.returncode == 0 else None

    def worktree_of(self, branch: str) -> Path | None:
        """The worktree that has ``branch`` checked out, if any."""
        out = self.git("worktree", "list", "--porcelain", "-z").stdout
        path: Path | None = None
        for field in out.split("\0"):
            if field.startswith("worktree "):
                path = Path(field.removeprefix("worktree "))
            elif field == f"branch refs/heads/{branch}" and path is not None:
                return path
        return None

    def local_changes(self, worktree: Path) -> set[str]:
        """Paths in ``worktree`` that differ from its HEAD: edited, staged, deleted, and
        untracked (not ignored) files, each untracked file by name; no lock taken."""
        argv = ("-C", str(worktree), "--no-optional-locks", "status", "--porcelain", "-z",
                "--no-renames", "--untracked-files=all")  # fmt: skip
        out = self.git(*argv).stdout
        return {entry[3:] for entry in out.split("\0") if len(entry) > 3}

    def changed_by(self, commit: str, tree: str) -> set[str]:
        """Paths that differ between ``commit`` and ``tree`` (no renames)."""
        argv = ("diff-tree", "-r", "--name-only", "-z", "--no-renames", commit, tree, "--")
        return {p for p in self.git(*argv).stdout.split("\0") if p}

    # --- writing ----------------------------------------------------------------------------

    def after_update(self) -> None:
        """Called after Mycelium moved a branch (a jj repository imports it)."""

    def pin(self, name: str, commit: str) -> None:
        """Keep ``commit`` (a colony's base) from git's garbage collection while the colony or
        its trash entry needs it: the colony's objects lean on the repository's."""
        self.git("update-ref", f"refs/colony/base/{name}", commit)

    def unpin(self, name: str) -> None:
        self.git("update-ref", "-d", f"refs/colony/base/{name}", check=False)

    def receive(self, pack: IO[bytes], tip: str) -> None:
        """Add a pack a colony made, checked as a fetch from a stranger is: every object
        well-formed (``--strict``), and ``tip`` complete down to what the repository has.

        Raises:
            HostError: the pack is malformed or ``tip`` is missing objects.
        """
        done = self.git("index-pack", "--stdin", "--fix-thin", "--strict", stdin=pack,
                        check=False, timeout=600)  # fmt: skip
        if done.returncode != 0:
            raise HostError(f"the colony's work was refused: {_last(done.stderr)}")
        check = self.git("rev-list", "--objects", "--quiet", tip, "--not", "--all", check=False)
        if check.returncode != 0:
            raise HostError(f"the colony's work is incomplete: {_last(check.stderr)}")


def _last(text: str) -> str:
    rows = [r.strip() for r in text.strip().splitlines() if r.strip()]
    return rows[-1] if rows else "no output"


def _git(
    owner: host.Credentials,
    where: Path,
    args: Sequence[str],
    check: bool = True,
    env: dict[str, str] | None = None,
    stdin: IO[bytes] | None = None,
    input: str | None = None,
    timeout: float = 120,
) -> host.Completed:
    argv = ["git", *NO_HOOKS, "-C", str(where), *args]
    # The owner's configuration, not the daemon's: HOME is the owner's home, always.
    env = {k: v for k, v in (env or git_env()).items() if k not in _CONFIG_VARS}
    env["HOME"] = owner.home
    # umask 022 as a user's shell has it (the daemon's is 077): the objects a merge adds must
    # stay readable to the colonies that borrow them (git's core.sharedRepository still rules).
    return host.run(
        argv, check=check, env=env, user=owner, stdin=stdin, input=input,
        timeout=timeout, umask=0o022,
    )  # fmt: skip


__all__ = ["FALLBACK_IDENTITY", "NO_HOOKS", "Repo", "git_env", "not_a_repo"]
