"""The ``colony`` command: tables and progress for humans, ``--json`` for scripts.

Each command parses its arguments, calls :mod:`colony.client` and renders the answer with a
pure ``format_*`` function that returns a :class:`rich.text.Text`. Errors are handled in one
place (:class:`ColonyGroup`): ``error:``/``hint:`` on stderr and exit 1; usage errors exit 2;
Ctrl-C exits 130.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import select
import shutil
import signal
import sys
import termios
import threading
import time
import tty
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from pathlib import Path
from types import FrameType
from typing import IO, Any, NoReturn

import click
import click.shell_completion
from rich.console import Console
from rich.text import Text

from colony import __version__
from colony.client import (
    Client,
    DaemonUnavailable,
    EventStream,
    ExecSession,
    Json,
    default_socket,
    default_state_dir,
    ensure_daemon,
)
from colony.core.model import check_name
from colony.errors import ColonyError, ConfigError, NotFound

EMPTY = "no colonies (spawn one with 'colony spawn NAME')"
STATE_STYLES = {"running": "green", "stopped": "dim", "stopping": "yellow", "failed": "bold red"}
SERVICE_STYLES = {
    "running": "green",
    "backoff": "yellow",
    "stopping": "yellow",
    "stopped": "dim",
    "exited": "dim",
    "fatal": "bold red",
}
SOURCE_STYLES = ("cyan", "magenta", "green", "yellow", "blue", "bright_magenta", "bright_cyan")
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


# --- parsing (pure) -----------------------------------------------------------------------


def parse_pairs(values: Sequence[str], what: str = "KEY=VALUE") -> dict[str, str]:
    """``["a=1", "b=x=y"]`` → ``{"a": "1", "b": "x=y"}``; ValueError names a bad value."""
    pairs: dict[str, str] = {}
    for value in values:
        key, sep, rest = value.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"expected {what}, got {value!r}")
        pairs[key.strip()] = rest
    return pairs


def parse_value(text: str) -> int | float | str:
    """A limit's value as TOML would type it: ``"512"`` → 512, ``"1.5"`` → 1.5, else text."""
    for kind in (int, float):
        with contextlib.suppress(ValueError):
            return kind(text)
    return text


def default_colony_name(dirname: str) -> str:
    """A valid colony name from a directory name: ``"My_Shop"`` → ``"my-shop"``."""
    name = re.sub(r"[^a-z0-9-]+", "-", dirname.lower()).strip("-")
    return name[:63].strip("-") or "colony"


# --- formatting (pure) --------------------------------------------------------------------


def format_age(then: float, now: float) -> str:
    """``"just now"``, ``"42s ago"``, ``"2m ago"``, ``"3h ago"``, ``"4d ago"``."""
    seconds = int(max(0.0, now - then))
    if seconds < 1:
        return "just now"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit} ago"
    return f"{seconds}s ago"


def format_duration(seconds: float) -> str:
    """``"340ms"``, ``"2.1s"``, ``"3m05s"``, ``"2h10m"``."""
    seconds = max(0.0, seconds)
    if round(seconds * 1000) < 1000:
        return f"{round(seconds * 1000)}ms"
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def format_state(state: str) -> Text:
    return Text(state, style=STATE_STYLES.get(state, "cyan"))


def _service_state(svc: Mapping[str, Any]) -> Text:
    state = str(svc.get("state") or "?")
    text = Text(state, style=SERVICE_STYLES.get(state, "cyan"))
    if svc.get("exit_code") is not None and state != "running":
        text.append(f" (exit {svc['exit_code']})")
    return text


def format_services(services: Sequence[Mapping[str, Any]]) -> Text:
    """``"web:3000 running, worker running"`` (states colored), or ``"-"``."""
    if not services:
        return Text("-")
    out = Text()
    for i, svc in enumerate(services):
        if i:
            out.append(", ")
        port = svc.get("port")
        out.append(f"{svc.get('name')}:{port} " if port is not None else f"{svc.get('name')} ")
        out.append_text(_service_state(svc))
    return out


