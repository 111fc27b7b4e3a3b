"""Stem's brood view (issue 18): the broods, and the selected one's members ranked best
first (state, check, agent status, diff size, cost); ``p`` picks the best (after a yes), which
merges it and moves the others to the trash.

Objectives, reasons and check output come from users and colonies: they become
:class:`rich.text.Text` with control characters shown as ``\\xNN``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

from rich.table import Table
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, OptionList, Static

from colony.errors import ColonyError
from colony.tui.widgets.review import visible

if TYPE_CHECKING:
    from textual.notifications import SeverityLevel

    from colony.contract_responses import Brood

CHECK = {True: Text("pass", "green"), False: Text("fail", "red"), None: Text("-", "dim")}


def format_brood(brood: Brood) -> Table:
    """The brood's objective and state, then its members best first."""
    table = Table(box=None, pad_edge=False, title_justify="left", expand=False)
    table.title = Text.assemble(
        (f"{visible(brood.name)} ", "bold"),
        (brood.state, "cyan"),
        (f" picked {visible(brood.picked)}" if brood.picked else "", "green"),
        "\n",
        visible(brood.objective, 600),
    )
    for column in ("#", "colony", "state", "check", "agent", "diff", "cost"):
        table.add_column(column)
    for m in sorted(brood.members, key=lambda m: m.rank or 0):
        diff = "-" if m.diff_lines is None else f"{m.diff_files or 0}f {m.diff_lines}l"
        table.add_row(
            Text(str(m.rank)),
            Text(visible(m.colony), "" if m.exists else "dim"),
            Text(visible(m.state)),
            CHECK.get(m.check, CHECK[None]),
            Text(visible(m.status or "-")),
            Text(diff),
            Text("-" if m.cost is None else f"${m.cost:.4f}"),
        )
    return table


class BroodScreen(Screen[None]):
    """Every brood the user may see; the highlighted one in full."""

    DEFAULT_CSS = """
    BroodScreen #brood-list { width: 1fr; border: round $primary-darken-2; }
    BroodScreen #brood-box { width: 3fr; border: round $primary-darken-2; padding: 0 1; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "app.pop_screen", "back"),
        Binding("p", "pick", "pick the best"),
        Binding("ctrl+r", "reload", "reload"),
    ]

    def __init__(self, client: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.client = client
        self.broods: list[Brood] = []

    def compose(self) -> ComposeResult:
        with Horizontal():
            yield OptionList(id="brood-list")
            with VerticalScroll(id="brood-box"):
                yield Static(Text("loading the broods…"), id="brood")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#brood-list").border_title = "broods"
        self.query_one("#brood-list").focus()
        self.load()

    def _call(self, fn: Callable[..., Any], *args: Any) -> None:
        if self.app.is_running and self.is_attached:
            self.app.call_from_thread(fn, *args)

    @work(thread=True, exclusive=True, group="broods")
    def load(self) -> None:
        try:
            broods = self.client.broods().broods
        except ColonyError as exc:
            self._call(self._say, str(exc), "error")
            return
        self._call(self._show, broods)

    def _say(self, message: str, severity: SeverityLevel = "information") -> None:
        self.notify(message, severity=severity, timeout=6, markup=False)

    def _show(self, broods: list[Brood]) -> None:
        keep = self.selected
        self.broods = broods
        options = self.query_one("#brood-list", OptionList)
        options.clear_options()
        options.add_options([Text(visible(b.name)) for b in broods])
        names = [b.name for b in broods]
        if broods:
            options.highlighted = names.index(keep.name) if keep and keep.name in names else 0
        self._show_one()

    @property
    def selected(self) -> Brood | None:
        index = self.query_one("#brood-list", OptionList).highlighted
        return self.broods[index] if index is not None and index < len(self.broods) else None

    def _show_one(self) -> None:
        brood = self.selected
        shown = self.query_one("#brood", Static)
        if brood is None:
            shown.update(Text("No brood: 'colony brood spawn' starts one."))
        else:
            shown.update(format_brood(brood))

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        self._show_one()

    def action_reload(self) -> None:
        self.load()

    @work(thread=True, group="brood-actions")
    def _pick(self, name: str) -> None:
        try:
            picked = self.client.brood_pick(name)
        except ColonyError as exc:
            self._call(self._say, f"pick {name}: {exc}", "error")
            return
        self._call(self._say, f"picked {picked.picked} of brood {name}")
        self._call(self.load)

    def action_pick(self) -> None:
        from colony.tui.widgets.dialogs import ConfirmScreen

        brood = self.selected
        if brood is None:
            return
        name = brood.name

        def answered(yes: bool | None) -> None:
            if yes:
                self._pick(name)

        question = (
            f"Pick the best-ranked colony of brood {name}? It is merged; the others go to "
            "the trash."
        )
        self.app.push_screen(ConfirmScreen(question), answered)
