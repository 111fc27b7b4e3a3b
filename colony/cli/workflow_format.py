"""Rendering of agent sessions, review results, the trash and broods (issue 6). Pure: each
``format_*`` takes the API's JSON and returns a :class:`rich.text.Text`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rich.text import Text

from colony.contract_responses import (
    AgentEvent,
    Brood,
    Conflict,
    Merged,
    Picked,
    PurgedEntry,
    Session,
    Snapshot,
    TrashEntry,
    Undone,
    dump,
)
from colony.core.notices import exit_text, plural
from colony.core.review import render_visible
from colony.present import format_age, format_duration, grid, header

STATUS_STYLE = {
    "running": "cyan",
    "completed": "green",
    "failed": "red",
    "interrupted": "yellow",
    "lost": "magenta",
    "done": "green",
    "picked": "green",
    "queued": "dim",
    "spawning": "dim",
    "agent": "cyan",
    "checking": "cyan",
}


def _status(status: object) -> Text:
    text = str(status or "-")
    return Text(text, style=STATUS_STYLE.get(text, ""))


def _first_line(text: object, width: int = 60) -> str:
    """The first line of text an agent or a colony wrote, cut to ``width``, its terminal
    control characters shown as ``\\xNN`` (an objective or a result could carry escapes)."""
    line = str(text or "").strip().splitlines()[0] if str(text or "").strip() else ""
    line = render_visible(line)
    return line if len(line) <= width else line[: width - 1] + "…"


def format_cost(cost: object) -> str:
    return f"${cost:.4f}" if isinstance(cost, int | float) else "-"


def format_tokens(tokens_in: object, tokens_out: object) -> str:
    if not isinstance(tokens_in, int) and not isinstance(tokens_out, int):
        return "-"
    return f"{tokens_in or 0}/{tokens_out or 0}"


def _took(duration: float | None) -> str:
    return "-" if duration is None else format_duration(duration)


# --- agent sessions -----------------------------------------------------------------------


def format_sessions(sessions: Sequence[Session], now: float) -> Text:
    """The ``colony agent ls`` table."""
    if not sessions:
        return Text("no agent sessions")
    rows = [header("ID", "COLONY", "AGENT", "STATUS", "STARTED", "TOOK", "COST", "TOKENS", "TASK")]
    for s in sessions:
        rows.append(
            [
                Text(str(s.id)),
                Text(s.colony),
                Text(s.agent),
                _status(s.status),
                Text(format_age(s.started, now) if s.started else "-"),
                Text(_took(s.duration)),
                Text(format_cost(s.cost)),
                Text(format_tokens(s.tokens_in, s.tokens_out)),
                Text(_first_line(s.task, 40)),
            ]
        )
    return grid(rows)


def format_session(s: Session, now: float) -> Text:
    """``colony agent show``: the session, then its last events."""
    out = Text()
    out.append(f"session {s.id}", style="bold")
    out.append(f" of colony {s.colony}: {s.agent} ")
    out.append_text(_status(s.status))
    if s.exit_code is not None:
        out.append(f" ({exit_text(s.exit_code)})")
    rows = [
        ("task", _first_line(s.task, 200)),
        ("session id", s.session_id or "-"),
        ("model", s.model or "-"),
        ("started", format_age(s.started, now) if s.started else "-"),
        ("took", _took(s.duration)),
        ("cost", format_cost(s.cost)),
        ("tokens in/out", format_tokens(s.tokens_in, s.tokens_out)),
        ("result", _first_line(s.result, 200) or "-"),
    ]
    if s.parent:
        rows.append(("continues", f"session {s.parent}"))
    if s.brood:
        rows.append(("brood", s.brood))
    for key, value in rows:
        out.append(f"\n  {key:<14}{value}")
    events = s.events or []
    if events:
        out.append("\n")
        for event in events:
            out.append("\n")
            out.append_text(format_agent_event(event))
    return out


EVENT_MARK = {
    "init": ("●", "dim"),
    "text": ("│", ""),
    "thinking": ("…", "dim"),
    "tool_call": ("→", "cyan"),
    "tool_result": ("←", "dim"),
    "result": ("■", "bold"),
    "error": ("✗", "red"),
    "output": (" ", "dim"),
    "ended": ("■", "bold"),
}


def format_agent_event(event: Mapping[str, Any] | AgentEvent) -> Text:
    """One event of a session on one line: a mark for its kind, then its text. ``event``:
    one of a session's (typed), or a line of its followed stream (which ends with "ended")."""
    shown: Mapping[str, Any] = dump(event) if isinstance(event, AgentEvent) else event
    return _event_line(shown)


