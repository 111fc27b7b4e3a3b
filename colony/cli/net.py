"""Network commands: ``colony net`` (connections), ``colony policy`` (change it live), and
``colony debug render-firewall`` (the nft table as loaded)."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from datetime import datetime, tzinfo

import click
from rich.text import Text

from colony.cli.app import (
    _client,
    _err_console,
    _out,
    _print_json,
    json_option,
    main,
    name_argument,
)
from colony.contract_responses import Network
from colony.core.policy import parse_policy
from colony.errors import ConfigError
from colony.present import format_age, grid, header

FLAGS = {"egress": "--egress", "allow": "--allow", "deny": "--deny"}


# --- formatting (pure) ----------------------------------------------------------------------


def _target(dest: object, port: object) -> str:
    if dest is None:
        return "?"
    host = f"[{dest}]" if ":" in str(dest) and port is not None else str(dest)
    return f"{host}:{port}" if port is not None else host


def _entries(entries: Sequence[str], resolved: Mapping[str, Sequence[str]]) -> str:
    if not entries:
        return "-"
    out = []
    for entry in entries:
        name = entry.rsplit(":", 1)[0] if entry.count(":") == 1 else entry
        addresses = resolved.get(name.lower())
        shown = ", ".join(addresses) if addresses else "unresolved"
        out.append(f"{entry} ({shown})" if addresses is not None else entry)
    return ", ".join(out)


def format_policy(view: Network, now: float) -> Text:
    """The policy block of ``colony net``/``colony policy``: mode, entries, where it is from."""
    policy, resolved = view.policy, view.resolved
    source = view.source or "colony.toml"
    if source == "override" and view.set_at:
        source = f"set by {view.set_by} {format_age(view.set_at, now)}"
    egress = policy.egress if policy else "?"
    style = {"allow": "green", "deny": "red", "allowlist": "yellow"}.get(egress, "")
    rows = [
        [Text("egress", style="bold"), Text.assemble((egress, style), f"  ({source})")],
        [Text("allow", style="bold"), Text(_entries(policy.allow if policy else [], resolved))],
        [Text("deny", style="bold"), Text(_entries(policy.deny if policy else [], resolved))],
        [Text("dns", style="bold"), Text(", ".join(view.resolvers) or "-")],
        [Text("let in", style="bold"), Text(", ".join(view.exposed_to) or "-")],
    ]
    out = grid(rows)
    if not view.attached:
        out.append("\n(no kernel objects now: applied when the colony next starts)")
    return out


def _clock(at: float, tz: tzinfo | None) -> str:
    return datetime.fromtimestamp(at, tz).strftime("%H:%M:%S")


def format_network(view: Network, now: float, tz: tzinfo | None = None) -> Text:
    """``colony net NAME``: the policy, counters, destinations and recent connections."""
    out = format_policy(view, now)
    out.append("\n\n")
    out.append_text(
        Text.assemble(
            ("connections ", "bold"),
            (f"{view.accepted} accepted", "green"),
            ", ",
            (f"{view.denied} denied", "red" if view.denied else ""),
        )
    )
    if view.destinations:
        rows = [header("DESTINATION", "PROTO", "ACCEPTED", "DENIED", "LAST")]
        for d in view.destinations:
            rows.append(
                [
                    Text(_target(d.dest, d.port)),
                    Text(d.proto or "?"),
                    Text(str(d.accepted)),
                    Text(str(d.denied), style="red" if d.denied else ""),
                    Text(format_age(d.last, now)),
                ]
            )
        out.append("\n\n")
        out.append_text(grid(rows))
    if view.records:
        rows = [header("TIME", "VERDICT", "PROTO", "DESTINATION", "USER")]
        for r in view.records:
            rows.append(
                [
                    Text(_clock(r.at, tz)),
                    Text(r.verdict, style="green" if r.verdict == "accept" else "red"),
                    Text(r.proto or "?"),
                    Text(_target(r.dest, r.port)),
                    Text(r.user or "-"),
                ]
            )
        out.append("\n\n")
        out.append_text(grid(rows))
    return out


# --- commands ---------------------------------------------------------------------------------


@main.command()
@name_argument
@click.option("-n", "--lines", default=20, show_default=True, help="Recent connections shown.")
@json_option
@click.pass_context
def net(ctx: click.Context, name: str, lines: int, as_json: bool) -> None:
    """Show a colony's network policy, connection counters and recent connections.

    Every new outbound connection and every refused attempt is recorded, with its
    destination, port, protocol and verdict.

    \b
    Example:
      colony net web -n 50
    """
    view = _client(ctx).network(name, limit=max(0, lines))
    if as_json:
        _print_json(view)
    else:
        _out(format_network(view, time.time()))


@main.command()
@name_argument
@click.option("--egress", metavar="MODE", help="allow | deny | allowlist")
@click.option(
    "--allow", multiple=True, metavar="ENTRY", help="host[:port], IP[:port], CIDR[:port]."
)
@click.option("--deny", multiple=True, metavar="ENTRY", help="Refused whatever the mode.")
@click.option("--reset", is_flag=True, help="Drop the override: colony.toml's [network] again.")
@json_option
@click.pass_context
def policy(
    ctx: click.Context,
    name: str,
    egress: str | None,
    allow: tuple[str, ...],
    deny: tuple[str, ...],
    reset: bool,
    as_json: bool,
) -> None:
    """Show or change a colony's egress policy, live: no restart.

    The flags state the whole new policy (entries not given are dropped). It is stored, so it
    outlives a daemon restart, until --reset. Without flags, show the policy.

    \b
    Examples:
      colony policy web --egress allowlist --allow pypi.org:443 --allow 10.1.2.0/24
      colony policy web --egress allow --deny 169.254.169.254
      colony policy web --reset
    """
    if reset and (egress or allow or deny):
        raise ConfigError("--reset: expected no --egress, --allow or --deny with it")
    if egress is None and (allow or deny):
        raise ConfigError(
            "--egress: required with --allow or --deny, got none",
            hint="the flags state the whole policy, e.g. --egress allowlist --allow pypi.org:443",
        )
    if egress is not None:
        parse_policy(egress, allow, deny, names=FLAGS)  # bad input: no request at all
    client = _client(ctx)
    if reset:
        view = client.reset_policy(name)
    elif egress is not None:
        view = client.set_policy(name, egress, list(allow), list(deny))
    else:
        view = client.network(name, limit=0)
    for warning in view.warnings or []:
        _err_console().print(Text.assemble(("warning:", "bold yellow"), f" {warning}"))
    if as_json:
        _print_json(view)
    else:
        _out(format_policy(view, time.time()))


def _debug_group() -> click.Group:
    """``colony debug``, shared with other modules that add a look under the hood."""
    found = main.commands.get("debug")
    if isinstance(found, click.Group):
        return found

    @main.group()
    def debug() -> None:
        """Look under the hood: what Mycelium renders for the kernel."""

    return debug


@_debug_group().command("render-firewall")
@name_argument
@click.pass_context
def render_firewall(ctx: click.Context, name: str) -> None:
    """Print the nft text of a colony's table, as Mycelium loads it (in one transaction).

    \b
    Example:
      colony debug render-firewall web
    """
    click.echo(_client(ctx).firewall(name).text, nl=False)
