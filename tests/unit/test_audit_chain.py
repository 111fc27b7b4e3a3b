"""The audit hash chain: verification finds and names edited, deleted, inserted and reordered
entries, and signed checkpoints cover the end of the log and pruned beginnings."""

from __future__ import annotations

from dataclasses import replace

from colony.core.audit import (
    GENESIS,
    Checkpoint,
    Draft,
    Entry,
    Verdict,
    chain,
    content_hash,
    hash_entry,
    sign_checkpoint,
    verify_chain,
)

KEY = b"k" * 32


def drafts(n: int) -> list[Draft]:
    return [
        Draft(float(i), "lifecycle", "web", "alice", f"web: step {i}", {"type": "state", "i": i})
        for i in range(1, n + 1)
    ]


def head_of(entries: list[Entry]) -> Checkpoint:
    return sign_checkpoint(KEY, "head", entries[-1].seq, entries[-1].hash, 99.0)


def check(entries: list[Entry], head: Checkpoint | None = None, cut=None) -> Verdict:
    by_hash = {e.hash: e.seq for e in entries}
    return verify_chain(entries, cut=cut, head=head, key=KEY, find=by_hash.get)


def renumber(entries: list[Entry]) -> list[Entry]:
    return [replace(e, seq=i) for i, e in enumerate(entries, start=1)]


def test_untouched_log_verifies() -> None:
    """When nothing was changed, the chain and the signed head verify."""
    entries = chain(drafts(5), last_seq=0, last_hash=GENESIS)
    verdict = check(entries, head_of(entries))
    assert verdict.ok
    assert verdict.checked == 5
    assert verdict.head == 5


def test_chain_links_and_numbers() -> None:
    """When drafts are chained, each entry links to the one before and numbers follow on."""
    entries = chain(drafts(3), last_seq=7, last_hash="ab" * 32)
    assert [e.seq for e in entries] == [8, 9, 10]
    assert entries[0].prev == "ab" * 32
    assert entries[1].prev == entries[0].hash
    assert all(content_hash(e) == e.hash for e in entries)


def test_hash_covers_every_field() -> None:
    """When any field of an entry changes, so does its hash."""
    base = ("1", 1.0, "exec", "web", "alice", "msg", "{}", GENESIS)
    digest = hash_entry(1, *base[1:])
    for i, other in enumerate((2, 2.0, "net", "api", "bob", "other", '{"a":1}', "f" * 64)):
        args: list = [1, *base[1:]]
        args[i] = other
        assert hash_entry(*args) != digest


def test_edit_is_named() -> None:
    """When an entry's content is edited, verification names that entry."""
    entries = chain(drafts(5), last_seq=0, last_hash=GENESIS)
    entries[2] = replace(entries[2], user="mallory")
    verdict = check(entries, head_of(entries))
    assert not verdict.ok
    assert verdict.first == 3
    assert verdict.problem == "entry 3 edited: its content does not match its hash"


def test_deletion_is_named() -> None:
    """When an entry is deleted, verification names the missing entry."""
    entries = chain(drafts(5), last_seq=0, last_hash=GENESIS)
    head = head_of(entries)
    del entries[1]
    verdict = check(entries, head)
    assert (verdict.ok, verdict.first) == (False, 2)
    assert verdict.problem == "entry 2 deleted: entry 1 is followed by entry 3"


def test_deletion_of_the_first_entry() -> None:
    """When the first entry is deleted, verification names entry 1."""
    entries = chain(drafts(3), last_seq=0, last_hash=GENESIS)
    verdict = check(entries[1:], head_of(entries))
    assert (verdict.ok, verdict.first) == (False, 1)


def test_deletion_at_the_end_is_found_by_the_head() -> None:
    """When the last entries are deleted, the signed head shows which are missing."""
    entries = chain(drafts(5), last_seq=0, last_hash=GENESIS)
    verdict = check(entries[:3], head_of(entries))
    assert (verdict.ok, verdict.first) == (False, 4)
    assert verdict.problem == "entries 4-5 deleted from the end: the signed head is entry 5"


def test_reorder_is_named() -> None:
    """When two entries swap places, verification names the first one out of place."""
    entries = chain(drafts(5), last_seq=0, last_hash=GENESIS)
    entries[2], entries[3] = entries[3], entries[2]
    verdict = check(renumber(entries), head_of(entries))
    assert (verdict.ok, verdict.first) == (False, 3)
    assert verdict.problem == "entry 3 reordered: it links to entry 4, which comes after it"


