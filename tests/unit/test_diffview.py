"""Bloom's diff view (issue 18), pure: a diff split into files with counts, highlighted lines
that are escaped text only, the caps on huge diffs; and the git output the review page reads
(the branch's commits, the uncommitted paths)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from colony.core.review import parse_log, parse_status
from colony.errors import Conflict
from colony.web import diffview


def one_file(path: str, lines: list[str]) -> str:
    body = "".join(f"+{line}\n" for line in lines)
    return f"diff --git a/{path} b/{path}\n--- /dev/null\n+++ b/{path}\n@@ -0,0 +1 @@\n{body}"


def test_files_come_with_their_counts_and_names_from_gits_list() -> None:
    text = one_file("a b.py", ["x = 1"]) + one_file("c.txt", ["one", "two"])
    view = diffview.build(text, ["a b.py", "c.txt"], uncommitted=["c.txt"])
    assert [(f.path, f.added, f.deleted, f.uncommitted) for f in view.files] == [
        ("a b.py", 1, 0, False),
        ("c.txt", 2, 0, True),
    ]
    assert (view.added, view.deleted, view.notes) == (3, 0, [])


def test_binary_files_are_marked() -> None:
    text = (
        "diff --git a/i.png b/i.png\nnew file mode 100644\n"
        "Binary files /dev/null and b/i.png differ\n"
    )
    (found,) = diffview.build(text, ["i.png"]).files
    assert found.binary
    assert (found.added, found.deleted) == (0, 0)


@given(st.text(min_size=1, max_size=40))
def test_a_line_is_only_escaped_text_in_spans(line: str) -> None:
    """Whatever a colony writes, the HTML of its line has no tag but Pygments' spans and no
    raw '<', and terminal control characters show as \\xNN."""
    line = line.replace("\n", "").replace("\r", "") or "x"
    view = diffview.build(one_file("a.py", [line]), ["a.py"])
    html = str(view.files[0].lines[-1].html)
    bare = html.replace('<span class="', "").replace("</span>", "")
    assert "<" not in bare
    assert "\x1b" not in html


def test_a_hostile_name_and_line_are_escaped() -> None:
    name = "<img src=x onerror=alert(1)>.py"
    view = diffview.build(one_file(name, ["s = '<script>'\x1b[2J"]), [name])
    html = str(view.files[0].lines[-1].html)
    assert "<script>" not in html
    assert "&lt;script&gt;" in html
    assert "\x1b" not in html
    assert "x1b" in html  # shown as \x1b (highlighted in pieces)
    assert view.files[0].path == name  # the template escapes it


def test_huge_diffs_are_cut_with_a_note() -> None:
    many = [f"f{i}.txt" for i in range(diffview.MAX_FILES + 5)]
    view = diffview.build("".join(one_file(p, ["x"]) for p in many), many)
    assert len(view.files) == len(many)
    assert not view.files[-1].shown
    assert view.files[0].shown
    assert any("files changed" in n for n in view.notes)
    long = one_file("big.py", ["y"] * (diffview.MAX_FILE_LINES + 10) + ["z" * 5000])
    (big,) = diffview.build(long, ["big.py"]).files
    assert len(big.lines) == diffview.MAX_FILE_LINES
    assert big.hidden > 0
    cut = diffview.build(one_file("a.txt", ["q" * 1000] * 5000), ["a.txt", "b.txt"])
    assert any("KiB" in n for n in cut.notes)
    assert [f.path for f in cut.files] == ["a.txt", "b.txt"]
    assert all(len(str(line.html)) < diffview.MAX_LINE + 10 for line in cut.files[0].lines)


def test_git_output_of_the_branch_and_the_workspace() -> None:
    log = "c1\x1fann\x1f1700000000\x1ffix: a\x1fb\0\nc2\x1fbob\x1f1700000001\x1fadd\0junk\0"
    commits = parse_log(log)
    assert [(c.commit, c.author, c.subject) for c in commits] == [
        ("c1", "ann", "fix: a\x1fb"),
        ("c2", "bob", "add"),
    ]
    assert parse_status(" M app.py\0?? <x>.txt\0A  new\0") == ["<x>.txt", "app.py", "new"]


def test_a_conflict_carries_its_files_in_its_json() -> None:
    plain = Conflict("no").to_json()
    assert "files" not in plain
    assert Conflict("no", files=["a", "b"]).to_json()["files"] == ["a", "b"]
