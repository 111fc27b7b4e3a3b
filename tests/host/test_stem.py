"""Stem (`colony tui`) driven headless by Textual's pilot against a real Mycelium."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

from textual.pilot import Pilot
from textual.widgets import Input, RichLog

from colony.tui.app import ColonyTui
from colony.tui.widgets import ColonyTable, HelpScreen
from colony.tui.widgets.agents import AgentScreen
from colony.tui.widgets.dialogs import ConfirmScreen, TaskScreen
from tests.conftest import make_repo
from tests.host.conftest import Daemon, wait_state

WAIT = 60.0  # seconds: an upper bound for the screen to catch up, not a timing assertion


async def until(pilot: Pilot[None], check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"Stem never showed {what}")
        await pilot.pause(0.05)


def cell(app: ColonyTui, name: str, column: str) -> str:
    return str(app.query_one(ColonyTable).get_cell(name, column))


async def test_stem_lists_live_colonies_and_stops_one(daemon: Daemon, tmp_path: Path) -> None:
    """When Stem runs, its list shows the daemon's colonies; 's' on one stops it and the row's
    state changes to stopped without any reload."""
    client = daemon.client
    assert client is not None
    repo = make_repo(tmp_path / "repo", {"README.md": "no services\n"})
    for name in ("alpha", "beta"):
        client.spawn(name, repo)
    for name in ("alpha", "beta"):
        wait_state(client, name, "running")

    app = ColonyTui(client)
    async with app.run_test(size=(140, 40)) as pilot:
        table = app.query_one(ColonyTable)
        await until(pilot, lambda: table.names == ["alpha", "beta"], "both colonies")
        assert cell(app, "beta", "state") == "running"

        await pilot.press("j")  # to beta
        await until(pilot, lambda: table.selected == "beta", "beta selected")
        await pilot.press("s")
        await until(pilot, lambda: cell(app, "beta", "state") == "stopped", "beta stopped")
        assert cell(app, "alpha", "state") == "running"

        await pilot.press("question_mark")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen), "the help")
        await pilot.press("escape")

        # A colony made elsewhere shows up by itself: the list follows /events.
        await asyncio.to_thread(client.spawn, "gamma", repo)
        await until(pilot, lambda: "gamma" in table.names, "a colony spawned elsewhere")
    assert client.colony("beta").state == "stopped"


def shown(app: ColonyTui, selector: str) -> str:
    return "\n".join(strip.text for strip in app.screen.query_one(selector, RichLog).lines)


async def test_stem_gives_a_task_watches_it_reads_the_diff_and_merges(
    d: Daemon, tmp_path: Path
) -> None:
    """When a task is given from Stem's agent view, the scripted agent's events arrive in its
    timeline; the list then shows the agent done and the diff's size, the diff view shows the
    exact changed lines, and m then y merges them into the base branch."""
    from tests.host.test_agents import project

    client = d.client
    assert client is not None
    repo = project(tmp_path)
    client.spawn("st", str(repo))
    assert wait_state(client, "st", "running", "failed").state == "running"

    app = ColonyTui(client)
    async with app.run_test(size=(160, 45)) as pilot:
        table = app.query_one(ColonyTable)
        await until(pilot, lambda: table.names == ["st"], "the colony")
        await pilot.press("a")
        await until(pilot, lambda: isinstance(app.screen, AgentScreen), "the agent view")
        await pilot.press("n")
        await until(pilot, lambda: isinstance(app.screen, TaskScreen), "the task box")
        app.screen.query_one("#task", Input).value = "write app.py: print('from stem')"
        await pilot.press("enter")
        await until(pilot, lambda: "ended: done" in shown(app, "#timeline"), "the agent's end")
        assert "tool call" in shown(app, "#timeline")
        await pilot.press("escape")
        await until(pilot, lambda: cell(app, "st", "agent").startswith("done"), "agent done")
        await until(pilot, lambda: cell(app, "st", "diff").startswith("+1 -1"), "the diff size")

        await pilot.press("f")
        await until(pilot, lambda: "+print('from stem')" in shown(app, "#diff"), "the diff")
        assert "-print('hello')" in shown(app, "#diff")
        await pilot.press("m")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the question")
        await pilot.press("y")
        await until(
            pilot, lambda: (repo / "app.py").read_text() == "print('from stem')\n", "the merge"
        )
