"""Lines split and cut at a size, and the log cap's settings (issue 11)."""

from __future__ import annotations

import pytest

from colony.core.logcap import (
    CUT_MARK,
    LineState,
    LogCap,
    flush_lines,
    parse_log_cap,
    split_lines,
)
from colony.errors import ConfigError

CUT = CUT_MARK.encode()


def feed(chunks: list[bytes], limit: int) -> tuple[LineState, list[bytes]]:
    state, out = LineState(), []
    for chunk in chunks:
        state, lines = split_lines(state, chunk, limit)
        out += lines
    return state, out


def test_lines_split_across_chunks() -> None:
    """When lines arrive in pieces, each comes out once, whole; the unfinished one is held."""
    state, lines = feed([b"one\ntw", b"o\n\nthr", b"ee"], limit=10)
    assert lines == [b"one", b"two", b""]
    assert state == LineState(partial=b"three")
    assert flush_lines(state) == (LineState(), [b"three"])


def test_a_long_line_is_cut_and_its_rest_dropped() -> None:
    """When a line outgrows the limit, it comes out at once, cut and marked, and the rest up
    to its newline is dropped, however many chunks it spans."""
    state, lines = feed([b"ok\n" + b"x" * 7, b"x" * 20, b"x" * 5 + b"\nnext\n"], limit=8)
    assert lines == [b"ok", b"x" * 8 + CUT, b"next"]
    assert state == LineState()


def test_a_cut_line_without_a_newline_holds_nothing() -> None:
    """When a 100 MB line never ends, what is held stays empty: memory does not grow."""
    state = LineState()
    out = []
    for _ in range(100):
        state, lines = split_lines(state, b"y" * 1_000_000, limit=64 * 1024)
        out += lines
    assert out == [b"y" * 64 * 1024 + CUT]
    assert state == LineState(partial=b"", cutting=True)


def test_a_line_of_exactly_the_limit_is_whole() -> None:
    """When a line is exactly the limit long, it is not cut."""
    assert feed([b"abcd\n"], limit=4)[1] == [b"abcd"]


def test_log_cap_settings() -> None:
    """When the daemon's --log-size and --log-files are read, sizes take units; bad values
    are one-line errors naming the setting, the value and what was expected."""
    assert parse_log_cap("10M", "3") == LogCap(10 << 20, 3)
    assert parse_log_cap("512k", 1) == LogCap(512 << 10, 1)
    with pytest.raises(ConfigError) as caught:
        parse_log_cap("10", "3")
    assert str(caught.value) == (
        "--log-size: expected a size of at least 256k such as 10M, got '10'"
    )
    with pytest.raises(
        ConfigError, match=r"^--log-files: expected a number of files 1-100, got '0'$"
    ):
        parse_log_cap("1M", "0")
    with pytest.raises(ConfigError, match=r"--log-size: .* got 'lots'"):
        parse_log_cap("lots", "3")
