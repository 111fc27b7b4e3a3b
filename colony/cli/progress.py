"""Live progress of a lifecycle request: follow /events until the colony settles.

Used by spawn, stop, start and restart; ``--no-wait`` skips it, ``--json`` keeps it quiet.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Mapping
from typing import Any

import click
from rich.console import Console
from rich.text import Text

from colony.cli.app import _client, _err_console, _out, _print_json
from colony.cli.format import (
    format_already,
    format_interrupted,
    format_service_event,
    format_settled,
    format_transition,
    format_urls,
    format_warning,
)
from colony.client import Client, EventStream
from colony.contract_responses import Colony, Transition, replace
from colony.errors import ColonyError, NotFound
from colony.present import format_duration, format_state

# States that end the wait after each lifecycle action, and the state meaning "nothing to do".
SETTLED = {
    "spawn": {"running", "failed", "stopped"},
    "start": {"running", "failed"},
    "restart": {"running", "failed"},
    "stop": {"stopped", "failed"},
}
ALREADY = {"start": "running", "stop": "stopped"}
GRACE = 2.0  # seconds to wait for a queued request to show up as a transition
POLL_EVERY = 2.0  # re-read the colony this often when no event arrives


class _Progress:
    """What one colony did since a request made at ``asked`` (unix time), shown as it happens.

    Transitions come from /events and from re-reads of the colony; both overlap, so each is
    taken once (by its timestamp). Only states entered after the request are printed.
    """

    def __init__(self, colony: Colony, asked: float, err: Console | None) -> None:
        self.name = colony.name
        self.asked = asked
        self.err = err
        self.state = colony.state
        self.step = colony.step
        self.reason = colony.reason
        self.since: float | None = None  # when the current state began
        self.moved = False  # a transition happened after the request
        self.seen = 0.0
        # Later transitions arrive as events, in order with the service events.
        for tr in colony.transitions:
            if tr.at < asked:
                self.transition(tr)

    def transition(self, tr: Transition) -> None:
        at = tr.at
        if at <= self.seen:
            return
        self.seen = at
        if at >= self.asked:
            if self.err is not None and self.moved and self.since is not None:
                self.err.print(format_transition(self.state, at - self.since))
            self.moved = True
        self.state, self.since = tr.state, at
        self.step, self.reason = tr.step, tr.reason

    def event(self, event: Mapping[str, Any]) -> None:
        kind = event.get("type")
        if kind == "state":
            step, reason = event.get("step"), event.get("reason")
            self.transition(
                Transition(
                    state=str(event.get("state")),
                    at=float(event.get("at") or 0),
                    step=None if step is None else str(step),
                    reason=None if reason is None else str(reason),
                )
            )
        elif kind == "service" and self.err is not None:
            self.err.print(format_service_event(event))
        elif kind == "removed":
            raise NotFound(f"colony '{self.name}' was removed while it was {self.state}")

    def settled(self, action: str, waited: float) -> bool:
        if self.state not in SETTLED[action]:
            return False
        return self.moved or self.state == ALREADY.get(action) or waited > GRACE

    def label(self) -> str:
        took = "" if self.since is None else " " + format_duration(time.time() - self.since)
        return f"{self.state}{took}"


def _wait(
    client: Client, events: EventStream, colony: Colony, action: str, asked: float, show: bool
) -> None:
    """Follow a colony on /events until it settles after ``action``, showing progress.

    Raises:
        ColonyError: the colony failed (naming the step and the reason) or was removed.
    """
    err = _err_console()
    progress = _Progress(colony, asked, err if show else None)
    began = last_poll = time.monotonic()
    status = err.status(progress.label()) if show and err.is_terminal else None
    with status or contextlib.nullcontext():
        while not progress.settled(action, time.monotonic() - began):
            event = events.recv(timeout=0.2)
            if event is not None:
                progress.event(event)
            elif time.monotonic() - last_poll >= POLL_EVERY:
                # Events are the fast path; a re-read also ends a wait whose events were missed.
                last_poll = time.monotonic()
                for tr in client.colony(progress.name).transitions:
                    progress.transition(tr)
            if status is not None:
                status.update(progress.label())
    if progress.state == "failed":
        where = f" at {progress.step}" if progress.step else ""
        raise ColonyError(
            f"colony '{progress.name}' failed{where}: {progress.reason or 'no reason given'}",
            hint=f"see its logs with 'colony logs {progress.name}'",
        )


def _already(name: str, colony: Colony, as_json: bool) -> bool:
    """True (after saying so) when the request had nothing to do: a start of a running
    colony, a stop of a stopped one (issue 12: both succeed)."""
    if not colony.already:
        return False
    if as_json:
        _print_json(colony)
    else:
        _err_console().print(format_already(name, colony.already))
    return True


def _lifecycle(
    ctx: click.Context,
    name: str,
    action: str,
    call: Callable[[Client], Colony],
    wait: bool,
    as_json: bool,
) -> None:
    client = _client(ctx)
    if not wait:
        colony = call(client)
        if _already(name, colony, as_json):
            return
        if as_json:
            _print_json(colony)
        else:
            _print_warnings(colony)
            _out(Text.assemble(f"colony '{name}' is ", format_state(colony.state)))
        return
    began = time.monotonic()
    with client.events(name) as events:
        asked = time.time()
        colony = call(client)
        if _already(name, colony, as_json):
            return
        if not as_json:
            _print_warnings(colony)
        try:
            _wait(client, events, colony, action, asked, show=not as_json)
        except ColonyError:
            if as_json:
                with contextlib.suppress(ColonyError):
                    _print_json(_with_warnings(client.colony(name), colony))
            raise
        except KeyboardInterrupt:
            # Ctrl-C ends the watching; the request goes on in Mycelium (issue 12).
            _err_console().print(format_interrupted(action, name))
            raise
    final = client.colony(name)
    if as_json:
        _print_json(_with_warnings(final, colony))
        return
    _err_console().print(format_settled(name, final.state, time.monotonic() - began))
    urls = {s.name: s.url for s in final.services}
    if final.state == "running" and any(urls.values()):
        _out(format_urls(urls))


def _with_warnings(final: Colony, answer: Colony) -> Colony:
    """``final`` with the warnings the request's ``answer`` had (a spawn's), if it had any."""
    return final if answer.warnings is None else replace(final, warnings=answer.warnings)


def _print_warnings(colony: Colony) -> None:
    """The warnings a request returned (a spawn's: config typos, uncommitted changes)."""
    err = _err_console()
    for warning in colony.warnings or []:
        err.print(format_warning(warning))
