"""Stem, the terminal UI: colonies on the left, the selected one and its log on the right.

Talks only to :mod:`colony.client`. Every call to the daemon runs in a worker thread; a thread
follows ``/events`` so the list changes as colonies do, and another follows the selected
colony's log. Keys are listed by ``?``.

Example:
    >>> ColonyTui(Client("/var/lib/colony/mycelium.sock")).run()  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
import webbrowser
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

from rich.text import Text
from textual import work
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.widgets import Footer, Header
from textual.worker import get_current_worker

from colony.client import Client, LogStream
from colony.client.terminal import run_exec
from colony.contract_responses import Colony, Session
from colony.errors import ColonyError
from colony.tui.widgets import ColonyDetail, ColonyTable, ConfirmScreen, HelpScreen, SpawnScreen

RETRY_MAX = 10.0  # seconds between attempts to reach a daemon that went away
WATCH_EVERY = 2.0  # seconds: the agent and diff columns are asked for at most this often


class ColonyTui(App[None]):
    """Stem. ``events=False`` skips the live event stream (for tests of single screens)."""

    TITLE = "Stem"
    SUB_TITLE = "colonies"
    CSS = """
    #main { height: 1fr; }
    ColonyTable { width: 2fr; }
    ColonyDetail { width: 3fr; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("question_mark", "help", "help"),
        Binding("n", "spawn", "spawn"),
        Binding("s", "lifecycle('stop')", "stop"),
        Binding("t", "lifecycle('start')", "start"),
        Binding("r", "lifecycle('restart')", "restart"),
        Binding("d", "remove", "rm"),
        Binding("o", "open_preview", "preview"),
        Binding("e", "shell", "shell"),
        Binding("f", "diff", "diff"),
        Binding("a", "agent", "agent"),
        Binding("b", "broods", "broods"),
        Binding("ctrl+r", "reload", "reload", show=False),
        Binding("q", "quit", "quit"),
    ]

    def __init__(self, client: Client, *, events: bool = True) -> None:
        super().__init__()
        self.client = client
        self.events_enabled = events
        self.colonies: dict[str, Colony] = {}
        self._log_stream: LogStream | None = None
        self._stopping = False
        self._watched_at = 0.0

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="main"):
            yield ColonyTable(id="colonies")
            yield ColonyDetail(id="detail")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(ColonyTable).focus()
        self.load()
        if self.events_enabled:
            self.follow_events()

    def on_unmount(self) -> None:
        self._stopping = True
        self._end_log()

    def _end_log(self) -> None:
        log, self._log_stream = self._log_stream, None
        if log is not None:
            log.close()

    # --- what the daemon says ------------------------------------------------------------

    @property
    def selected(self) -> str | None:
        return self.query_one(ColonyTable).selected

    def _call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        """Run ``fn`` on the app's thread, unless the app is gone."""
        if self.is_running:
            self.call_from_thread(fn, *args, **kwargs)

    @work(thread=True, exclusive=True, group="load")
    def load(self) -> None:
        try:
            colonies = self.client.colonies().colonies
        except ColonyError as exc:
            self._call(self.notify, str(exc), severity="error", markup=False)
            return
        self._call(self._show, colonies)

    def _show(self, colonies: list[Colony]) -> None:
        self.colonies = {c.name: c for c in colonies}
        self.query_one(ColonyTable).show(colonies, time.time())
        self._show_detail()
        self.load_watched(colonies)

    @work(thread=True, exclusive=True, group="watch")
    def load_watched(self, colonies: list[Colony]) -> None:
        """The list's agent and diff columns, at most every ``WATCH_EVERY`` seconds (a newer
        call cancels this one): every colony's latest session and the files changed in more
        than one colony (a call each), then each colony's diff size (a call per colony)."""
        worker = get_current_worker()
        wait = self._watched_at + WATCH_EVERY - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        if worker.is_cancelled or self._stopping:
            return
        self._watched_at = time.monotonic()
        from colony.tui.widgets.agents import agent_cell
        from colony.tui.widgets.review import diff_cell

        latest, shared = self._latest_sessions(), self._shared_files()
        cells = {}
        for colony in colonies:
            if worker.is_cancelled or self._stopping:
                return
            stat = None
            if colony.workspace and colony.vcs in (None, "git"):
                with contextlib.suppress(ColonyError):
                    stat = self.client.diff(colony.name, stat=True).stat
            diff = diff_cell(stat, shared.get(colony.name, 0))
            cells[colony.name] = (agent_cell(latest.get(colony.name)), diff)
        self._call(self._set_watched, cells)

    def _latest_sessions(self) -> dict[str, Session]:
        try:
            sessions = self.client.agent_sessions().sessions
        except ColonyError:
            return {}
        return {s.colony: s for s in sorted(sessions, key=lambda s: s.id)}

    def _shared_files(self) -> dict[str, int]:
        """How many of each colony's changed files another colony changed too."""
        shared: dict[str, int] = {}
        with contextlib.suppress(ColonyError):
            for conflict in self.client.conflicts().conflicts:
                for name in conflict.colonies:
                    shared[name] = shared.get(name, 0) + 1
        return shared

    def _set_watched(self, cells: dict[str, tuple[Text, Text]]) -> None:
        self.query_one(ColonyTable).set_watched(cells)

    def _show_detail(self) -> None:
        name = self.selected
        detail = self.query_one(ColonyDetail)
        detail.show(self.colonies.get(name) if name else None)
        if name != detail.name_shown:
            detail.start_log(name)
            self._end_log()
            if name is not None:
                self.follow_logs(name)

    def on_colony_table_changed(self, message: ColonyTable.Changed) -> None:
        self._show_detail()

    @work(thread=True, group="events")
    def follow_events(self) -> None:
        """Reload on every event; when the daemon goes away, retry with backoff."""
        worker = get_current_worker()
        delay = 0.5
        while not (worker.is_cancelled or self._stopping):
            try:
                with self.client.events() as stream:
                    if delay > 0.5:  # back after an outage: follow the log anew
                        self._call(self._restart_log)
                    delay = 0.5
                    self._call(self.load)  # catch up on what happened while away
                    while not (worker.is_cancelled or self._stopping):
                        if stream.recv(timeout=0.5) is not None:
                            self._call(self.load)
            except ColonyError as exc:
                self._call(self._lost, f"{exc} (retrying in {delay:g}s)")
                time.sleep(delay)
                delay = min(delay * 2, RETRY_MAX)

    def _restart_log(self) -> None:
        self.sub_title = "colonies"
        self.query_one(ColonyDetail).name_shown = None

    def _lost(self, message: str) -> None:
        self.sub_title = "disconnected"
        self.notify(message, severity="warning", timeout=3, markup=False)

    @work(thread=True, group="logs")
    def follow_logs(self, name: str) -> None:
        """Follow ``name``'s log until another colony is selected (``_end_log`` ends it)."""
        detail = self.query_one(ColonyDetail)
        try:
            stream = self.client.log_stream(name, lines=200)
        except ColonyError:
            return  # the colony went away meanwhile
        if self._stopping or detail.name_shown != name:
            stream.close()
        else:
            self._call(self._set_log, name, stream)
        try:
            for entry in stream:
                self._call(detail.log_line, entry)
        except ColonyError:
            return  # the daemon went away: the event stream's reconnect starts a new follow

    def _set_log(self, name: str, stream: LogStream) -> None:
        if self.query_one(ColonyDetail).name_shown == name and not self._stopping:
            self._end_log()
            self._log_stream = stream
        else:
            stream.close()

    # --- actions -------------------------------------------------------------------------

    def _need(self) -> str | None:
        name = self.selected
        if name is None:
            self.notify("no colony selected", severity="warning", markup=False)
        return name

    @work(thread=True, group="actions")
    def _do(self, what: str, call: Callable[[], object]) -> None:
        try:
            call()
        except ColonyError as exc:
            self._call(self.notify, f"{what}: {exc}", severity="error", markup=False)
            return
        self._call(self.notify, what, timeout=2, markup=False)
        self._call(self.load)

    def action_lifecycle(self, kind: str) -> None:
        if name := self._need():
            self._do(f"{kind} {name}", lambda: getattr(self.client, kind)(name))

    def action_remove(self) -> None:
        name = self._need()
        if name is None:
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self._do(f"rm {name}", lambda: self.client.remove(name, force=True))

        question = f"Remove colony {name}? Uncommitted work is saved first."
        self.push_screen(ConfirmScreen(question), answered)

    def action_spawn(self) -> None:
        def answered(values: dict[str, str] | None) -> None:
            if values:
                name, repo, rev = values["name"], values["repo"], values.get("rev") or None
                self._do(f"spawn {name}", lambda: self.client.spawn(name, repo, rev=rev))

        self.push_screen(SpawnScreen(Path.cwd()), answered)

    def action_diff(self) -> None:
        if name := self._need():
            from colony.tui.widgets.review import DiffScreen

            self.push_screen(DiffScreen(self.client, name))

    def action_agent(self) -> None:
        if name := self._need():
            from colony.tui.widgets.agents import AgentScreen

            self.push_screen(AgentScreen(self.client, name))

    def action_broods(self) -> None:
        from colony.tui.widgets.broods import BroodScreen

        self.push_screen(BroodScreen(self.client))

    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    def action_reload(self) -> None:
        self.load()

    @work(thread=True, group="actions")
    def action_open_preview(self) -> None:
        name = self.selected
        if name is None:
            return
        try:
            urls = {k: v for k, v in self.client.urls(name).urls.items() if v}
        except ColonyError as exc:
            self._call(self.notify, str(exc), severity="error", markup=False)
            return
        if not urls:
            self._call(
                self.notify, f"{name} has no service with a port", severity="warning", markup=False
            )
            return
        service, url = next(iter(urls.items()))
        self._call(self.copy_to_clipboard, url)
        if _can_open_browser():
            webbrowser.open(url)
        self._call(self.notify, f"{service}: {url} (copied)", timeout=8, markup=False)

    def action_shell(self) -> None:
        name = self._need()
        if name is None:
            return
        try:
            with self.suspend():
                print(f"shell in colony {name}; exit it to return to Stem", flush=True)
                run_exec(self.client, name, None, {}, True)
        except ColonyError as exc:
            self.notify(f"shell {name}: {exc}", severity="error", markup=False)
        self.load()


def _can_open_browser() -> bool:
    # Over SSH there is no display: show and copy the URL instead.
    return sys.platform == "darwin" or bool(
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    )
