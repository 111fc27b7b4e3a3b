"""``colony share`` and ``colony unshare``: let other users of the machine see or run a
colony (issue 14)."""

from __future__ import annotations

import click
from rich.text import Text

from colony.cli.app import _client, _out, _print_json, json_option, main, name_argument
from colony.contract_responses import Shares
from colony.core.access import SHARE_ROLES, parse_role

ROLES = [str(r) for r in SHARE_ROLES]


def format_shares(view: Shares) -> Text:
    """``web: alice's; shared with bob (viewer), carol (operator)``."""
    text = Text.assemble((view.colony, "bold"), f": {view.owner}'s")
    if not view.shares:
        return text.append("; shared with nobody")
    listed = ", ".join(f"{s.user} ({s.role})" for s in view.shares)
    return text.append(f"; shared with {listed}")


@main.command()
@name_argument
@click.option("--with", "user", metavar="USER", help="The user to share it with.")
@click.option(
    "--role",
    default="viewer",
    show_default=True,
    metavar="ROLE",
    help="viewer: ls, show, logs, url and previews, top, diff, audit. "
    "operator: also stop, start, restart, exec, shell, agent.",
)
@json_option
@click.pass_context
def share(ctx: click.Context, name: str, user: str | None, role: str, as_json: bool) -> None:
    """Let another user of this machine see (viewer) or also run (operator) a colony.

    Only its owner or an admin may share it; removing, merging, policy and limits stay
    theirs. Without --with, show who it is shared with. Sharing again changes the role.

    \b
    Examples:
      colony share web --with bob
      colony share web --with bob --role operator
      colony share web
    """
    parse_role(role)  # bad input: no request at all
    client = _client(ctx)
    view = client.share(name, user, role) if user else client.shares(name)
    if as_json:
        _print_json(view)
    else:
        _out(format_shares(view))


@main.command()
@name_argument
@click.option("--with", "user", metavar="USER", required=True, help="The user to take it from.")
@json_option
@click.pass_context
def unshare(ctx: click.Context, name: str, user: str, as_json: bool) -> None:
    """End another user's share of a colony (owner or admin only).

    \b
    Example:
      colony unshare web --with bob
    """
    view = _client(ctx).unshare(name, user)
    if as_json:
        _print_json(view)
    else:
        _out(format_shares(view))
