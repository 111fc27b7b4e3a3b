"""Colony lifecycle commands: init, spawn, stop/start/restart, rm, ls, show, logs, url, gc."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import click

from colony.cli.app import (
    _client,
    _name_option,
    _out,
    _pairs_option,
    _print_json,
    config_option,
    json_option,
    main,
    name_argument,
    optional_name_argument,
    print_error,
    repo_option,
    wait_option,
)
from colony.cli.format import (
    default_colony_name,
    format_gc,
    format_removed,
    format_urls,
    parse_value,
    plan_auto_name,
)
from colony.errors import ColonyError, NotFound
from colony.present import format_colony, format_log_line, format_table

if TYPE_CHECKING:
    from colony.client import Client, Json
    from colony.contract_responses import Colony, RemoveResult

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
            hint="run 'git init' here first (or cd into the repository the colonies should "
            "work on), then 'colony init'",
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


def _names_argument(
    ctx: click.Context, param: click.Parameter, value: tuple[str, ...]
) -> tuple[str, ...]:
    return tuple(str(_name_option(ctx, param, v)) for v in value)


# --- lifecycle ----------------------------------------------------------------------------


def _name_prefix(root: Path, config: Path | None) -> str:
    """``[colony] name`` of the colony.toml a spawn will use, else the repository's directory
    name; a file that does not parse is left for Mycelium to report."""
    from colony.core.config import parse_config_text

    path = config or root / "colony.toml"
    try:
        prefix = parse_config_text(path.read_text()).name
    except (OSError, UnicodeDecodeError, ColonyError):
        prefix = None
    return prefix or default_colony_name(root.name)


def _secret_values(root: Path, config: Path | None) -> dict[str, str] | None:
    """Values of the colony.toml's ``[secrets.KEY]`` from this user's ``$from_env`` (issue
    17): read here, never by the colony; one warning line per variable not set."""
    from colony.core.config import parse_config_text

    path = config or root / "colony.toml"
    try:
        declared = parse_config_text(path.read_text()).secrets
    except (OSError, UnicodeDecodeError, ColonyError):
        return None  # Mycelium reports what is wrong with it
    values = {}
    for decl in declared:
        value = os.environ.get(decl.from_env)
        if value:
            values[decl.key] = value
        else:
            click.echo(
                f"warning: colony.toml: secrets.{decl.key}: ${decl.from_env} is not set in your "
                f"environment; the colony gets no {decl.key}",
                err=True,
            )
    return values or None


@main.command()
@optional_name_argument
@repo_option
@click.option("--rev", help="Revision to start from [default: the checked-out one].")
@config_option
@click.option(
    "--limit",
    "limits",
    multiple=True,
    metavar="KEY=VALUE",
    callback=_pairs_option("KEY=VALUE"),
    help="Resource limit, repeatable: cpu=1.5, memory=2G, swap=0, pids=512, io_weight=200, "
    "disk=10G.",
)
@click.option(
    "--sandbox",
    type=click.Choice(["none", "basic", "moderate", "strict"]),
    help="Containment level; may be below the host's default (not below its floor) "
    "[default: colony.toml's if stricter than the host's].",
)
@click.option(
    "--user",
    help="Run as this local user instead of the colony's own uid (root only; others may "
    "name themselves).",
)
@click.option(
    "--socket",
    "sockets",
    multiple=True,
    metavar="PATH",
    help="A host socket under /run/ the colony may use (e.g. /run/postgresql/.s.PGSQL.5432), "
    "repeatable.",
)
@json_option
@wait_option
@click.pass_context
def spawn(
    ctx: click.Context,
    name: str | None,
    repo: Path | None,
    rev: str | None,
    config: Path | None,
    limits: dict[str, str],
    sandbox: str | None,
    user: str | None,
    sockets: tuple[str, ...],
    as_json: bool,
    no_wait: bool,
) -> None:
    """Create and start a colony.

    Makes colony NAME from the repository at --repo (default: the current one) and shows
    each step until it runs; then prints its preview URLs. Without NAME, the first free
    <prefix>-<n>, the prefix being [colony] name or the repository's directory name.

    \b
    Example:
      colony spawn web --limit cpu=2 --limit memory=4G
    """
    start = (repo or Path.cwd()).resolve()
    root = find_repo_root(start) or start
    values = {k: parse_value(v) for k, v in limits.items()} or None
    if name is None:  # issue 12: [colony] name is the prefix of names given here
        taken = {c.name for c in _client(ctx).colonies().colonies}
        name = plan_auto_name(_name_prefix(root, config), taken)
    chosen = name
    secrets = _secret_values(root, config)

    def call(client: Client) -> Colony:
        return client.spawn(
            chosen, root, rev=rev, config=config, limits=values, sandbox=sandbox, user=user,
            sockets=list(sockets) or None, secrets=secrets,
        )  # fmt: skip

    from colony.cli.progress import _lifecycle

    _lifecycle(ctx, chosen, "spawn", call, wait=not no_wait, as_json=as_json)


def _lifecycle_command(action: str, summary: str) -> None:
    @main.command(name=action, help=f"{summary}\n\n\b\nExample:\n  colony {action} web")
    @name_argument
    @json_option
    @wait_option
    @click.pass_context
    def command(ctx: click.Context, name: str, as_json: bool, no_wait: bool) -> None:
        def call(client: Client) -> Colony:
            method: Callable[[str], Colony] = getattr(client, action)
            return method(name)

        from colony.cli.progress import _lifecycle

        _lifecycle(ctx, name, action, call, wait=not no_wait, as_json=as_json)


_lifecycle_command("stop", "Stop a colony's services; its files and data stay.")
_lifecycle_command("start", "Start a stopped colony again.")
_lifecycle_command("restart", "Stop and start a colony.")


@main.command("rm")
@click.argument("names", nargs=-1, required=True, callback=_names_argument, metavar="NAME...")
@click.option("--force", is_flag=True, help="Remove even if it is still running.")
@json_option
@click.pass_context
def remove(ctx: click.Context, names: tuple[str, ...], force: bool, as_json: bool) -> None:
    """Remove colonies; their work stays recoverable.

    For each NAME, a final snapshot is recorded, then its whole workspace (commits,
    uncommitted files), data dir and logs move to the trash: 'colony trash restore NAME'
    brings it back. Several names are removed together (a few at a time, in Mycelium), and
    one that fails stops none of the others. Each colony's result is reported; the exit code
    is 1 if any of them could not be removed. With several names, --json prints a list (an
    "error" per failure).

    \b
    Example:
      colony rm --force web api
    """
    client = _client(ctx)
    if len(names) == 1:  # one colony: its result, or its error as any command's
        result = client.remove(names[0], force=force)
        if as_json:
            _print_json(result)
        else:
            _out(format_removed(result))
        return
    results = client.remove_many(names, force=force).results
    report_removals(results, len(names), as_json)


def report_removals(results: list[RemoveResult], asked: int, as_json: bool) -> None:
    """Print what removing several colonies did, one result each (``--json``: a list, an
    ``"error"`` and ``"hint"`` per failure).

    Raises:
        ColonyError: naming the colonies that could not be removed, if any.
    """
    from colony.client import error_from_json
    from colony.contract_responses import dump

    shown: list[Json] = []
    for result in results:
        if result.error is None:
            shown.append(dump(result))
            if not as_json:
                _out(format_removed(result))
            continue
        exc = error_from_json(
            {"error": dump(result.error)}, fallback=f"could not remove colony '{result.name}'"
        )
        shown.append({"name": result.name, "error": str(exc), "hint": exc.hint})
        if not as_json:
            print_error(exc)
    if as_json:
        _print_json(shown)
    failed = [str(r["name"]) for r in shown if "error" in r]
    if failed:
        raise ColonyError(f"{len(failed)} of {asked} colonies not removed: {', '.join(failed)}")


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
        _out(format_table(result.colonies, time.time()))


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
    urls = _client(ctx).urls(name).urls
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
