"""git in a colony's workspace, run as the colony, inside its containment (issue 10).

A colony's workspace is a git repository of its own: its ``.git`` holds its index, its
branch ``colony/<name>``, copies of the repository's branches and the objects it creates; the
repository's objects come in read-only through ``objects/info/alternates``. Everything in it
is the colony's to change, so Mycelium never runs git there as root: each function below
hands a fixed script to an :class:`Inside` runner, which starts it as the colony's user in the
colony's cgroup and mount namespace (the same helper as ``colony exec``). What comes back is
treated as untrusted text.

Mycelium's own invocations also turn off what could run a program or make git wait
(:data:`HARDENING`); a colony's filters still run, as the colony, contained.

Example:
    >>> head, tip = tree_commit(inside, "colony web: workspace")   # no ref moves
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import IO, Protocol

from colony.errors import Conflict, HostError

# Command-scope configuration for every git Mycelium starts in a colony (GIT_CONFIG_COUNT).
HARDENING: tuple[tuple[str, str], ...] = (
    ("core.fsmonitor", "false"),
    ("core.hooksPath", "/dev/null"),
    ("core.pager", "cat"),
    ("core.editor", "false"),
    ("core.sshCommand", "false"),
    ("diff.external", ""),
    ("gc.auto", "0"),
    ("maintenance.auto", "false"),
    ("commit.gpgSign", "false"),
    ("advice.detachedHead", "false"),
)
OID_RE = re.compile(r"^[0-9a-f]{40}(?:[0-9a-f]{24})?$")


def hardening_env() -> dict[str, str]:
    """The environment entries that apply :data:`HARDENING` to every git of a script."""
    env = {"GIT_CONFIG_COUNT": str(len(HARDENING)), "GIT_TERMINAL_PROMPT": "0"}
    for i, (key, value) in enumerate(HARDENING):
        env[f"GIT_CONFIG_KEY_{i}"] = key
        env[f"GIT_CONFIG_VALUE_{i}"] = value
    return env


@dataclass(frozen=True)
class Ran:
    """What a command run inside a colony returned."""

    code: int
    stdout: bytes
    stderr: str


class Inside(Protocol):
    """Runs ``argv`` as a colony, contained, with its workspace as the working directory.

    ``stdout``: a file to write the output to instead of returning it.
    """

    def __call__(
        self,
        argv: Sequence[str],
        *,
        input: bytes | None = None,
        stdout: IO[bytes] | None = None,
        timeout: float = 120,
    ) -> Ran: ...


def script(inside: Inside, name: str, text: str, *args: str, input: bytes | None = None) -> Ran:
    """Run ``sh -c TEXT`` with ``args`` as $1…; raise HostError naming ``name`` on failure."""
    done = inside(["/bin/sh", "-c", text, "colony-" + name, *args], input=input)
    if done.code != 0:
        rows = [r.strip() for r in done.stderr.splitlines() if r.strip()]
        detail = " | ".join(rows[-2:]) or f"exit {done.code}"
        raise HostError(f"git in the colony ({name}) failed: {detail}")
    return done


def oid(text: str, what: str) -> str:
    """A commit id printed by a colony's git, checked to look like one."""
    value = text.strip()
    if not OID_RE.match(value):
        raise HostError(f"git in the colony printed {value[:60]!r} where {what} was expected")
    return value


# --- creation -----------------------------------------------------------------------------

# $1 branch, $2 objects, $3 name, $4 email, then the shallow commits; stdin: packed-refs.
_INIT = r"""set -e
git init -q --template= -b "$1" .
printf '%s\n' "$2" > .git/objects/info/alternates
printf '[user]\n\tname = "%s"\n\temail = "%s"\n' "$3" "$4" >> .git/config
shift 4
if [ "$#" -gt 0 ]; then printf '%s\n' "$@" > .git/shallow; fi
cat > .git/packed-refs
git read-tree --reset -u HEAD
"""


# The same over a workspace whose files are there already (an overlay of the base's shared
# checkout, issue 15): $5 is the size of packed-refs on stdin, the base's index follows it.
# git compares only what the shared files and the colony's copies of them agree on (mtime,
# size, mode; not inode, device or owner).
_INIT_INDEXED = r"""set -e
git init -q --template= -b "$1" .
printf '%s\n' "$2" > .git/objects/info/alternates
printf '[user]\n\tname = "%s"\n\temail = "%s"\n' "$3" "$4" >> .git/config
printf '[core]\n\tcheckStat = minimal\n' >> .git/config
size=$5
shift 5
if [ "$#" -gt 0 ]; then printf '%s\n' "$@" > .git/shallow; fi
head -c "$size" > .git/packed-refs
cat > .git/index
"""


