"""Stem's modal screens: help on '?', the spawn form, and a yes/no confirmation."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

# Key, what it does; grouped as lazygit's help is.
KEYS: dict[str, list[tuple[str, str]]] = {
    "Colonies": [
        ("n", "spawn a new colony"),
        ("s", "stop the selected colony"),
        ("t", "start it"),
        ("r", "restart it"),
        ("d", "remove it (uncommitted work is saved first)"),
        ("o", "open its preview URL (and copy it)"),
        ("e", "open a shell inside it (Stem comes back when it ends)"),
    ],
    "Review and agents": [
        ("f", "its diff against its base (] [: next/previous file, s: snapshot,"),
        ("", "u: undo to the latest snapshot, m: merge, M: squash-merge, esc: back)"),
        ("a", "its agent: the latest session live (n: task, c: continue, x: stop)"),
        ("b", "the broods, members ranked best first (p: pick the best, esc: back)"),
    ],
    "Navigation": [
        ("↑ ↓ / j k", "move the selection"),
        ("g / G", "first / last colony"),
        ("tab", "switch between the list and the detail"),
    ],
    "Global": [
        ("?", "this help"),
        ("ctrl+r", "reload everything"),
        ("q", "quit"),
    ],
}


def format_help() -> Table:
    table = Table.grid(padding=(0, 2))
    table.add_column(justify="right", style="bold cyan")
    table.add_column()
    for group, keys in KEYS.items():
        table.add_row(Text(group, style="bold underline"), "")
        for key, what in keys:
            table.add_row(key, what)
        table.add_row("", "")
    return table


class HelpScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > Vertical { width: 72; height: auto; border: thick $primary; background: $surface;
        padding: 1 2; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q,question_mark", "dismiss", "close")]

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("Stem keys (esc to close)")
            yield Static(format_help())


class SpawnScreen(ModalScreen[dict[str, str] | None]):
    """Asks for name, repository and revision; dismisses with them, or None."""

    DEFAULT_CSS = """
    SpawnScreen { align: center middle; }
    SpawnScreen > Vertical { width: 80; height: auto; border: thick $primary; background: $surface;
        padding: 1 2; }
    SpawnScreen Input { margin-bottom: 1; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "dismiss_none", "cancel")]

    def __init__(self, repo: Path, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.repo = repo

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("Spawn a colony (enter to spawn, esc to cancel)")
            yield Input(placeholder="name, e.g. web", id="name")
            yield Input(value=str(self.repo), placeholder="repository path", id="repo")
            yield Input(placeholder="revision (default HEAD)", id="rev")
            yield Button("Spawn", variant="primary", id="spawn")

    def _submit(self) -> None:
        values = {i.id or "": i.value.strip() for i in self.query(Input)}
        if values.get("name") and values.get("repo"):
            self.dismiss(values)
        else:
            self.notify("name and repository are required", severity="error", markup=False)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self._submit()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self._submit()

    def action_dismiss_none(self) -> None:
        self.dismiss(None)


class ConfirmScreen(ModalScreen[bool]):
    DEFAULT_CSS = """
    ConfirmScreen { align: center middle; }
    ConfirmScreen > Vertical { width: 64; height: auto; border: thick $warning;
        background: $surface; padding: 1 2; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "yes"),
        Binding("n,escape", "answer(False)", "no"),
    ]

    def __init__(self, question: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self.question)
            yield Label("y: yes   n: no")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


class TaskScreen(ModalScreen[str | None]):
    """Asks for one line (an agent's task, a commit message); dismisses with it, or None."""

    DEFAULT_CSS = """
    TaskScreen { align: center middle; }
    TaskScreen > Vertical { width: 90; height: auto; border: thick $primary; background: $surface;
        padding: 1 2; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "dismiss_none", "cancel")]

    def __init__(
        self,
        title: str,
        value: str = "",
        *,
        what: str = "what the agent should do",
        field: str = "task",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.title_text = title
        self.value = value
        self.what = what
        self.field = field

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(Text(f"{self.title_text} (enter to send, esc to cancel)"))
            yield Input(value=self.value, placeholder=self.what, id="task")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        task = event.value.strip()
        if task:
            self.dismiss(task)
        else:
            self.notify(
                f"{self.field}: empty; expected {self.what}", severity="error", markup=False
            )

    def action_dismiss_none(self) -> None:
        self.dismiss(None)
