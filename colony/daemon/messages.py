"""What a colony's actor can be asked to do: one frozen dataclass per message (issue 13).

A caller builds the message (``Remove(force=True)``), so a wrong field name or type is a
mypy error where it is written, not a ``TypeError`` inside the actor. Each message names the
type of its reply, so :meth:`ColonyActor.ask <colony.daemon.actor.ColonyActor.ask>` returns
that type. Who asked is not part of the message; it travels beside it, on the envelope.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, TypeVar, get_args

R = TypeVar("R", covariant=True)


@dataclass(frozen=True)
class Ask(Generic[R]):
    """A message to a colony's actor whose reply is an ``R``."""


@dataclass(frozen=True)
class Spawn(Ask[None]):
    """Run the spawn pipeline of a colony just stored."""


@dataclass(frozen=True)
class Start(Ask[bool]):
    """Start the colony; the reply is False when it already runs."""


@dataclass(frozen=True)
class Stop(Ask[bool]):
    """Stop the colony; the reply is False when it is already stopped or failed."""


@dataclass(frozen=True)
class Restart(Ask[None]):
    """Stop the colony, then start it again."""


@dataclass(frozen=True)
class Remove(Ask[dict[str, Any]]):
    """Remove the colony (``force``: even while it runs); the reply says what was kept."""

    force: bool = False


@dataclass(frozen=True)
class Exited(Ask[None]):
    """A service's process ``pid`` ended with ``code`` (None: unknown, it was not our child)."""

    service: str
    pid: int
    code: int | None


@dataclass(frozen=True)
class RestartService(Ask[None]):
    """A service's backoff is over: start it again."""

    service: str


@dataclass(frozen=True)
class Adopt(Ask[None]):
    """Take the colony over after a daemon restart or an actor crash."""


ColonyMessage = Spawn | Start | Stop | Restart | Remove | Exited | RestartService | Adopt
"""Every message a colony's actor handles; its dispatch matches on all of them."""

MESSAGES: tuple[type[Ask[Any]], ...] = get_args(ColonyMessage)

REQUESTS: dict[str, type[Start | Stop | Restart]] = {
    "start": Start,
    "stop": Stop,
    "restart": Restart,
}
"""The messages the API's ``/colonies/{name}/{action}`` asks for, by the action's name."""


def check_message(msg: object) -> ColonyMessage:
    """``msg`` if it is a colony message; a :class:`TypeError` naming what came instead."""
    if not isinstance(msg, ColonyMessage):
        names = ", ".join(t.__name__ for t in MESSAGES)
        raise TypeError(f"not a colony message: {msg!r} (expected one of {names})")
    return msg
