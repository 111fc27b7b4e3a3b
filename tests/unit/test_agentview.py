"""Bloom's agent view (issue 18), pure: the list's status words, last event line and
totals; the timeline's entries, plain capped text whatever the agent printed."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from colony.core.agents.session import SessionRecord
from colony.web import agentview


def session(status: str, **kw: object) -> SessionRecord:
    return SessionRecord(
        1, "web", "claude", "claude", "task", ("claude",), status, "ann", 1.0, "", **kw
    )  # type: ignore[arg-type]


def test_status_words() -> None:
    assert agentview.status_of(None, queued=False) == ""
    assert agentview.status_of(None, queued=True) == "waiting"
    assert agentview.status_of(session("running"), queued=False) == "running"
    assert agentview.status_of(session("completed"), queued=False) == "done"
    assert agentview.status_of(session("failed"), queued=False) == "failed"
    assert agentview.status_of(session("lost"), queued=False) == "failed"
    assert agentview.status_of(session("interrupted"), queued=False) == "stopped"


def test_totals_add_what_sessions_reported() -> None:
    none = agentview.totals([session("completed")])
    assert none.text == ""
    both = agentview.totals(
        [
            session("completed", cost=0.01, tokens_in=900, tokens_out=10),
            session("completed", cost=0.002, tokens_in=300),
            session("running"),
        ]
    )
    assert both.text == "$0.0120 · 1.2k in / 10 out"


def test_the_last_line_is_one_capped_line() -> None:
    assert agentview.line_of(None) == ""
    event = {"kind": "text", "tool": None, "text": "first\nsecond"}
    assert agentview.line_of(event) == "message: first"
    long = agentview.line_of({"kind": "output", "text": "x" * 1000})
    assert len(long) == agentview.MAX_LINE
    assert long.endswith("…")
    assert agentview.line_of({"kind": "result", "text": ""}) == "result"


def test_the_timeline_keeps_the_last_events_capped() -> None:
    events = [{"seq": i, "at": 1.0, "kind": "text", "text": str(i)} for i in range(500)]
    entries = agentview.timeline(events)
    assert len(entries) == agentview.MAX_EVENTS
    assert entries[-1].text == "499"
    odd = agentview.timeline([{"seq": 1, "at": "x", "kind": "<b>", "tool": "T" * 500}])[0]
    assert (odd.kind, odd.at, len(odd.tool)) == ("other", None, agentview.MAX_TOOL)


@given(st.text(max_size=300), st.text(max_size=300))
def test_any_text_comes_out_without_control_characters(tool: str, text: str) -> None:
    entry = agentview.timeline([{"seq": 1, "kind": "tool_call", "tool": tool, "text": text}])[0]
    line = agentview.line_of({"kind": "tool_call", "tool": tool, "text": text})
    for shown in (entry.tool, entry.text, line):
        assert not any(ord(c) < 32 and c not in "\n\t" for c in shown)
        assert "\x1b" not in shown
    assert "\n" not in line
