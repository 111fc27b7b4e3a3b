"""Pure decisions of the multi-agent workflow: agent argv, conflicts, snapshots, broods."""

from __future__ import annotations

import signal

import pytest

from colony.core.agents import plan_resume, plan_run
from colony.core.broods import (
    MemberResult,
    brood_state,
    check_brood,
    plan_brood_name,
    plan_member_names,
    plan_starts,
    rank,
)
from colony.core.config import Agent
from colony.core.review import (
    FileConflict,
    format_sensitive,
    new_conflicts,
    parse_merge_tree,
    parse_numstat,
    parse_snapshots,
    pick_snapshot,
    plan_conflicts,
    plan_sensitive,
    render_visible,
    turn_message,
)
from colony.core.trash import TrashRecord, pick_entry
from colony.errors import ConfigError, Conflict, NotFound

# --- agents -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("preset", "argv"),
    [
        ("claude", ["claude", "-p", "T", "--output-format", "stream-json", "--verbose"]),
        ("codex", ["codex", "exec", "--json", "--full-auto", "T"]),
        ("aider", ["aider", "--message", "T", "--yes-always"]),
        ("gemini", ["gemini", "-p", "T", "--output-format", "stream-json"]),
    ],
)
def test_presets_use_documented_flags(preset: str, argv: list[str]) -> None:
    """When a preset runs a task, its argv has the CLI's non-interactive flags."""
    plan = plan_run(Agent(), preset, None, "T")
    assert list(plan.argv[: len(argv)]) == argv
    assert plan.agent == preset


def test_colony_toml_picks_the_default_and_claude_is_the_fallback() -> None:
    """When no flag names the agent, [agent] decides; without one, Claude Code runs."""
    assert plan_run(Agent(preset="gemini"), None, None, "T").agent == "gemini"
    assert plan_run(Agent(), None, None, "T").agent == "claude"
    plan = plan_run(Agent(command="my-agent --task {prompt}"), None, None, "T")
    assert (plan.agent, plan.argv, plan.format) == ("command", ("my-agent", "--task", "T"), "auto")


def test_prompt_goes_into_one_argument_and_is_not_expanded() -> None:
    """When a task holds shell syntax or a field name, it stays one literal argument."""
    task = "fix it; rm -rf / {session} $(id)"
    plan = plan_run(Agent(), None, "agent --go {prompt}", task)
    assert plan.argv == ("agent", "--go", task)


def test_bad_agent_choices_are_one_line_errors() -> None:
    """When the preset is unknown, the task empty or the template lacks {prompt}, the error
    names the field, the value and what was expected."""
    with pytest.raises(
        ConfigError, match=r"^agent: unknown preset 'cursor': expected one of aider"
    ):
        plan_run(Agent(), "cursor", None, "T")
    with pytest.raises(ConfigError, match=r"^task: expected a non-empty task, got ''"):
        plan_run(Agent(), None, None, "")
    with pytest.raises(ConfigError, match=r"^task: expected a non-empty task, got '  '"):
        plan_run(Agent(), None, None, "  ")
    with pytest.raises(ConfigError, match=r"^command: expected a command containing '\{prompt\}'"):
        plan_run(Agent(), None, "my-agent", "T")
    with pytest.raises(ConfigError, match=r"^colony.toml: agent.preset: unknown preset 'x'"):
        plan_run(Agent(preset="x"), None, None, "T")


def test_resume_uses_the_same_session_id() -> None:
    """When a session is continued, the preset's resume flags carry its session id."""
    plan = plan_resume("claude", "abc-1", "go on")
    assert plan.argv[:5] == ("claude", "-p", "go on", "--resume", "abc-1")
    assert "abc-1" in plan_resume("codex", "abc-1", "go on").argv
    assert plan_resume("gemini", "abc-1", "go on").argv[:3] == ("gemini", "--resume", "abc-1")
    assert "--restore-chat-history" in plan_resume("aider", None, "go on").argv
    with pytest.raises(Conflict, match="cannot continue a session"):
        plan_resume("command", None, "go on")
    with pytest.raises(Conflict, match="reported no session id"):
        plan_resume("claude", None, "go on")


