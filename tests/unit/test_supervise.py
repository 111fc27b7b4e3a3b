"""Supervision decisions: one call, one assert."""

from __future__ import annotations

from dataclasses import dataclass

from colony.core.model import ServiceRecord, ServiceState
from colony.core.supervise import Notify, StartLater, backoff_delay, on_exit, on_ready, on_started


@dataclass(frozen=True)
class P:
    restart: str = "on-failure"
    retries: int = 3
    backoff: float = 0.5


def running(restarts: int = 0, at: float = 100.0) -> ServiceRecord:
    return ServiceRecord("web", ServiceState.RUNNING, pid=42, started=7, restarts=restarts, at=at)


def test_failure_schedules_restart_with_backoff() -> None:
    """When a service fails for the first time, it is restarted after the base delay."""
    svc, actions = on_exit(running(), 1, P(), now=101.0)
    assert (svc.state, svc.restarts, svc.pid, svc.exit_code) == (ServiceState.BACKOFF, 1, None, 1)
    assert actions[-1] == StartLater("web", 0.5)


def test_backoff_doubles_and_caps() -> None:
    """When restarts pile up, the delay doubles and stops at 30 s."""
    assert [backoff_delay(P(), n) for n in range(4)] == [0.5, 1.0, 2.0, 4.0]
    assert backoff_delay(P(), 20) == 30.0


def test_gives_up_after_retries() -> None:
    """When a service used up its retries, it is fatal and a note says so."""
    svc, actions = on_exit(running(restarts=3), 2, P(), now=101.0)
    assert svc.state is ServiceState.FATAL
    assert actions == [Notify("web", "web: gave up after 3 restarts (last exit 2)")]


def test_clean_exit_with_on_failure_is_not_restarted() -> None:
    """When an on-failure service exits 0, it stays exited."""
    svc, actions = on_exit(running(), 0, P(), now=101.0)
    assert (svc.state, actions) == (ServiceState.EXITED, [])


def test_always_restarts_clean_exit() -> None:
    """When an always service exits 0, it is restarted."""
    svc, actions = on_exit(running(), 0, P(restart="always"), now=101.0)
    assert svc.state is ServiceState.BACKOFF
    assert isinstance(actions[-1], StartLater)


def test_never_is_never_restarted() -> None:
    """When a never service fails, it stays exited."""
    svc, actions = on_exit(running(), 1, P(restart="never"), now=101.0)
    assert (svc.state, actions) == (ServiceState.EXITED, [])


def test_unknown_exit_counts_as_failure() -> None:
    """When the exit status of an adopted process is unknown, it counts as a failure."""
    svc, actions = on_exit(running(), None, P(), now=101.0)
    assert svc.state is ServiceState.BACKOFF
    assert actions[0] == Notify("web", "web: exited unknown, restart 1 in 0.5s")


def test_stable_run_resets_restart_count() -> None:
    """When a service ran long enough before failing, its restart count starts over."""
    svc, _ = on_exit(running(restarts=3, at=100.0), 1, P(), now=200.0)
    assert (svc.state, svc.restarts) == (ServiceState.BACKOFF, 1)


def test_exit_while_stopping_is_a_stop() -> None:
    """When a service exits because it was stopped, it is stopped and not restarted."""
    stopping = ServiceRecord("web", ServiceState.STOPPING, pid=42)
    svc, actions = on_exit(stopping, -15, P(restart="always"), now=1.0)
    assert (svc.state, actions) == (ServiceState.STOPPED, [])


def test_started_then_ready() -> None:
    """When a process starts and its port answers, the service goes starting → running."""
    svc = on_started(ServiceRecord("web"), pid=9, started=123, now=5.0)
    assert (svc.state, svc.pid, svc.started) == (ServiceState.STARTING, 9, 123)
    assert on_ready(svc, 6.0).state is ServiceState.RUNNING
