"""How much of a colony's output is kept: the cap on log files, and lines cut to a size.

Pure. The daemon reads log files in bounded chunks and splits them with :func:`split_lines`,
so one line of 100 MB without a newline costs it 64 KiB, not 100 MB; and it rotates a file
once it outgrows :attr:`LogCap.size` (issue 11).

Example:
    >>> state, lines = split_lines(LineState(), b"one\\ntw", limit=10)
    >>> lines, state.partial
    ([b'one'], b'tw')
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from colony.core.values import bad_setting, int_setting, parse_size

LINE_MAX = 64 * 1024  # a longer line is cut here (the rest, up to its newline, is dropped)
CUT_MARK = " [… cut: line longer than 64 KiB]"
MIN_SIZE = 256 * 1024
DEFAULT_SIZE = 10 * 1024 * 1024
DEFAULT_FILES = 3


@dataclass(frozen=True)
class LogCap:
    """Each source's log is at most ``files`` files (the live one and ``files - 1`` rotated
    ones, ``web.log.1`` newest) of at most ``size`` bytes each."""

    size: int = DEFAULT_SIZE
    files: int = DEFAULT_FILES


def parse_log_cap(size: str | int, files: str | int) -> LogCap:
    """The cap from the daemon's ``--log-size`` and ``--log-files``.

    Example:
        >>> parse_log_cap("10M", "3")
        LogCap(size=10485760, files=3)

    Raises:
        ConfigError: naming the setting, the value and what was expected.
    """
    nbytes = parse_size(size, MIN_SIZE)
    if nbytes is None:
        raise bad_setting("--log-size", "a size of at least 256k such as 10M", size)
    return LogCap(nbytes, int_setting("--log-files", files, 1, 100, "a number of files 1-100"))


@dataclass(frozen=True)
class LineState:
    """What a reader holds between two reads: the unfinished last line (at most the limit)
    and whether it is inside a line already cut (whose rest is dropped up to its newline)."""

    partial: bytes = b""
    cutting: bool = False


def split_lines(
    state: LineState, data: bytes, limit: int = LINE_MAX
) -> tuple[LineState, list[bytes]]:
    """Complete lines of ``state.partial + data``, each at most ``limit`` bytes.

    A line that outgrows ``limit`` comes out at once, cut, ending in :data:`CUT_MARK`; what
    follows it up to its newline is dropped.
    """
    lines: list[bytes] = []
    partial, cutting = state.partial, state.cutting
    start = 0
    while start < len(data):
        end = data.find(b"\n", start)
        piece = data[start:] if end < 0 else data[start:end]
        if not cutting:
            partial += piece
            if len(partial) > limit:
                lines.append(partial[:limit] + CUT_MARK.encode())
                partial, cutting = b"", True
            elif end >= 0:
                lines.append(partial)
                partial = b""
        if end < 0:
            break
        cutting = False
        start = end + 1
    return replace(state, partial=partial, cutting=cutting), lines


def flush_lines(state: LineState) -> tuple[LineState, list[bytes]]:
    """The unfinished last line as a line of its own (its writer has ended)."""
    return LineState(), [state.partial] if state.partial else []
