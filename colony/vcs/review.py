"""git operations for review: diff, conflict check, merge, snapshots, undo, re-attaching a
trashed colony's branch. Every command goes through :func:`colony.vcs.git.git`.

The conflict check (``git merge-tree --write-tree``, git ≥ 2.38) and the commits it builds
touch no working tree and no index; a refused merge leaves only unreferenced objects behind.

Example:
    >>> tip = tree_commit(ws, "work of colony web")   # the workspace as a commit, no ref moved
    >>> check_merge(ws.repo, "main", tip)             # (tree, ["app.py"]) when app.py conflicts
"""

from __future__ import annotations

import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

from colony.core.review import DiffStat, parse_merge_tree, parse_numstat
from colony.errors import ConfigError, Conflict, HostError, NotFound
from colony.vcs import Workspace
from colony.vcs.git import _IDENTITY, git, git_env, worktree_head

# Hooks of the user's repository are not run by the daemon.
NO_HOOKS = ("-c", "core.hooksPath=/dev/null")


def check_git(ws: Workspace) -> None:
    if ws.kind != "git":
        raise ConfigError(
            f"colony '{ws.name}' uses {ws.kind}: review, snapshots and merge support git "
            "repositories only for now"
        )


def _ident() -> dict[str, str]:
    return git_env(**{k: os.environ.get(k, v) for k, v in _IDENTITY.items()})


def rev(where: Path, name: str) -> str | None:
    """The commit ``name`` names in ``where``, or None."""
    done = git(
        where,
        "rev-parse",
        "--verify",
        "--quiet",
        "--end-of-options",
        f"{name}^{{commit}}",
        check=False,
    )
    return done.stdout.strip() if done.returncode == 0 else None


def is_ancestor(repo: Path, older: str, newer: str) -> bool:
    return git(repo, "merge-base", "--is-ancestor", older, newer, check=False).returncode == 0


def _scratch(index: Path) -> Path:
    scratch = index.with_name(f"colony-review-{uuid.uuid4().hex}.index")
    if index.exists():
        shutil.copyfile(index, scratch)
    return scratch


def tree_commit(ws: Workspace, message: str) -> str:
    """The workspace's files (tracked and untracked, not ignored) as a commit on its HEAD.

    Neither the workspace's index nor any ref moves; the commit is referenced by nothing.
    """
    if not ws.path.is_dir():
        raise NotFound(f"colony '{ws.name}': workspace {ws.path} does not exist")
    head, index = worktree_head(ws)
    scratch = _scratch(index)
    env = git_env(GIT_INDEX_FILE=str(scratch))
    try:
        git(ws.path, "add", "--all", env=env)
        tree = git(ws.path, "write-tree", env=env).stdout.strip()
    finally:
        scratch.unlink(missing_ok=True)
    if tree == git(ws.path, "rev-parse", "HEAD^{tree}").stdout.strip():
        return head
    return git(
        ws.path, "commit-tree", "--no-gpg-sign", "-p", head, "-m", message, tree, env=_ident()
    ).stdout.strip()


def changed_paths(ws: Workspace) -> set[str]:
    """Paths that differ between the colony's base and its workspace, untracked files too.

    Takes no lock: an agent may be using the workspace's index.
    """
    lock = ("--no-optional-locks",)
    diff = git(ws.path, *lock, "diff", "--name-only", "--no-renames", "-z", ws.base, "--")
    new = git(ws.path, *lock, "ls-files", "--others", "--exclude-standard", "-z")
    return {p for p in (diff.stdout + new.stdout).split("\0") if p}


def diff(ws: Workspace, *, stat: bool = False) -> tuple[str, DiffStat]:
    """``git diff`` (or ``--stat``) from the base to the workspace's files, and its counts."""
    tip = tree_commit(ws, f"colony {ws.name}: workspace")
    args = ("-c", "diff.external=", "diff", "--no-color", "--no-ext-diff", "--no-renames")
    text = git(ws.path, *args, *(("--stat",) if stat else ()), ws.base, tip, "--").stdout
    z = git(ws.path, "diff", "--numstat", "-z", "--no-renames", ws.base, tip, "--").stdout
    return text, parse_numstat(z)


