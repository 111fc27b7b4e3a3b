"""The detail pane: the selected colony in full, and its log followed live."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.widgets import RichLog, Static

from colony.contract_responses import Colony
from colony.present import format_colony, format_log_line


class ColonyDetail(Vertical):
    """``show(colony)`` renders it; ``log_line(entry)`` appends to the followed log."""

    DEFAULT_CSS = """
    ColonyDetail { width: 1fr; }
    ColonyDetail #info-box { height: 1fr; border: round $primary-darken-2; padding: 0 1; }
    ColonyDetail #log { height: 1fr; border: round $primary-darken-2; }
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.name_shown: str | None = None

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="info-box"):
            yield Static("No colony selected.", id="info")
        yield RichLog(id="log", max_lines=2000, wrap=False, markup=False, highlight=False)

    def show(self, colony: Colony | None) -> None:
        info = self.query_one("#info", Static)
        if colony is None:
            info.update("No colony selected: press n to spawn one.")
            return
        info.update(format_colony(colony, time.time()))
        self.query_one("#info-box").border_title = colony.name

    def start_log(self, name: str | None) -> None:
        """Clear the log for a newly selected colony."""
        self.name_shown = name
        log = self.query_one("#log", RichLog)
        log.clear()
        log.border_title = f"logs of {name} (following)" if name else "logs"

    def log_line(self, entry: Mapping[str, Any]) -> None:
        self.query_one("#log", RichLog).write(format_log_line(entry))