def _event_line(event: Mapping[str, Any]) -> Text:
    kind = str(event.get("kind"))
    mark, style = EVENT_MARK.get(kind, ("?", ""))
    if kind == "ended":
        text = (
            f"{event.get('status')} ({exit_text(event.get('exit_code'))}), "
            f"cost {format_cost(event.get('cost'))}"
        )
    elif kind == "tool_result" and (event.get("data") or {}).get("is_error"):
        style = "red"
        text = _first_line(event.get("text"), 160)
    else:
        text = _first_line(event.get("text"), 160)
    return Text.assemble((f"{mark} ", style), (text, style if kind != "text" else ""))


def format_started(s: Session) -> Text:
    return Text(
        f"started agent session {s.id} ({s.agent}) in colony {s.colony}\n"
        f"follow it with: colony agent logs {s.colony} {s.id} -f"
    )


# --- review -------------------------------------------------------------------------------


def format_agent_interrupted(name: str, session: object) -> Text:
    """Ctrl-C stops the watching, not the agent (issue 12)."""
    return Text(
        f"agent session {session} of colony '{name}' is still running; "
        f"'colony agent stop {name}' to stop it, 'colony agent logs {name} -f' to watch again"
    )


def format_merge(result: Merged) -> Text:
    name, into = result.colony, result.into
    if not result.merged:
        return Text(f"colony '{name}' has nothing to merge into {into}: it is up to date")
    how = (
        "squashed" if result.squash else ("fast-forward" if result.fast_forward else "merge commit")
    )
    lines = [f"merged colony '{name}' into {into} ({how}): {str(result.commit)[:12]}"]
    if result.committed_work:
        lines.append(f"its uncommitted work was first committed on colony/{name}")
    return Text("\n".join(lines))


def format_conflicts(conflicts: Sequence[Conflict]) -> Text:
    if not conflicts:
        return Text("no file is changed in more than one colony")
    rows = [header("FILE", "COLONIES", "REPOSITORY")]
    for c in conflicts:
        rows.append([Text(c.path), Text(", ".join(c.colonies)), Text(c.repo)])
    return grid(rows)


def format_snapshots(snapshots: Sequence[Snapshot], now: float) -> Text:
    if not snapshots:
        return Text("no snapshots")
    rows = [header("N", "TAKEN", "SESSION", "COMMIT", "MESSAGE")]
    for s in snapshots:
        session = f"{s.session} {s.turn or ''}".strip() if s.session else "-"
        rows.append(
            [
                Text(str(s.number)),
                Text(format_age(s.at, now) if s.at else "-"),
                Text(session),
                Text(s.commit[:12]),
                Text(_first_line(s.message)),
            ]
        )
    return grid(rows)


def format_snapshot(s: Snapshot) -> Text:
    return Text(f"snapshot {s.number} of colony '{s.colony}': {s.commit[:12]} ({s.ref})")


def format_undo(result: Undone) -> Text:
    text = f"restored colony '{result.colony}' to snapshot {result.restored.number}"
    if result.saved is not None:
        text += f"; what it replaced is snapshot {result.saved.number}"
    return Text(text)