# --- merge --------------------------------------------------------------------------------


def check_merge(repo: Path, target: str, tip: str) -> tuple[str, list[str]]:
    """Merge ``tip`` into commit ``target`` in memory: (resulting tree, conflicting files)."""
    done = git(
        repo,
        "merge-tree",
        "--write-tree",
        "--name-only",
        "--no-messages",
        "-z",
        target,
        tip,
        check=False,
    )
    if done.returncode not in (0, 1):
        raise HostError(f"git merge-tree failed in {repo}: {done.stderr.strip() or 'no output'}")
    tree, files = parse_merge_tree(done.stdout)
    return tree, (files if done.returncode == 1 else [])


@dataclass(frozen=True)
class MergePlan:
    """A merge checked without touching anything: what ``apply_merge`` will do."""

    into: str
    target: str  # the branch's commit now
    tip: str  # the colony's work as a commit (its branch head, or a commit of its files)
    head: str  # the colony branch's head
    tree: str  # the merged tree
    conflicts: tuple[str, ...]
    target_tree: str

    @property
    def up_to_date(self) -> bool:
        """Merging would change nothing on the branch."""
        return not self.conflicts and self.tree == self.target_tree


def plan_merge(ws: Workspace, into: str, work_message: str) -> MergePlan:
    """Check the merge of the colony's work into branch ``into``; changes nothing."""
    target = rev(ws.repo, f"refs/heads/{into}")
    if target is None:
        raise NotFound(
            f"branch '{into}' not found in {ws.repo}", hint="name an existing branch with --into"
        )
    head = rev(ws.path, "HEAD") or ws.base
    tip = tree_commit(ws, work_message)
    tree, conflicts = check_merge(ws.repo, target, tip)
    target_tree = git(ws.repo, "rev-parse", f"{target}^{{tree}}").stdout.strip()
    return MergePlan(into, target, tip, head, tree, tuple(conflicts), target_tree)


def apply_merge(ws: Workspace, plan: MergePlan, *, squash: bool, message: str) -> dict[str, object]:
    """Record the colony's work on its branch, then move ``plan.into`` to the merge.

    The branch moves only from ``plan.target`` (compare-and-swap). Where it is checked out,
    ``git merge --ff-only`` moves it, and refuses rather than overwrite local changes.
    """
    committed = plan.tip != plan.head
    if committed:  # the workspace's uncommitted work becomes a commit on the colony's branch
        git(ws.repo, "update-ref", f"refs/heads/{ws.branch}", plan.tip, plan.head)
        git(ws.path, "reset", "--quiet")
    fast_forward = not squash and is_ancestor(ws.repo, plan.target, plan.tip)
    if fast_forward:
        new = plan.tip
    else:
        parents = ("-p", plan.target) if squash else ("-p", plan.target, "-p", plan.tip)
        new = git(
            ws.repo,
            "commit-tree",
            "--no-gpg-sign",
            *parents,
            "-m",
            message,
            plan.tree,
            env=_ident(),
        ).stdout.strip()
    checked_out = worktree_of(ws.repo, plan.into)
    if checked_out is not None:
        done = git(
            checked_out, *NO_HOOKS, "merge", "--ff-only", "--quiet", new, check=False, env=_ident()
        )
        if done.returncode != 0:
            why = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "git failed"
            raise Conflict(
                f"cannot update '{plan.into}' checked out in {checked_out}: {why}",
                hint=f"commit or stash the changes in {checked_out}, then merge again",
            )
    else:
        git(
            ws.repo,
            "update-ref",
            "-m",
            f"colony merge {ws.name}",
            f"refs/heads/{plan.into}",
            new,
            plan.target,
        )
    return {
        "commit": new,
        "previous": plan.target,
        "fast_forward": fast_forward,
        "committed_work": committed,
    }


