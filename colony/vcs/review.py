"""Review of a colony's work: diff, conflict check, merge, snapshots and undo (issue 10).

The colony's git makes what only the colony's files can tell (its work as a commit, the diff,
a pack of new objects), running as the colony inside its containment
(:mod:`colony.vcs.inside`). The repository's side runs as the repository's owner
(:class:`colony.vcs.repo.Repo`): it receives the pack, checks it, and merges with
``git merge-tree`` (git ≥ 2.38), touching no working tree before the merge is known to
succeed. A refused merge changes no ref; the colony's objects it received stay unreferenced.

Example:
    >>> plan = plan_merge(ws, "main", "colony web: add /health", inside=inside)
    >>> plan.conflicts                      # ("app.py",) when app.py conflicts
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass

from colony.core.review import (
    BranchCommit,
    DiffStat,
    parse_log,
    parse_merge_tree,
    parse_numstat,
    parse_status,
)
from colony.errors import ConfigError, Conflict, HostError, NotFound
from colony.vcs import inside as colony_git
from colony.vcs.base import Workspace
from colony.vcs.inside import Inside
from colony.vcs.repo import Repo, git_env


def check_git(ws: Workspace) -> None:
    if ws.kind != "git":
        raise ConfigError(
            f"colony '{ws.name}' uses {ws.kind}: review, snapshots and merge support git "
            "workspaces only"
        )


def diff(ws: Workspace, *, inside: Inside, stat: bool = False) -> tuple[str, DiffStat]:
    """``git diff`` (or ``--stat``) from the base to the workspace's files, and its counts."""
    message = f"colony {ws.name}: workspace"
    _, numstat, text = colony_git.diff(inside, message, ws.base, stat=stat)
    return text.decode(errors="replace"), parse_numstat(numstat)


def branch_work(ws: Workspace, *, inside: Inside) -> tuple[list[BranchCommit], list[str]]:
    """The commits on the colony's branch since its base, and its uncommitted paths."""
    log, status = colony_git.work(inside, ws.base)
    return parse_log(log), parse_status(status)


def changed_paths(ws: Workspace, *, inside: Inside, target: str | None = None) -> set[str]:
    """Paths that differ between the colony's base and its workspace, untracked files too;
    with ``target`` (the commit of the branch it merges into), not those already merged."""
    if target is None:
        return colony_git.changed_paths(inside, ws.base)
    try:
        return colony_git.changed_paths(inside, ws.base, target)
    except HostError:  # the colony cannot see the target (yet): every change counts
        return colony_git.changed_paths(inside, ws.base)


# --- merge --------------------------------------------------------------------------------


def import_work(repo: Repo, ws: Workspace, message: str, *, inside: Inside) -> tuple[str, str]:
    """Bring the colony's work into the repository: (its HEAD, its files as a commit on it).

    The colony packs what the repository lacks; the repository checks the pack like a fetch.
    """
    head, tip = colony_git.tree_commit(inside, message)
    if repo.rev(tip) is not None:  # nothing new (e.g. the colony made no commit)
        return head, tip
    known = [commit for _, commit in repo.refs()] + [ws.base]
    with tempfile.TemporaryFile() as pack:
        colony_git.pack(inside, tip, known, pack)
        pack.seek(0)
        repo.receive(pack, tip)
    return head, tip


def check_merge(repo: Repo, target: str, tip: str) -> tuple[str, list[str]]:
    """Merge ``tip`` into commit ``target`` in memory: (resulting tree, conflicting files)."""
    done = repo.git(
        "merge-tree", "--write-tree", "--name-only", "--no-messages", "-z", target, tip,
        check=False,
    )  # fmt: skip
    if done.returncode not in (0, 1):
        why = done.stderr.strip() or "no output"
        raise HostError(f"git merge-tree failed in {repo.root}: {why}")
    tree, files = parse_merge_tree(done.stdout)
    return tree, (files if done.returncode == 1 else [])


@dataclass(frozen=True)
class MergePlan:
    """A merge checked without touching anything: what ``apply_merge`` will do."""

    into: str
    target: str  # the branch's commit now
    tip: str  # the colony's work as a commit (its HEAD, or a commit of its files on it)
    head: str  # the colony's HEAD
    tree: str  # the merged tree
    conflicts: tuple[str, ...]
    target_tree: str

    @property
    def up_to_date(self) -> bool:
        """Merging would change nothing on the branch."""
        return not self.conflicts and self.tree == self.target_tree


