"""Mycelium's actors over the fake backends: supervision of crashing actors, spawn rollback.

The backends are fakes (no namespaces, no git), so this runs anywhere in a fraction of a second;
the host tier runs the same flows against the real ones.
"""

from __future__ import annotations

import asyncio
import ipaddress
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from colony.daemon import messages as m
from colony.daemon.acting import acting_user
from colony.daemon.events import EventBus
from colony.daemon.kit import ActorKit, ColonyEnv
from colony.daemon.logs import LogBook
from colony.daemon.mycelium import Mycelium
from colony.daemon.paths import Paths
from colony.errors import ColonyError, Conflict, HostError, NotFound
from colony.store.queries import Store
from colony.testing.fake_isolation import FakeIsolation
from colony.testing.fake_vcs import FakeVcs
from tests.conftest import passable


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[tuple[Mycelium, FakeIsolation, FakeVcs, Path]]:
    passable(tmp_path)  # colony processes run as an unprivileged user (issue 3)
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    iso, vcs = FakeIsolation(), FakeVcs()
    store = Store(tmp_path / "state" / "mycelium.db")
    tasks: set[asyncio.Task[Any]] = set()

    def start_task(coro: Any) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(coro)
        tasks.add(task)
        return task

    kit = ActorKit(
        store=store,
        iso=iso,
        open_vcs=lambda _repo: vcs,
        paths=Paths(tmp_path / "state"),
        env=ColonyEnv(prefix="ct-unit", pool=ipaddress.IPv4Network("10.213.9.0/24")),
        start_task=start_task,
        bus=EventBus(),
        logs=LogBook(),
        clock=time.time,
    )
    try:
        yield Mycelium(kit, repo_root=lambda path: path), iso, vcs, repo
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        store.close()


async def settled(myc: Mycelium, name: str, after: int = 0) -> dict[str, Any]:
    """The colony once it is in a lasting state reached after its first ``after`` transitions."""
    for _ in range(500):
        colony = myc.colony(name)
        if len(colony["transitions"]) > after and colony["state"] in (
            "running",
            "stopped",
            "failed",
        ):
            return colony
        await asyncio.sleep(0.01)
    raise AssertionError(f"{name} never settled: {myc.colony(name)}")


async def test_crashed_actor_is_restarted_and_others_untouched(world) -> None:  # type: ignore[no-untyped-def]
    """When one colony's actor crashes on a request, the caller gets an error, that actor is
    restarted from the store, and the other colony's actor is untouched."""
    myc, _iso, _vcs, repo = world
    await myc.spawn("one", str(repo))
    await myc.spawn("two", str(repo))
    assert (await settled(myc, "one"))["state"] == "running"
    assert (await settled(myc, "two"))["state"] == "running"
    first, other = myc.actors["one"], myc.actors["two"]

    async def boom() -> None:
        raise RuntimeError("bug in a handler")

    first._on_stop = boom  # type: ignore[method-assign]
    with pytest.raises(ColonyError, match="internal error"):
        await myc.request("one", "stop")
    for _ in range(100):
        if myc.actors["one"] is not first:
            break
        await asyncio.sleep(0.01)
    assert myc.actors["one"] is not first
    assert myc.actors["two"] is other
    await myc.request("one", "stop")
    assert (await settled(myc, "one"))["state"] == "stopped"
    assert myc.colony("two")["state"] == "running"


# Each message, the handler it reaches, the arguments it brings and whether its reply is the
# handler's result (the rest answer None once handled).
DISPATCH: list[tuple[m.Ask[Any], str, tuple[Any, ...], bool]] = [
    (m.Spawn(), "_on_spawn", (), False),
    (m.Start(), "_on_start", (), True),
    (m.Stop(), "_on_stop", (), True),
    (m.Restart(), "_on_restart", (), False),
    (m.Remove(force=True), "_on_remove", (True,), True),
    (m.Exited("web", 42, None), "_on_exited", ("web", 42, None), False),
    (m.RestartService("web"), "_on_restart_service", ("web",), False),
    (m.Adopt(), "_on_adopt", (), False),
]


def test_dispatch_table_covers_every_message() -> None:
    assert {type(msg) for msg, *_ in DISPATCH} == set(m.MESSAGES)


