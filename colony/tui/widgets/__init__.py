"""Stem's widgets: the colony table, the detail pane, and the dialogs."""

from colony.tui.widgets.colonies import ColonyTable
from colony.tui.widgets.detail import ColonyDetail
from colony.tui.widgets.dialogs import ConfirmScreen, HelpScreen, SpawnScreen

__all__ = ["ColonyDetail", "ColonyTable", "ConfirmScreen", "HelpScreen", "SpawnScreen"]
