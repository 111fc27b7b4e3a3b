"""Network commands: ``colony net`` (connections; ``--blocked``: the names refused lately),
``colony policy`` (change it live: whole, or entry by entry), and ``colony debug
render-firewall`` (the nft table as loaded)."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, tzinfo
from typing import Protocol, TypeVar

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
from colony.contract_responses import Blocked, Dns, Network
from colony.core.approvals import amend_policy
from colony.core.policy import Policy, parse_policy
from colony.errors import ConfigError
from colony.present import format_age, grid, header

FLAGS = {"egress": "--egress", "allow": "--allow", "deny": "--deny", "remove": "--remove"}


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
        if name.startswith("*.") and addresses is not None:
            shown = ", ".join(addresses) if addresses else "none answered yet"
        else:
            shown = ", ".join(addresses) if addresses else "unresolved"
        out.append(f"{entry} ({shown})" if addresses is not None else entry)
    return ", ".join(out)


def format_policy(view: Network, now: float) -> Text:
    """The policy block of ``colony net``/``colony policy``: mode, entries, where it is from."""
    policy = view.policy
    resolved = {**view.resolved, **view.learned}
    source = view.source or "colony.toml"
    if source == "override" and view.set_at:
        source = f"set by {view.set_by} {format_age(view.set_at, now)}"
    egress = policy.egress if policy else "?"
    style = {"allow": "green", "deny": "red", "allowlist": "yellow"}.get(egress, "")
    rows = [
        [Text("egress", style="bold"), Text.assemble((egress, style), f"  ({source})")],
        [Text("allow", style="bold"), Text(_entries(policy.allow if policy else [], resolved))],
        [Text("deny", style="bold"), Text(_entries(policy.deny if policy else [], resolved))],
        [Text("dns", style="bold"), Text(_stub(view))],
        [Text("let in", style="bold"), Text(", ".join(view.exposed_to) or "-")],
    ]
    out = grid(rows)
    if not view.attached:
        out.append("\n(no kernel objects now: applied when the colony next starts)")
    return out


def _stub(view: Network) -> str:
    if view.stub:
        return f"Mycelium's stub on {view.stub} (answers what the policy allows)"
    return "Mycelium's stub (when the colony runs)"


def _told(verdict: str, answer: Sequence[str], reason: str = "") -> str:
    """What a DNS question was told: its addresses, or NXDOMAIN and why."""
    if verdict != "accept":
        return f"NXDOMAIN: {reason}" if reason else "NXDOMAIN"
    return ", ".join(answer) or "no address"


def format_dns(dns: Dns, now: float, tz: tzinfo | None = None) -> Text:
    """The DNS part of ``colony net``: counters, the names asked most, recent questions."""
    out = _counters("dns questions", ("answered", dns.answered), ("refused", dns.refused))
    if dns.names:
        rows = [header("NAME", "TYPE", "COUNT", "LAST", "TOLD")]
        for n in dns.names:
            refused_one = n.verdict != "accept"
            rows.append(
                [
                    Text(n.name),
                    Text(n.qtype or "?"),
                    Text(str(n.count)),
                    Text(format_age(n.last, now)),
                    Text(
                        "NXDOMAIN" if refused_one else _told(n.verdict, n.answer),
                        style="red" if refused_one else "",
                    ),
                ]
            )
        out.append("\n\n")
        out.append_text(grid(rows))
    if dns.queries:
        out.append("\n\n")
        out.append_text(
            _log(
                ("TYPE", "NAME", "TOLD"),
                dns.queries,
                tz,
                lambda q: [q.qtype or "?", q.name, _told(q.verdict, q.answer, q.reason)],
            )
        )
    return out


def _counters(title: str, good: tuple[str, int], bad: tuple[str, int]) -> Text:
    """``connections 3 accepted, 2 denied``: the ``good`` count green, ``bad`` red if any."""
    (good_name, ok), (bad_name, refused) = good, bad
    return Text.assemble(
        (f"{title} ", "bold"),
        (f"{ok} {good_name}", "green"),
        ", ",
        (f"{refused} {bad_name}", "red" if refused else ""),
    )


def _clock(at: float, tz: tzinfo | None) -> str:
    return datetime.fromtimestamp(at, tz).strftime("%H:%M:%S")


class _Record(Protocol):
    @property
    def at(self) -> float: ...
    @property
    def verdict(self) -> str: ...


Logged = TypeVar("Logged", bound=_Record)  # a NetRecord or a DnsQuery


def _log(
    titles: Sequence[str],
    items: Sequence[Logged],
    tz: tzinfo | None,
    cells: Callable[[Logged], list[str]],
) -> Text:
    """Recent records: time, verdict (green or red), then ``cells`` of each."""
    rows = [header("TIME", "VERDICT", *titles)]
    for item in items:
        rows.append(
            [
                Text(_clock(item.at, tz)),
                Text(item.verdict, style="green" if item.verdict == "accept" else "red"),
                *(Text(c) for c in cells(item)),
            ]
        )
    return grid(rows)


def format_network(view: Network, now: float, tz: tzinfo | None = None) -> Text:
    """``colony net NAME``: the policy, counters, destinations and recent connections."""
    out = format_policy(view, now)
    out.append("\n\n")
    out.append_text(_counters("connections", ("accepted", view.accepted), ("denied", view.denied)))
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
        out.append("\n\n")
        out.append_text(
            _log(
                ("PROTO", "DESTINATION", "USER"),
                view.records,
                tz,
                lambda r: [
                    r.proto or "?",
                    _target(r.host or r.dest, r.port),  # the gate's: a name
                    r.user or "-",
                ],
            )
        )
    out.append("\n\n")
    out.append_text(format_dns(view.dns, now, tz))
    if view.blocked:
        names = len({row.host for row in view.blocked})
        out.append("\n\n")
        out.append(
            f"{names} name{'s' if names != 1 else ''} refused lately: "
            f"colony net {view.colony} --blocked",
            style="yellow",
        )
    return out


def _what_now(colony: str, fix: str | None, denied_by: str | None, reason: str) -> Text:
    if fix:
        return Text(f"colony policy {colony} --allow {fix}", style="bold")
    if denied_by:
        return Text(f"denied by {denied_by!r}", style="red")
    return Text(reason.removeprefix(f"colony '{colony}': "))


def format_blocked(view: Blocked, now: float) -> Text:
    """``colony net NAME --blocked``: the names the egress gate and the DNS stub refused
    lately, how often, when last, and what admits each."""
    colony = view.colony or "?"
    if not view.blocked:
        return Text(f"colony '{colony}': no names refused lately")
    rows = [header("NAME", "PORT", "BY", "COUNT", "LAST", "TO ALLOW IT")]
    for row in view.blocked:
        rows.append(
            [
                Text(row.host),
                Text("-" if row.port is None else str(row.port)),
                Text("dns stub" if row.via == "dns" else "gate"),
                Text(str(row.count)),
                Text(format_age(row.last, now)),
                _what_now(colony, row.fix, row.denied_by, row.reason),
            ]
        )
    return grid(rows)


# --- commands ---------------------------------------------------------------------------------


@main.command()
@name_argument
@click.option(
    "-n",
    "--lines",
    default=20,
    show_default=True,
    help="Recent connections (--blocked: names) shown.",
)
@click.option(
    "--blocked",
    is_flag=True,
    help="Only the names refused lately (egress gate, DNS stub), with what admits each.",
)
@json_option
@click.pass_context
def net(ctx: click.Context, name: str, lines: int, blocked: bool, as_json: bool) -> None:
    """Show a colony's network policy, connection counters and recent connections, and the
    DNS questions its stub answered or refused.

    Every new outbound connection and every refused attempt is recorded, with its
    destination, port, protocol and verdict; every DNS question with its name, type and
    what it was told. --blocked lists the host names refused lately (a name refused by the
    DNS stub has no port: the colony never connected), with the entry that admits each; a
    name allowed since drops out.

    \b
    Examples:
      colony net web -n 50
      colony net web --blocked
    """
    view = _client(ctx).network(name, limit=max(0, lines))
    if blocked:
        refused = Blocked(colony=view.colony, blocked=view.blocked)
        if as_json:
            _print_json(refused)
        else:
            _out(format_blocked(refused, time.time()))
    elif as_json:
        _print_json(view)
    else:
        _out(format_network(view, time.time()))


@main.command()
@name_argument
@click.option("--egress", metavar="MODE", help="allow | deny | allowlist")
@click.option(
    "--allow",
    multiple=True,
    metavar="ENTRY",
    help="host[:port], *.host[:port], IP[:port], CIDR[:port].",
)
@click.option("--deny", multiple=True, metavar="ENTRY", help="Refused whatever the mode.")
@click.option("--remove", multiple=True, metavar="ENTRY", help="Take an allow or deny entry out.")
@click.option("--reset", is_flag=True, help="Drop the override: colony.toml's [network] again.")
@json_option
@click.pass_context
def policy(
    ctx: click.Context,
    name: str,
    egress: str | None,
    allow: tuple[str, ...],
    deny: tuple[str, ...],
    remove: tuple[str, ...],
    reset: bool,
    as_json: bool,
) -> None:
    """Show or change a colony's egress policy, live: no restart.

    Without --egress, --allow and --deny add entries to the policy in effect and --remove
    takes entries out (an entry added to one list leaves the other). With --egress, the
    flags state the whole new policy (entries not given are dropped). A change is stored,
    so it outlives a daemon restart, until --reset. Without flags, show the policy.

    \b
    Examples:
      colony policy web --allow example.com:443          (what a refused colony is told)
      colony policy web --remove example.com:443 --deny '*.example.com'
      colony policy web --egress allowlist --allow pypi.org:443 --allow '*.pythonhosted.org'
      colony policy web --egress allowlist --allow 10.1.2.0/24
      colony policy web --egress allow --deny 169.254.169.254
      colony policy web --reset
    """
    if reset and (egress or allow or deny or remove):
        raise ConfigError("--reset: expected no --egress, --allow, --deny or --remove with it")
    if egress is not None and remove:
        raise ConfigError(
            f"--remove: expected without --egress, got {remove[0]!r}",
            hint="--egress states the whole policy: leave the entry out instead",
        )
    if egress is not None:  # bad input: no request at all
        parse_policy(egress, allow, deny, names=FLAGS)
    else:
        amend_policy(Policy("allowlist"), allow, deny, names=FLAGS)
        parse_policy("allowlist", remove, names={"allow": "--remove"})
    client = _client(ctx)
    if reset:
        view = client.reset_policy(name)
    elif egress is not None:
        view = client.set_policy(name, egress, list(allow), list(deny))
    elif allow or deny or remove:
        _check_change(client.network(name, limit=0), allow, deny, remove)
        view = client.change_policy(name, list(allow), list(deny), list(remove))
    else:
        view = client.network(name, limit=0)
    for warning in view.warnings or []:
        _err_console().print(Text.assemble(("warning:", "bold yellow"), f" {warning}"))
    if as_json:
        _print_json(view)
    else:
        _out(format_policy(view, time.time()))


def _check_change(
    view: Network, allow: Sequence[str], deny: Sequence[str], remove: Sequence[str]
) -> None:
    """Refuse an entry to remove that the policy does not have, naming the flag (the daemon
    checks again, under its lock; without a policy it says why)."""
    current = view.policy
    if current is None:
        return
    base = parse_policy(current.egress, current.allow, current.deny)
    amend_policy(base, allow, deny, remove, names=FLAGS)


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
