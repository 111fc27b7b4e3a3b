"""Stem's agent view (issue 18): the selected colony's latest agent session, its events as a
live timeline; ``n`` gives a new task, ``c`` continues the session, ``x`` stops it.

Everything an agent prints is hostile: it becomes :class:`rich.text.Text` (never markup), cut
to a size, control characters shown as ``\\xNN`` (Bloom's :mod:`colony.web.agentview`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import Footer, RichLog, Static

from colony.errors import ColonyError
from colony.web.agentview import MAX_EVENTS, STATUS, count, cut, one_line, timeline

if TYPE_CHECKING:
    from colony.client import LogStream
    from colony.contract_responses import Session

KIND_STYLE = {
    "init": "dim",
    "text": "",
    "thinking": "dim italic",
    "tool_call": "cyan",
    "tool_result": "blue",
    "result": "bold green",
    "error": "bold red",
    "output": "",
}
STATUS_STYLE = {"running": "cyan", "done": "green", "failed": "red", "stopped": "yellow"}


def status_word(status: str) -> str:
    return STATUS.get(status, cut(status, 20))


def agent_cell(s: Session | None) -> Text:
    """The list's agent cell: the latest session's status word, and its cost if reported."""
    if s is None:
        return Text("")
    word = status_word(s.status)
    out = Text(word, STATUS_STYLE.get(word, ""))
    if s.cost is not None:
        out.append(f" ${s.cost:.2f}", "dim")
    return out


def format_session(s: Session | None) -> Text:
    """The session's head: number, agent, status, task, cost and tokens."""
    if s is None:
        return Text("No agent session yet: press n to give this colony's agent a task.")
    word = status_word(s.status)
    out = Text()
    out.append(f"session {s.id} · {one_line(s.agent, 40)} · ")
    out.append(word, STATUS_STYLE.get(word, ""))
    if s.cost is not None:
        out.append(f" · ${s.cost:.4f}")
    if s.tokens_in is not None or s.tokens_out is not None:
        out.append(f" · {count(s.tokens_in)} in / {count(s.tokens_out)} out")
    out.append("\ntask: ", "bold")
    out.append(cut(s.task, 600))
    if s.result and s.status != "running":
        out.append("\nresult: ", "bold")
        out.append(cut(s.result, 600))
    return out


def format_event(event: Mapping[str, Any]) -> Text:
    """One event of the timeline: time, label, tool, then its text (capped, plain)."""
    if event.get("kind") == "ended":
        word = status_word(str(event.get("status") or ""))
        out = Text("— ended: ", "bold")
        out.append(word, STATUS_STYLE.get(word, ""))
        if isinstance(event.get("exit_code"), int):
            out.append(f" (exit {event['exit_code']})")
        return out
    entry = timeline([event])[0]
    out = Text()
    if entry.at is not None:
        out.append(time.strftime("%H:%M:%S ", time.localtime(entry.at)), "dim")
    out.append(entry.label, KIND_STYLE.get(entry.kind, "magenta") or "bold")
    if entry.tool:
        out.append(f" {entry.tool}", "bold")
    if entry.text:
        out.append(": " if "\n" not in entry.text else ":\n")
        out.append(entry.text, KIND_STYLE.get(entry.kind, ""))
    return out


