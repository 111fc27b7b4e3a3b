"""Bloom's diff view (issue 18): a colony's unified diff split into files with their +/-
counts, each line highlighted by Pygments into HTML, capped in size.

Every file name and line comes from a colony and is hostile: the HTML made here is only
``<span class="…">`` around escaped text (the classes are Pygments' fixed short names), and
terminal control characters show as ``\\xNN``. Huge diffs are cut, with a note that says so.

Example:
    >>> head = "diff --git a/a.py b/a.py\\n--- a/a.py\\n+++ b/a.py\\n"
    >>> view = build(head + "@@ -1 +1 @@\\n-x = 1\\n+x = 2\\n", ["a.py"])
    >>> (view.files[0].path, view.files[0].added, view.files[0].deleted)
    ('a.py', 1, 1)
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, field

from markupsafe import Markup, escape
from pygments.lexer import Lexer
from pygments.lexers import TextLexer, get_lexer_for_filename
from pygments.token import STANDARD_TYPES, _TokenType
from pygments.util import ClassNotFound

from colony.core import diffs
from colony.core.review import render_visible

MAX_TEXT = 4 * 1024 * 1024  # characters of a diff read at all
MAX_FILES = 300  # files shown with their lines; the rest are listed
MAX_FILE_LINES = 2000  # lines shown of one file
MAX_LINE = 400  # characters shown of one line
MAX_HIGHLIGHT = 256 * 1024  # characters of one file highlighted; above, plain escaped text


@dataclass(frozen=True)
class Line:
    kind: str  # "add", "del", "ctx", "hunk" (an @@ line) or "meta" (git's notes)
    sign: str  # "+", "-", " " or ""
    html: Markup


@dataclass
class File:
    path: str
    added: int = 0
    deleted: int = 0
    binary: bool = False
    lines: list[Line] = field(default_factory=list)
    hidden: int = 0  # lines not shown (the file's cap)
    shown: bool = True  # False: past the files' or the text's cap, only listed
    uncommitted: bool = False


@dataclass
class View:
    files: list[File]
    notes: list[str]  # what was cut

    @property
    def added(self) -> int:
        return sum(f.added for f in self.files)

    @property
    def deleted(self) -> int:
        return sum(f.deleted for f in self.files)


def build(text: str, paths: Iterable[str], uncommitted: Collection[str] = ()) -> View:
    """The view of ``git diff`` output ``text`` whose files are ``paths`` (git's numstat
    order, the diff's own); ``uncommitted``: the paths to mark as not committed."""
    names = list(paths)
    notes = []
    if len(text) > MAX_TEXT:
        notes.append(
            f"the diff is {len(text) // 1024} KiB: only its first {MAX_TEXT // 1024} KiB "
            "are shown; the files after that are only listed"
        )
        cut = text.rfind("\n", 0, MAX_TEXT)
        text = text[: cut + 1 if cut > 0 else MAX_TEXT]
    chunks = diffs.split_files(text)
    use_names = len(chunks) == len(names) or (notes and len(chunks) <= len(names))
    files = []
    for i, chunk in enumerate(chunks):
        path = names[i] if use_names else diffs.path_of(chunk)
        files.append(_file(path, chunk, shown=i < MAX_FILES))
    if use_names:
        files += [File(path, shown=False) for path in names[len(chunks) :]]
    if len(files) > MAX_FILES:
        notes.append(f"{len(files)} files changed: the lines of the first {MAX_FILES} are shown")
    marked = set(uncommitted)
    for f in files:
        f.uncommitted = f.path in marked
        f.path = render_visible(f.path)
    return View(files, notes)


def _file(path: str, chunk: list[str], *, shown: bool) -> File:
    found = File(path, shown=shown)
    found.added, found.deleted, found.binary = diffs.tally(chunk)
    if not shown:
        return found
    body: list[tuple[str, str]] = []  # (kind, text) of the lines shown
    for kind, line in diffs.kinds(chunk):
        if len(body) >= MAX_FILE_LINES:
            found.hidden += 1
        else:
            body.append((kind, line))
    found.lines = _render(path, body)
    return found


KINDS = {"+": "add", "-": "del", " ": "ctx", "@": "hunk", "": "meta"}


def _render(path: str, body: list[tuple[str, str]]) -> list[Line]:
    """Each line as escaped HTML; code lines highlighted as one text per file, so strings and
    comments that span lines colour right."""
    code = [i for i, (sign, _) in enumerate(body) if sign in ("+", "-", " ")]
    texts = [_visible(body[i][1][1:]) for i in code]
    lexer = _lexer(path) if sum(len(t) for t in texts) <= MAX_HIGHLIGHT else None
    lit = _highlight(lexer, texts) if lexer else [escape(t) for t in texts]
    html: dict[int, Markup] = dict(zip(code, lit, strict=True))
    lines = []
    for i, (sign, line) in enumerate(body):
        text = html.get(i)
        if text is None:
            text = escape(_visible(line))
        lines.append(Line(KINDS[sign], sign if sign in ("+", "-") else "", Markup(text)))
    return lines


def _visible(text: str) -> str:
    shown = render_visible(text)
    return shown if len(shown) <= MAX_LINE else shown[:MAX_LINE] + " …"


def _lexer(path: str) -> Lexer | None:
    try:
        return get_lexer_for_filename(path, stripnl=False, stripall=False, ensurenl=True)
    except (ClassNotFound, ValueError):
        return None


def _css(kind: _TokenType) -> str:
    while kind not in STANDARD_TYPES and kind.parent is not None:
        kind = kind.parent
    return STANDARD_TYPES.get(kind, "")


def _highlight(lexer: Lexer, texts: list[str]) -> list[Markup]:
    """``texts`` (one per line) lexed as one text, split back into lines of HTML."""
    if isinstance(lexer, TextLexer):
        return [escape(t) for t in texts]
    lines: list[list[str]] = [[]]
    for kind, value in lexer.get_tokens("\n".join(texts) + "\n"):
        css = _css(kind)
        for n, part in enumerate(value.split("\n")):
            if n:
                lines.append([])
            if part:
                piece = str(escape(part))
                lines[-1].append(f'<span class="{css}">{piece}</span>' if css else piece)
    lines = lines[: len(texts)] + [[] for _ in range(len(texts) - len(lines))]
    return [Markup("".join(parts)) for parts in lines]


__all__ = ["MAX_FILES", "MAX_FILE_LINES", "MAX_TEXT", "File", "Line", "View", "build"]