def init(
    inside: Inside,
    branch: str,
    objects: str,
    identity: tuple[str, str],
    refs: Sequence[tuple[str, str]],
    shallow: Sequence[str] = (),
    index: bytes | None = None,
) -> None:
    """Make the workspace a repository on ``branch`` and check it out.

    Args:
        objects: where the colony sees the repository's objects (its alternate).
        identity: the (name, email) its commits carry.
        refs: (ref, commit) to create; ``refs/heads/<branch>`` is the colony's own.
        shallow: the repository's shallow commits, if it is a shallow clone.
        index: the index of the base's files, when they are in the workspace already (its
            overlay, issue 15): nothing is checked out then.
    """
    quoted = [config_value(v) for v in identity]
    packed = render_packed_refs(refs).encode()
    if index is None:
        args = (branch, objects, *quoted, *shallow)
        script(inside, "init", _INIT, *args, input=packed)
        return
    args = (branch, objects, *quoted, str(len(packed)), *shallow)
    script(inside, "init", _INIT_INDEXED, *args, input=packed + index)


def render_packed_refs(refs: Sequence[tuple[str, str]]) -> str:
    """A ``packed-refs`` file holding ``refs`` (git reads it as it reads its own): one
    process less than ``git update-ref --stdin`` on the spawn path.

    Example:
        >>> render_packed_refs([("refs/heads/main", "ab" * 20)]).splitlines()[1]
        'abababababababababababababababababababab refs/heads/main'
    """
    rows = sorted({ref: commit for ref, commit in refs if OID_RE.match(commit)}.items())
    body = "".join(f"{commit} {ref}\n" for ref, commit in rows)
    return "# pack-refs with: peeled fully-peeled sorted \n" + body


def config_value(text: str) -> str:
    """``text`` escaped for a double-quoted value of a git config file, on one line."""
    one_line = " ".join(text.split())
    return one_line.replace("\\", "\\\\").replace('"', '\\"')


_REFRESH = r"""set -e
git for-each-ref --format='delete %(refname)' refs/heads refs/tags |
  grep -v ' refs/heads/colony/' | git update-ref --stdin
git update-ref --stdin
"""


def refresh(inside: Inside, refs: Sequence[tuple[str, str]]) -> None:
    """Replace the colony's copies of the repository's branches and tags with ``refs``."""
    lines = "".join(f"update {ref} {commit}\n" for ref, commit in refs)
    script(inside, "refresh", _REFRESH, input=lines.encode())


# --- the workspace as a commit ------------------------------------------------------------

# Commit the workspace's files (tracked and untracked, not ignored) on top of HEAD through a
# copy of its index: neither the index nor any ref moves. $1 is the message; sets $head and
# $commit (HEAD itself when nothing changed, unless $always is set).
_COMMIT = r"""set -e
head=$(git rev-parse --verify -q HEAD) || { echo "the workspace has no HEAD" >&2; exit 1; }
idx=$(git rev-parse --git-path index)
tmp="$idx.colony-$$"
trap 'rm -f "$tmp"' EXIT
if [ -f "$idx" ]; then cp "$idx" "$tmp"; fi
GIT_INDEX_FILE=$tmp git add --all
tree=$(GIT_INDEX_FILE=$tmp git write-tree)
commit=$head
if [ -n "${always:-}" ] || [ "$tree" != "$(git rev-parse "$head^{tree}")" ]; then
  commit=$(git commit-tree --no-gpg-sign -p "$head" -m "$1" "$tree")
fi
"""
_TREE = _COMMIT + 'echo "$head $commit"\n'


def _pair(text: bytes) -> tuple[str, str]:
    words = text.decode(errors="replace").split()
    if len(words) != 2:
        raise HostError(f"git in the colony printed {text[:80]!r} where two commit ids belong")
    return oid(words[0], "HEAD"), oid(words[1], "a commit")


def tree_commit(inside: Inside, message: str) -> tuple[str, str]:
    """(HEAD, the workspace's files as a commit on HEAD); HEAD itself when nothing changed."""
    return _pair(script(inside, "commit", _TREE, message).stdout)