class AgentScreen(Screen[None]):
    """The agent of colony ``name``: its latest session, followed live."""

    DEFAULT_CSS = """
    AgentScreen #session { height: auto; max-height: 30%; border: round $primary-darken-2;
        padding: 0 1; }
    AgentScreen #timeline { height: 1fr; border: round $primary-darken-2; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "app.pop_screen", "back"),
        Binding("n", "task", "new task"),
        Binding("c", "continue", "continue"),
        Binding("x", "stop", "stop"),
        Binding("ctrl+r", "reload", "reload"),
    ]

    def __init__(self, client: Any, name: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.client = client
        self.colony = name
        self.session: Session | None = None
        self.followed: int | None = None  # the session whose events the timeline shows
        self.seen = 0  # the last event's seq shown
        self._stream: LogStream | None = None
        self._gone = False

    def compose(self) -> ComposeResult:
        yield Static(Text(f"loading the agent of {self.colony}…"), id="session")
        yield RichLog(id="timeline", max_lines=MAX_EVENTS * 10, wrap=True, markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#session").border_title = f"agent of {self.colony}"
        self.query_one("#timeline").border_title = "timeline"
        self.query_one("#timeline", RichLog).focus()
        self.load()

    def on_unmount(self) -> None:
        self._gone = True
        self._end_stream()

    def _end_stream(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            stream.close()

    def _call(self, fn: Callable[..., Any], *args: Any) -> None:
        if self.app.is_running and not self._gone:
            self.app.call_from_thread(fn, *args)

    @work(thread=True, exclusive=True, group="agent-load")
    def load(self) -> None:
        try:
            sessions = self.client.agent_sessions(self.colony).sessions
        except ColonyError as exc:
            self._call(self._failed, str(exc))
            return
        self._call(self._show, sessions[-1] if sessions else None)

    def _failed(self, message: str) -> None:
        self.notify(message, severity="error", timeout=8, markup=False)

    def _show(self, session: Session | None) -> None:
        self.session = session
        self.query_one("#session", Static).update(format_session(session))
        if session is not None and session.id != self.followed:
            self._end_stream()
            self.followed, self.seen = session.id, 0
            log = self.query_one("#timeline", RichLog)
            log.clear()
            log.border_title = f"timeline of session {session.id}"
            self.follow(session.id)

    @work(thread=True, group="agent-follow")
    def follow(self, session: int) -> None:
        """The session's events until it ends or another session is shown."""
        try:
            stream = self.client.agent_stream(self.colony, session)
        except ColonyError as exc:
            self._call(self._failed, str(exc))
            return
        if self._gone or self.followed != session:
            stream.close()
            return
        self._stream = stream
        try:
            for event in stream:
                if self._gone or self.followed != session:
                    break
                self._call(self._event, session, event)
        except ColonyError as exc:
            self._call(self._failed, f"the agent's events: {exc}")
        finally:
            stream.close()

    def _event(self, session: int, event: Mapping[str, Any]) -> None:
        if session != self.followed:
            return
        seq = event.get("seq")
        if isinstance(seq, int):
            if seq <= self.seen:
                return
            self.seen = seq
        self.query_one("#timeline", RichLog).write(format_event(event))
        if event.get("kind") in ("ended", "result", "init"):
            self.load()  # the head's status, cost and tokens

    def _say(self, message: str) -> None:
        self.notify(message, timeout=4, markup=False)

    def action_reload(self) -> None:
        self.load()

    @work(thread=True, group="agent-actions")
    def _do(self, what: str, call: Callable[[], object]) -> None:
        try:
            call()
        except ColonyError as exc:
            self._call(self._failed, f"{what}: {exc}")
            return
        self._call(self._say, what)
        self._call(self.load)

    def action_task(self) -> None:
        from colony.tui.widgets.dialogs import TaskScreen

        name = self.colony

        def answered(task: str | None) -> None:
            if task:
                self._do(f"agent started in {name}", lambda: self.client.agent_run(name, task))

        self.app.push_screen(TaskScreen(f"A task for the agent in {name}"), answered)

    def action_continue(self) -> None:
        from colony.tui.widgets.dialogs import TaskScreen

        name, session = self.colony, self.session
        if session is None:
            self.notify(
                "no session to continue: press n for a new task", severity="warning", markup=False
            )
            return

        def answered(task: str | None) -> None:
            if task:
                self._do(
                    f"session {session.id} continued",
                    lambda: self.client.agent_continue(name, task, session=session.id),
                )

        self.app.push_screen(TaskScreen(f"Continue session {session.id}", "continue"), answered)

    def action_stop(self) -> None:
        session = self.session
        if session is None or session.status != "running":
            self.notify("no running session to stop", severity="warning", markup=False)
            return
        name = self.colony
        self._do(f"session {session.id} stopped", lambda: self.client.agent_stop(name, session.id))


__all__ = ["AgentScreen", "agent_cell", "format_event", "format_session"]
