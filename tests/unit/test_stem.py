"""Stem's keys and dialogs over a fake client (the real daemon is in tests/host/test_stem.py)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from textual.pilot import Pilot

from colony.contract_responses import Colonies, Colony, Sessions
from colony.errors import Conflict
from colony.tui.app import ColonyTui
from colony.tui.widgets import ColonyTable, ConfirmScreen, SpawnScreen
from tests.answers import a_colony


class FakeLog:
    def __iter__(self) -> Iterator[dict[str, Any]]:
        yield {"t": 1.0, "source": "colony", "line": "running"}

    def close(self) -> None:
        pass


class FakeClient:
    """Records calls; answers as the API would for a fixed set of colonies."""

    socket_path = Path("/nonexistent")
    timeout = 5.0

    def __init__(self) -> None:
        self.calls: list[tuple[str, ...]] = []
        self.states = {"alpha": "running", "beta": "stopped"}

    def colonies(self) -> Colonies:
        return Colonies(
            colonies=[
                a_colony(name=n, state=s, owner="ann", created=1.0, services=[])
                for n, s in self.states.items()
            ]
        )

    def agent_sessions(self, name: str | None = None) -> Sessions:
        return Sessions(sessions=[])

    def conflicts(self) -> Any:
        raise Conflict("no conflicts here")

    def diff(self, name: str, stat: bool = False) -> Any:
        raise Conflict("no workspace")

    def log_stream(self, name: str, service: str | None = None, lines: int = 200) -> FakeLog:
        return FakeLog()

    def spawn(self, name: str, repo: str, rev: str | None = None) -> Colony:
        self.calls.append(("spawn", name, repo, str(rev)))
        self.states[name] = "spawning"
        return a_colony(name=name, state="spawning")

    def stop(self, name: str) -> Colony:
        if self.states[name] == "stopped":
            raise Conflict(f"colony '{name}' is already stopped")
        self.calls.append(("stop", name))
        return a_colony(name=name, state="stopping")

    def remove(self, name: str, force: bool = False) -> dict[str, Any]:
        self.calls.append(("remove", name, str(force)))
        del self.states[name]
        return {}


async def until(pilot: Pilot[None], check: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 10
    while not check():
        assert time.monotonic() < deadline, "Stem never got there"
        await pilot.pause(0.02)


async def test_spawn_dialog_sends_what_was_typed() -> None:
    """When n is pressed and the form filled in, Stem asks the daemon to spawn that colony."""
    fake = FakeClient()
    app = ColonyTui(fake, events=False)  # type: ignore[arg-type]
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: app.query_one(ColonyTable).names == ["alpha", "beta"])
        await pilot.press("n")
        await until(pilot, lambda: isinstance(app.screen, SpawnScreen))
        await pilot.press(*"gamma")
        await pilot.press("tab")  # to the repository field
        app.screen.query_one("#repo").value = "/src/shop"  # type: ignore[attr-defined]
        await pilot.press("tab", *"v1", "enter")
        await until(pilot, lambda: bool(fake.calls))
    assert fake.calls == [("spawn", "gamma", "/src/shop", "v1")]


async def test_remove_asks_first_and_errors_are_shown() -> None:
    """When d is pressed, Stem asks before removing; a refused request becomes a notice."""
    fake = FakeClient()
    app = ColonyTui(fake, events=False)  # type: ignore[arg-type]
    async with app.run_test(size=(120, 40)) as pilot:
        table = app.query_one(ColonyTable)
        await until(pilot, lambda: table.names == ["alpha", "beta"])
        await pilot.press("j", "s")  # beta is stopped already
        await until(
            pilot, lambda: any("already stopped" in str(n.message) for n in app._notifications)
        )
        await pilot.press("d")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await until(pilot, lambda: table.names == ["alpha"])
    assert fake.calls == [("remove", "beta", "True")]
