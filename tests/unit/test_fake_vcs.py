"""FakeVcs: the in-memory workspace backend the daemon's unit tests use."""

from __future__ import annotations

from pathlib import Path

import pytest

from colony.errors import Conflict, HostError
from colony.testing.fake_vcs import FakeVcs
from colony.vcs import Vcs, Workspace

REPO = Path("/src/shop")


def test_create_records_call_and_returns_workspace() -> None:
    """When a workspace is created, the call is recorded and a git-like workspace returned."""
    vcs = FakeVcs()
    ws = vcs.create(REPO, "web", Path("/ws/web"), rev="main")
    assert ws == Workspace("git", REPO, Path("/ws/web"), "web", "colony/web", "0" * 40)
    assert vcs.calls == [("create", "/src/shop", "web", "/ws/web", "main")]
    assert vcs.list(REPO) == [Path("/ws/web")]


def test_remove_returns_ref_only_when_dirty() -> None:
    """When a dirty workspace is removed, a saved ref comes back; a clean one gives None."""
    vcs = FakeVcs()
    dirty = vcs.create(REPO, "a", Path("/ws/a"))
    clean = vcs.create(REPO, "b", Path("/ws/b"))
    vcs.dirty_paths.add(dirty.path)
    assert vcs.dirty(dirty)
    assert not vcs.dirty(clean)
    assert vcs.remove(dirty) == "refs/colony/saved/a/1"
    assert vcs.remove(clean) is None
    assert vcs.list(REPO) == []
    assert [c[0] for c in vcs.calls] == [
        "create",
        "create",
        "dirty",
        "dirty",
        "remove",
        "remove",
        "list",
    ]


def test_conflicts_and_injected_failures() -> None:
    """When a path is reused or a failure is injected, create raises it once."""
    vcs = FakeVcs(kind="jj")
    ws = vcs.create(REPO, "web", Path("/ws/web"))
    assert ws.branch == "web"
    with pytest.raises(Conflict):
        vcs.create(REPO, "other", Path("/ws/web"))
    vcs.fail_next("create", HostError("disk full"))
    with pytest.raises(HostError, match="disk full"):
        vcs.create(REPO, "api", Path("/ws/api"))
    assert vcs.create(REPO, "api", Path("/ws/api")).name == "api"


def test_snapshot_returns_distinct_ids() -> None:
    """When snapshots are taken, each gets its own 40-hex id."""
    vcs: Vcs = FakeVcs()
    ws = vcs.create(REPO, "web", Path("/ws/web"))
    first, second = vcs.snapshot(ws, "one"), vcs.snapshot(ws, "two")
    assert first != second
    assert len(first) == 40