def _grid(rows: Sequence[Sequence[Text]], indent: int = 0) -> Text:
    """Left-aligned columns two spaces apart."""
    widths = [max(row[i].cell_len for row in rows) for i in range(len(rows[0]))]
    lines = []
    for row in rows:
        line = Text(" " * indent)
        for cell, width in zip(row, widths, strict=False):
            line.append_text(cell)
            line.append(" " * (width - cell.cell_len + 2))
        line.rstrip()
        lines.append(line)
    return Text("\n").join(lines)


def _header(*names: str) -> list[Text]:
    return [Text(name, style="bold") for name in names]


def format_table(colonies: Sequence[Mapping[str, Any]], now: float) -> Text:
    """The ``colony ls`` table: NAME, STATE, SERVICES, OWNER, CREATED, ADDRESS."""
    if not colonies:
        return Text(EMPTY)
    rows = [_header("NAME", "STATE", "SERVICES", "OWNER", "CREATED", "ADDRESS")]
    for col in sorted(colonies, key=lambda c: str(c.get("name"))):
        created = col.get("created")
        rows.append(
            [
                Text(str(col.get("name"))),
                format_state(str(col.get("state") or "?")),
                format_services(col.get("services") or []),
                Text(str(col.get("owner") or "-")),
                Text(format_age(created, now) if created else "-"),
                Text(str(col.get("address") or "-")),
            ]
        )
    return _grid(rows)


def _clock(at: float, tz: tzinfo | None, *, date: bool = False) -> str:
    moment = datetime.fromtimestamp(at, tz)
    if date:
        return moment.strftime("%Y-%m-%d %H:%M:%S")
    return moment.strftime("%H:%M:%S.") + f"{moment.microsecond // 1000:03d}"


def _state_line(state: str, step: str | None, reason: str | None) -> Text:
    text = format_state(state)
    if step:
        text.append(f" at {step}" if state == "failed" else f" ({step})")
    if reason:
        text.append(f": {reason}")
    return text


def format_colony(colony: Mapping[str, Any], now: float, tz: tzinfo | None = None) -> Text:
    """``colony show``: state, places, services and the timeline of one colony."""
    c = colony
    out = Text.assemble((str(c.get("name")), "bold"), "  ")
    out.append_text(_state_line(str(c.get("state") or "?"), c.get("step"), c.get("reason")))
    repo = f"{c.get('repo')}" + (f" @ {c['rev']}" if c.get("rev") else "")
    limits = " ".join(f"{k}={v}" for k, v in (c.get("limits") or {}).items())
    fields = [
        ("owner", c.get("owner")),
        (
            "created",
            c.get("created")
            and f"{_clock(c['created'], tz, date=True)} ({format_age(c['created'], now)})",
        ),
        ("repo", c.get("repo") and repo + (f" ({c['vcs']})" if c.get("vcs") else "")),
        ("workspace", c.get("workspace")),
        (
            "branch",
            c.get("branch")
            and c["branch"] + (f" (base {c['base'][:12]})" if c.get("base") else ""),
        ),
        ("data dir", c.get("data_dir")),
        ("db", c.get("db")),
        (
            "address",
            c.get("address")
            and c["address"] + (f" (netns {c['netns']})" if c.get("netns") else ""),
        ),
        ("sandbox", c.get("sandbox")),
        ("limits", limits),
    ]
    rows = [[Text(label, style="dim"), Text(str(value))] for label, value in fields if value]
    if rows:
        out.append("\n")
        out.append_text(_grid(rows, indent=2))
    services = c.get("services") or []
    if services:
        out.append("\n\n")
        out.append("services\n", style="bold")
        grid = [_header("NAME", "PORT", "STATE", "PID", "RESTARTS", "URL")]
        for svc in services:
            grid.append(
                [Text(str(svc.get("name"))), Text(_dash(svc.get("port"))), _service_state(svc)]
                + [Text(_dash(svc.get(k))) for k in ("pid", "restarts", "url")]
            )
        out.append_text(_grid(grid, indent=2))
    transitions = c.get("transitions") or []
    if transitions:
        out.append("\n\n")
        out.append("transitions\n", style="bold")
        grid = []
        for i, tr in enumerate(transitions):
            until = transitions[i + 1]["at"] if i + 1 < len(transitions) else None
            took = format_duration((until or now) - tr["at"]) + ("" if until else " so far")
            detail = ": ".join(str(x) for x in (tr.get("step"), tr.get("reason")) if x)
            grid.append(
                [
                    Text(_clock(tr["at"], tz), style="dim"),
                    format_state(str(tr.get("state"))),
                    Text(took),
                    Text(detail),
                ]
            )
        out.append_text(_grid(grid, indent=2))
    return out


