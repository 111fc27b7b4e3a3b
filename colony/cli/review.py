"""``colony diff/merge/conflicts/snapshot/undo/trash``: review and recovery (issue 6)."""

from __future__ import annotations

import sys
import time

import click

from colony.cli.app import (
    _client,
    _out,
    _print_json,
    json_option,
    main,
    name_argument,
    wait_option,
)
from colony.cli.progress import _lifecycle
from colony.cli.workflow_format import (
    format_conflicts,
    format_merge,
    format_purged,
    format_snapshot,
    format_snapshots,
    format_trash,
    format_trash_plain,
    format_undo,
)
from colony.client import Client
from colony.core.review import format_sensitive, render_visible
from colony.errors import ColonyError, ConfigError, NotFound


@main.command()
@name_argument
@click.option("--stat", is_flag=True, help="Only the files and line counts.")
@json_option
@click.pass_context
def diff(ctx: click.Context, name: str, stat: bool, as_json: bool) -> None:
    """Show what colony NAME changed since its base: commits and uncommitted files.

    \b
    Example:
      colony diff web --stat
    """
    result = _client(ctx).diff(name, stat=stat)
    if as_json:
        _print_json(result)
        return
    text = result.diff
    # The colony wrote this text: on a terminal, its escape sequences are shown, not obeyed.
    click.echo(render_visible(text) if sys.stdout.isatty() else text, nl=False)
    if warning := format_sensitive(result.sensitive):
        click.echo(warning, err=True)


@main.command()
@name_argument
@click.option("--squash", is_flag=True, help="One commit on the branch instead of a merge.")
@click.option("--into", help="Branch to merge into [default: the one the colony came from].")
@click.option("--force", is_flag=True, help="Merge even while the colony's agent runs.")
@click.option("-m", "--message", help="Message of the merge or squashed commit.")
@json_option
@click.pass_context
def merge(
    ctx: click.Context,
    name: str,
    squash: bool,
    into: str | None,
    force: bool,
    message: str | None,
    as_json: bool,
) -> None:
    """Merge colony NAME's work into a branch; refused, with the files, if it would conflict.

    The check runs in memory (git merge-tree). A merge that would conflict, or overwrite
    local changes in the branch's checkout, is refused with the files, and changes nothing.
    Once the branch has moved, the colony's uncommitted files become a commit on its branch.
    Merge commits carry the repository owner's git identity.

    \b
    Example:
      colony merge web --squash -m "Add /health"
    """
    result = _client(ctx).merge(name, into=into, squash=squash, force=force, message=message)
    if as_json:
        _print_json(result)
    else:
        _out(format_merge(result))
        if warning := format_sensitive(result.sensitive):
            click.echo(warning, err=True)


@main.command()
@json_option
@click.pass_context
def conflicts(ctx: click.Context, as_json: bool) -> None:
    """List files changed in two or more colonies of the same repository.

    A change already in the branch a colony merges into (merged work) does not count.

    \b
    Example:
      colony conflicts
    """
    result = _client(ctx).conflicts()
    if as_json:
        _print_json(result)
    else:
        _out(format_conflicts(result.conflicts))


@main.command()
@name_argument
@click.option("-m", "--message", help="What the snapshot is.")
@click.option("--list", "list_", is_flag=True, help="List the colony's snapshots instead.")
@json_option
@click.pass_context
def snapshot(
    ctx: click.Context, name: str, message: str | None, list_: bool, as_json: bool
) -> None:
    """Record colony NAME's files as a numbered snapshot; its branch does not move.

    Mycelium also takes one at the start and the end of every agent turn; --list shows
    which session and turn took each.

    \b
    Example:
      colony snapshot web -m "before the refactor" && colony snapshot web --list
    """
    client = _client(ctx)
    if list_:
        result = client.snapshots(name)
        if as_json:
            _print_json(result)
        else:
            _out(format_snapshots(result.snapshots, time.time()))
        return
    made = client.snapshot(name, message)
    if as_json:
        _print_json(made)
    else:
        _out(format_snapshot(made))


