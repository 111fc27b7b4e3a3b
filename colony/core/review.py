"""Review decisions: which files conflict between colonies, snapshot numbering, git output
parsing for diff and merge. Pure.

Example:
    >>> plan_conflicts({"a": ("/r", {"app.py"}), "b": ("/r", {"app.py", "x"})})
    [FileConflict(repo='/r', path='app.py', colonies=('a', 'b'))]
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from colony.errors import ConfigError, NotFound

SNAPSHOT_REF_RE = re.compile(r"^refs/colony/snapshots/(?P<name>[^/]+)/(?P<t>\d+)(?:-(?P<n>\d+))?$")
# The subject of the snapshots Mycelium takes around each agent turn (issue 12).
TURN_RE = re.compile(r"^colony \S+: (?P<when>before|after) agent session (?P<session>\d+)\b")
TURNS = {"before": "start", "after": "end"}


@dataclass(frozen=True)
class FileConflict:
    """A file changed (relative to their bases) in two or more colonies of one repository."""

    repo: str
    path: str
    colonies: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {"repo": self.repo, "path": self.path, "colonies": list(self.colonies)}


def plan_conflicts(changed: Mapping[str, tuple[str, Iterable[str]]]) -> list[FileConflict]:
    """Files changed in two or more colonies of the same repository, sorted by repo and path.

    Args:
        changed: colony → (repository, paths it changed).
    """
    touched: dict[tuple[str, str], set[str]] = {}
    for colony, (repo, paths) in changed.items():
        for path in paths:
            touched.setdefault((repo, path), set()).add(colony)
    return [
        FileConflict(repo, path, tuple(sorted(colonies)))
        for (repo, path), colonies in sorted(touched.items())
        if len(colonies) >= 2
    ]


def new_conflicts(
    before: Iterable[FileConflict], after: Iterable[FileConflict]
) -> list[FileConflict]:
    """Conflicts of ``after`` that are new, or that a further colony joined since ``before``."""
    known = {(c.repo, c.path): set(c.colonies) for c in before}
    return [c for c in after if not set(c.colonies) <= known.get((c.repo, c.path), set())]


# --- snapshots ----------------------------------------------------------------------------


def turn_message(colony: str, session: int, when: str, task: str = "") -> str:
    """The message of the snapshot taken at the ``start`` or ``end`` of agent session
    ``session``: what :func:`parse_snapshots` reads the session and turn back from.

    Example:
        >>> turn_message("web", 3, "start", "add /health\nand tests")
        'colony web: before agent session 3: add /health'
    """
    word = "before" if when == "start" else "after"
    lines = task.strip().splitlines()
    first = f": {lines[0][:60]}" if lines else ""
    return f"colony {colony}: {word} agent session {session}{first}"


@dataclass(frozen=True)
class Snapshot:
    number: int  # 1-based, oldest first
    ref: str
    commit: str
    message: str
    at: float
    session: int | None = None  # the agent session whose turn took it, if one did
    turn: str | None = None  # "start" (before the agent ran) or "end" (after)

    def to_json(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "ref": self.ref,
            "commit": self.commit,
            "message": self.message,
            "at": self.at,
            "session": self.session,
            "turn": self.turn,
        }


def parse_snapshots(lines: str, name: str, since: float = 0) -> list[Snapshot]:
    """Number a colony's snapshots, oldest first, from ``git for-each-ref`` output.

    Each line is ``<ref>\\0<commit>\\0<subject>``; the ref's ``<unix-time>[-<n>]`` orders them.
    Snapshots made before ``since`` (an earlier colony of the same name) are left out.
    """
    found = []
    for line in lines.splitlines():
        parts = line.split("\0")
        if len(parts) < 3:
            continue
        m = SNAPSHOT_REF_RE.match(parts[0])
        if m is None or m["name"] != name or int(m["t"]) < int(since):
            continue
        found.append(((int(m["t"]), int(m["n"] or 1)), parts[0], parts[1], parts[2]))
    found.sort()
    snapshots = []
    for i, (key, ref, commit, subject) in enumerate(found, start=1):
        turn = TURN_RE.match(subject)
        session = int(turn["session"]) if turn else None
        when = TURNS[turn["when"]] if turn else None
        snapshots.append(Snapshot(i, ref, commit, subject, float(key[0]), session, when))
    return snapshots


def pick_snapshot(
    snapshots: list[Snapshot], number: int | None, colony: str, session: int | None = None
) -> Snapshot:
    """Snapshot ``number`` (default: the latest), or the one taken before agent session
    ``session`` started; NotFound naming what exists otherwise.

    Raises:
        ConfigError: both ``number`` and ``session``.
    """
    if number is not None and session is not None:
        raise ConfigError(
            f"--to {number} --session {session}: expected one of --to and --session, not both"
        )
    if session is not None:
        before = [s for s in snapshots if s.session == session and s.turn == "start"]
        if before:  # the latest: a start whose agent then failed to start may precede it
            return before[-1]
        sessions = sorted({s.session for s in snapshots if s.turn == "start" and s.session})
        have = ", ".join(map(str, sessions)) if sessions else "none"
        raise NotFound(
            f"--session {session}: colony '{colony}' has no snapshot from before agent session "
            f"{session} (sessions with one: {have})",
            hint=f"list them with 'colony snapshot {colony} --list'",
        )
    if not snapshots:
        raise NotFound(
            f"colony '{colony}' has no snapshots",
            hint=f"record one with 'colony snapshot {colony}'",
        )
    if number is None:
        return snapshots[-1]
    if not 1 <= number <= len(snapshots):
        raise NotFound(
            f"--to {number}: colony '{colony}' has snapshots 1-{len(snapshots)}",
            hint=f"list them with 'colony snapshot {colony} --list'",
        )
    return snapshots[number - 1]


# --- git output ---------------------------------------------------------------------------


@dataclass(frozen=True)
class DiffStat:
    files: int
    added: int
    deleted: int
    paths: tuple[str, ...]

    @property
    def lines(self) -> int:
        return self.added + self.deleted

    def to_json(self) -> dict[str, Any]:
        return {
            "files": self.files,
            "added": self.added,
            "deleted": self.deleted,
            "lines": self.lines,
            "paths": list(self.paths),
        }


def parse_numstat(z: str) -> DiffStat:
    """``git diff --numstat -z`` (renames off) → counts; binary files count as changed files."""
    added = deleted = 0
    paths = []
    for record in z.split("\0"):
        if not record:
            continue
        fields = record.split("\t", 2)
        if len(fields) != 3:
            continue
        a, d, path = fields
        added += int(a) if a.isdigit() else 0
        deleted += int(d) if d.isdigit() else 0
        paths.append(path)
    return DiffStat(len(paths), added, deleted, tuple(paths))


@dataclass(frozen=True)
class BranchCommit:
    """A commit on a colony's branch since its base (Bloom's review page, issue 18)."""

    commit: str
    author: str
    at: float
    subject: str

    def to_json(self) -> dict[str, Any]:
        return {"commit": self.commit, "author": self.author, "at": self.at,
                "subject": self.subject}  # fmt: skip


def parse_log(z: str) -> list[BranchCommit]:
    """``git log -z --format=%H%x1f%an%x1f%at%x1f%s`` → commits, newest first; records that
    do not have that shape (a colony's git printed something else) are left out.

    Example:
        >>> parse_log("ab12\x1fann\x1f1700000000\x1fadd /health\0")[0].subject
        'add /health'
    """
    found = []
    for record in z.split("\0"):
        fields = record.strip("\n").split("\x1f", 3)
        if len(fields) != 4 or not fields[2].isdigit():
            continue
        found.append(BranchCommit(fields[0], fields[1], float(fields[2]), fields[3]))
    return found


def parse_status(z: str) -> list[str]:
    """``git status --porcelain -z --no-renames`` → the paths with uncommitted changes.

    Example:
        >>> parse_status(" M app.py\0?? new.txt\0")
        ['app.py', 'new.txt']
    """
    return sorted({record[3:] for record in z.split("\0") if len(record) > 3})


def parse_merge_tree(z: str) -> tuple[str, list[str]]:
    """``git merge-tree --write-tree --name-only --no-messages -z`` → (tree, conflicted files)."""
    fields = z.split("\0")
    tree = fields[0].strip()
    files: list[str] = []
    for path in fields[1:]:
        if path and path not in files:
            files.append(path)
    return tree, files


def format_file_list(paths: list[str], limit: int = 10) -> str:
    """'a, b, c' with at most ``limit`` names, then '… and N more'."""
    shown = ", ".join(paths[:limit])
    return shown + (f" … and {len(paths) - limit} more" if len(paths) > limit else "")


# --- files whose change deserves a second look (issue 10) ---------------------------------

# (pattern, why): a name anywhere, or a directory prefix ending in "/".
SENSITIVE: tuple[tuple[str, str], ...] = (
    ("colony.toml", "Colony's configuration: commands, limits, sandbox and network"),
    (".gitattributes", "git attributes: filters and diff drivers that run programs"),
    (".gitmodules", "submodules: where git fetches code from"),
    (".githooks/", "git hooks"),
    (".husky/", "git hooks (husky)"),
    (".pre-commit-config.yaml", "pre-commit hooks"),
    ("lefthook.yml", "git hooks (lefthook)"),
    (".lefthook.yml", "git hooks (lefthook)"),
    (".envrc", "direnv: runs when a shell enters the directory"),
    (".vscode/", "editor tasks and settings that can run programs"),
    (".devcontainer/", "dev container definition"),
    (".github/workflows/", "CI workflows: run with the repository's secrets"),
    (".gitlab-ci.yml", "CI pipeline: runs with the repository's secrets"),
)


def plan_sensitive(paths: Iterable[str]) -> list[dict[str, str]]:
    """The changed paths that configure tools, hooks or CI, each with why it matters.

    Example:
        >>> plan_sensitive(["app.py", "colony.toml", "a/.gitattributes"])[0]["path"]
        'a/.gitattributes'
    """
    found = []
    for path in sorted(set(paths)):
        name = path.rsplit("/", 1)[-1]
        for pattern, why in SENSITIVE:
            hit = (
                path.startswith(pattern) or f"/{pattern}" in f"/{path}"
                if pattern.endswith("/")
                else name == pattern
            )
            if hit:
                found.append({"path": path, "why": why})
                break
    return found


CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def render_visible(text: str) -> str:
    r"""``text`` with terminal control characters (escape sequences a colony may have put in
    its files or names) shown as ``\xNN``; newlines and tabs stay.

    Example:
        >>> render_visible("+ok\x1b]0;pwned\x07\n")
        '+ok\\x1b]0;pwned\\x07\n'
    """
    return CONTROL.sub(lambda m: f"\\x{ord(m[0]):02x}", text)


def format_sensitive(found: Iterable[Mapping[str, str]]) -> str:
    """A warning naming changed files that configure tools, hooks or CI; "" for none.

    Example:
        >>> print(format_sensitive([{"path": ".gitattributes", "why": "git filters"}]))
        warning: this work changes files that configure tools or CI; review them:
          .gitattributes: git filters
    """
    lines = [f"  {render_visible(f['path'])}: {f['why']}" for f in found]
    if not lines:
        return ""
    head = "warning: this work changes files that configure tools or CI; review them:"
    return "\n".join([head, *lines])
