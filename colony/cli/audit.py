"""``colony audit``: query and follow the audit log, verify its chain, export it."""

from __future__ import annotations

import datetime as dt
import json
import time
from typing import Any

import click
from rich.text import Text

from colony.cli.app import _client, _out, _print_json, json_option, main
from colony.contract_responses import AuditEntry, Verdict, dump
from colony.core.audit_events import KINDS, parse_kind, parse_since
from colony.errors import ColonyError


def format_entry(entry: AuditEntry) -> Text:
    """One entry as a line: local time, user, kind, message."""
    when = dt.datetime.fromtimestamp(entry.at).strftime("%Y-%m-%d %H:%M:%S")
    return Text.assemble(
        (when, "dim"),
        "  ",
        (f"{entry.user or '-':<10}", "cyan"),
        " ",
        (f"{entry.kind:<9}", "bold"),
        " ",
        entry.msg,
    )


def format_verdict(verdict: Verdict) -> str:
    """What ``verify`` found, when the chain holds."""
    checked = verdict.checked
    text = f"audit log verified: {checked} entr{'y' if checked == 1 else 'ies'}, chain intact"
    if verdict.cut:
        text += f" from the signed retention checkpoint at entry {verdict.cut}"
    if verdict.head:
        text += f" up to the signed head (entry {verdict.head})"
    return text


def _filters(
    colony: str | None, kind: str | None, user: str | None, since: str | None, until: str | None
) -> dict[str, Any]:
    """Query filters, checked here so a bad one fails before Mycelium is asked."""
    now = time.time()
    return {
        "colony": colony,
        "kind": parse_kind(kind) if kind is not None else None,
        "user": user,
        "since": parse_since(since, now, "--since") if since is not None else None,
        "until": parse_since(until, now, "--until") if until is not None else None,
    }


def filter_options(f: Any) -> Any:
    """--colony, --kind, --user, --since, --until."""
    for option in reversed(
        [
            click.option("--colony", "colony", metavar="NAME", help="Only entries of colony NAME."),
            click.option(
                "--kind", metavar="KIND", help=f"Only entries of KIND: {', '.join(KINDS)}."
            ),
            click.option("--user", metavar="USER", help="Only what USER did."),
            click.option(
                "--since",
                metavar="WHEN",
                help="Only entries since WHEN: a time back (90s, 30m, 1h, 2d, 1h30m), "
                "a local time (2024-05-01, 2024-05-01T10:00) or a unix time.",
            ),
            click.option("--until", metavar="WHEN", help="Only entries before WHEN."),
        ]
    ):
        f = option(f)
    return f


@main.group(invoke_without_command=True)
@filter_options
@click.option(
    "-n",
    "--lines",
    type=click.IntRange(min=0),
    default=100,
    show_default=True,
    help="Show the newest N entries (0: all).",
)
@click.option("-f", "--follow", is_flag=True, help="Keep showing new entries as they come.")
@json_option
@click.pass_context
def audit(
    ctx: click.Context,
    colony: str | None,
    kind: str | None,
    user: str | None,
    since: str | None,
    until: str | None,
    lines: int,
    follow: bool,
    as_json: bool,
) -> None:
    """Show the audit log: what colonies and their users did, oldest first.

    Every state change, exec and shell, preview request, network connection, batch of file
    changes and resource event is recorded, with its user. Secrets are redacted before
    anything is stored.

    \b
    Example:
      colony audit --colony web --since 1h
      colony audit --kind exec -f
      colony audit verify
    """
    if ctx.invoked_subcommand is not None:
        return
    filters = _filters(colony, kind, user, since, until)
    client = _client(ctx)
    if follow:
        for entry in client.audit_follow(limit=lines, **filters):
            if as_json:
                click.echo(json.dumps(dump(entry)))
            else:
                _out(format_entry(entry))
        return
    entries = client.audit(limit=lines, **filters).entries
    if as_json:
        _print_json(entries)
        return
    for entry in entries:
        _out(format_entry(entry))


@audit.command("verify")
@json_option
@click.pass_context
def audit_verify(ctx: click.Context, as_json: bool) -> None:
    """Check that no entry was edited, deleted, inserted or reordered.

    Exits 1 naming the first entry that was, 0 if the chain and its signed checkpoints hold.

    \b
    Example:
      colony audit verify
    """
    verdict = _client(ctx).audit_verify()
    if as_json:
        _print_json(verdict)
        if not verdict.ok:
            ctx.exit(1)
        return
    if not verdict.ok:
        raise ColonyError(
            f"audit log does not verify: {verdict.problem}",
            hint=f"entries before entry {verdict.first} are intact; compare the rest with "
            "an earlier export or with VictoriaLogs",
        )
    click.echo(format_verdict(verdict))


@audit.command("export")
@filter_options
@click.pass_context
def audit_export(
    ctx: click.Context,
    colony: str | None,
    kind: str | None,
    user: str | None,
    since: str | None,
    until: str | None,
) -> None:
    """Write entries as JSON lines for VictoriaLogs' /insert/jsonline.

    Each line has _msg, _time (RFC 3339), the stream fields colony, user and kind, seq and
    hash (to check against the log) and the event's fields under data.

    \b
    Example:
      colony audit export --since 1d > audit.jsonl
      curl -T audit.jsonl 'http://localhost:9428/insert/jsonline?_stream_fields=colony,user,kind'
    """
    filters = _filters(colony, kind, user, since, until)
    for line in _client(ctx).audit_export(**filters):
        click.echo(line)
