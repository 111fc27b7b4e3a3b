"""An agent session as stored: one run of an agent in a colony. Pure.

Statuses: ``running``; then ``completed`` (exit 0 and no error reported), ``failed``,
``interrupted`` (stopped by a user, or its colony stopped), or ``lost`` (the daemon found it
gone after a restart and could not learn how it ended).
"""

from __future__ import annotations

from dataclasses import dataclass

STATUSES = ("running", "completed", "failed", "interrupted", "lost")


@dataclass(frozen=True)
class SessionRecord:
    id: int
    colony: str
    agent: str  # preset name or "command"
    format: str
    task: str
    argv: tuple[str, ...]
    status: str
    user: str
    started: float
    log: str  # file the agent's output goes to
    ended: float | None = None
    exit_code: int | None = None
    pid: int | None = None
    pid_started: int | None = None  # start time in ticks, guards adoption against pid reuse
    read_offset: int = 0  # bytes of the log already parsed
    agent_session: str | None = None  # the agent's own session id (what resuming takes)
    model: str | None = None
    cost: float | None = None
    tokens_in: int | None = None
    tokens_out: int | None = None
    result: str | None = None
    is_error: bool = False
    parent: int | None = None  # the session this one continues
    brood: str | None = None

    @property
    def duration(self) -> float | None:
        return None if self.ended is None else max(0.0, self.ended - self.started)


def plan_status(
    *, stop_requested: bool, colony_gone: bool, code: int | None, is_error: bool, saw_result: bool
) -> str:
    """How a session ended, once its process has exited.

    Args:
        stop_requested: a user asked to stop it.
        colony_gone: its colony stopped or was removed while it ran.
        code: exit code (negative: killed by that signal; None: unknown, e.g. adopted).
        is_error: the agent reported an error result.
        saw_result: the agent printed its final result.
    """
    if stop_requested or colony_gone:
        return "interrupted"
    if code is None:
        return ("failed" if is_error else "completed") if saw_result else "lost"
    return "completed" if code == 0 and not is_error else "failed"
