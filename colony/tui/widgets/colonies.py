"""The colony list: one row per colony, kept in step with the daemon's answers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widgets import DataTable

from colony.contract_responses import Colony
from colony.present import format_age, format_colony_state, format_services

COLUMNS = ("name", "state", "agent", "diff", "services", "owner", "created")
WATCHED = ("agent", "diff")  # set by ``set_watched`` once the sessions and diffs are known


def format_row(
    colony: Colony, now: float, watched: tuple[Text, Text] | None = None
) -> tuple[Text, ...]:
    """The cells of one colony's row; ``watched``: its agent and diff cells."""
    agent, diff = watched or (Text(""), Text(""))
    return (
        Text(colony.name),
        format_colony_state(colony),
        agent,
        diff,
        format_services(colony.services),
        Text(colony.owner or ""),
        Text(format_age(colony.created or now, now)),
    )


class ColonyTable(DataTable[Text]):
    """Colonies by creation time; the cursor stays on the same colony across updates."""

    DEFAULT_CSS = """
    ColonyTable { height: 1fr; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("j", "cursor_down", "down", show=False),
        Binding("k", "cursor_up", "up", show=False),
        Binding("g", "scroll_top", "top", show=False),
        Binding("G", "scroll_bottom", "bottom", show=False),
    ]

    class Changed(Message):
        """The colony under the cursor changed (None: the list is empty)."""

        def __init__(self, name: str | None) -> None:
            super().__init__()
            self.name = name

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)
        self.names: list[str] = []
        self.watched: dict[str, tuple[Text, Text]] = {}

    def on_mount(self) -> None:
        for column in COLUMNS:
            self.add_column(column, key=column)

    @property
    def selected(self) -> str | None:
        if not self.names or self.cursor_row < 0 or self.cursor_row >= len(self.names):
            return None
        return self.names[self.cursor_row]

    def show(self, colonies: Sequence[Colony], now: float) -> None:
        """Replace the rows with ``colonies``, keeping the cursor on the colony it was on."""
        keep = self.selected
        names = [c.name for c in colonies]
        if names == self.names:
            for colony in colonies:
                row = format_row(colony, now, self.watched.get(colony.name))
                for column, cell in zip(COLUMNS, row, strict=True):
                    self.update_cell(colony.name, column, cell)
        else:
            self.clear()
            for colony in colonies:
                row = format_row(colony, now, self.watched.get(colony.name))
                self.add_row(*row, key=colony.name)
            self.names = names
            if keep in names:
                self.move_cursor(row=names.index(keep))
        if self.selected != keep:
            self.post_message(self.Changed(self.selected))

    def set_watched(self, watched: Mapping[str, tuple[Text, Text]]) -> None:
        """Set the agent and diff cells of the colonies listed (the others keep theirs)."""
        self.watched.update(watched)
        for name, cells in watched.items():
            if name in self.names:
                for column, cell in zip(WATCHED, cells, strict=True):
                    self.update_cell(name, column, cell)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        self.post_message(self.Changed(self.selected))
