"""Stem's diff and agent views (issue 18) over a fake client: what they show, what their keys
send, and that a colony's or agent's text is shown as text, never as markup."""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from rich.text import Text
from textual.pilot import Pilot
from textual.widgets import Input, RichLog, Static

from colony.contract_responses import (
    Broods,
    Colonies,
    Conflicts,
    Diff,
    Merged,
    Picked,
    Session,
    Sessions,
    Snapshot,
    Undone,
    dump,
    load,
)
from colony.errors import Conflict
from colony.tui.app import ColonyTui
from colony.tui.widgets import ColonyTable, ConfirmScreen
from colony.tui.widgets.agents import AgentScreen, format_event
from colony.tui.widgets.broods import BroodScreen
from colony.tui.widgets.dialogs import TaskScreen
from colony.tui.widgets.review import DiffScreen, format_files, format_lines, split
from tests.answers import a_colony, a_session

HOSTILE = "[bold red]pwn[/] \x1b]0;title\x07"
DIFF = (
    "diff --git a/app.py b/app.py\n--- a/app.py\n+++ b/app.py\n@@ -1,2 +1,2 @@\n"
    " keep\n-x = 1\n+x = 2\n"
    f"diff --git a/{HOSTILE}.txt b/{HOSTILE}.txt\n--- /dev/null\n+++ b/{HOSTILE}.txt\n"
    f"@@ -0,0 +1 @@\n+{HOSTILE}\n"
)


def a_diff() -> Diff:
    stat = {"files": 2, "added": 2, "deleted": 1, "lines": 3, "paths": []}
    return load(
        Diff,
        {
            "colony": "alpha",
            "base": "main",
            "branch": "colony/alpha",
            "diff": DIFF,
            "stat": stat,
            "sensitive": [],
        },
    )


class FakeEvents:
    """A followed event stream: the events given, then it waits until closed."""

    def __init__(self, events: list[dict[str, Any]]) -> None:
        self.events = events
        self.closed = threading.Event()

    def __iter__(self) -> Iterator[dict[str, Any]]:
        yield from self.events
        self.closed.wait(10)

    def close(self) -> None:
        self.closed.set()


class FakeClient:
    socket_path = Path("/nonexistent")
    timeout = 5.0

    def __init__(self) -> None:
        self.calls: list[tuple[str, ...]] = []
        self.streams: list[FakeEvents] = []
        self.refuse = ""  # a merge's refusal

    def colonies(self) -> Colonies:
        return Colonies(colonies=[a_colony(name="alpha", state="running", services=[])])

    def log_stream(self, name: str, service: str | None = None, lines: int = 200) -> FakeEvents:
        return FakeEvents([])

    def diff(self, name: str, stat: bool = False) -> Diff:
        self.calls.append(("diff", name))
        return a_diff()

    def snapshot(self, name: str, message: str | None = None) -> Snapshot:
        self.calls.append(("snapshot", name))
        return load(
            Snapshot,
            {"number": 3, "ref": "r", "commit": "c", "message": "", "at": 1.0}
            | {"session": None, "turn": None},
        )

    def undo(self, name: str) -> Undone:
        self.calls.append(("undo", name))
        snap = {"ref": "r", "commit": "c", "message": "", "at": 1.0, "session": None}
        restored, saved = snap | {"number": 3, "turn": None}, snap | {"number": 4, "turn": None}
        return load(Undone, {"colony": name, "restored": restored, "saved": saved})

    def merge(self, name: str, squash: bool = False, message: str | None = None) -> Merged:
        if self.refuse:
            raise Conflict(self.refuse)
        self.calls.append(("merge", name, str(squash), str(message)))
        return load(
            Merged,
            {"merged": True, "commit": "abc", "previous": None, "sensitive": []}
            | {"colony": name, "into": "main", "squash": False},
        )

    def conflicts(self) -> Conflicts:
        shared = {"repo": "/src/shop", "path": "app.py", "colonies": ["alpha", "beta"]}
        return load(Conflicts, {"conflicts": [shared]})

    def agent_sessions(self, name: str | None = None) -> Sessions:
        return Sessions(sessions=[a_session(id=4, colony="alpha", status="running", task=HOSTILE)])

    def agent_stream(self, name: str, session: int, *, after: int = 0) -> FakeEvents:
        stream = FakeEvents(
            [
                {"seq": 1, "at": 1.0, "kind": "tool_call", "tool": "Bash", "text": HOSTILE},
                {"seq": 2, "at": 2.0, "kind": "text", "tool": None, "text": "all done"},
            ]
        )
        self.streams.append(stream)
        return stream

    def broods(self) -> Broods:
        def member(colony: str, rank: int, check: bool) -> dict[str, Any]:
            return {"brood": "fix", "colony": colony, "position": rank, "state": "done",
                    "reason": None, "session": None, "check_code": None, "check_output": None,
                    "diff_files": 1, "diff_lines": 2, "rank": rank, "status": "completed",
                    "check": check, "duration": 1.0, "cost": None, "exists": True}  # fmt: skip

        brood = {"name": "fix", "state": "done", "objective": HOSTILE, "base": "b" * 40,
                 "target": "main", "count": 2, "max_parallel": 1, "repo": "/r", "owner": "al",
                 "created": 1.0, "agent": None, "command": None, "picked": None,
                 "members": [member("fix-2", 2, False), member("fix-1", 1, True)]}  # fmt: skip
        return load(Broods, {"broods": [brood]})

    def brood_pick(self, name: str) -> Picked:
        self.calls.append(("pick", name))
        merged = dump(self.merge("fix-1"))
        return load(Picked, {"brood": name, "picked": "fix-1", "merge": merged, "trashed": []})

    def agent_run(self, name: str, task: str) -> Session:
        self.calls.append(("run", name, task))
        return a_session(id=5, colony=name)

    def agent_stop(self, name: str, session: int | None = None) -> Session:
        self.calls.append(("stop-agent", name, str(session)))
        return a_session(id=4, colony=name, status="interrupted")


