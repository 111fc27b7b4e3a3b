"""``colony hosts``: preview names in /etc/hosts, for resolvers that do not know *.localhost."""

from __future__ import annotations

import click
from rich.text import Text

from colony.cli.app import _client, _out, _print_json, json_option, main
from colony.contract_responses import HostsStatus


def format_hosts(result: HostsStatus) -> Text:
    """What the hosts file holds of Colony's preview names, and what to do about it."""
    path, present, missing, stale = result.path, result.present, result.missing, result.stale
    lines = [f"{path}: {len(present)} preview name(s) of Colony"]
    lines += [f"  missing  {name}" for name in missing]
    lines += [f"  stale    {name}" for name in stale]
    if missing or stale:
        lines.append("run 'colony hosts --add' to write the current names")
    elif not present:
        lines.append("no preview names to write (no colony has a service with a port)")
    return Text("\n".join(lines))


@main.command("hosts")
@click.option("--add", "action", flag_value="add", help="Write the current preview names.")
@click.option("--remove", "action", flag_value="remove", help="Take Colony's names out.")
@json_option
@click.pass_context
def hosts(ctx: click.Context, action: str | None, as_json: bool) -> None:
    """Keep preview names in /etc/hosts for resolvers that do not know *.localhost.

    curl and browsers resolve *.localhost by themselves; glibc's resolver (wget, Python's
    requests) may not. Without a flag, shows which names are missing or stale. Only the
    lines between Colony's markers are touched.

    \b
    Example:
      colony hosts --add
    """
    client = _client(ctx)
    result = client.hosts_update(action) if action else client.hosts()
    if as_json:
        _print_json(result)
    else:
        _out(format_hosts(result))