@pytest.mark.parametrize(("msg", "handler", "args", "replies"), DISPATCH)
async def test_each_message_reaches_its_handler(  # type: ignore[no-untyped-def]
    world, msg: m.Ask[Any], handler: str, args: tuple[Any, ...], replies: bool
) -> None:
    """When a message is asked for, its handler runs with the message's fields as arguments,
    the sender as the acting user, and the handler's result as the reply where it has one."""
    myc, _iso, _vcs, repo = world
    await myc.spawn("one", str(repo))
    await settled(myc, "one")
    actor = myc.actors["one"]
    seen: list[tuple[tuple[Any, ...], str | None]] = []

    async def record(*got: Any) -> object:
        seen.append((got, acting_user.get()))
        return "reply"

    setattr(actor, handler, record)
    result = await actor.ask(msg, user="ann")
    assert seen == [(args, "ann")]
    assert result == ("reply" if replies else None)


async def test_a_string_or_other_object_is_refused_at_once(world) -> None:  # type: ignore[no-untyped-def]
    """When something that is no colony message is sent, the sender gets a TypeError naming
    it and the messages there are; nothing reaches the mailbox and the actor goes on."""
    myc, _iso, _vcs, repo = world
    await myc.spawn("one", str(repo))
    await settled(myc, "one")
    actor = myc.actors["one"]
    with pytest.raises(TypeError, match=r"not a colony message: 'stop' \(expected one of Spawn, "):
        actor.tell("stop")
    with pytest.raises(TypeError, match="not a colony message: 3"):
        await actor.ask(3)
    assert actor.mailbox.empty()
    assert await actor.ask(m.Stop()) is True
    assert myc.actors["one"] is actor


async def test_a_handlers_colony_error_reaches_the_asker(world) -> None:  # type: ignore[no-untyped-def]
    """When a handler refuses with a ColonyError, the asker gets that error and the actor
    handles the next message."""
    myc, _iso, _vcs, repo = world
    await myc.spawn("one", str(repo))
    await settled(myc, "one")
    actor = myc.actors["one"]
    with pytest.raises(Conflict):
        await actor.ask(m.Remove())  # it runs, and force was not given
    assert await actor.ask(m.Start()) is False  # already running
    assert myc.actors["one"] is actor


async def test_request_of_an_unknown_action_is_not_found(world) -> None:  # type: ignore[no-untyped-def]
    myc, _iso, _vcs, repo = world
    await myc.spawn("one", str(repo))
    with pytest.raises(NotFound, match="no action 'pause': expected start, stop, restart"):
        await myc.request("one", "pause")


async def test_failed_isolation_rolls_back_workspace(world) -> None:  # type: ignore[no-untyped-def]
    """When the namespace cannot be made, the spawn fails at spawning, says why, and the new
    workspace is discarded."""
    myc, iso, vcs, repo = world
    iso.fail["create"] = HostError("cannot create netns 'ct-unit-bad': File exists")
    await myc.spawn("bad", str(repo))
    colony = await settled(myc, "bad")
    assert (colony["state"], colony["step"]) == ("failed", "spawning")
    assert "File exists" in colony["reason"]
    assert ("release", "bad") in vcs.calls
    assert not any(call[0] == "destroy" for call in iso.calls)
    assert vcs.workspaces == {}


async def test_start_after_rolled_back_spawn_builds_everything(world) -> None:  # type: ignore[no-untyped-def]
    """When a colony whose first spawn was rolled back is started again, it gets a new
    workspace and namespace and runs."""
    myc, iso, vcs, repo = world
    iso.fail["create"] = HostError("cannot create netns 'ct-unit-again': File exists")
    await myc.spawn("again", str(repo))
    failed = await settled(myc, "again")
    assert failed["state"] == "failed"
    del iso.fail["create"]
    await myc.request("again", "start")
    colony = await settled(myc, "again", after=len(failed["transitions"]))
    assert colony["state"] == "running"
    assert colony["workspace"] is not None
    # The first checkout ran beside the failed namespace and was discarded; the start made
    # the one workspace there is.
    assert sum(1 for call in vcs.calls if call[0] == "create") == 2
    assert [str(path) for path in vcs.workspaces] == [colony["workspace"]]


async def test_gc_removes_only_its_own_orphans(world) -> None:  # type: ignore[no-untyped-def]
    """When objects with the daemon's prefix belong to no colony, gc removes those that carry
    the daemon's mark and leaves someone else's alone, naming only what it removed."""
    myc, iso, _vcs, repo = world
    await myc.spawn("live", str(repo))
    await settled(myc, "live")
    iso.objects[("ct-unit", "netns")] |= {"gone", "out"}
    iso.objects[("ct-unit", "table")] |= {"out"}
    iso.foreign |= {("ct-unit", "netns", "out"), ("ct-unit", "table", "out")}
    removed = await myc.gc()
    assert removed == [{"kind": "netns", "name": "gone"}]
    assert iso.objects[("ct-unit", "netns")] == {"live", "out"}
    assert iso.objects[("ct-unit", "table")] == {"live", "out"}