def format_trash(entries: Sequence[TrashEntry], now: float) -> Text:
    if not entries:
        return Text("the trash is empty")
    rows = [header("ID", "NAME", "REMOVED", "OWNER", "BRANCH", "SNAPSHOT")]
    for e in entries:
        rows.append(
            [
                Text(str(e.id)),
                Text(e.name),
                Text(format_age(e.removed, now) if e.removed else "-"),
                Text(e.owner or "-"),
                Text(e.branch or "-"),
                Text((e.snapshot or "-")[:12]),
            ]
        )
    return grid(rows)


def format_trash_plain(entries: Sequence[TrashEntry], strays: Sequence[str] = ()) -> str:
    """What ``colony trash purge --all`` is about to delete, one entry a line, then what gc
    moved into the trash."""
    lines = [f"  -  {path}  (moved there by gc)" for path in strays]
    for e in entries:
        branch = e.branch or "no branch"
        snap = (e.snapshot or "")[:12]
        lines.append(f"  {e.id}  {e.name}  ({branch}" + (f", snapshot {snap})" if snap else ")"))
    return "\n".join(lines)


def format_purged(purged: Sequence[PurgedEntry]) -> Text:
    if not purged:
        return Text("the trash is empty")
    lines = []
    for p in purged:
        if p.id is None:
            lines.append(f"deleted {p.dir} (moved to the trash by gc)")
            continue
        refs = len(p.deleted_refs)
        lines.append(f"purged trash entry {p.id} ({p.name}): {refs} refs deleted")
    return Text("\n".join(lines))


# --- broods -------------------------------------------------------------------------------


_CHECK = {True: Text("passed", "green"), False: Text("failed", "red")}


def format_brood(brood: Brood, now: float) -> Text:
    """``colony brood show``: the brood, then its members best first."""
    out = Text()
    out.append(f"brood {brood.name}", style="bold")
    out.append(" ")
    out.append_text(_status(brood.state))
    if brood.picked:
        out.append(f" ({brood.picked})")
    out.append(f"\n  objective     {_first_line(brood.objective, 200)}")
    out.append(f"\n  base          {brood.base[:12]}  into {brood.target or '-'}")
    out.append(f"\n  agents        {brood.count}, at most {brood.max_parallel} at once")
    members = sorted(brood.members, key=lambda m: m.rank or 0)
    if not members:
        return out
    rows = [header("RANK", "COLONY", "STATE", "CHECK", "AGENT", "DIFF", "TOOK", "COST")]
    for m in members:
        check = Text("-") if m.check is None else _CHECK[m.check]
        diff = (
            "-"
            if m.diff_lines is None
            else f"{plural(m.diff_files or 0, 'file')}, {plural(m.diff_lines, 'line')}"
        )
        rows.append(
            [
                Text(str(m.rank)),
                Text(m.colony, style="" if m.exists else "dim"),
                _status(m.state),
                check,
                _status(m.status),
                Text(diff),
                Text(_took(m.duration)),
                Text(format_cost(m.cost)),
            ]
        )
    out.append("\n\n")
    out.append_text(grid(rows, indent=2))
    for m in members:
        if m.reason:
            out.append(f"\n  {m.colony}: {m.reason}", style="red")
    return out


def format_broods(broods: Sequence[Brood], now: float) -> Text:
    if not broods:
        return Text("no broods")
    rows = [header("NAME", "STATE", "MEMBERS", "CREATED", "OBJECTIVE")]
    for b in broods:
        done = sum(1 for m in b.members if m.state in ("done", "failed"))
        rows.append(
            [
                Text(b.name),
                _status(b.state),
                Text(f"{done}/{len(b.members)} finished"),
                Text(format_age(b.created, now) if b.created else "-"),
                Text(_first_line(b.objective, 50)),
            ]
        )
    return grid(rows)


def format_pick(result: Picked) -> Text:
    lines = [f"picked {result.picked} of brood {result.brood}"]
    lines.append(str(format_merge(result.merge)))
    if result.trashed:
        lines.append(f"moved to the trash: {', '.join(result.trashed)} (colony trash restore NAME)")
    return Text("\n".join(lines))
