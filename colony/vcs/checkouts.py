"""One shared read-only checkout per (repository, base commit): the lower layer of its
colonies' workspaces (issue 15).

A checkout is made once, by git run as the repository's owner (hooks and fsmonitor off, as
every git Mycelium runs there, :mod:`colony.vcs.repo`), with its index: ``read-tree --reset
-u BASE`` into an empty directory, an index of version 2 without split index, untracked
cache or sparse checkout, whatever the repository's configuration says. Layout under
``<state>/checkouts`` (root's, 0711):

=========================  =========  ===============================================
path                       owner      what
=========================  =========  ===============================================
``<key>/``                 root 0700  one checkout; ``<key>`` is ``<repo hash>-<base>``
``<key>/own/``             owner      what the owner's git wrote
``<key>/own/tree/``        owner      the files of BASE
``<key>/own/index``        owner      their index, copied into each colony's ``.git``
``.build-<key>-<n>/``      root 0711  a checkout being made (``own/`` is the owner's)
=========================  =========  ===============================================

While git runs, only ``own/`` is the owner's to write; the build directory is then closed
(0700) and renamed: from then on no one but root reaches the files, and root only reads them
(the tree is opened without following a symlink, the index read as a regular file only). A
colony sees the tree only through its read-only, idmapped overlay
(:mod:`colony.host.overlay`), never by path.

Example:
    >>> cache = Checkouts(Path("/var/lib/colony/checkouts"))
    >>> made = cache.ensure(repo, "3f2a…")          # made once, then found
    >>> made.tree, made.owner
    (PosixPath('/var/lib/colony/checkouts/5d41…-3f2a…/own/tree'), (1000, 1000))
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import os
import re
import shutil
import stat
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from colony import host
from colony.errors import HostError
from colony.vcs.inside import OID_RE
from colony.vcs.repo import Repo, git_env

# Configuration for the checkout's git, whatever the repository's says: an index a colony's
# git reads as its own (no shared split index, no extension tied to this directory), and
# every file of the commit written (no sparse checkout).
INDEX_CONFIG = (
    "-c", "core.splitIndex=false",
    "-c", "index.version=2",
    "-c", "index.skipHash=false",
    "-c", "core.untrackedCache=false",
    "-c", "core.sparseCheckout=false",
    "-c", "feature.manyFiles=false",
)  # fmt: skip
INDEX_MAX = 1 << 30
_KEY_RE = re.compile(r"^[0-9a-f]{16}-[0-9a-f]{40}(?:[0-9a-f]{24})?$")
_builds = itertools.count(1)


@dataclass(frozen=True)
class Checkout:
    """A made checkout: its files, its index, and the uid and gid that own them."""

    key: str
    tree: Path
    index: Path
    owner: tuple[int, int]

    def read_index(self) -> bytes:
        """The index's bytes (a regular file, not followed if a symlink).

        Raises:
            HostError: it is not a regular file.
        """
        try:
            fd = os.open(self.index, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except OSError as exc:
            raise HostError(f"checkout {self.key}: cannot read its index: {exc.strerror}") from exc
        with os.fdopen(fd, "rb") as f:
            st = os.fstat(f.fileno())
            if not stat.S_ISREG(st.st_mode) or st.st_size > INDEX_MAX:
                raise HostError(f"checkout {self.key}: its index is not a regular file")
            return f.read()


def checkout_key(repo: Repo, base: str) -> str:
    """``<hash of the repository's git directory>-<base>``."""
    digest = hashlib.sha256(str(repo.common).encode()).hexdigest()[:16]
    return f"{digest}-{base}"


