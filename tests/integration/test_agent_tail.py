"""Following an agent's output file as it grows (real files)."""

from __future__ import annotations

import json
from pathlib import Path

from colony.core.agents import Summary
from colony.core.agents.session import SessionRecord
from colony.core.logcap import CUT_MARK, LogCap
from colony.daemon.agent_tail import LINE_MAX, Tail

INIT = json.dumps({"type": "system", "subtype": "init", "session_id": "s-1", "model": "m"})
RESULT = json.dumps(
    {
        "type": "result",
        "subtype": "success",
        "result": "ok",
        "session_id": "s-1",
        "total_cost_usd": 0.25,
        "usage": {"input_tokens": 7, "output_tokens": 3},
    }
)


def test_lines_are_parsed_once_even_when_written_in_pieces(tmp_path: Path) -> None:
    """When an agent writes a line in two pieces, it is parsed once, whole; a restart resumes
    at the stored offset without parsing anything twice."""
    log = tmp_path / "1.log"
    log.write_text(INIT + "\n" + RESULT[:20])
    tail = Tail(str(log), 0, "claude", Summary())
    assert [e.kind for e in tail.parse(tail.read())] == ["init"]
    assert tail.changes()["agent_session"] == "s-1"
    stored = tail.changes()["read_offset"]
    assert stored == len(INIT) + 1
    with log.open("a") as f:
        f.write(RESULT[20:] + "\nnot json, the last line")
    rec = SessionRecord(
        1,
        "c",
        "claude",
        "claude",
        "t",
        (),
        "running",
        "u",
        0.0,
        str(log),
        read_offset=stored,
        agent_session="s-1",
    )
    again = Tail.resume(rec)
    events = again.parse(again.read())
    events += again.parse(again.rest(), final=True)
    assert [e.kind for e in events] == ["result", "output"]
    assert (again.changes()["cost"], again.changes()["tokens_in"]) == (0.25, 7)
    assert again.changes()["read_offset"] == log.stat().st_size


def test_a_vanished_file_reads_as_nothing(tmp_path: Path) -> None:
    """When the output file is gone (moved to the trash), reading yields nothing."""
    tail = Tail(str(tmp_path / "gone.log"), 0, "claude", Summary())
    assert tail.read() == []


def test_a_flooding_agent_is_read_in_bounded_steps_and_rotated(tmp_path: Path) -> None:
    """When an agent writes 40 MB at once, one look reads at most CHUNK and skips ahead to
    the newest output; a line past LINE_MAX comes out cut; rotation keeps the file within
    its cap and reading goes on from the new start."""
    log = tmp_path / "1.log"
    with log.open("wb") as f:
        f.write(b"x" * (40 << 20) + b"\n" + INIT.encode() + b"\n")
    tail = Tail(str(log), 0, "claude", Summary())
    assert tail.read() == [INIT]
    assert tail.offset == log.stat().st_size
    assert tail.skipped > 30 << 20
    with log.open("ab") as f:
        f.write(b"y" * (LINE_MAX + 10) + b"\n")
    cut = tail.read() + tail.read()
    assert cut == ["y" * LINE_MAX + CUT_MARK]
    assert [e.kind for e in tail.parse(cut)] == ["output"]
    tail.rotate(LogCap(size=1 << 20, files=2))
    assert log.stat().st_size == 0
    assert (tmp_path / "1.log.1").stat().st_size <= 1 << 20
    with log.open("ab") as f:
        f.write(RESULT.encode() + b"\n")
    assert [e.kind for e in tail.parse(tail.read())] == ["result"]
    assert tail.changes()["read_offset"] == log.stat().st_size
