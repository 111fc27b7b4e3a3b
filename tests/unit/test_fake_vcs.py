"""FakeVcs: the in-memory workspace backend the daemon's unit tests use."""

from __future__ import annotations

from pathlib import Path

import pytest

from colony.errors import Conflict, HostError
from colony.testing.fake_vcs import FakeVcs
from colony.testing.inside import LocalInside
from colony.vcs import Vcs, Workspace

REPO = Path("/src/shop")
RUN = LocalInside(Path("/nowhere"))  # never called: the fake runs no git


def test_create_records_call_and_returns_workspace() -> None:
    """When a workspace is created, the call is recorded and a git workspace returned."""
    vcs = FakeVcs()
    ws = vcs.create(REPO, "web", Path("/ws/web"), rev="main", inside=RUN, objects="/o")
    assert ws == Workspace("git", REPO, Path("/ws/web"), "web", "colony/web", "0" * 40, "/o")
    assert vcs.calls == [("create", "/src/shop", "web", "/ws/web", "main")]
    assert RUN.calls == []


def test_dirty_and_release() -> None:
    """When a path is marked dirty, dirty says so; release forgets the colony."""
    vcs = FakeVcs()
    dirty = vcs.create(REPO, "a", Path("/ws/a"), inside=RUN, objects="/o")
    clean = vcs.create(REPO, "b", Path("/ws/b"), inside=RUN, objects="/o")
    vcs.dirty_paths.add(dirty.path)
    assert vcs.dirty(dirty, inside=RUN)
    assert not vcs.dirty(clean, inside=RUN)
    vcs.release(REPO, "a")
    assert list(vcs.workspaces) == [Path("/ws/b")]
    assert [c[0] for c in vcs.calls] == ["create", "create", "dirty", "dirty", "release"]


def test_conflicts_and_injected_failures() -> None:
    """When a path is reused or a failure is injected, create raises it once."""
    vcs = FakeVcs()
    vcs.create(REPO, "web", Path("/ws/web"), inside=RUN, objects="/o")
    with pytest.raises(Conflict):
        vcs.create(REPO, "other", Path("/ws/web"), inside=RUN, objects="/o")
    vcs.fail_next("create", HostError("disk full"))
    with pytest.raises(HostError, match="disk full"):
        vcs.create(REPO, "api", Path("/ws/api"), inside=RUN, objects="/o")
    assert vcs.create(REPO, "api", Path("/ws/api"), inside=RUN, objects="/o").name == "api"


def test_snapshot_returns_distinct_ids() -> None:
    """When snapshots are taken, each gets its own 40-hex id."""
    vcs: Vcs = FakeVcs()
    ws = vcs.create(REPO, "web", Path("/ws/web"), inside=RUN, objects="/o")
    first, second = vcs.snapshot(ws, "one", inside=RUN), vcs.snapshot(ws, "two", inside=RUN)
    assert first != second
    assert len(first) == 40
