"""jj backend: one ``jj workspace`` per colony, named after the colony.

Every command goes through :func:`colony.host.run` and uses only jj's documented CLI:
``jj log -r REV --no-graph -T TEMPLATE``, ``jj workspace add --name NAME -r REV PATH``,
``jj workspace forget NAME`` and ``jj workspace list -T TEMPLATE``. jj records a workspace's
files into its working-copy commit whenever a command runs there, so "saving" a workspace is
running ``jj log -r @`` in it and keeping the commit id it prints.

Example:
    >>> vcs = JjWorkspaces()
    >>> ws = vcs.create(Path("/src/shop"), "web", Path("/var/lib/colony/ws/web"))
    >>> vcs.remove(ws)  # the working-copy commit id if it had changes, else None
"""

from __future__ import annotations

import builtins
import shutil
from pathlib import Path

from colony import host
from colony.core.model import check_name
from colony.errors import ColonyError, ConfigError, HostError, NotFound
from colony.vcs import Workspace, check_free, find_marker, last_line, name_taken, repo_lock

_ONE_ID = 'commit_id ++ "\\n"'
_WC_STATE = 'commit_id ++ " " ++ if(empty, "empty", "changed") ++ "\\n"'


def jj(where: Path, *args: str, check: bool = True) -> host.Completed:
    """Run ``jj --repository WHERE ARGS`` (WHERE: the repo root or a workspace)."""
    return host.run(["jj", "--repository", str(where), *args], check=check)


def jj_root(repo: Path) -> Path:
    """The directory holding the ``.jj`` of the repository containing ``repo``."""
    found = find_marker(repo)
    if found is None or found[0] != "jj":
        raise ConfigError(f"{repo}: not a jj repository", hint=f"run 'jj git init' in {repo}")
    return found[1]


class JjWorkspaces:
    """Workspaces as jj workspaces; thread-safe, serializes create/remove per repository."""

    kind = "jj"

    def create(self, repo: Path, name: str, path: Path, rev: str | None = None) -> Workspace:
        check_name(name)
        if not repo.is_dir():
            raise NotFound(f"repository {repo}: no such directory")
        root = jj_root(repo)
        # jj's own default: the new working-copy commit sits on the parent of the current one.
        base = self._resolve(root, name, rev or "@-")
        path = path.resolve()
        with repo_lock(root):
            check_free(name, path)
            done = jj(root, "workspace", "add", "--name", name, "-r", base, str(path), check=False)
            if done.returncode != 0:
                self._undo_add(name, root, path, done)
        return Workspace("jj", root, path, name, name, base)

    def _resolve(self, root: Path, name: str, rev: str) -> str:
        done = jj(root, "log", "-r", rev, "--no-graph", "--limit", "2", "-T", _ONE_ID, check=False)
        ids = done.stdout.split()
        if done.returncode == 0 and len(ids) == 1:
            return ids[0]
        what = f"cannot create workspace: revision '{rev}'"
        if done.returncode == 0 and ids:
            raise ColonyError(
                f"colony '{name}': {what} names more than one commit in {root}",
                hint="pick one commit, e.g. by its commit id",
            )
        raise NotFound(
            f"colony '{name}': {what} not found in {root}",
            hint=f"name a commit, change or bookmark of {root} (see 'jj -R {root} log')",
        )

    def _undo_add(self, name: str, root: Path, path: Path, done: host.Completed) -> None:
        """Remove whatever a failed ``jj workspace add`` left, then raise its error."""
        if "already exists" in done.stderr and "Workspace named" in done.stderr:
            # jj refused before creating anything; that workspace is someone else's: keep it.
            remedy = f"forget the workspace if it is unused: jj -R {root} workspace forget {name}"
            raise name_taken(name, root, f"jj workspace '{name}'", remedy)
        shutil.rmtree(path, ignore_errors=True)  # did not exist before (checked under the lock)
        jj(root, "--ignore-working-copy", "workspace", "forget", name, check=False)
        why = last_line(done.stderr)
        raise HostError(f"colony '{name}': cannot create jj workspace {path} in {root}: {why}")

    def remove(self, ws: Workspace) -> str | None:
        saved = None
        if ws.path.is_dir():
            commit, empty = self._working_copy(ws)
            saved = None if empty else commit
        with repo_lock(ws.repo):
            jj(ws.repo, "--ignore-working-copy", "workspace", "forget", ws.branch)
            self._delete(ws)
        return saved

    def discard(self, ws: Workspace) -> None:
        with repo_lock(ws.repo):
            jj(ws.repo, "--ignore-working-copy", "workspace", "forget", ws.branch, check=False)
            if ws.path.exists():
                self._delete(ws)

    def snapshot(self, ws: Workspace, message: str) -> str:
        """Record the workspace's files; return the working-copy commit id holding them.

        jj keeps every recorded version of the working-copy commit (``jj evolog``), so the id
        stays valid while the agent works on; ``message`` is not stored.
        """
        if not ws.path.is_dir():
            raise NotFound(f"colony '{ws.name}': workspace {ws.path} does not exist")
        return self._working_copy(ws)[0]

    def dirty(self, ws: Workspace) -> bool:
        if not ws.path.is_dir():
            raise NotFound(f"colony '{ws.name}': workspace {ws.path} does not exist")
        return not self._working_copy(ws)[1]

    def _working_copy(self, ws: Workspace) -> tuple[str, bool]:
        """Snapshot the workspace (any jj command does); return (@ commit id, whether empty)."""
        done = jj(ws.path, "log", "-r", "@", "--no-graph", "-T", _WC_STATE)
        commit, _, state = done.stdout.strip().partition(" ")
        return commit, state == "empty"

    def _delete(self, ws: Workspace) -> None:
        path = ws.path.resolve()
        if path == ws.repo.resolve() or path in ws.repo.resolve().parents:
            raise ColonyError(f"colony '{ws.name}': refusing to delete {path}: it holds the repo")
        try:
            shutil.rmtree(path)
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise HostError(f"colony '{ws.name}': cannot delete {path}: {exc.strerror}") from exc

    def list(self, repo: Path) -> builtins.list[Path]:
        root = jj_root(repo)
        args = ("--ignore-working-copy", "workspace", "list", "-T", 'root ++ "\\n"')
        done = jj(root, *args, check=False)
        if done.returncode != 0:
            raise HostError(
                f"{root}: cannot list jj workspaces: {last_line(done.stderr)}",
                hint="Colony needs a jj whose 'workspace list' template knows 'root' (0.38+)",
            )
        main = root.resolve()
        paths = (Path(line) for line in done.stdout.splitlines() if line.strip())
        return [p for p in paths if p.resolve() != main]


__all__ = ["JjWorkspaces", "jj_root"]