def worktree_of(repo: Path, branch: str) -> Path | None:
    """The worktree that has ``branch`` checked out, if any."""
    out = git(repo, "worktree", "list", "--porcelain", "-z").stdout
    path: Path | None = None
    for field in out.split("\0"):
        if field.startswith("worktree "):
            path = Path(field.removeprefix("worktree "))
        elif field == f"branch refs/heads/{branch}" and path is not None:
            return path
    return None


def current_branch(repo: Path) -> str | None:
    """The branch checked out in the main worktree, or None when HEAD is detached."""
    done = git(repo, "symbolic-ref", "--quiet", "--short", "HEAD", check=False)
    if done.returncode != 0:
        return None
    return done.stdout.strip() or None


def branch_exists(repo: Path, branch: str) -> bool:
    return rev(repo, f"refs/heads/{branch}") is not None


# --- snapshots, undo, trash -----------------------------------------------------------------


def list_snapshot_refs(repo: Path, name: str) -> str:
    """``<ref>\\0<commit>\\0<subject>`` lines of refs/colony/snapshots/<name>/."""
    fmt = "--format=%(refname)%00%(objectname)%00%(contents:subject)"
    return git(repo, "for-each-ref", fmt, f"refs/colony/snapshots/{name}/").stdout


def restore(ws: Workspace, commit: str) -> None:
    """Make the workspace's files those of ``commit``, without moving its branch.

    Files the workspace has and ``commit`` lacks are deleted, ignored files are left alone,
    and the index is reset to HEAD (the restored state shows as uncommitted changes).
    """
    _, index = worktree_head(ws)
    scratch = _scratch(index)
    env = git_env(GIT_INDEX_FILE=str(scratch))
    try:
        git(ws.path, "add", "--all", env=env)  # the scratch index now lists every file there is
        git(ws.path, "read-tree", "--reset", "-u", commit, env=env)
    finally:
        scratch.unlink(missing_ok=True)
    git(ws.path, "reset", "--quiet")


def attach(repo: Path, name: str, branch: str, path: Path, base: str) -> Workspace:
    """A worktree at ``path`` on the existing ``branch`` (a restored colony's)."""
    if path.exists():
        raise Conflict(f"colony '{name}': cannot restore workspace: {path} already exists")
    if not branch_exists(repo, branch):
        raise NotFound(f"colony '{name}': branch '{branch}' no longer exists in {repo}")
    done = git(repo, "worktree", "add", "--quiet", str(path), branch, check=False)
    if done.returncode != 0:
        shutil.rmtree(path, ignore_errors=True)
        git(repo, "worktree", "prune", check=False)
        raise Conflict(
            f"colony '{name}': cannot check out '{branch}' at {path}: "
            f"{done.stderr.strip() or 'git worktree add failed'}"
        )
    return Workspace("git", repo, path.resolve(), name, branch, base)


def detach(repo: Path, path: Path) -> None:
    """Undo :func:`attach`: remove the worktree, keep the branch."""
    git(repo, "worktree", "remove", "--force", str(path), check=False)
    shutil.rmtree(path, ignore_errors=True)
    git(repo, "worktree", "prune", check=False)


def delete_refs(repo: Path, name: str, branch: str | None) -> list[str]:
    """Delete a colony's branch and its saved and snapshot refs; returns what was deleted."""
    prefixes = (f"refs/colony/saved/{name}/", f"refs/colony/snapshots/{name}/")
    refs = git(repo, "for-each-ref", "--format=%(refname)", *prefixes).stdout.split()
    if branch and branch_exists(repo, branch):
        refs.append(f"refs/heads/{branch}")
    for ref in refs:
        git(repo, "update-ref", "-d", ref)
    return refs