def plan_merge(repo: Repo, ws: Workspace, into: str, work: str, *, inside: Inside) -> MergePlan:
    """Import the colony's work and check its merge into branch ``into``; moves no ref."""
    target = repo.rev(f"refs/heads/{into}")
    if target is None:
        raise NotFound(
            f"branch '{into}' not found in {repo.root}", hint="name an existing branch with --into"
        )
    head, tip = import_work(repo, ws, work, inside=inside)
    tree, conflicts = check_merge(repo, target, tip)
    target_tree = repo.git("rev-parse", f"{target}^{{tree}}").stdout.strip()
    return MergePlan(into, target, tip, head, tree, tuple(conflicts), target_tree)


def blocking_files(repo: Repo, plan: MergePlan) -> list[str]:
    """Local changes in the checkout of ``plan.into`` that the merge would overwrite (edited,
    staged or deleted files it changes, untracked files it adds); empty when the branch is not
    checked out. Local changes to other files do not block: they are carried over."""
    checked_out = repo.worktree_of(plan.into)
    if checked_out is None:
        return []
    return sorted(repo.local_changes(checked_out) & repo.changed_by(plan.target, plan.tree))


def apply_merge(
    repo: Repo, ws: Workspace, plan: MergePlan, *, squash: bool, message: str, inside: Inside
) -> dict[str, object]:
    """Move ``plan.into`` to the merge, then record the colony's work on its own branch.

    The branch moves only from ``plan.target`` (compare-and-swap). Where it is checked out,
    ``git merge --ff-only`` moves it, and refuses rather than overwrite local changes; then
    nothing has changed anywhere.
    """
    fast_forward = not squash and repo.is_ancestor(plan.target, plan.tip)
    if fast_forward:
        new = plan.tip
    else:
        parents = ("-p", plan.target) if squash else ("-p", plan.target, "-p", plan.tip)
        name, email = repo.identity()
        ident = git_env(
            GIT_AUTHOR_NAME=name, GIT_AUTHOR_EMAIL=email,
            GIT_COMMITTER_NAME=name, GIT_COMMITTER_EMAIL=email,
        )  # fmt: skip
        args = ("commit-tree", "--no-gpg-sign", *parents, "-m", message, plan.tree)
        new = repo.git(*args, env=ident).stdout.strip()
    checked_out = repo.worktree_of(plan.into)
    if checked_out is not None:
        argv = ("-C", str(checked_out), "merge", "--ff-only", "--quiet", new)
        done = repo.git(*argv, check=False)
        if done.returncode != 0:  # a change made since blocking_files looked
            rows = [r.strip() for r in done.stderr.splitlines() if r.strip()]
            why = " | ".join(rows[:6]) or "git failed"
            raise Conflict(
                f"cannot update '{plan.into}' checked out in {checked_out}: local changes: {why}",
                hint=f"commit or stash the changes in {checked_out}, then merge again",
            )
    else:
        ref = f"refs/heads/{plan.into}"
        repo.git("update-ref", "-m", f"colony merge {ws.name}", ref, new, plan.target)
    repo.after_update()
    committed = plan.tip != plan.head
    if committed:  # the workspace's uncommitted work is now a commit on the colony's branch
        colony_git.advance(inside, plan.tip, plan.head)
    return {
        "commit": new,
        "previous": plan.target,
        "fast_forward": fast_forward,
        "committed_work": committed,
    }


def changed_between(repo: Repo, base: str, tip: str) -> list[str]:
    """Paths that differ between two commits of the repository (no renames)."""
    out = repo.git("diff", "--name-only", "--no-renames", "-z", base, tip, "--").stdout
    return [p for p in out.split("\0") if p]


# --- snapshots and undo ---------------------------------------------------------------------


def list_snapshot_refs(name: str, *, inside: Inside) -> str:
    """``<ref>\\0<commit>\\0<subject>`` lines of the colony's snapshots."""
    return colony_git.list_refs(inside, f"refs/colony/snapshots/{name}/")


def restore(commit: str, *, inside: Inside) -> None:
    """Make the workspace's files those of ``commit``, without moving its branch."""
    colony_git.restore(inside, commit)


__all__ = [
    "MergePlan",
    "apply_merge",
    "blocking_files",
    "branch_work",
    "changed_between",
    "changed_paths",
    "check_git",
    "check_merge",
    "diff",
    "import_work",
    "list_snapshot_refs",
    "plan_merge",
    "restore",
]