@main.command()
@name_argument
@click.option("--to", "to", type=int, help="Snapshot number [default: the latest].")
@click.option("--session", type=int, help="Go back to the state before agent session N started.")
@click.option("--force", is_flag=True, help="Undo even while the colony's agent runs.")
@json_option
@click.pass_context
def undo(
    ctx: click.Context,
    name: str,
    to: int | None,
    session: int | None,
    force: bool,
    as_json: bool,
) -> None:
    """Restore colony NAME's files to a snapshot; the branch does not move.

    Every agent turn is bracketed by snapshots: --session N goes back to the files as they
    were before agent session N started. What the undo replaces is recorded as a snapshot
    first, so 'colony undo NAME' right after brings it back.

    \b
    Example:
      colony undo web --to 2
      colony undo web --session 3
    """
    result = _client(ctx).undo(name, to=to, force=force, session=session)
    if as_json:
        _print_json(result)
    else:
        _out(format_undo(result))


# --- trash --------------------------------------------------------------------------------


@main.group(invoke_without_command=True)
@json_option
@click.pass_context
def trash(ctx: click.Context, as_json: bool) -> None:
    """Removed colonies: list them, restore one, or purge them.

    \b
    Example:
      colony trash && colony trash restore web
    """
    if ctx.invoked_subcommand is None:
        _list_trash(ctx, as_json)


def _list_trash(ctx: click.Context, as_json: bool) -> None:
    result = _client(ctx).trash()
    if as_json:
        _print_json(result)
    else:
        _out(format_trash(result.trash, time.time()))


@trash.command("ls")
@json_option
@click.pass_context
def trash_ls(ctx: click.Context, as_json: bool) -> None:
    """List the trash: id, name, when removed, branch, final snapshot."""
    _list_trash(ctx, as_json)


@trash.command("restore")
@click.argument("which")
@json_option
@wait_option
@click.pass_context
def trash_restore(ctx: click.Context, which: str, as_json: bool, no_wait: bool) -> None:
    """Bring back a removed colony (a name: its latest removal; or a trash id).

    Its branch is checked out again, its files are put back exactly as they were when it
    was removed, its data dir returns, and it starts. Like spawn, it follows the colony until
    it runs (or fails: then it exits 1 with the reason); --no-wait returns at once.

    \b
    Example:
      colony trash restore web
    """
    name = _trash_name(_client(ctx), which)
    _lifecycle(ctx, name, "start", lambda c: c.trash_restore(which), not no_wait, as_json)


def _trash_name(client: Client, which: str) -> str:
    """The colony name of trash entry ``which`` (a name, or an id)."""
    if not which.isdigit():
        return which
    for entry in client.trash().trash:
        if str(entry.id) == which:
            return entry.name
    raise NotFound(f"trash: no entry {which!r}", hint="list the trash with 'colony trash'")


@trash.command("purge")
@click.argument("which", required=False)
@click.option("--all", "everything", is_flag=True, help="Purge every entry.")
@click.option("--yes", "-y", is_flag=True, help="Don't ask for confirmation (--all).")
@json_option
@click.pass_context
def trash_purge(
    ctx: click.Context, which: str | None, everything: bool, yes: bool, as_json: bool
) -> None:
    """Delete trash entries for good: data, logs, and the branch, saved work and snapshots.

    With --all, the entries are listed first and, on a terminal, you are asked to confirm
    (--yes skips the question).

    \b
    Example:
      colony trash purge web
      colony trash purge --all --yes
    """
    if (which is None) == (not everything):
        raise ConfigError("trash purge: expected a name or id, or --all")
    client = _client(ctx)
    if everything and not yes:
        listing = client.trash()
        entries, strays = listing.trash, listing.strays
        if not entries and not strays:
            _out(format_purged([]))
            return
        if sys.stdin.isatty():
            click.echo(format_trash_plain(entries, strays), err=True)
            question = f"Delete these {len(entries) + len(strays)} items and their work for good?"
            if not click.confirm(question, default=False, err=True):
                raise ColonyError("trash purge: nothing deleted")
    result = client.trash_purge(None if everything else which)
    if as_json:
        _print_json(result)
    else:
        _out(format_purged(result.purged))
