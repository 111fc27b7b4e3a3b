"""Broods: one objective given to N colonies. Naming, scheduling and ranking. Pure.

Example:
    >>> plan_brood_name("Fix the login bug!", "3f2a")
    'fix-the-login-bug-3f2a'
    >>> plan_starts([("b-1", "agent"), ("b-2", "queued"), ("b-3", "queued")], 2)
    ['b-2']
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from colony.core.model import check_name
from colony.errors import ConfigError

MAX_COUNT = 64
# Member states, in order: its colony is being made, it waits for an agent slot, its agent
# runs, its [check] runs, it is finished, or it failed (its colony or agent could not start).
MEMBER_STATES = ("spawning", "queued", "agent", "checking", "done", "failed")
FINISHED = ("done", "failed")


def plan_brood_name(objective: str, suffix: str) -> str:
    """A brood name from the objective's first words and a random ``suffix``."""
    slug = re.sub(r"[^a-z0-9]+", "-", objective.lower()).strip("-")
    if len(slug) > 24:  # whole words only, when there is more than one
        cut = slug[:25].rfind("-")
        slug = slug[: cut if cut > 0 else 24].strip("-")
    return f"{slug or 'brood'}-{suffix}"


def plan_member_names(brood: str, count: int) -> list[str]:
    """Colony names ``<brood>-1`` … ``<brood>-N``, each a valid colony name."""
    return [check_name(f"{brood}-{i}", "brood member name") for i in range(1, count + 1)]


def check_brood(objective: object, count: object, max_parallel: object) -> None:
    """Raise ConfigError for an empty objective or counts out of range."""
    if not isinstance(objective, str) or not objective.strip():
        raise ConfigError(f"objective: expected a non-empty task, got {objective!r}")
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_COUNT:
        raise ConfigError(f"--count: expected an integer 1-{MAX_COUNT}, got {count!r}")
    if isinstance(max_parallel, bool) or not isinstance(max_parallel, int) or max_parallel < 1:
        raise ConfigError(
            f"--max-parallel: expected an integer of at least 1, got {max_parallel!r}"
        )


def plan_starts(members: Iterable[tuple[str, str]], max_parallel: int) -> list[str]:
    """Queued members whose agents may start now, so at most ``max_parallel`` run at once."""
    members = list(members)
    running = sum(1 for _, state in members if state == "agent")
    free = max(0, max_parallel - running)
    return [name for name, state in members if state == "queued"][:free]


@dataclass(frozen=True)
class MemberResult:
    """What ranking looks at for one member."""

    colony: str
    position: int
    state: str
    status: str | None = None  # its agent session's status
    check: bool | None = None  # [check] passed; None when there is none or it did not run
    lines: int | None = None  # lines added + deleted against the base
    duration: float | None = None  # seconds its agent ran
    cost: float | None = None  # USD


def rank_key(m: MemberResult) -> tuple[Any, ...]:
    """Better first: check passed, agent completed, changed something, smaller diff, faster,
    cheaper; the order of spawning breaks ties."""
    return (
        {True: 0, None: 1, False: 2}[m.check],
        0 if m.status == "completed" else 1,
        0 if m.lines else 1,
        m.lines or 0,
        m.duration if m.duration is not None else math.inf,
        m.cost if m.cost is not None else math.inf,
        m.position,
    )


def rank(members: Iterable[MemberResult]) -> list[MemberResult]:
    return sorted(members, key=rank_key)


def brood_state(states: Iterable[str]) -> str:
    """``running`` until every member has finished, then ``done``."""
    return "done" if all(s in FINISHED for s in states) else "running"


@dataclass(frozen=True)
class BroodRecord:
    name: str
    objective: str
    repo: str
    base: str  # the commit every member starts from
    count: int
    max_parallel: int
    state: str  # running | done | picked
    owner: str
    created: float
    target: str | None = None  # the branch `pick` merges into
    agent: str | None = None  # preset, or None for colony.toml's [agent]
    command: str | None = None  # command template instead of a preset
    picked: str | None = None


@dataclass(frozen=True)
class MemberRecord:
    brood: str
    colony: str
    position: int
    state: str  # one of MEMBER_STATES
    reason: str | None = None
    session: int | None = None
    check_code: int | None = None  # exit code of [check]; None when there is no [check]
    check_output: str | None = None
    diff_files: int | None = None
    diff_lines: int | None = None