def test_insertion_is_named() -> None:
    """When a well-formed entry is inserted in the middle, verification names it."""
    entries = chain(drafts(5), last_seq=0, last_hash=GENESIS)
    forged = chain(
        [Draft(2.5, "exec", "web", "alice", "forged", {})], last_seq=2, last_hash=entries[1].hash
    )
    tampered = renumber([*entries[:2], *forged, *entries[2:]])
    verdict = check(tampered, head_of(entries))
    assert (verdict.ok, verdict.first) == (False, 3)
    assert verdict.problem == "entry 3 inserted: the entries after it were renumbered"


def test_append_after_head_is_found() -> None:
    """When a well-formed entry is appended behind the daemon's back, the head shows it."""
    entries = chain(drafts(3), last_seq=0, last_hash=GENESIS)
    head = head_of(entries)
    extra = chain(drafts(1), last_seq=3, last_hash=entries[-1].hash)
    verdict = check([*entries, *extra], head)
    assert (verdict.ok, verdict.first) == (False, 4)


def test_rehashed_chain_is_found_by_the_head() -> None:
    """When an entry is edited and every hash after it recomputed, the signed head shows it."""
    entries = chain(drafts(4), last_seq=0, last_hash=GENESIS)
    head = head_of(entries)
    edited = [replace(d, user="mallory") if d.at == 2.0 else d for d in drafts(4)]
    verdict = check(chain(edited, last_seq=0, last_hash=GENESIS), head)
    assert (verdict.ok, verdict.first) == (False, 4)
    assert "re-hashed" in (verdict.problem or "")


def test_edited_and_rehashed_entry_is_named_by_the_next_link() -> None:
    """When one entry is edited and its own hash recomputed, the next entry's link names it."""
    entries = chain(drafts(4), last_seq=0, last_hash=GENESIS)
    edited = replace(entries[1], msg="nothing happened")
    entries[1] = replace(edited, hash=content_hash(edited))
    verdict = check(entries, head_of(entries))
    assert (verdict.ok, verdict.first) == (False, 2)
    assert "entry 2 edited and re-hashed" in (verdict.problem or "")


def test_forged_head_is_found() -> None:
    """When the head checkpoint is changed without the key, verification says so."""
    entries = chain(drafts(3), last_seq=0, last_hash=GENESIS)
    head = replace(head_of(entries), seq=2, hash=entries[1].hash)
    verdict = check(entries[:2], head)
    assert not verdict.ok
    assert "not signed with this log's key" in (verdict.problem or "")


def test_pruned_log_verifies_from_the_cut() -> None:
    """When old entries were pruned behind a signed cut checkpoint, the rest verifies."""
    entries = chain(drafts(6), last_seq=0, last_hash=GENESIS)
    cut = sign_checkpoint(KEY, "cut", 3, entries[2].hash, 50.0)
    verdict = check(entries[3:], head_of(entries), cut)
    assert verdict.ok
    assert (verdict.checked, verdict.cut) == (3, 3)


def test_pruning_past_the_cut_is_found() -> None:
    """When more entries are deleted than the cut checkpoint covers, verification names them."""
    entries = chain(drafts(6), last_seq=0, last_hash=GENESIS)
    cut = sign_checkpoint(KEY, "cut", 3, entries[2].hash, 50.0)
    verdict = check(entries[4:], head_of(entries), cut)
    assert (verdict.ok, verdict.first) == (False, 4)


def test_forged_cut_is_found() -> None:
    """When the cut checkpoint is moved without the key, verification says so."""
    entries = chain(drafts(6), last_seq=0, last_hash=GENESIS)
    cut = replace(sign_checkpoint(KEY, "cut", 3, entries[2].hash, 50.0), seq=4)
    verdict = check(entries[4:], head_of(entries), cut)
    assert (verdict.ok, verdict.first) == (False, 4)
    assert "retention checkpoint" in (verdict.problem or "")


def test_entry_json() -> None:
    """When an entry is shown, its data is decoded and its link is left out."""
    entry = chain(drafts(1), last_seq=0, last_hash=GENESIS)[0]
    shown = entry.to_json()
    assert shown["data"] == {"type": "state", "i": 1}
    assert "prev" not in shown
    assert shown["hash"] == entry.hash
