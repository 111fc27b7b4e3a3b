"""Service supervision decisions: (service, event) → (service, actions).

Pure: time arrives as an argument. Only the daemon's runner turns actions into processes
and timers.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Protocol

from colony.core.model import ServiceRecord, ServiceState

STABLE_AFTER = 10.0  # a service that ran this long has its restart count reset
MAX_DELAY = 30.0


class Policy(Protocol):
    """The parts of a service spec supervision needs (config.ServiceSpec fits)."""

    @property
    def restart(self) -> str: ...
    @property
    def retries(self) -> int: ...
    @property
    def backoff(self) -> float: ...


@dataclass(frozen=True)
class StartLater:
    service: str
    delay: float


@dataclass(frozen=True)
class Notify:
    service: str
    message: str


Action = StartLater | Notify


def backoff_delay(policy: Policy, restarts: int) -> float:
    """Seconds to wait before restart number ``restarts + 1``: doubling, capped."""
    return float(min(MAX_DELAY, policy.backoff * (2**restarts)))


def on_started(svc: ServiceRecord, pid: int, started: int | None, now: float) -> ServiceRecord:
    return replace(
        svc, state=ServiceState.STARTING, pid=pid, started=started, exit_code=None, at=now
    )


def on_ready(svc: ServiceRecord, now: float) -> ServiceRecord:
    return replace(svc, state=ServiceState.RUNNING, at=now)


def on_stop(svc: ServiceRecord, now: float) -> ServiceRecord:
    return replace(svc, state=ServiceState.STOPPING, at=now)


def on_exit(
    svc: ServiceRecord, code: int | None, policy: Policy, now: float
) -> tuple[ServiceRecord, list[Action]]:
    """Decide what happens after a service's process exits.

    ``code`` is None when the exit status is unknown (a process adopted after a daemon restart);
    it counts as a failure.
    """
    ended = replace(svc, pid=None, started=None, exit_code=code, at=now)
    if svc.state in (ServiceState.STOPPING, ServiceState.STOPPED):
        return replace(ended, state=ServiceState.STOPPED), []
    if policy.restart == "never" or (policy.restart == "on-failure" and code == 0):
        return replace(ended, state=ServiceState.EXITED), []
    restarts = 0 if now - svc.at >= STABLE_AFTER else svc.restarts
    shown = "unknown" if code is None else str(code)
    if restarts >= policy.retries:
        note = Notify(
            svc.name, f"{svc.name}: gave up after {restarts} restarts (last exit {shown})"
        )
        return replace(ended, state=ServiceState.FATAL, restarts=restarts), [note]
    delay = backoff_delay(policy, restarts)
    backoff = replace(ended, state=ServiceState.BACKOFF, restarts=restarts + 1)
    note = Notify(svc.name, f"{svc.name}: exited {shown}, restart {restarts + 1} in {delay:g}s")
    return backoff, [note, StartLater(svc.name, delay)]
