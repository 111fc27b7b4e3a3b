"""The audit log's hash chain: entries, their canonical form, checkpoints and verification.

Every entry carries the hash of the one before it, and its own hash covers its sequence
number, its content and that link, so editing, deleting, inserting or reordering entries
breaks the chain where it happened. Two HMAC-signed checkpoints close the gaps a bare chain
leaves: the *head* (the last entry, updated with every append) shows entries cut off the end
or a chain re-hashed from some point on, and the *cut* (where retention pruned old entries)
lets the chain start after it.

Pure: no clock, no files. The store passes rows in, the daemon passes time in.

Example:
    >>> drafts = [Draft(1.0, "lifecycle", "web", "alice", "web: running", {"type": "state"})]
    >>> entries = chain(drafts, last_seq=0, last_hash=GENESIS)
    >>> verify_chain(entries, cut=None, head=None, key=b"k", find=lambda h: None).ok
    True
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any

GENESIS = "0" * 64


def canonical_json(value: Any) -> str:
    """One text per value: sorted keys, no spaces, UTF-8 kept as is."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


@dataclass(frozen=True)
class Draft:
    """An entry before it has its place in the chain."""

    at: float
    kind: str
    colony: str | None
    user: str | None
    msg: str
    data: dict[str, Any]


@dataclass(frozen=True)
class Entry:
    """One audit entry as stored. ``data`` is the canonical JSON text of the event."""

    seq: int
    at: float
    kind: str
    colony: str | None
    user: str | None
    msg: str
    data: str
    prev: str
    hash: str

    def to_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "at": self.at,
            "kind": self.kind,
            "colony": self.colony,
            "user": self.user,
            "msg": self.msg,
            "data": json.loads(self.data),
            "hash": self.hash,
        }


def hash_entry(
    seq: int,
    at: float,
    kind: str,
    colony: str | None,
    user: str | None,
    msg: str,
    data: str,
    prev: str,
) -> str:
    """sha256 (hex) of an entry's canonical form; ``prev`` and ``seq`` are part of it."""
    body = {
        "seq": seq,
        "at": at,
        "kind": kind,
        "colony": colony,
        "user": user,
        "msg": msg,
        "data": data,
        "prev": prev,
    }
    return hashlib.sha256(canonical_json(body).encode()).hexdigest()


def content_hash(entry: Entry) -> str:
    """The hash ``entry`` should carry, recomputed from what it holds."""
    e = entry
    return hash_entry(e.seq, e.at, e.kind, e.colony, e.user, e.msg, e.data, e.prev)


def chain(drafts: Iterable[Draft], *, last_seq: int, last_hash: str) -> list[Entry]:
    """Give ``drafts`` their sequence numbers and links after the entry ``last_seq``."""
    out: list[Entry] = []
    seq, prev = last_seq, last_hash
    for d in drafts:
        seq += 1
        data = canonical_json(d.data)
        digest = hash_entry(seq, d.at, d.kind, d.colony, d.user, d.msg, data, prev)
        out.append(Entry(seq, d.at, d.kind, d.colony, d.user, d.msg, data, prev, digest))
        prev = digest
    return out


# --- checkpoints --------------------------------------------------------------------------


@dataclass(frozen=True)
class Checkpoint:
    """A signed statement "entry ``seq`` had hash ``hash``" (``name``: "head" or "cut")."""

    name: str
    seq: int
    hash: str
    at: float
    mac: str

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "seq": self.seq, "hash": self.hash, "at": self.at}


def _mac(key: bytes, name: str, seq: int, digest: str, at: float) -> str:
    message = canonical_json([name, seq, digest, at]).encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def sign_checkpoint(key: bytes, name: str, seq: int, digest: str, at: float) -> Checkpoint:
    return Checkpoint(name, seq, digest, at, _mac(key, name, seq, digest, at))


def checkpoint_valid(key: bytes, cp: Checkpoint) -> bool:
    return hmac.compare_digest(cp.mac, _mac(key, cp.name, cp.seq, cp.hash, cp.at))


