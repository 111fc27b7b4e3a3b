"""``colony dashboard`` (Bloom's login URL and tokens) and ``colony tui`` (Stem)."""

from __future__ import annotations

import os
import sys
import time
import webbrowser

import click

from colony.cli.app import _client, _out, _print_json, json_option, main
from colony.contract_responses import Login


def format_login(data: Login, *, now: float) -> str:
    """Two lines: who the URL logs in and how long it works, then the URL (last on its line)."""
    minutes = max(1, round(((data.expires or now) - now) / 60))
    return f"Bloom login for {data.user} (works once, for {minutes} minutes):\n{data.url}"


def _can_open_browser() -> bool:
    # Without a display, webbrowser would start a console browser inside this terminal.
    return sys.platform == "darwin" or bool(
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    )


@main.command()
@click.option("--no-open", is_flag=True, help="Only print the login URL.")
@click.option(
    "--revoke", is_flag=True, help="End every login URL, browser session and API token of yours."
)
@click.option(
    "--token",
    "api_token",
    is_flag=True,
    help="Print an API token for scripts (Authorization: Bearer) instead.",
)
@json_option
@click.pass_context
def dashboard(
    ctx: click.Context, no_open: bool, revoke: bool, api_token: bool, as_json: bool
) -> None:
    """Open Bloom, the web dashboard, with a one-time login URL.

    Bloom lives on a name of its own, http://bloom.localhost:<port> (browsers resolve
    *.localhost by themselves). The URL works once and for 10 minutes; the browser then keeps
    a session for 7 days.
    Scripts use an API token instead: curl -H "Authorization: Bearer $TOKEN" URL/colonies.

    \b
    Example:
      colony dashboard --no-open
      colony dashboard --revoke
    """
    client = _client(ctx)
    if revoke:
        revoked = client.revoke_tokens()
        if as_json:
            _print_json(revoked)
        else:
            _out(f"revoked {revoked.revoked} tokens and sessions of {revoked.user}")
        return
    if api_token:
        token = client.api_token()
        if as_json:
            _print_json(token)
        else:
            click.echo(token.token)
        return
    data = client.dashboard_url()
    if as_json:
        _print_json(data)
        return
    click.echo(format_login(data, now=time.time()))
    if not no_open and _can_open_browser():
        webbrowser.open(data.url)


@main.command()
@click.pass_context
def tui(ctx: click.Context) -> None:
    """Open Stem, the terminal UI: colonies, logs, keys for every action ('?' for help).

    \b
    Example:
      colony tui
    """
    from colony.tui.app import ColonyTui

    ColonyTui(_client(ctx)).run()