def _dash(value: object) -> str:
    return "-" if value is None or value == "" else str(value)


def format_transition(state: str, took: float) -> Text:
    """A progress line for a state the colony just left: ``"  building      3.4s"``."""
    return Text.assemble(
        "  ", (f"{state:<13}", STATE_STYLES.get(state, "cyan")), (format_duration(took), "dim")
    )


def format_service_event(event: Mapping[str, Any]) -> Text:
    """A progress line for a service event: ``"  · web  running  pid 4242"``."""
    out = Text.assemble("  · ", str(event.get("service")), "  ", _service_state(event))
    if event.get("pid") is not None:
        out.append(f"  pid {event['pid']}", style="dim")
    if event.get("reason"):
        out.append(f"  {event['reason']}")
    return out


def format_settled(name: str, state: str, took: float) -> Text:
    """``"colony 'web' is running (14.2s)"``."""
    return Text.assemble(f"colony '{name}' is ", format_state(state), f" ({format_duration(took)})")


def format_urls(urls: Mapping[str, str | None]) -> Text:
    """One URL alone, or ``"web  http://…"`` per service: the URL is always last."""
    known = {svc: url for svc, url in urls.items() if url}
    if len(known) == 1:
        return Text(next(iter(known.values())))
    return (
        _grid([[Text(svc), Text(url)] for svc, url in sorted(known.items())]) if known else Text()
    )


def format_log_line(entry: Mapping[str, Any], width: int = 0) -> Text:
    """``"web    | GET / 200"``, the source colored the same way every time."""
    source = str(entry.get("source") or "?")
    style = "dim" if source == "colony" else SOURCE_STYLES[zlib.crc32(source.encode()) % 7]
    out = Text.assemble((source.ljust(width), style), (" | ", style))
    out.append_text(Text.from_ansi(str(entry.get("line", "")).rstrip("\n")))
    return out


def format_gc(result: Mapping[str, Any]) -> Text:
    removed = result.get("removed") or []
    if not removed:
        return Text("nothing to clean")
    return Text("\n".join(f"removed {r.get('kind')} {r.get('name')}" for r in removed))


def format_removed(result: Mapping[str, Any]) -> Text:
    """What ``colony rm`` did and where the work stays recoverable."""
    lines = [f"removed colony '{result.get('removed')}'"]
    if result.get("saved"):
        lines.append(f"uncommitted work saved as {result['saved']}")
    if result.get("branch"):
        lines.append(f"branch {result['branch']} is kept")
    if result.get("trash"):
        lines.append(f"data and logs moved to {result['trash']}")
    return Text("\n".join(lines))


def format_health(health: Mapping[str, Any], socket_path: Path) -> Text:
    head = f"Mycelium is running (pid {health.get('pid')}, version {health.get('version')})"
    fields = [
        ("socket", socket_path),
        ("state dir", health.get("state_dir")),
        ("proxy port", health.get("proxy_port")),
        ("prefix", health.get("prefix")),
        ("domain", health.get("domain")),
    ]
    rows = [[Text(k, style="dim"), Text(str(v))] for k, v in fields if v is not None]
    return Text(head + "\n").append_text(_grid(rows, indent=2))


# --- output -------------------------------------------------------------------------------


def _out(text: Text | str) -> None:
    Console(soft_wrap=True, highlight=False).print(text)


def _err_console() -> Console:
    return Console(stderr=True, soft_wrap=True, highlight=False)


def _print_json(data: object) -> None:
    click.echo(json.dumps(data, indent=2))


def print_error(exc: ColonyError) -> None:
    err = _err_console()
    err.print(Text.assemble(("error:", "bold red"), f" {exc}"))
    if exc.hint:
        err.print(Text.assemble(("hint:", "bold"), f" {exc.hint}"))