# --- verification -------------------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    """The result of a verification: ``first`` is the first entry found wrong."""

    ok: bool
    checked: int
    first: int | None = None
    problem: str | None = None
    head: int | None = None
    cut: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "checked": self.checked,
            "first": self.first,
            "problem": self.problem,
            "head": self.head,
            "cut": self.cut,
        }


def verify_chain(
    entries: Iterable[Entry],
    *,
    cut: Checkpoint | None,
    head: Checkpoint | None,
    key: bytes,
    find: Callable[[str], int | None],
) -> Verdict:
    """Check ``entries`` (ordered by ``seq``) against their links and checkpoints.

    ``find(hash)`` returns the seq of the stored entry carrying that hash, if any; it tells a
    reordered entry from an edited one.
    """
    checked, problem = _walk(entries, cut, head, key, find)
    marks = {"head": head.seq if head else None, "cut": cut.seq if cut else None}
    if problem is None:
        return Verdict(True, checked, head=marks["head"], cut=marks["cut"])
    first, text = problem
    return Verdict(False, checked, first, text, head=marks["head"], cut=marks["cut"])


Problem = tuple[int, str]  # (first entry found wrong, what is wrong)


def _walk(
    entries: Iterable[Entry],
    cut: Checkpoint | None,
    head: Checkpoint | None,
    key: bytes,
    find: Callable[[str], int | None],
) -> tuple[int, Problem | None]:
    if cut is not None and not checkpoint_valid(key, cut):
        return 0, (
            cut.seq,
            f"the retention checkpoint at entry {cut.seq} is not signed with "
            "this log's key: it was edited",
        )
    expected = cut.seq + 1 if cut else 1
    prev = cut.hash if cut else GENESIS
    checked = 0
    for e in entries:
        problem = _check(e, expected, prev, find)
        if problem is not None:
            return checked, problem
        prev = e.hash
        expected += 1
        checked += 1
    if head is None:
        return checked, None
    return checked, _check_head(head, key, expected - 1, prev)


def _check(e: Entry, expected: int, prev: str, find: Callable[[str], int | None]) -> Problem | None:
    if e.seq > expected:
        last = e.seq - 1
        missing = f"entry {expected}" if last == expected else f"entries {expected}-{last}"
        return expected, f"{missing} deleted: entry {expected - 1} is followed by entry {e.seq}"
    if e.seq < expected:
        return e.seq, f"entry {e.seq} appears twice or out of order"
    if e.prev == prev:
        if content_hash(e) != e.hash:
            return e.seq, f"entry {e.seq} edited: its content does not match its hash"
        return None
    # The link to the entry before is broken: find out what moved.
    before = e.seq - 1
    if content_hash(e) == e.hash:
        return (
            before,
            f"entry {before} edited and re-hashed: entry {e.seq} links to another version",
        )
    if content_hash(replace(e, seq=before)) == e.hash:
        return before, f"entry {before} inserted: the entries after it were renumbered"
    linked = find(e.prev)
    if linked is not None and linked > e.seq:
        return e.seq, f"entry {e.seq} reordered: it links to entry {linked}, which comes after it"
    if linked is not None:
        return e.seq, (
            f"entry {e.seq} reordered or inserted: it links to entry {linked}, not entry {before}"
        )
    return e.seq, f"entry {e.seq} edited: its content does not match its hash"


def _check_head(head: Checkpoint, key: bytes, last: int, last_hash: str) -> Problem | None:
    if not checkpoint_valid(key, head):
        return head.seq, (
            f"the head checkpoint (entry {head.seq}) is not signed with this log's key: "
            "it was edited"
        )
    if last < head.seq:
        missing = f"entry {head.seq}" if last + 1 == head.seq else f"entries {last + 1}-{head.seq}"
        return last + 1, f"{missing} deleted from the end: the signed head is entry {head.seq}"
    if last > head.seq:
        return head.seq + 1, f"entry {head.seq + 1} inserted after the signed head ({head.seq})"
    if last_hash != head.hash:
        return head.seq, (
            f"entry {head.seq} does not match the signed head: the chain was re-hashed "
            "after an edit"
        )
    return None