def test_interrupt_sequences() -> None:
    """When an agent is interrupted, SIGINT comes first and SIGKILL last; Aider gets two."""
    claude = plan_run(Agent(), "claude", None, "T").interrupt
    assert [s for s, _ in claude] == [signal.SIGINT, signal.SIGTERM, signal.SIGKILL]
    aider = plan_run(Agent(), "aider", None, "T").interrupt
    assert [s for s, _ in aider][:2] == [signal.SIGINT, signal.SIGINT]


# --- conflicts, snapshots, git output -------------------------------------------------------


def test_conflicts_need_two_colonies_of_one_repository() -> None:
    """When two colonies of one repo change a file it conflicts; other repos never do."""
    changed = {
        "a": ("/r", {"app.py", "x.py"}),
        "b": ("/r", {"app.py"}),
        "c": ("/other", {"app.py", "x.py"}),
    }
    assert plan_conflicts(changed) == [FileConflict("/r", "app.py", ("a", "b"))]


def test_new_conflicts_are_raised_once_and_again_for_a_third_colony() -> None:
    """When a conflict is known it is not raised again, unless another colony joins it."""
    two = [FileConflict("/r", "f", ("a", "b"))]
    three = [FileConflict("/r", "f", ("a", "b", "c"))]
    assert new_conflicts([], two) == two
    assert new_conflicts(two, two) == []
    assert new_conflicts(two, three) == three


def test_snapshots_are_numbered_oldest_first_and_per_incarnation() -> None:
    """When snapshot refs are listed, they are numbered by time; older colonies' are left out."""
    lines = "\n".join(
        [
            "refs/colony/snapshots/web/1700000100-2\0c3\0third",
            "refs/colony/snapshots/web/1700000100\0c2\0second",
            "refs/colony/snapshots/web/1600000000\0c0\0earlier colony",
            "refs/colony/snapshots/web/1700000050\0c1\0first",
            "refs/colony/snapshots/webby/1700000060\0cx\0other colony",
        ]
    )
    snaps = parse_snapshots(lines, "web", since=1700000000.5)
    assert [(s.number, s.commit, s.message) for s in snaps] == [
        (1, "c1", "first"),
        (2, "c2", "second"),
        (3, "c3", "third"),
    ]
    assert pick_snapshot(snaps, None, "web").commit == "c3"
    assert pick_snapshot(snaps, 1, "web").commit == "c1"
    with pytest.raises(NotFound, match=r"^--to 99: colony 'web' has snapshots 1-3$"):
        pick_snapshot(snaps, 99, "web")
    with pytest.raises(NotFound, match="has no snapshots"):
        pick_snapshot([], None, "web")


def test_turn_snapshots_carry_their_session_and_undo_can_pick_by_session() -> None:
    """When Mycelium's snapshots around agent turns are listed, each names its session and
    turn; --session N picks the one from before session N started; a hand-made snapshot
    has none; asking for both --to and --session, or a session without one, is an error."""
    rows = [
        ("1700000001", "c1", "colony web: snapshot"),
        ("1700000002", "c2", turn_message("web", 1, "start", "add /health\nthen tests")),
        ("1700000003", "c3", turn_message("web", 1, "end")),
        ("1700000004", "c4", turn_message("web", 2, "start")),
        ("1700000004-2", "c5", turn_message("web", 2, "end")),
    ]
    lines = "\n".join(f"refs/colony/snapshots/web/{t}\0{c}\0{m}" for t, c, m in rows)
    snaps = parse_snapshots(lines, "web")
    assert [(s.commit, s.session, s.turn) for s in snaps] == [
        ("c1", None, None),
        ("c2", 1, "start"),
        ("c3", 1, "end"),
        ("c4", 2, "start"),
        ("c5", 2, "end"),
    ]
    assert snaps[1].message == "colony web: before agent session 1: add /health"
    assert snaps[1].to_json()["session"] == 1
    assert pick_snapshot(snaps, None, "web", session=2).commit == "c4"
    assert pick_snapshot(snaps, None, "web", session=1).commit == "c2"
    with pytest.raises(NotFound, match=r"^--session 7: colony 'web' has no snapshot from "
                       r"before agent session 7 \(sessions with one: 1, 2\)$"):  # fmt: skip
        pick_snapshot(snaps, None, "web", session=7)
    with pytest.raises(ConfigError, match=r"^--to 1 --session 1: expected one of"):
        pick_snapshot(snaps, 1, "web", session=1)


