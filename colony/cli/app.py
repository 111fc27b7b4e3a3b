"""The ``colony`` group and what its commands share: options, the client, output, errors.

Errors are handled in one place (:class:`ColonyGroup`): ``error:``/``hint:`` on stderr and
exit 1; usage errors exit 2; Ctrl-C exits 130.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from colony import __version__
from colony.client.base import default_socket
from colony.errors import ColonyError, ConfigError

if TYPE_CHECKING:
    import click.shell_completion
    from rich.console import Console
    from rich.text import Text

    from colony.client import Client

# Every command, in the order of `colony --help` (SPEC §11), with the module that defines it.
# A command's module is imported only when the command runs (or `--help` lists them all), so
# `colony ls` loads what `ls` needs and nothing of `agent`, `audit` or Stem (issue 15). A new
# command is one more line here.
COMMANDS = {
    "init": "colony.cli.colonies",
    "spawn": "colony.cli.colonies",
    "stop": "colony.cli.colonies",
    "start": "colony.cli.colonies",
    "restart": "colony.cli.colonies",
    "rm": "colony.cli.colonies",
    "ls": "colony.cli.colonies",
    "show": "colony.cli.colonies",
    "logs": "colony.cli.colonies",
    "url": "colony.cli.colonies",
    "hosts": "colony.cli.hosts",
    "gc": "colony.cli.colonies",
    "doctor": "colony.cli.doctor",
    "exec": "colony.cli.terminal",
    "shell": "colony.cli.terminal",
    "top": "colony.cli.top",  # issue 3
    "net": "colony.cli.net",  # issue 4
    "policy": "colony.cli.net",
    "share": "colony.cli.share",  # issue 14
    "unshare": "colony.cli.share",
    "secret": "colony.cli.secret",  # issue 17
    "diff": "colony.cli.review",  # issue 6: review and recovery, agents, broods
    "merge": "colony.cli.review",
    "snapshot": "colony.cli.review",
    "undo": "colony.cli.review",
    "conflicts": "colony.cli.review",
    "trash": "colony.cli.review",
    "agent": "colony.cli.agent",
    "brood": "colony.cli.brood",
    "audit": "colony.cli.audit",  # issue 5
    "dashboard": "colony.cli.dashboard",  # issue 7
    "tui": "colony.cli.dashboard",
    "daemon": "colony.cli.daemon",
    "debug": "colony.cli.net",
}


# --- output -------------------------------------------------------------------------------


def _out(text: Text | str) -> None:
    from rich.console import Console

    Console(soft_wrap=True, highlight=False).print(text)


def _err_console() -> Console:
    from rich.console import Console

    return Console(stderr=True, soft_wrap=True, highlight=False)


def _print_json(data: object) -> None:
    """``data`` as indented JSON; an answer (colony.contract_responses) as Mycelium sent it."""
    from colony.contract_responses import dump

    click.echo(json.dumps(dump(data), indent=2))


def print_error(exc: ColonyError) -> None:
    from rich.text import Text

    err = _err_console()
    err.print(Text.assemble(("error:", "bold red"), f" {exc}"))
    if exc.hint:
        err.print(Text.assemble(("hint:", "bold"), f" {exc.hint}"))


# --- the group ----------------------------------------------------------------------------


class HelpGroup(click.Group):
    """A group whose ``--help`` shows each command's whole first sentence, wrapped, where
    click would cut it at the terminal's width with '...' (issue 12)."""

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = []
        for name in self.list_commands(ctx):
            cmd = self.get_command(ctx, name)
            if cmd is not None and not cmd.hidden:
                rows.append((name, cmd.get_short_help_str(limit=SUMMARY_LIMIT)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


SUMMARY_LIMIT = 300  # characters: more than any first sentence, so none is cut


class ColonyGroup(HelpGroup):
    """Maps errors to exit codes in one place: ColonyError 1, Ctrl-C 130."""

    group_class = HelpGroup  # `colony agent`, `colony brood`, … list their commands alike

    def main(self, *args: Any, **kwargs: Any) -> Any:
        # `python -m colony` would otherwise show as "python -m colony" and complete on
        # _PYTHON__M_COLONY_COMPLETE; the name is colony however it is started.
        kwargs.setdefault("prog_name", "colony")
        return super().main(*args, **kwargs)

    def list_commands(self, ctx: click.Context) -> list[str]:
        for module in dict.fromkeys(COMMANDS.values()):
            importlib.import_module(module)
        listed = [name for name in COMMANDS if name in self.commands]
        return listed + [name for name in self.commands if name not in COMMANDS]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """The command ``cmd_name``, its module imported first (click's lazy group). An
        unknown name loads them all, for click's "Did you mean" of the closest ones."""
        if cmd_name in COMMANDS:
            importlib.import_module(COMMANDS[cmd_name])
        elif cmd_name not in self.commands:
            self.list_commands(ctx)
        return super().get_command(ctx, cmd_name)

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
    from colony.client import ensure_daemon

    client = ensure_daemon(ctx.ensure_object(Options).socket_path)
    ctx.call_on_close(client.close)
    return client


def _pairs_option(
    what: str,
) -> Callable[[click.Context, click.Parameter, tuple[str, ...]], dict[str, str]]:
    def parse(
        ctx: click.Context, param: click.Parameter, values: tuple[str, ...]
    ) -> dict[str, str]:
        from colony.cli.format import parse_pairs

        try:
            return parse_pairs(values, what)
        except ValueError as exc:
            raise click.BadParameter(str(exc), ctx, param) from exc

    return parse


def _name_option(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    from colony.core.model import check_name

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
    import click.shell_completion

    from colony.client import Client

    try:
        with Client(ctx.ensure_object(Options).socket_path, timeout=2) as client:
            names = [c.name for c in client.colonies().colonies]
    except ColonyError:
        return []
    return [click.shell_completion.CompletionItem(n) for n in names if n.startswith(incomplete)]


name_argument = click.argument("name", callback=_name_option, shell_complete=_complete_name)
optional_name_argument = click.argument(
    "name", required=False, callback=_name_option, shell_complete=_complete_name
)
repo_option = click.option(
    "--repo",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="The repository to work on [default: the current directory's].",
)
config_option = click.option(
    "--config",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="colony.toml to use [default: the repository's].",
)


@click.group(cls=ColonyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--socket",
    type=click.Path(dir_okay=False, readable=False, path_type=Path),  # the API says who may
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