# --- the group ----------------------------------------------------------------------------


class ColonyGroup(click.Group):
    """Maps errors to exit codes in one place: ColonyError 1, Ctrl-C 130."""

    def main(self, *args: Any, **kwargs: Any) -> Any:
        # `python -m colony` would otherwise show as "python -m colony" and complete on
        # _PYTHON__M_COLONY_COMPLETE; the name is colony however it is started.
        kwargs.setdefault("prog_name", "colony")
        return super().main(*args, **kwargs)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(self.commands)  # in the order they are defined, as in SPEC §11

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ColonyError as exc:
            print_error(exc)
            ctx.exit(1)
        except KeyboardInterrupt:
            ctx.exit(130)
        except BrokenPipeError:
            # The reader went away (`colony logs -f | head`): stop writing, quietly.
            with contextlib.suppress(OSError, ValueError):
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            ctx.exit(1)


@dataclass
class Options:
    socket: Path | None = None

    @property
    def socket_path(self) -> Path:
        return self.socket or default_socket()


def _client(ctx: click.Context) -> Client:
    """A client of Mycelium, started first if needed (SPEC §11), closed with the command."""
    client = ensure_daemon(ctx.ensure_object(Options).socket_path)
    ctx.call_on_close(client.close)
    return client


def _pairs_option(
    what: str,
) -> Callable[[click.Context, click.Parameter, tuple[str, ...]], dict[str, str]]:
    def parse(
        ctx: click.Context, param: click.Parameter, values: tuple[str, ...]
    ) -> dict[str, str]:
        try:
            return parse_pairs(values, what)
        except ValueError as exc:
            raise click.BadParameter(str(exc), ctx, param) from exc

    return parse