# A snapshot is always a commit of its own, even of a clean workspace (then with HEAD's
# tree): its subject says what took it (an agent turn, an undo), which HEAD's would not.
_SNAPSHOT = (
    "always=1\n"
    + _COMMIT
    + r"""shift
for ref in "$@"; do
  if git update-ref "$ref" "$commit" "" 2>/dev/null; then echo "$ref $commit"; exit 0; fi
done
echo "cannot record $commit: refs taken" >&2
exit 1
"""
)


def snapshot(inside: Inside, message: str, refs: Sequence[str]) -> tuple[str, str]:
    """Record the workspace as a commit under the first free ref of ``refs``: (ref, commit)."""
    words = script(inside, "snapshot", _SNAPSHOT, message, *refs).stdout.decode().split()
    if len(words) != 2 or words[0] not in refs:
        raise HostError(f"git in the colony printed {' '.join(words)[:80]!r} for a snapshot")
    return words[0], oid(words[1], "a commit")


def list_refs(inside: Inside, prefix: str) -> str:
    """``<ref>\\0<commit>\\0<subject>`` lines of the refs below ``prefix``."""
    fmt = "--format=%(refname)%00%(objectname)%00%(contents:subject)"
    done = script(inside, "list", 'git for-each-ref "$1" "$2"', fmt, prefix)
    return done.stdout.decode(errors="replace")


# --- looking at the work ------------------------------------------------------------------

_CHANGED = r"""set -e
git --no-optional-locks diff --name-only --no-renames -z "$1" --
git --no-optional-locks ls-files --others --exclude-standard -z
"""


# $1 base, $2 target: the paths changed against each, then the untracked files, the three
# lists separated by an empty name.
_UNMERGED = r"""set -e
git --no-optional-locks diff --name-only --no-renames -z "$1" --
printf '\000'
git --no-optional-locks diff --name-only --no-renames -z "$2" --
printf '\000'
git --no-optional-locks ls-files --others --exclude-standard -z
"""
# $1 target, then paths: the target's entries for them, an empty name, then their blob ids
# as the workspace has them (filters applied, nothing written).
_SAME = r"""set -e
t=$1
shift
git --literal-pathspecs ls-tree -r -z "$t" -- "$@"
printf '\000'
printf '%s\n' "$@" | git hash-object --stdin-paths
"""
_SAME_MAX = 200  # untracked files compared with the target at most; more all count


def changed_paths(inside: Inside, base: str, target: str | None = None) -> set[str]:
    """Paths that differ between ``base`` and the workspace, untracked files too; no lock.

    With ``target`` (a commit the colony sees through its alternates, the branch it merges
    into), paths whose workspace content is already the target's are left out: that change
    is merged.
    """
    if target is None:
        out = script(inside, "changed", _CHANGED, base).stdout.decode(errors="replace")
        return {p for p in out.split("\0") if p}
    out = script(inside, "changed", _UNMERGED, base, target).stdout.decode(errors="replace")
    lists: list[list[str]] = [[], [], [], []]
    part = 0
    for name in out.split("\0"):
        if name:
            lists[part].append(name)
        else:
            part = min(part + 1, 3)
    against_base, against_target, untracked = set(lists[0]), set(lists[1]), lists[2]
    return (against_base & against_target) | _not_in(inside, target, untracked)


def _not_in(inside: Inside, target: str, paths: list[str]) -> set[str]:
    """The untracked ``paths`` whose content ``target`` does not already have."""
    if not paths or len(paths) > _SAME_MAX or any("\n" in p for p in paths):
        return set(paths)
    try:
        out = script(inside, "same", _SAME, target, *paths).stdout.decode(errors="replace")
    except HostError:
        return set(paths)
    fields = out.split("\0")
    cut = fields.index("") if "" in fields else len(fields)
    theirs: dict[str, str] = {}
    for entry in fields[:cut]:
        meta, _, path = entry.partition("\t")
        fields = meta.split()
        if len(fields) == 3 and fields[1] == "blob":
            theirs[path] = fields[2]
    ours = " ".join(fields[cut + 1 :]).split()
    if len(ours) != len(paths):
        return set(paths)
    return {p for p, blob in zip(paths, ours, strict=True) if theirs.get(p) != blob}


def dirty(inside: Inside) -> bool:
    """Whether the workspace has changes no commit records (ignored files left out)."""
    done = script(inside, "status", "git --no-optional-locks status --porcelain -z")
    return bool(done.stdout)