async def until(pilot: Pilot[None], check: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 10
    while not check():
        assert time.monotonic() < deadline, "Stem never got there"
        await pilot.pause(0.02)


def notices(app: ColonyTui) -> list[Any]:
    return list(app._notifications)


def log_text(app: ColonyTui, selector: str) -> str:
    return "\n".join(strip.text for strip in app.screen.query_one(selector, RichLog).lines)


def static_text(app: ColonyTui, selector: str) -> str:
    content = app.screen.query_one(selector, Static).content
    return content.plain if isinstance(content, Text) else str(content)


def test_split_counts_each_file_and_shows_names_as_text() -> None:
    files = split(DIFF)
    assert [(f.path, f.added, f.deleted) for f in files] == [
        ("app.py", 1, 1),
        (f"{HOSTILE}.txt", 1, 0),
    ]
    lines, starts = format_lines(files)
    assert [lines[i].plain for i in starts] == ["app.py", "[bold red]pwn[/] \\x1b]0;title\\x07.txt"]
    shown = format_files(a_diff(), files).plain
    assert "[bold red]pwn[/] \\x1b]0;title\\x07.txt" in shown
    assert "\x1b" not in shown


def test_an_event_is_plain_text() -> None:
    line = format_event(
        {"seq": 1, "at": None, "kind": "tool_call", "tool": "Bash", "text": HOSTILE}
    )
    assert line.plain == "tool call Bash: [bold red]pwn[/] \\x1b]0;title\\x07"
    assert not line.spans or all("pwn" not in str(s.style) for s in line.spans)


async def test_diff_view_shows_files_and_lines_and_merges_after_a_yes() -> None:
    """When f is pressed, the colony's files and diff are shown (hostile text as text); s
    takes a snapshot; m asks, and y merges."""
    fake = FakeClient()
    app = ColonyTui(fake, events=False)  # type: ignore[arg-type]
    async with app.run_test(size=(140, 40)) as pilot:
        await until(pilot, lambda: app.query_one(ColonyTable).names == ["alpha"])
        await pilot.press("f")
        await until(pilot, lambda: isinstance(app.screen, DiffScreen))
        await until(pilot, lambda: "+x = 2" in log_text(app, "#diff"))
        shown = log_text(app, "#diff")
        assert "-x = 1" in shown
        assert "+[bold red]pwn[/] \\x1b]0;title\\x07" in shown
        assert "app.py" in static_text(app, "#files-box")
        await pilot.press("s")
        await until(pilot, lambda: ("snapshot", "alpha") in fake.calls)
        await pilot.press("u")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await until(pilot, lambda: any("restored snapshot 3" in n.message for n in notices(app)))
        await pilot.press("m")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await until(pilot, lambda: ("merge", "alpha", "False", "None") in fake.calls)
        await pilot.press("M")
        await until(pilot, lambda: isinstance(app.screen, TaskScreen))
        app.screen.query_one("#task", Input).value = "one commit"
        await pilot.press("enter")
        await until(pilot, lambda: ("merge", "alpha", "True", "one commit") in fake.calls)
        fake.refuse = f"would conflict in 1 file(s): {HOSTILE}"
        await pilot.press("m")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await until(pilot, lambda: any("would conflict" in n.message for n in notices(app)))
        assert all(not n.markup for n in notices(app))  # the file's name is not markup
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, DiffScreen))


