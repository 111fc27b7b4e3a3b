"""Rendering of sessions, review results, the trash and broods (pure)."""

from __future__ import annotations

from typing import Any

from colony.cli.workflow_format import (
    format_agent_event,
    format_brood,
    format_conflicts,
    format_merge,
    format_sessions,
    format_snapshots,
    format_trash,
    format_undo,
)
from colony.contract_responses import Brood, Conflict, Merged, Snapshot, Undone, dump, load
from tests.answers import a_session

NOW = 1_700_000_100.0


def test_sessions_table() -> None:
    """When sessions are listed, each row shows status, duration, cost, tokens and the task's
    first line."""
    text = format_sessions(
        [
            a_session(
                id=3,
                status="completed",
                started=NOW - 90,
                duration=61.0,
                cost=0.0123,
                tokens_in=25040,
                tokens_out=900,
                task="fix the login bug\nand more",
            )
        ],
        NOW,
    ).plain
    assert "completed" in text
    assert "$0.0123" in text
    assert "25040/900" in text
    assert "fix the login bug" in text
    assert "and more" not in text
    assert format_sessions([], NOW).plain == "no agent sessions"


def test_snapshots_table_names_the_agent_turn_that_took_each() -> None:
    """When snapshots are listed, those taken around agent turns show session and turn."""
    text = format_snapshots(
        [
            Snapshot(number=1, ref="r1", at=NOW - 30, commit="a" * 40, message="by hand",
                     session=None, turn=None),
            Snapshot(number=2, ref="r2", at=NOW - 20, commit="b" * 40, session=4, turn="start",
                     message="colony web: before agent session 4: add /health"),
        ],
        NOW,
    ).plain.splitlines()  # fmt: skip
    assert text[0].split() == ["N", "TAKEN", "SESSION", "COMMIT", "MESSAGE"]
    assert text[1].split()[3:5] == ["-", "a" * 12]
    assert "4 start" in text[2]
    assert "b" * 12 in text[2]


def test_events_and_results_read_as_one_line_each() -> None:
    """When events and results are printed, each is one line saying what happened."""
    assert (
        format_agent_event({"kind": "tool_call", "text": "Edit: app.py"}).plain == "→ Edit: app.py"
    )
    ended = {"kind": "ended", "status": "interrupted", "exit_code": -2, "cost": None}
    assert format_agent_event(ended).plain == "■ interrupted (killed by SIGINT), cost -"
    merged = Merged(
        merged=True, colony="one", into="main", squash=True, commit="a" * 40, previous="c" * 40,
        sensitive=[],
    )  # fmt: skip
    assert format_merge(merged).plain == f"merged colony 'one' into main (squashed): {'a' * 12}"
    nothing = Merged(
        merged=False, colony="x", into="m", squash=False, commit="c", previous="c", sensitive=[]
    )
    assert "nothing to merge" in format_merge(nothing).plain

    def snap(n: int) -> Snapshot:
        return Snapshot(number=n, ref=f"r{n}", commit="a", message="", at=1.0, session=None,
                        turn=None)  # fmt: skip

    undo = Undone(colony="w", restored=snap(1), saved=snap(3))
    assert format_undo(undo).plain == (
        "restored colony 'w' to snapshot 1; what it replaced is snapshot 3"
    )
    conflicts = [Conflict(path="app.py", colonies=["one", "two"], repo="/r")]
    assert "one, two" in format_conflicts(conflicts).plain
    assert format_trash([], NOW).plain == "the trash is empty"


def test_brood_ranks_members() -> None:
    """When a brood is shown, members appear best first with their check and diff."""

    def member(**changes: Any) -> dict[str, Any]:
        data = {"brood": "fix", "position": 1, "reason": None, "session": None,
                "check_code": None, "check_output": None, "exists": True}  # fmt: skip
        return {**data, **changes}

    brood = load(Brood, {
        "name": "fix", "state": "done", "objective": "fix it", "base": "b" * 40,
        "target": "main", "count": 2, "max_parallel": 1, "repo": "/r", "owner": "al",
        "created": NOW - 60, "agent": None, "command": None, "picked": None,
        "members": [
            member(colony="fix-1", rank=2, state="done", check=False, status="completed",
                   diff_files=1, diff_lines=3, duration=5.0, cost=0.1),
            member(colony="fix-2", rank=1, state="done", check=True, status="completed",
                   diff_files=1, diff_lines=2, duration=4.0, cost=0.1),
        ],
    })  # fmt: skip
    text = format_brood(brood, NOW).plain
    assert text.index("fix-2") < text.index("fix-1")
    hostile = load(Brood, {**dump(brood), "objective": "fix\x1b]0;pwned\x07 it"})
    # no escape sequence of an objective reaches the terminal
    assert "fix\\x1b]0;pwned\\x07 it" in format_brood(hostile, NOW).plain
    assert "passed" in text
    assert "1 file, 2 lines" in text
