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
from colony.client import Client, EventStream, Json
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

    def __init__(self, colony: Json, asked: float, err: Console | None) -> None:
        self.name = str(colony.get("name"))
        self.asked = asked
        self.err = err
        self.state = str(colony.get("state"))
        self.step: str | None = colony.get("step")
        self.reason: str | None = colony.get("reason")
        self.since: float | None = None  # when the current state began
        self.moved = False  # a transition happened after the request
        self.seen = 0.0
        # Later transitions arrive as events, in order with the service events.
        for tr in colony.get("transitions") or []:
            if float(tr.get("at") or 0) < asked:
                self.transition(tr)

    def transition(self, tr: Mapping[str, Any]) -> None:
        at = float(tr.get("at") or 0)
        if at <= self.seen:
            return
        self.seen = at
        if at >= self.asked:
            if self.err is not None and self.moved and self.since is not None:
                self.err.print(format_transition(self.state, at - self.since))
            self.moved = True
        self.state, self.since = str(tr.get("state")), at
        self.step, self.reason = tr.get("step"), tr.get("reason")

    def event(self, event: Mapping[str, Any]) -> None:
        kind = event.get("type")
        if kind == "state":
            self.transition(event)
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
    client: Client, events: EventStream, colony: Json, action: str, asked: float, show: bool
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
                for tr in client.colony(progress.name).get("transitions") or []:
                    progress.transition(tr)
            if status is not None:
                status.update(progress.label())
    if progress.state == "failed":
        where = f" at {progress.step}" if progress.step else ""
        raise ColonyError(
            f"colony '{progress.name}' failed{where}: {progress.reason or 'no reason given'}",
            hint=f"see its logs with 'colony logs {progress.name}'",
        )


def _already(name: str, colony: Json, as_json: bool) -> bool:
    """True (after saying so) when the request had nothing to do: a start of a running
    colony, a stop of a stopped one (issue 12: both succeed)."""
    if not colony.get("already"):
        return False
    if as_json:
        _print_json(colony)
    else:
        _err_console().print(format_already(name, str(colony["already"])))
    return True


def _lifecycle(
    ctx: click.Context,
    name: str,
    action: str,
    call: Callable[[Client], Json],
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
            _out(Text.assemble(f"colony '{name}' is ", format_state(str(colony.get("state")))))
        return
    began = time.monotonic()
    with client.events(name) as events:
        asked = time.time()
        colony = call(client)
        if _already(name, colony, as_json):
            return
        said = {"warnings": colony["warnings"]} if "warnings" in colony else {}
        if not as_json:
            _print_warnings(colony)
        try:
            _wait(client, events, colony, action, asked, show=not as_json)
        except ColonyError:
            if as_json:
                with contextlib.suppress(ColonyError):
                    _print_json({**client.colony(name), **said})
            raise
        except KeyboardInterrupt:
            # Ctrl-C ends the watching; the request goes on in Mycelium (issue 12).
            _err_console().print(format_interrupted(action, name))
            raise
    final = client.colony(name)
    if as_json:
        _print_json({**final, **said})
        return
    _err_console().print(format_settled(name, str(final.get("state")), time.monotonic() - began))
    urls = {s.get("name"): s.get("url") for s in final.get("services") or []}
    if final.get("state") == "running" and any(urls.values()):
        _out(format_urls(urls))


def _print_warnings(colony: Json) -> None:
    """The warnings a request returned (a spawn's: config typos, uncommitted changes)."""
    err = _err_console()
    for warning in colony.get("warnings") or []:
        err.print(format_warning(str(warning)))