# $2 is the base; the rest are flags of the text diff. Prints "<head> <commit>", the size of
# the numstat output on a line of its own, that output, then the diff text.
_DIFF = (
    _COMMIT
    + r"""base=$2
shift 2
echo "$head $commit"
t=$(mktemp)
git diff --numstat -z --no-renames "$base" "$commit" -- > "$t"
wc -c < "$t"
cat "$t"
rm -f "$t"
git diff --no-color --no-ext-diff --no-textconv --no-renames "$@" "$base" "$commit" --
"""
)


def diff(inside: Inside, message: str, base: str, *, stat: bool) -> tuple[str, str, bytes]:
    """(the work as a commit, ``git diff --numstat -z`` output, the diff text) from ``base``."""
    flags = ("--stat",) if stat else ()
    out = script(inside, "diff", _DIFF, message, base, *flags).stdout
    first, _, rest = out.partition(b"\n")
    _, commit = _pair(first)
    size, _, rest = rest.partition(b"\n")
    if not size.strip().isdigit():
        raise HostError("git in the colony printed no diff statistics")
    n = int(size.strip())
    return commit, rest[:n].decode(errors="replace"), rest[n:]


# $1 base: the size of the log's output on a line of its own, the commits on the branch since
# the base (newest first, at most 200), then the workspace's uncommitted paths.
_WORK = r"""set -e
t=$(mktemp)
trap 'rm -f "$t"' EXIT
git --no-optional-locks log -z --no-color --max-count=200 \
  --format=%H%x1f%an%x1f%at%x1f%s "$1..HEAD" -- > "$t"
wc -c < "$t"
cat "$t"
git --no-optional-locks status --porcelain -z --untracked-files=all --no-renames
"""


def work(inside: Inside, base: str) -> tuple[str, str]:
    """(``git log -z`` of the branch since ``base``, ``git status --porcelain -z``)."""
    out = script(inside, "work", _WORK, base).stdout
    size, _, rest = out.partition(b"\n")
    if not size.strip().isdigit():
        raise HostError("git in the colony printed no log size")
    n = int(size.strip())
    return rest[:n].decode(errors="replace"), rest[n:].decode(errors="replace")


# --- changing it --------------------------------------------------------------------------

_RESTORE = r"""set -e
idx=$(git rev-parse --git-path index)
tmp="$idx.colony-$$"
trap 'rm -f "$tmp"' EXIT
if [ -f "$idx" ]; then cp "$idx" "$tmp"; fi
GIT_INDEX_FILE=$tmp git add --all
GIT_INDEX_FILE=$tmp git read-tree --reset -u "$1"
git reset -q
"""


def restore(inside: Inside, commit: str) -> None:
    """Make the workspace's files those of ``commit`` without moving its branch: files it has
    and ``commit`` lacks go, ignored files stay, the index is reset to HEAD."""
    script(inside, "restore", _RESTORE, commit)


def advance(inside: Inside, new: str, old: str) -> None:
    """Move HEAD's branch from ``old`` to ``new`` (compare-and-swap) and reset the index."""
    script(inside, "advance", 'set -e\ngit update-ref HEAD "$1" "$2"\ngit reset -q', new, old)


def pack(inside: Inside, tip: str, known: Sequence[str], out: IO[bytes]) -> None:
    """Write a thin pack of what ``tip`` needs beyond the commits ``known`` to ``out``."""
    revs = "".join([f"{tip}\n", *(f"^{k}\n" for k in known)]).encode()
    argv = ["git", "pack-objects", "--revs", "--thin", "--stdout", "-q"]
    done = inside(argv, input=revs, stdout=out, timeout=600)
    if done.code != 0:
        raise HostError(f"git in the colony (pack-objects) failed: {done.stderr.strip()[-200:]}")


def check_head(inside: Inside, name: str) -> str:
    """The workspace's HEAD commit.

    Raises:
        Conflict: the workspace is no longer a repository with a HEAD.
    """
    done = inside(["git", "rev-parse", "--verify", "-q", "HEAD"])
    if done.code != 0:
        raise Conflict(
            f"colony '{name}': its workspace is not a git repository with a commit any more",
            hint=f"look at it with 'colony exec {name} -- git status'",
        )
    return oid(done.stdout.decode(errors="replace"), "HEAD")


__all__ = [
    "HARDENING",
    "Inside",
    "Ran",
    "advance",
    "changed_paths",
    "check_head",
    "diff",
    "dirty",
    "hardening_env",
    "init",
    "list_refs",
    "pack",
    "refresh",
    "restore",
    "snapshot",
    "tree_commit",
]