async def test_the_list_shows_agent_status_and_diff_size() -> None:
    """The list's agent and diff columns say the latest session's status, the diff's size
    and how many of its files another colony changed too."""
    fake = FakeClient()
    app = ColonyTui(fake, events=False)  # type: ignore[arg-type]
    async with app.run_test(size=(160, 40)) as pilot:
        table = app.query_one(ColonyTable)
        await until(pilot, lambda: str(table.get_cell("alpha", "diff")) != "")
        assert str(table.get_cell("alpha", "diff")) == "+2 -1 2f ⚠1"
        assert str(table.get_cell("alpha", "agent")) == "running"


async def test_agent_view_follows_events_and_starts_and_stops() -> None:
    """When a is pressed, the latest session's events show as a timeline; n asks for a task
    and starts the agent with it; x stops the running session."""
    fake = FakeClient()
    app = ColonyTui(fake, events=False)  # type: ignore[arg-type]
    async with app.run_test(size=(140, 40)) as pilot:
        await until(pilot, lambda: app.query_one(ColonyTable).names == ["alpha"])
        await pilot.press("a")
        await until(pilot, lambda: isinstance(app.screen, AgentScreen))
        await until(pilot, lambda: "all done" in log_text(app, "#timeline"))
        assert "tool call Bash: [bold red]pwn[/] \\x1b]0;title\\x07" in log_text(app, "#timeline")
        assert "session 4" in static_text(app, "#session")
        await pilot.press("n")
        await until(pilot, lambda: isinstance(app.screen, TaskScreen))
        await pilot.press("enter")  # empty: refused, nothing started
        await pilot.press(*"add tests", "enter")
        await until(pilot, lambda: ("run", "alpha", "add tests") in fake.calls)
        await pilot.press("x")
        await until(pilot, lambda: ("stop-agent", "alpha", "4") in fake.calls)
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, AgentScreen))
        await until(pilot, lambda: all(s.closed.is_set() for s in fake.streams))
    assert [c for c in fake.calls if c[0] == "run"] == [("run", "alpha", "add tests")]


async def test_brood_view_ranks_members_and_picks_after_a_yes() -> None:
    """When b is pressed, the brood's members show best first and its objective as text; p
    asks, and y picks."""
    fake = FakeClient()
    app = ColonyTui(fake, events=False)  # type: ignore[arg-type]
    async with app.run_test(size=(160, 40)) as pilot:
        await pilot.press("b")
        await until(pilot, lambda: isinstance(app.screen, BroodScreen))
        await until(pilot, lambda: "fix-1" in rendered(app, "#brood"))
        text = rendered(app, "#brood")
        assert text.index("fix-1") < text.index("fix-2")
        assert "[bold red]pwn[/] \\x1b]0;title\\x07" in text
        await pilot.press("p")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await until(pilot, lambda: ("pick", "fix") in fake.calls)
        await until(pilot, lambda: any("picked fix-1" in n.message for n in notices(app)))


def rendered(app: ColonyTui, selector: str) -> str:
    from rich.console import Console

    console = Console(width=150, record=True, file=io.StringIO())
    console.print(app.screen.query_one(selector, Static).content)
    return console.export_text()
