"""Stem's diff view (issue 18): the selected colony's changed files with their +/- counts,
then its unified diff, coloured; ``s`` takes a snapshot, ``u`` goes back to the latest one,
``m`` merges and ``M`` squash-merges (after a yes or a message).

Every path and line comes from a colony and is hostile: they become :class:`rich.text.Text`
(never markup) with terminal control characters shown as ``\\xNN``, and huge diffs are cut.

Example:
    >>> head = "diff --git a/a.py b/a.py\\n--- a/a.py\\n+++ b/a.py\\n"
    >>> [(f.path, f.added, f.deleted) for f in split(head + "@@ -1 +1 @@\\n-x\\n+y\\n")]
    [('a.py', 1, 1)]
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import Footer, RichLog, Static

from colony.core import diffs
from colony.core.review import render_visible
from colony.errors import ColonyError

if TYPE_CHECKING:
    from colony.contract_responses import Diff, DiffStat

MAX_LINES = 20000  # lines of a diff shown; the rest is cut with a note
MAX_LINE = 400  # characters shown of one line
STYLE = {"+": "green", "-": "red", "@": "cyan", "": "dim"}


@dataclass
class FileChange:
    path: str
    added: int = 0
    deleted: int = 0
    binary: bool = False
    lines: list[str] = field(default_factory=list)


def split(text: str) -> list[FileChange]:
    """``git diff`` output as its files, each with its counts and lines."""
    files = []
    for chunk in diffs.split_files(text):
        added, deleted, binary = diffs.tally(chunk)
        files.append(FileChange(diffs.path_of(chunk), added, deleted, binary, lines=chunk))
    return files


def visible(text: str, size: int = MAX_LINE) -> str:
    shown = render_visible(text).replace("\n", " ")
    return shown if len(shown) <= size else shown[:size] + " …"


def diff_cell(stat: DiffStat | None, conflicts: int = 0) -> Text:
    """The list's diff cell: '+12 -3 2f', then '⚠1' when that many of its files are changed
    by another colony of its repository too; '' for no changes or none known."""
    out = Text()
    if stat is not None and stat.files:
        out.append(f"+{stat.added}", "green")
        out.append(" ")
        out.append(f"-{stat.deleted}", "red")
        out.append(f" {stat.files}f", "dim")
    if conflicts:
        out.append(f" ⚠{conflicts}", "bold yellow")
    return out


def format_files(diff: Diff, files: list[FileChange]) -> Text:
    """The summary: base and branch, then one line per file with its counts."""
    out = Text()
    out.append(f"{visible(diff.branch or '?')} against {visible(diff.base or '?')}: ", "bold")
    out.append(f"{len(files)} files, ")
    out.append(f"+{sum(f.added for f in files)}", "green")
    out.append(" ")
    out.append(f"-{sum(f.deleted for f in files)}", "red")
    for f in files:
        out.append("\n")
        out.append(f"+{f.added:<5}", "green")
        out.append(f"-{f.deleted:<5}", "red")
        out.append(visible(f.path))
        if f.binary:
            out.append(" (binary)", "dim")
    for s in diff.sensitive:
        out.append(f"\n! {visible(str(s.get('path')))}: {visible(str(s.get('why')))}", "yellow")
    return out


def format_lines(files: list[FileChange]) -> tuple[list[Text], list[int]]:
    """Every file's diff lines, coloured by kind, capped at ``MAX_LINES``; and the line where
    each file shown starts."""
    out: list[Text] = []
    starts: list[int] = []
    total = sum(len(f.lines) for f in files)
    for f in files:
        for n, line in enumerate(f.lines):
            if len(out) >= MAX_LINES:
                out.append(Text(f"… {total - MAX_LINES} more lines not shown", "yellow"))
                return out, starts
            if n == 0:
                starts.append(len(out))
                out.append(Text(visible(f.path), "bold reverse"))
                continue
            sign = line[:1] if line[:1] in ("+", "-", "@") else ""
            if line.startswith(("+++ ", "--- ")):
                sign = ""
            out.append(Text(visible(line), STYLE[sign] if sign or line[:1] != " " else ""))
    return out, starts


class DiffScreen(Screen[None]):
    """The diff of colony ``name``; the app passes its own client and confirm dialog."""

    DEFAULT_CSS = """
    DiffScreen #files-box { height: auto; max-height: 40%; border: round $primary-darken-2;
        padding: 0 1; }
    DiffScreen #diff { height: 1fr; border: round $primary-darken-2; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "app.pop_screen", "back"),
        Binding("s", "snapshot", "snapshot"),
        Binding("m", "merge", "merge"),
        Binding("M", "squash", "squash-merge"),
        Binding("u", "undo", "undo"),
        Binding("right_square_bracket", "file(1)", "next file"),
        Binding("left_square_bracket", "file(-1)", "previous file"),
        Binding("ctrl+r", "reload", "reload"),
        Binding("j", "scroll('down')", "down", show=False),
        Binding("k", "scroll('up')", "up", show=False),
    ]

    def __init__(self, client: Any, name: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.client = client
        self.colony = name
        self.files: list[FileChange] | None = None
        self.starts: list[int] = []  # the diff's line where each file starts

    def compose(self) -> ComposeResult:
        yield Static(Text(f"loading the diff of {self.colony}…"), id="files-box")
        yield RichLog(id="diff", max_lines=MAX_LINES + 1, wrap=False, markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#files-box").border_title = f"changes of {self.colony}"
        self.query_one("#diff").border_title = "diff"
        self.query_one("#diff", RichLog).focus()
        self.load()

    def _call(self, fn: Callable[..., Any], *args: Any) -> None:
        if self.app.is_running and self.is_attached:
            self.app.call_from_thread(fn, *args)

    @work(thread=True, exclusive=True, group="diff")
    def load(self) -> None:
        try:
            diff = self.client.diff(self.colony)
        except ColonyError as exc:
            self._call(self._failed, str(exc))
            return
        self._call(self._show, diff)

    def _failed(self, message: str) -> None:
        self.query_one("#files-box", Static).update(Text(message, "red"))
        self.notify(message, severity="error", markup=False)

    def _show(self, diff: Diff) -> None:
        self.files = split(diff.diff)
        self.query_one("#files-box", Static).update(format_files(diff, self.files))
        log = self.query_one("#diff", RichLog)
        log.clear()
        lines, self.starts = format_lines(self.files)
        for line in lines:
            log.write(line)
        if not self.files:
            log.write(Text("no changes against the base", "dim"))

    def action_file(self, step: int) -> None:
        """Scroll to the next (``step`` 1) or previous (-1) file's first line."""
        log = self.query_one("#diff", RichLog)
        y = round(log.scroll_y)
        after = [s for s in self.starts if (s > y if step > 0 else s < y)]
        if after:
            log.scroll_to(y=after[0] if step > 0 else after[-1], animate=False)

    def action_scroll(self, way: str) -> None:
        log = self.query_one("#diff", RichLog)
        log.scroll_down() if way == "down" else log.scroll_up()

    def _say(self, message: str) -> None:
        self.notify(message, timeout=4, markup=False)

    def action_reload(self) -> None:
        self.load()

    @work(thread=True, group="review-actions")
    def _do(self, what: str, call: Callable[[], object], say: Callable[[Any], str]) -> None:
        try:
            result = call()
        except ColonyError as exc:
            self._call(self._notify_error, f"{what}: {exc}")
            return
        self._call(self._say, say(result))
        self._call(self.load)

    def _notify_error(self, message: str) -> None:
        self.notify(message, severity="error", timeout=8, markup=False)

    def action_snapshot(self) -> None:
        name = self.colony
        self._do(
            f"snapshot {name}",
            lambda: self.client.snapshot(name),
            lambda s: f"snapshot {s.number} of {name} taken",
        )

    def action_merge(self) -> None:
        from colony.tui.widgets.dialogs import ConfirmScreen

        name = self.colony

        def answered(yes: bool | None) -> None:
            if yes:
                self._do(f"merge {name}", lambda: self.client.merge(name), _merged)

        self.app.push_screen(ConfirmScreen(f"Merge colony {name} into its base?"), answered)

    def action_undo(self) -> None:
        from colony.tui.widgets.dialogs import ConfirmScreen

        name = self.colony

        def answered(yes: bool | None) -> None:
            if yes:
                self._do(f"undo {name}", lambda: self.client.undo(name), _undone)

        question = (
            f"Restore {name}'s files to its latest snapshot? "
            "What they are now is kept as a snapshot first."
        )
        self.app.push_screen(ConfirmScreen(question), answered)

    def action_squash(self) -> None:
        from colony.tui.widgets.dialogs import TaskScreen

        name = self.colony

        def answered(message: str | None) -> None:
            if message:
                self._do(f"squash-merge {name}", lambda: squash(message), _merged)

        def squash(message: str) -> object:
            return self.client.merge(name, squash=True, message=message)

        ask = TaskScreen(
            f"Squash-merge {name} into its base as one commit",
            f"colony {name}",
            what="the commit's message",
            field="message",
        )
        self.app.push_screen(ask, answered)


def _undone(result: Any) -> str:
    kept = f"; what it replaced is snapshot {result.saved.number}" if result.saved else ""
    return f"{result.colony}: restored snapshot {result.restored.number}{kept}"


def _merged(result: Any) -> str:
    if not result.merged:
        return f"{result.colony} has nothing to merge: {result.into} is up to date"
    return f"merged {result.colony} into {result.into}: {str(result.commit)[:12]}"
