"""A :class:`~colony.vcs.Vcs` that records calls and touches nothing, for the daemon's tests.

Example:
    >>> vcs = FakeVcs()
    >>> ws = vcs.create(Path("/src/shop"), "web", Path("/ws/web"))
    >>> vcs.dirty_paths.add(ws.path)
    >>> vcs.remove(ws)
    'refs/colony/saved/web/1'
    >>> [c[0] for c in vcs.calls]
    ['create', 'remove']
"""

from __future__ import annotations

import builtins
import threading
from dataclasses import dataclass, field
from pathlib import Path

from colony.errors import ColonyError, Conflict, NotFound
from colony.vcs import Workspace


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

    def create(self, repo: Path, name: str, path: Path, rev: str | None = None) -> Workspace:
        with self._lock:
            self._record("create", repo, name, path, rev or "")
            branch = f"colony/{name}" if self.kind == "git" else name
            if path in self.workspaces:
                raise Conflict(f"colony '{name}': cannot create workspace: {path} already exists")
            if any(w.repo == repo and w.branch == branch for w in self.workspaces.values()):
                raise Conflict(f"colony '{name}': cannot create workspace: '{branch}' exists")
            ws = Workspace(self.kind, repo, path, name, branch, self.base)
            self.workspaces[path] = ws
            return ws

    def remove(self, ws: Workspace) -> str | None:
        with self._lock:
            self._record("remove", ws.name)
            self.workspaces.pop(ws.path, None)
            if ws.path not in self.dirty_paths:
                return None
            self.dirty_paths.discard(ws.path)
            return f"refs/colony/saved/{ws.name}/{self._next_id()}"

    def discard(self, ws: Workspace) -> None:
        with self._lock:
            self._record("discard", ws.name)
            self.workspaces.pop(ws.path, None)
            self.dirty_paths.discard(ws.path)

    def snapshot(self, ws: Workspace, message: str) -> str:
        with self._lock:
            self._record("snapshot", ws.name, message)
            if ws.path not in self.workspaces:
                raise NotFound(f"colony '{ws.name}': workspace {ws.path} does not exist")
            return f"{self._next_id():040x}"

    def dirty(self, ws: Workspace) -> bool:
        with self._lock:
            self._record("dirty", ws.name)
            return ws.path in self.dirty_paths

    def list(self, repo: Path) -> builtins.list[Path]:
        with self._lock:
            self._record("list", repo)
            return [p for p, w in self.workspaces.items() if w.repo == repo]


__all__ = ["FakeVcs"]
