"""``colony exec`` and ``colony shell``: a command inside a colony, wired to our terminal."""

from __future__ import annotations

import sys
from typing import NoReturn

import click

from colony.cli.app import _client, _pairs_option, main, name_argument
from colony.client.terminal import run_exec
from colony.errors import ColonyError


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
    ctx.exit(run_exec(_client(ctx), name, list(command), env, use_tty))


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
    ctx.exit(run_exec(_client(ctx), name, None, {}, True))
