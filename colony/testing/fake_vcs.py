"""A :class:`~colony.vcs.Vcs` that records calls and touches nothing, for the daemon's tests.

Example:
    >>> vcs = FakeVcs()
    >>> ws = vcs.create(Path("/src/shop"), "web", Path("/ws/web"), inside=run, objects="/o")
    >>> vcs.dirty_paths.add(ws.path)
    >>> vcs.dirty(ws, inside=run)
    True
    >>> [c[0] for c in vcs.calls]
    ['create', 'dirty']
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

from colony import host
from colony.errors import ColonyError, Conflict
from colony.vcs import Workspace
from colony.vcs.inside import Inside
from colony.vcs.repo import Repo


@dataclass
class FakeVcs:
    """In-memory workspaces.

    ``calls`` holds one tuple per call: the method name, then its arguments as strings.
    Put paths in ``dirty_paths`` to make them dirty; :meth:`fail_next` makes the next call of
    a method raise.
    """

    kind: str = "git"
    base: str = "0" * 40
    calls: list[tuple[str, ...]] = field(default_factory=list)
    workspaces: dict[Path, Workspace] = field(default_factory=dict)
    dirty_paths: set[Path] = field(default_factory=set)
    failures: dict[str, ColonyError] = field(default_factory=dict)
    _counter: int = field(default=0, init=False, repr=False)
    _lock: threading.Lock = field(
        default_factory=threading.Lock, init=False, repr=False, compare=False
    )

    def fail_next(self, method: str, error: ColonyError) -> None:
        """Make the next call of ``method`` (e.g. "create") raise ``error``."""
        with self._lock:
            self.failures[method] = error

    def _record(self, method: str, *args: object) -> None:
        self.calls.append((method, *(str(a) for a in args)))
        error = self.failures.pop(method, None)
        if error is not None:
            raise error

    def _next_id(self) -> int:
        self._counter += 1
        return self._counter

    def open(self, repo: Path) -> Repo:
        return Repo(repo, repo / ".git", host.Credentials(0, 0, (0,), "/"))

    def plan(self, repo: Path, name: str, rev: str | None) -> tuple[Repo, str]:
        with self._lock:
            self._record("plan", repo, name, rev or "")
        return self.open(repo), self.base

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
        with self._lock:
            self._record("create", repo, name, path, rev or "")
            if path in self.workspaces:
                raise Conflict(f"colony '{name}': cannot create workspace: {path} already exists")
            ws = Workspace("git", repo, path, name, f"colony/{name}", self.base, objects)
            self.workspaces[path] = ws
            return ws

    def refresh(self, ws: Workspace, *, inside: Inside) -> None:
        with self._lock:
            self._record("refresh", ws.name)

    def release(self, repo: Path, name: str) -> None:
        with self._lock:
            self._record("release", name)
            for path in [p for p, w in self.workspaces.items() if w.name == name]:
                del self.workspaces[path]
                self.dirty_paths.discard(path)

    def snapshot(self, ws: Workspace, message: str, *, inside: Inside) -> str:
        with self._lock:
            self._record("snapshot", ws.name, message)
            return f"{self._next_id():040x}"

    def dirty(self, ws: Workspace, *, inside: Inside) -> bool:
        with self._lock:
            self._record("dirty", ws.name)
            return ws.path in self.dirty_paths


__all__ = ["FakeVcs"]
