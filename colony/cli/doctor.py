"""``colony doctor``: checks the installation against the security checklist (SPEC §12)."""

from __future__ import annotations

import sys
from collections.abc import Sequence

import click
from rich.text import Text

from colony.cli.app import _client, _out, _print_json, json_option, main
from colony.contract_responses import Check

MARK = {"ok": ("ok  ", "green"), "warn": ("warn", "yellow"), "fail": ("FAIL", "bold red")}


def format_checks(checks: Sequence[Check]) -> Text:
    """One line per check, and the fix under each that is not ok."""
    width = max((len(c.name) for c in checks), default=0)
    text = Text()
    for check in checks:
        mark, style = MARK.get(check.status, ("?   ", ""))
        text.append(mark, style=style)
        text.append(f"  {check.name.ljust(width)}  {check.detail}\n")
        if check.status != "ok" and check.hint:
            text.append(f"      {' ' * width}  fix: {check.hint}\n", style="dim")
    text.rstrip()
    return text


@main.command("doctor")
@json_option
@click.pass_context
def doctor(ctx: click.Context, as_json: bool) -> None:
    """Check the installation against the security checklist.

    Daemon user, API socket, firewall tables, address pool, forwarding, cgroups, limits,
    sandbox support, colony users, the audit log, the dashboard and TLS. Exits 1 if any
    check fails; warnings say what is missing and how to add it.

    \b
    Example:
      colony doctor
    """
    checklist = _client(ctx).doctor()
    checks = checklist.checks
    if as_json:
        _print_json(checklist)
    else:
        _out(format_checks(checks))
    if any(c.status == "fail" for c in checks):
        sys.exit(1)