def test_git_output_parsing() -> None:
    """When git prints numstat and merge-tree output, counts and conflicted files come out."""
    stat = parse_numstat("3\t1\tapp.py\0-\t-\tlogo.png\0" + "10\t0\tnew.py\0")
    assert (stat.files, stat.added, stat.deleted, stat.lines) == (3, 13, 1, 14)
    assert parse_merge_tree("abc123\0app.py\0app.py\0x\0\0") == ("abc123", ["app.py", "x"])
    assert parse_merge_tree("abc123\0") == ("abc123", [])


def test_trash_entries_by_id_or_latest_name() -> None:
    """When a trash entry is named, an id picks it and a name picks its latest removal."""
    entries = [
        TrashRecord(i, n, float(i), "u", "/r", "{}") for i, n in [(1, "a"), (2, "a"), (3, "b")]
    ]
    assert pick_entry(entries, "a").id == 2
    assert pick_entry(entries, "1").id == 1
    with pytest.raises(NotFound, match="no entry 'zzz'"):
        pick_entry(entries, "zzz")


# --- broods -------------------------------------------------------------------------------


def test_brood_names() -> None:
    """When a brood is named from its objective, its colonies are valid names."""
    name = plan_brood_name("Add a /health route to the API!!", "3f2a")
    assert name == "add-a-health-route-to-3f2a"
    assert plan_member_names(name, 2) == [f"{name}-1", f"{name}-2"]
    assert plan_brood_name("!!!", "0000") == "brood-0000"


def test_at_most_k_agents_start() -> None:
    """When members are queued, only as many start as leave at most K agents running."""
    members = [("a", "agent"), ("b", "queued"), ("c", "queued"), ("d", "spawning")]
    assert plan_starts(members, 2) == ["b"]
    assert plan_starts(members, 3) == ["b", "c"]
    assert plan_starts([("a", "agent"), ("b", "agent"), ("c", "queued")], 2) == []


def test_ranking_prefers_passing_checks_then_small_fast_cheap() -> None:
    """When members are ranked, a passed check beats everything, then a completed agent, a
    non-empty but smaller diff, a shorter run and a lower cost."""
    members = [
        MemberResult("fails", 1, "done", "completed", False, 5, 10, 0.1),
        MemberResult("big", 2, "done", "completed", True, 50, 10, 0.1),
        MemberResult("small", 3, "done", "completed", True, 5, 20, 0.1),
        MemberResult("empty", 4, "done", "completed", True, 0, 1, 0.1),
        MemberResult("nocheck", 5, "done", "completed", None, 5, 10, 0.1),
        MemberResult("crashed", 6, "done", "failed", True, 5, 1, 0.01),
    ]
    assert [m.colony for m in rank(members)] == [
        "small",
        "big",
        "empty",
        "crashed",
        "nocheck",
        "fails",
    ]


def test_brood_input_checks() -> None:
    """When a brood's objective or counts are bad, the error names the flag."""
    with pytest.raises(ConfigError, match=r"^objective: expected a non-empty task"):
        check_brood("", 2, 1)
    with pytest.raises(ConfigError, match=r"^--count: expected an integer 1-64, got 0"):
        check_brood("x", 0, 1)
    with pytest.raises(ConfigError, match=r"^--max-parallel: expected an integer of at least 1"):
        check_brood("x", 2, 0)
    assert brood_state(["done", "failed"]) == "done"
    assert brood_state(["done", "agent"]) == "running"


def test_colony_text_is_shown_not_obeyed_on_a_terminal() -> None:
    """When diff text or a file name holds control characters, they are shown as \\xNN;
    newlines and tabs stay, and ordinary text (UTF-8 included) is untouched."""
    assert render_visible("a\tb\n\x1b[2J\x07\x9b\x7fé") == "a\tb\n\\x1b[2J\\x07\\x9b\\x7fé"
    found = plan_sensitive(["app.py", ".github/workflows/ci.yml", "x\x1b.gitattributes"])
    assert [f["path"] for f in found] == [".github/workflows/ci.yml"]
    text = format_sensitive([*found, {"path": "a/\x1bb/.gitattributes", "why": "filters"}])
    assert text.splitlines() == [
        "warning: this work changes files that configure tools or CI; review them:",
        "  .github/workflows/ci.yml: CI workflows: run with the repository's secrets",
        "  a/\\x1bb/.gitattributes: filters",
    ]
    assert format_sensitive([]) == ""