class Checkouts:
    """The shared checkouts under one directory; thread-safe."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()
        self._holds: dict[str, int] = {}  # key -> spawns or starts mounting it now

    def _lock(self, key: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(key, threading.Lock())

    def find(self, repo: Repo, base: str) -> Checkout | None:
        return self.find_key(checkout_key(repo, base))

    def find_key(self, key: str) -> Checkout | None:
        """The checkout made under ``key``, or None."""
        if not _KEY_RE.match(key):
            return None
        own = self.root / key / "own"
        try:
            st = os.lstat(own / "tree")
        except OSError:
            return None
        if not stat.S_ISDIR(st.st_mode):
            return None
        return Checkout(key, own / "tree", own / "index", (st.st_uid, st.st_gid))

    def ensure(self, repo: Repo, base: str) -> Checkout:
        """The checkout of ``base`` in ``repo``, made now if missing (blocking).

        Raises:
            HostError: git could not write it.
        """
        if not OID_RE.match(base):
            raise HostError(f"checkout: {base!r} is not a commit id")
        key = checkout_key(repo, base)
        with self._lock(key):
            found = self.find_key(key)
            return found if found is not None else self._make(repo, base)

    def _make(self, repo: Repo, base: str) -> Checkout:
        key = checkout_key(repo, base)
        self.root.mkdir(mode=0o711, parents=True, exist_ok=True)
        self.root.chmod(0o711)
        build = self.root / f".build-{key}-{os.getpid()}-{next(_builds)}"
        shutil.rmtree(build, ignore_errors=True)
        build.mkdir(mode=0o711)
        build.chmod(0o711)  # the daemon's umask (077) took the owner's way through
        try:
            # Both made by root before either is the owner's: once ``own`` is theirs, they
            # could put a symlink where ``tree`` goes, and a chown would follow it.
            own = build / "own"
            own.mkdir(mode=0o700)
            (own / "tree").mkdir(mode=0o755)
            for path in (own / "tree", own):
                os.chown(path, repo.owner.uid, repo.owner.gid, follow_symlinks=False)
            env = git_env(GIT_INDEX_FILE=str(own / "index"))
            done = repo.git(
                *INDEX_CONFIG, f"--git-dir={repo.common}", f"--work-tree={own / 'tree'}",
                "read-tree", "--reset", "-u", base, env=env, check=False, timeout=600,
            )  # fmt: skip
            if done.returncode != 0:
                raise HostError(
                    f"cannot check out {base[:12]} of {repo.root}: {done.stderr[-200:]}"
                )
            build.chmod(0o700)  # the owner's git is done: no one but root reaches it now
            os.rename(build, self.root / key)
        except BaseException:
            shutil.rmtree(build, ignore_errors=True)
            raise
        made = self.find(repo, base)
        if made is None:
            raise HostError(f"checkout {key}: its tree vanished")
        return made

    def keys(self) -> list[str]:
        """The checkouts made (not those being made)."""
        try:
            names = os.listdir(self.root)
        except OSError:
            return []
        return sorted(n for n in names if not n.startswith("."))

    def remove_unused(self, used: Iterable[str]) -> list[str]:
        """Delete the checkouts whose key is not in ``used`` (no mount holds them: an overlay
        keeps its lower alive anyway), and builds a crash left; the keys deleted."""
        keep = set(used)
        mine = f"-{os.getpid()}-"  # a build of this process may be under way
        gone = []
        for name in os.listdir(self.root) if self.root.is_dir() else []:
            if name in keep or (name.startswith(".build-") and mine in name):
                continue
            with self._lock(name):
                with self._guard:
                    if self._holds.get(name):
                        continue  # being mounted: its colony has not recorded it yet
                shutil.rmtree(self.root / name, ignore_errors=True)  # fd-based, no symlink
            if not name.startswith("."):
                gone.append(name)
        return gone

    @contextlib.contextmanager
    def holding(self, key: str) -> Iterator[None]:
        """Keep checkout ``key`` from :meth:`remove_unused` meanwhile (while a colony records
        and mounts it)."""
        with self._guard:
            self._holds[key] = self._holds.get(key, 0) + 1
        try:
            yield
        finally:
            with self._guard:
                left = self._holds.pop(key) - 1
                if left:
                    self._holds[key] = left


_registry: dict[Path, Checkouts] = {}
_registry_guard = threading.Lock()


def reachable(path: Path, who: host.Credentials) -> bool:
    """Whether user ``who`` may pass through every directory from / to ``path`` (which
    need not exist yet): the owner's git writes a checkout below it. A state directory
    under a private one (say /root) is not, and its colonies get plain checkouts."""
    if who.uid == 0:
        return True
    for folder in reversed([path, *path.parents]):
        try:
            st = folder.stat()
        except FileNotFoundError:
            continue  # made by Mycelium, 0711
        if st.st_uid == who.uid:
            bit = 0o100
        elif st.st_gid == who.gid or st.st_gid in who.groups:
            bit = 0o010
        else:
            bit = 0o001
        if not st.st_mode & bit:
            return False
    return True


def checkouts_at(root: Path) -> Checkouts:
    """The process-wide :class:`Checkouts` of ``root`` (one lock per checkout for all)."""
    with _registry_guard:
        return _registry.setdefault(root, Checkouts(root))


__all__ = ["INDEX_CONFIG", "Checkout", "Checkouts", "checkout_key", "checkouts_at"]