def _name_option(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    try:
        return None if value is None else check_name(value)
    except ConfigError as exc:
        raise click.BadParameter(str(exc), ctx, param) from exc


json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
wait_option = click.option(
    "--no-wait", is_flag=True, help="Return once the request is queued; don't show progress."
)


def _complete_name(
    ctx: click.Context, param: click.Parameter, incomplete: str
) -> list[click.shell_completion.CompletionItem]:
    """Names of existing colonies, if Mycelium runs (completion never starts it)."""
    try:
        with Client(ctx.ensure_object(Options).socket_path, timeout=2) as client:
            names = [str(c.get("name")) for c in client.colonies().get("colonies") or []]
    except ColonyError:
        return []
    return [click.shell_completion.CompletionItem(n) for n in names if n.startswith(incomplete)]


name_argument = click.argument("name", callback=_name_option, shell_complete=_complete_name)


@click.group(cls=ColonyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--socket",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="COLONY_SOCKET",
    help="Mycelium's API socket [env COLONY_SOCKET; default <state dir>/mycelium.sock].",
)
@click.version_option(__version__, prog_name="colony")
@click.pass_context
def main(ctx: click.Context, socket: Path | None) -> None:
    """Run many AI coding agents side by side, each in its own colony.

    Commands that need Mycelium (the daemon) start it if it is not running.

    \b
    Example:
      colony init && colony spawn web && colony ls

    \b
    Shell completion (bash; zsh and fish likewise):
      eval "$(_COLONY_COMPLETE=bash_source colony)"
    """
    ctx.obj = Options(socket)


# --- init ---------------------------------------------------------------------------------


def find_repo_root(start: Path) -> Path | None:
    """The nearest directory at or above ``start`` holding ``.git`` or ``.jj``."""
    for folder in (start, *start.parents):
        if (folder / ".git").exists() or (folder / ".jj").exists():
            return folder
    return None


@main.command()
@click.option("--name", callback=_name_option, help="Colony name prefix [default: repo dir].")
@click.option("--force", is_flag=True, help="Overwrite an existing colony.toml.")
def init(name: str | None, force: bool) -> None:
    """Write a commented colony.toml for this repository.

    The file goes to the repository root, also when run in a subdirectory.

    \b
    Example:
      colony init --name shop
    """
    root = find_repo_root(Path.cwd())
    if root is None:
        raise ColonyError(
            f"{Path.cwd()} is not inside a git or jj repository",
            hint="run 'colony init' inside the repository the colonies should work on",
        )
    path = root / "colony.toml"
    if path.exists() and not force:
        raise ColonyError(f"{path} already exists", hint="pass --force to overwrite it")
    from colony.core.config import render_default_config

    text = render_default_config(name or default_colony_name(root.name))
    try:
        path.write_text(text)
    except OSError as exc:
        raise ColonyError(f"cannot write {path}: {exc.strerror}") from exc
    click.echo(f"wrote {path}")


# --- lifecycle ----------------------------------------------------------------------------


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
        if as_json:
            _print_json(colony)
        else:
            _out(Text.assemble(f"colony '{name}' is ", format_state(str(colony.get("state")))))
        return
    began = time.monotonic()
    with client.events(name) as events:
        asked = time.time()
        colony = call(client)
        try:
            _wait(client, events, colony, action, asked, show=not as_json)
        except ColonyError:
            if as_json:
                with contextlib.suppress(ColonyError):
                    _print_json(client.colony(name))
            raise
    final = client.colony(name)
    if as_json:
        _print_json(final)
        return
    _err_console().print(format_settled(name, str(final.get("state")), time.monotonic() - began))
    urls = {s.get("name"): s.get("url") for s in final.get("services") or []}
    if final.get("state") == "running" and any(urls.values()):
        _out(format_urls(urls))


@main.command()
@name_argument
@click.option(
    "--repo",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="The repository to work on [default: the current directory's].",
)
@click.option("--rev", help="Revision to start from [default: the checked-out one].")
@click.option(
    "--config",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="colony.toml to use [default: the repository's].",
)
@click.option(
    "--limit",
    "limits",
    multiple=True,
    metavar="KEY=VALUE",
    callback=_pairs_option("KEY=VALUE"),
    help="Resource limit, repeatable (cpu=1.5, memory=2G, pids=512).",
)
@click.option(
    "--sandbox",
    type=click.Choice(["none", "basic", "moderate", "strict"]),
    help="Containment level [default: colony.toml's].",
)
@json_option
@wait_option
@click.pass_context
def spawn(
    ctx: click.Context,
    name: str,
    repo: Path | None,
    rev: str | None,
    config: Path | None,
    limits: dict[str, str],
    sandbox: str | None,
    as_json: bool,
    no_wait: bool,
) -> None:
    """Create and start a colony.

    Makes colony NAME from the repository at --repo (default: the current one) and shows
    each step until it runs; then prints its preview URLs.

    \b
    Example:
      colony spawn web --limit cpu=2 --limit memory=4G
    """
    start = (repo or Path.cwd()).resolve()
    root = find_repo_root(start) or start
    values = {k: parse_value(v) for k, v in limits.items()} or None

    def call(client: Client) -> Json:
        return client.spawn(name, root, rev=rev, config=config, limits=values, sandbox=sandbox)

    _lifecycle(ctx, name, "spawn", call, wait=not no_wait, as_json=as_json)


def _lifecycle_command(action: str, summary: str) -> None:
    @main.command(name=action, help=f"{summary}\n\n\b\nExample:\n  colony {action} web")
    @name_argument
    @json_option
    @wait_option
    @click.pass_context
    def command(ctx: click.Context, name: str, as_json: bool, no_wait: bool) -> None:
        def call(client: Client) -> Json:
            method: Callable[[str], Json] = getattr(client, action)
            return method(name)

        _lifecycle(ctx, name, action, call, wait=not no_wait, as_json=as_json)


_lifecycle_command("stop", "Stop a colony's services; its files and data stay.")
_lifecycle_command("start", "Start a stopped colony again.")
_lifecycle_command("restart", "Stop and start a colony.")


@main.command("rm")
@name_argument
@click.option("--force", is_flag=True, help="Remove even if it is still running.")
@json_option
@click.pass_context
def remove(ctx: click.Context, name: str, force: bool, as_json: bool) -> None:
    """Remove a colony; its work stays recoverable.

    Uncommitted work is saved to a ref and the branch colony/NAME is kept.

    \b
    Example:
      colony rm --force web
    """
    result = _client(ctx).remove(name, force=force)
    if as_json:
        _print_json(result)
    else:
        _out(format_removed(result))


# --- looking ------------------------------------------------------------------------------


@main.command("ls")
@json_option
@click.pass_context
def list_colonies(ctx: click.Context, as_json: bool) -> None:
    """List colonies: name, state, services, owner, created, address.

    \b
    Example:
      colony ls --json | jq -r '.colonies[].name'
    """
    result = _client(ctx).colonies()
    if as_json:
        _print_json(result)
    else:
        _out(format_table(result.get("colonies") or [], time.time()))


@main.command()
@name_argument
@json_option
@click.pass_context
def show(ctx: click.Context, name: str, as_json: bool) -> None:
    """Show one colony in full.

    State, workspace, branch, data, network, services and every transition.

    \b
    Example:
      colony show web
    """
    colony = _client(ctx).colony(name)
    if as_json:
        _print_json(colony)
    else:
        _out(format_colony(colony, time.time()))


@main.command()
@name_argument
@click.option("-f", "--follow", is_flag=True, help="Keep printing new lines until Ctrl-C.")
@click.option("--service", help="Only this service (or setup, build, colony).")
@click.option(
    "-n",
    "--lines",
    default=200,
    show_default=True,
    type=click.IntRange(0),
    help="How many past lines to print first.",
)
@json_option
@click.pass_context
def logs(
    ctx: click.Context, name: str, follow: bool, service: str | None, lines: int, as_json: bool
) -> None:
    """Print a colony's output as "source | line".

    \b
    Example:
      colony logs web -f --service web
    """
    width = 0
    try:
        for entry in _client(ctx).logs(name, service=service, lines=lines, follow=follow):
            if as_json:
                click.echo(json.dumps(entry))
                continue
            width = max(width, len(str(entry.get("source") or "")))
            _out(format_log_line(entry, width))
    except KeyboardInterrupt:
        return  # the way to end -f


@main.command()
@name_argument
@click.argument("service", required=False)
@json_option
@click.pass_context
def url(ctx: click.Context, name: str, service: str | None, as_json: bool) -> None:
    """Print a colony's preview URLs.

    With SERVICE, only its URL; with one service, the bare URL; else one "service  URL"
    line each (the URL is always last).

    \b
    Example:
      xdg-open "$(colony url web)"
    """
    urls: dict[str, str | None] = _client(ctx).urls(name).get("urls") or {}
    if service is not None:
        if not urls.get(service):
            known = ", ".join(sorted(s for s, u in urls.items() if u)) or "none"
            raise NotFound(
                f"colony '{name}' has no URL for service '{service}'",
                hint=f"services with a URL: {known}",
            )
        urls = {service: urls[service]}
    if as_json:
        _print_json({"urls": urls})
    elif not any(urls.values()):
        raise NotFound(
            f"colony '{name}' has no service with a port",
            hint="give a service a port in colony.toml",
        )
    else:
        _out(format_urls(urls))


@main.command()
@json_option
@click.pass_context
def gc(ctx: click.Context, as_json: bool) -> None:
    """Remove what crashed colonies left behind.

    Namespaces, veths, cgroups, firewall tables, workspaces and processes that belong to
    no colony.

    \b
    Example:
      colony gc
    """
    result = _client(ctx).gc()
    if as_json:
        _print_json(result)
    else:
        _out(format_gc(result))


# --- exec and shell -----------------------------------------------------------------------


def _fileno(stream: IO[bytes]) -> int | None:
    try:
        return stream.fileno()
    except (OSError, ValueError):  # io.UnsupportedOperation is both
        return None


def _terminal_size(fd: int | None) -> tuple[int, int]:
    try:
        size = os.get_terminal_size(fd if fd is not None else 0)
    except OSError:
        size = shutil.get_terminal_size()
    return size.columns, size.lines


@contextlib.contextmanager
def _raw_terminal(fd: int | None) -> Iterator[None]:
    """Keys go to the colony unchanged (Ctrl-C included); the terminal is restored after."""
    if fd is None:
        yield
        return
    saved = termios.tcgetattr(fd)
    tty.setraw(fd)
    try:
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


@contextlib.contextmanager
def _forward_resize(session: ExecSession, fd: int | None) -> Iterator[None]:
    if fd is None:
        yield
        return

    def on_winch(signum: int, frame: FrameType | None) -> None:
        session.resize(*_terminal_size(fd))

    previous = signal.signal(signal.SIGWINCH, on_winch)
    try:
        yield
    finally:
        signal.signal(signal.SIGWINCH, previous)


def _pump_stdin(session: ExecSession, stream: IO[bytes], done: threading.Event) -> None:
    """Forward our stdin to the command until it ends; at end of file, close its stdin."""
    fd = _fileno(stream)
    try:
        while not done.is_set():
            if fd is None:
                data = stream.read1(65536) if hasattr(stream, "read1") else stream.read(65536)
            elif select.select([fd], [], [], 0.1)[0]:
                data = os.read(fd, 65536)
            else:
                continue
            if not data:
                session.close_stdin()
                return
            session.send_stdin(data)
    except (OSError, ValueError):
        session.close_stdin()


def exit_status(code: int | None) -> int:
    """A command's exit code as ours: a signal death (-N) becomes 128+N, like a shell."""
    if code is None:
        return 1
    if code < 0:
        return min(128 - code, 255)
    return min(code, 255)


def _run_exec(
    client: Client, name: str, argv: list[str] | None, env: dict[str, str], use_tty: bool
) -> int:
    stdin, stdout, stderr = sys.stdin.buffer, sys.stdout.buffer, sys.stderr.buffer
    fd = _fileno(stdin)
    local_tty = fd if use_tty and fd is not None and os.isatty(fd) else None
    cols, rows = _terminal_size(local_tty)
    session = client.exec_session(name, argv, env=env, tty=use_tty, cols=cols, rows=rows)
    done = threading.Event()
    with session, _raw_terminal(local_tty), _forward_resize(session, local_tty):
        threading.Thread(target=_pump_stdin, args=(session, stdin, done), daemon=True).start()
        try:
            while (chunk := session.recv()) is not None:
                out = stdout if chunk[0] == "stdout" else stderr
                out.write(chunk[1])
                out.flush()
        finally:
            done.set()
    return exit_status(session.exit_code)


@main.command("exec")
@click.option(
    "--env",
    multiple=True,
    metavar="K=V",
    callback=_pairs_option("K=V"),
    help="Set an environment variable, repeatable.",
)
@click.option(
    "--tty/--no-tty",
    "use_tty",
    default=None,
    help="Run in a terminal [default: when stdin and stdout are terminals].",
)
@name_argument
@click.argument("command", nargs=-1, required=True)
@click.pass_context
def exec_command(
    ctx: click.Context,
    env: dict[str, str],
    use_tty: bool | None,
    name: str,
    command: tuple[str, ...],
) -> NoReturn:
    """Run a command inside a colony.

    Stdin is forwarded; the exit code is the command's.

    \b
    Example:
      colony exec --env DEBUG=1 web -- pytest -q
    """
    if use_tty is None:
        use_tty = sys.stdin.isatty() and sys.stdout.isatty()
    ctx.exit(_run_exec(_client(ctx), name, list(command), env, use_tty))


@main.command()
@name_argument
@click.pass_context
def shell(ctx: click.Context, name: str) -> NoReturn:
    """Open a terminal inside a colony.

    Runs the [terminal] command of colony.toml (bash by default).

    \b
    Example:
      colony shell web
    """
    if not sys.stdin.isatty():
        raise ColonyError(
            "colony shell needs a terminal on stdin",
            hint=f"run commands with 'colony exec {name} -- CMD'",
        )
    ctx.exit(_run_exec(_client(ctx), name, None, {}, True))


# --- the daemon ---------------------------------------------------------------------------


@main.group()
def daemon() -> None:
    """Start, stop or inspect Mycelium (the daemon).

    \b
    Example:
      colony daemon status
    """


@daemon.command("start")
@click.pass_context
def daemon_start(ctx: click.Context) -> None:
    """Start Mycelium in the background unless it is running.

    \b
    Example:
      COLONY_STATE_DIR=/tmp/colony colony daemon start
    """
    socket_path = ctx.ensure_object(Options).socket_path
    with Client(socket_path) as client, contextlib.suppress(DaemonUnavailable):
        pid = client.health().get("pid")
        click.echo(f"Mycelium is already running (pid {pid}, socket {socket_path})")
        return
    ensure_daemon(socket_path).close()


@daemon.command("stop")
@click.option("--timeout", default=30.0, show_default=True, help="Seconds to wait for it to end.")
@click.pass_context
def daemon_stop(ctx: click.Context, timeout: float) -> None:
    """Stop Mycelium; colonies keep running.

    The next Mycelium adopts them.

    \b
    Example:
      colony daemon stop
    """
    socket_path = ctx.ensure_object(Options).socket_path
    with Client(socket_path) as client:
        try:
            pid = client.health().get("pid")
        except DaemonUnavailable:
            click.echo("Mycelium is not running")
            return
        with contextlib.suppress(DaemonUnavailable):  # it may exit before it answers
            client.stop_daemon()
        deadline = time.monotonic() + timeout
        while True:
            try:
                client.health()
            except DaemonUnavailable:
                break
            if time.monotonic() > deadline:
                raise ColonyError(
                    f"Mycelium (pid {pid}) still answers after {timeout:g}s",
                    hint=f"see its log, or end it with 'kill {pid}'",
                )
            time.sleep(0.1)
    click.echo(f"stopped Mycelium (pid {pid})")


@daemon.command("status")
@json_option
@click.pass_context
def daemon_status(ctx: click.Context, as_json: bool) -> None:
    """Say whether Mycelium runs.

    Exits 3 if it does not, like systemctl.

    \b
    Example:
      colony daemon status || colony daemon start
    """
    socket_path = ctx.ensure_object(Options).socket_path
    with Client(socket_path) as client:
        try:
            health = client.health()
        except DaemonUnavailable:
            if as_json:
                _print_json({"ok": False, "socket": str(socket_path)})
            else:
                click.echo(f"Mycelium is not running (nothing answers on {socket_path})")
            ctx.exit(3)
    if as_json:
        _print_json(health)
    else:
        _out(format_health(health, socket_path))


@daemon.command("run")
@click.option(
    "--state-dir",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="COLONY_STATE_DIR",
    help="Where colonies, the database and the log live "
    "[env COLONY_STATE_DIR; default /var/lib/colony as root, else ~/.local/state/colony].",
)
@click.option(
    "--socket",
    "socket_path",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="COLONY_SOCKET",
    help="API socket [env COLONY_SOCKET; default <state dir>/mycelium.sock].",
)
@click.option(
    "--proxy-port",
    type=click.IntRange(0, 65535),
    envvar="COLONY_PROXY_PORT",
    default=7080,
    show_default=True,
    help="Port of the preview proxy, 0 for any free port [env COLONY_PROXY_PORT].",
)
@click.option(
    "--prefix",
    envvar="COLONY_PREFIX",
    default="colony",
    show_default=True,
    help="Prefix of kernel object names [env COLONY_PREFIX].",
)
@click.option(
    "--pool",
    envvar="COLONY_POOL",
    default="10.213.0.0/16",
    show_default=True,
    help="Address pool for colonies [env COLONY_POOL].",
)
@click.option(
    "--domain",
    envvar="COLONY_DOMAIN",
    default="localhost",
    show_default=True,
    help="Domain of preview URLs [env COLONY_DOMAIN].",
)
@click.pass_context
def daemon_run(
    ctx: click.Context,
    state_dir: Path | None,
    socket_path: Path | None,
    proxy_port: int,
    prefix: str,
    pool: str,
    domain: str,
) -> None:
    """Run Mycelium in the foreground (for systemd); Ctrl-C stops it.

    \b
    Example:
      colony daemon run --state-dir /var/lib/colony --proxy-port 7080
    """
    from colony.daemon.main import run_daemon

    state_dir = state_dir or default_state_dir()
    socket_path = socket_path or ctx.ensure_object(Options).socket or default_socket(state_dir)
    run_daemon(
        state_dir=state_dir,
        socket=socket_path,
        proxy_port=proxy_port,
        prefix=prefix,
        pool=pool,
        domain=domain,
    )
