"""Which lifecycle requests are allowed in which state, and the order of spawn steps.

Pure: raises Conflict with a hint when a request does not fit the colony's state.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from colony.core.model import ServiceState, State
from colony.core.states import shown_state as shown_state  # here before issue 15
from colony.errors import Conflict

# Steps of a spawn, in order; each is also the state the colony shows while it runs.
SPAWN_STEPS = (State.SPAWNING, State.PROVISIONING, State.BUILDING, State.STARTING)


def check_stop(name: str, state: State) -> bool:
    """True if a stop has work to do; False if the colony is already stopped."""
    return state not in (State.STOPPED, State.FAILED)


def check_start(name: str, state: State) -> bool:
    """True if a start has work to do; False if the colony is already running (issue 12: a
    start, like a stop, is idempotent)."""
    if state is State.RUNNING:
        return False
    if state not in (State.STOPPED, State.FAILED):
        raise Conflict(
            f"colony '{name}' is {state}; it can be started once stopped",
            hint=f"wait for it, or run 'colony stop {name}' first",
        )
    return True


def check_remove(name: str, state: State, force: bool) -> None:
    if force or state in (State.STOPPED, State.FAILED):
        return
    raise Conflict(
        f"colony '{name}' is {state}; stop it before removing it",
        hint=f"run 'colony stop {name}' or 'colony rm --force {name}'",
    )


def check_spawn(name: str, existing: State | None, trashed: Sequence[int] = ()) -> None:
    """A name is free only when no colony has it, failed or not, and no trash entry does
    (issue 12): a spawn never replaces or shadows anything, and a trashed colony stays
    restorable under its name.

    Args:
        existing: the state of the colony of that name, if any.
        trashed: ids of the trash entries of that name.
    """
    if existing is State.FAILED:
        raise Conflict(
            f"colony '{name}' already exists (failed)",
            hint=f"pick another name, or remove it with 'colony rm {name}' and then "
            f"'colony trash purge {name}'",
        )
    if existing is not None:
        raise Conflict(
            f"colony '{name}' already exists ({existing})",
            hint=f"pick another name, or remove it with 'colony rm {name}'",
        )
    if trashed:
        entries = ", ".join(str(i) for i in trashed)
        raise Conflict(
            f"colony '{name}' is in the trash (entry {entries})",
            hint=f"bring it back with 'colony trash restore {name}', or delete it for good "
            f"with 'colony trash purge {name}'",
        )


def plan_degraded(state: State, services: Mapping[str, ServiceState]) -> tuple[str, ...]:
    """The services that gave up (fatal) while the colony runs, sorted: a running colony
    with any is *degraded* (issue 12). Its state stays ``running``, so what waits for
    ``running`` still works; front ends show ``degraded`` instead, until it recovers (a
    restart of the colony) or stops.

    Example:
        >>> plan_degraded(State.RUNNING, {"web": ServiceState.FATAL, "db": ServiceState.RUNNING})
        ('web',)
    """
    if state is not State.RUNNING:
        return ()
    return tuple(sorted(n for n, s in services.items() if s is ServiceState.FATAL))


def needs_setup(provisioned: bool) -> bool:
    """Setup commands run once per colony; build commands run on every start."""
    return not provisioned
