"""``colony top``: live CPU, memory, pids and I/O of every colony (SPEC §7).

:func:`format_top` is pure (one call, one assert in tests); the command polls ``GET /usage``
and redraws the table in place until Ctrl-C, or prints it once (``--once``, ``--json``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import click
from rich.console import Console
from rich.live import Live
from rich.text import Text

from colony.cli.app import _client, _out, _print_json, json_option, main
from colony.contract_responses import Sample
from colony.core.resources import format_size
from colony.present import format_state, grid, header

EMPTY_TOP = "no colonies (spawn one with 'colony spawn NAME')"


def _of(used: object, limit: object, fmt: Callable[[Any], str] = str) -> str:
    if used is None:
        return "-"
    return fmt(used) + (f" / {fmt(limit)}" if limit else "")


def _cpu(sample: Sample) -> Text:
    cpu = sample.cpu_percent
    limit = sample.limits.cpu
    text = "-" if cpu is None else f"{cpu:.1f}%"
    if limit:
        text += f" / {limit * 100:g}%"
    busy = cpu is not None and limit and cpu >= limit * 100 * 0.9
    return Text(text, style="yellow" if busy else "")


def _io(sample: Sample) -> str:
    read, written = sample.io_read, sample.io_write
    if read is None and written is None:
        return "-"
    return f"{format_size(read or 0)} / {format_size(written or 0)}"


def format_top(samples: Sequence[Sample]) -> Text:
    """The ``colony top`` table: COLONY, STATE, LEVEL, USER, CPU, MEMORY, PIDS, I/O R/W, OOM.

    CPU is in percent of one core, with the limit (cpu=0.5 → 50%); memory and pids show the
    limit after a slash when one is set.
    """
    if not samples:
        return Text(EMPTY_TOP)
    rows = [header("COLONY", "STATE", "LEVEL", "USER", "CPU", "MEMORY", "PIDS", "I/O R/W", "OOM")]
    for s in sorted(samples, key=lambda x: x.colony):
        oom = s.oom_kills
        rows.append(
            [
                Text(s.colony),
                format_state(s.state or "?"),
                Text(s.level or "-"),
                Text(s.user or "-"),
                _cpu(s),
                Text(_of(s.memory, s.limits.memory, format_size)),
                Text(_of(s.pids, s.limits.pids)),
                Text(_io(s)),
                Text("-" if oom is None else str(oom), style="bold red" if oom else ""),
            ]
        )
    return grid(rows)


@main.command()
@click.option("--once", is_flag=True, help="Print the table once and exit.")
@click.option(
    "--interval",
    type=click.FloatRange(0.2, 60),
    default=1.0,
    show_default=True,
    help="Seconds between refreshes.",
)
@json_option
@click.pass_context
def top(ctx: click.Context, once: bool, interval: float, as_json: bool) -> None:
    """Live CPU, memory, pids and disk I/O of every colony.

    CPU is in percent of one core (200% = two cores); limits follow a slash. The table
    refreshes until Ctrl-C; --once and --json print one sample (for scripts).

    \b
    Example:
      colony top
      colony top --json | jq '.usage[] | {colony, memory}'
    """
    client = _client(ctx)
    if as_json:
        _print_json(client.usage())
        return
    if once:
        _out(format_top(client.usage().usage))
        return
    console = Console(highlight=False)
    with Live(format_top(client.usage().usage), console=console, auto_refresh=False) as live:
        while True:
            time.sleep(interval)
            live.update(format_top(client.usage().usage), refresh=True)
