"""``git diff`` text read as its files (pure; shared by Bloom's review page and Stem's diff
view): one chunk of lines per file, the file's name, and each line's kind.

Everything here is a colony's text: names and lines are returned as they are, for the front
end to escape.

Example:
    >>> [chunk] = split_files("diff --git a/x b/x\\n--- a/x\\n+++ b/x\\n@@ -1 +1 @@\\n-a\\n+b\\n")
    >>> path_of(chunk), tally(chunk)
    ('x', (1, 1, False))
"""

from __future__ import annotations

from collections.abc import Iterator

HEADER = "diff --git "


def split_files(text: str) -> list[list[str]]:
    """The diff's lines, one list per file (each starting with its ``diff --git`` line),
    without trailing empty lines."""
    chunks: list[list[str]] = []
    for line in text.split("\n"):
        if line.startswith(HEADER):
            chunks.append([line])
        elif chunks:
            chunks[-1].append(line)
    for chunk in chunks:
        while chunk and chunk[-1] == "":
            chunk.pop()
    return chunks


def path_of(chunk: list[str]) -> str:
    """A file's name from its header lines."""
    for line in chunk:
        if line.startswith("+++ b/") or line.startswith("--- a/"):
            return line[6:].rstrip("\t")
    head = chunk[0][len(HEADER) :]
    half = head.rfind(" b/")
    return head[2:half] if head.startswith("a/") and half > 0 else head


def kinds(chunk: list[str]) -> Iterator[tuple[str, str]]:
    """Each line after the header with its kind: '@' a hunk's head; '+', '-' or ' ' a line
    inside a hunk; '' anything else (the file's header lines, '\\ No newline')."""
    in_hunk = False
    for line in chunk[1:]:
        if line.startswith("@@"):
            in_hunk = True
            yield "@", line
        elif in_hunk and line[:1] in ("+", "-", " "):
            yield line[:1], line
        else:
            yield "", line


def tally(chunk: list[str]) -> tuple[int, int, bool]:
    """Lines added, lines deleted, and whether git called the file binary (in its header
    lines, before any hunk)."""
    added = deleted = 0
    binary = in_hunk = False
    for kind, line in kinds(chunk):
        in_hunk |= kind == "@"
        if kind == "+":
            added += 1
        elif kind == "-":
            deleted += 1
        elif not in_hunk:
            binary |= line.startswith("Binary files ") or line == "GIT binary patch"
    return added, deleted, binary


__all__ = ["HEADER", "kinds", "path_of", "split_files", "tally"]
