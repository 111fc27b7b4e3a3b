"""``colony agent run/ls/show/logs/stop/continue``: agents inside colonies (issue 6)."""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time

import click

from colony.cli.app import (
    _client,
    _err_console,
    _out,
    _pairs_option,
    _print_json,
    json_option,
    main,
    name_argument,
)
from colony.cli.workflow_format import (
    format_agent_event,
    format_agent_interrupted,
    format_session,
    format_sessions,
    format_started,
)
from colony.client import Client
from colony.contract_responses import Session
from colony.errors import ColonyError

# The agent CLIs' credentials, passed from the caller's environment to the agent (never
# stored, never logged): Mycelium's own environment rarely has them.
FORWARDED = (
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_BASE_URL",
    "CLAUDE_CODE_OAUTH_TOKEN",
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "GEMINI_API_KEY",
    "GOOGLE_API_KEY",
    "GOOGLE_CLOUD_PROJECT",
)


def forwarded_env(extra: dict[str, str]) -> dict[str, str]:
    """The caller's agent credentials that are set, then ``--env`` values."""
    return {**{k: os.environ[k] for k in FORWARDED if os.environ.get(k)}, **extra}


def read_task(task: str) -> str:
    """The task; ``-`` reads it from stdin."""
    return sys.stdin.read() if task == "-" else task


env_option = click.option(
    "--env",
    "env",
    multiple=True,
    metavar="KEY=VALUE",
    callback=_pairs_option("KEY=VALUE"),
    help="Variable for the agent, repeatable (API keys in your environment pass anyway).",
)
follow_option = click.option(
    "-f", "--follow", is_flag=True, help="Show the agent's events until it ends."
)


@main.group()
def agent() -> None:
    """Run AI coding agents inside colonies, watch them, stop and continue them.

    \b
    Example:
      colony agent run web "add a /health route" -f
    """


def _follow(client: Client, name: str, session: int, as_json: bool) -> int:
    """Print a session's events until it ends; the exit code says whether it completed."""
    status = "running"
    try:
        for event in client.agent_events(name, session, follow=True):
            if as_json:
                click.echo(json.dumps(event))
            else:
                _out(format_agent_event(event))
            if event.get("kind") == "ended":
                status = str(event.get("status"))
    except KeyboardInterrupt:
        # Ctrl-C ends the watching; the agent goes on in its colony (issue 12).
        with contextlib.suppress(ColonyError):
            if client.agent_session(name, session, events=0).status == "running":
                _err_console().print(format_agent_interrupted(name, session))
        return 130
    if status == "running":
        status = client.agent_session(name, session, events=0).status
    return 0 if status == "completed" else 1


def _started(ctx: click.Context, client: Client, s: Session, follow: bool, as_json: bool) -> None:
    if follow:
        ctx.exit(_follow(client, s.colony, s.id, as_json))
    if as_json:
        _print_json(s)
    else:
        _out(format_started(s))


@agent.command("run")
@name_argument
@click.argument("task")
@click.option("--agent", "preset", help="Preset: claude, codex, aider, gemini [default: [agent]].")
@click.option("--command", help="Command template with {prompt}, instead of a preset.")
@env_option
@follow_option
@json_option
@click.pass_context
def run(
    ctx: click.Context,
    name: str,
    task: str,
    preset: str | None,
    command: str | None,
    env: dict[str, str],
    follow: bool,
    as_json: bool,
) -> None:
    """Start an agent on TASK inside colony NAME (TASK "-" reads stdin).

    The agent runs in the colony's namespace and cgroup, in its workspace, with its
    environment; its events are stored and shown by 'colony agent logs'.

    \b
    Example:
      colony agent run web "fix the failing login test" --agent claude -f
    """
    client = _client(ctx)
    s = client.agent_run(
        name, read_task(task), preset=preset, command=command, env=forwarded_env(env)
    )
    _started(ctx, client, s, follow, as_json)


@agent.command("continue")
@name_argument
@click.argument("task", default="continue")
@click.option("--session", type=int, help="The session to continue [default: the latest].")
@env_option
@follow_option
@json_option
@click.pass_context
def continue_(
    ctx: click.Context,
    name: str,
    task: str,
    session: int | None,
    env: dict[str, str],
    follow: bool,
    as_json: bool,
) -> None:
    """Continue an ended session with TASK, resuming the agent's own session.

    \b
    Example:
      colony agent continue web "now add a test for it"
    """
    client = _client(ctx)
    s = client.agent_continue(name, read_task(task), session=session, env=forwarded_env(env))
    _started(ctx, client, s, follow, as_json)


@agent.command("ls")
@click.argument("name", required=False)
@json_option
@click.pass_context
def list_sessions(ctx: click.Context, name: str | None, as_json: bool) -> None:
    """List agent sessions (of colony NAME, or all).

    \b
    Example:
      colony agent ls web
    """
    result = _client(ctx).agent_sessions(name)
    if as_json:
        _print_json(result)
    else:
        _out(format_sessions(result.sessions, time.time()))


def _session_id(client: Client, name: str, session: int | None) -> int:
    if session is not None:
        return session
    sessions = client.agent_sessions(name).sessions
    if not sessions:
        from colony.errors import NotFound

        raise NotFound(f"colony '{name}' has no agent sessions",
                       hint=f"start one with 'colony agent run {name} \"task\"'")  # fmt: skip
    return sessions[-1].id


@agent.command("show")
@name_argument
@click.argument("session", type=int, required=False)
@click.option("-n", "--events", default=20, show_default=True, help="How many last events.")
@json_option
@click.pass_context
def show(ctx: click.Context, name: str, session: int | None, events: int, as_json: bool) -> None:
    """Show a session (default: the colony's latest): status, cost, tokens, last events.

    \b
    Example:
      colony agent show web 3
    """
    client = _client(ctx)
    result = client.agent_session(name, _session_id(client, name, session), events=events)
    if as_json:
        _print_json(result)
    else:
        _out(format_session(result, time.time()))


@agent.command("logs")
@name_argument
@click.argument("session", type=int, required=False)
@follow_option
@json_option
@click.pass_context
def logs(ctx: click.Context, name: str, session: int | None, follow: bool, as_json: bool) -> None:
    """Print a session's events (default: the latest); -f follows until it ends.

    \b
    Example:
      colony agent logs web -f
    """
    client = _client(ctx)
    ident = _session_id(client, name, session)
    if follow:
        _follow(client, name, ident, as_json)
        return
    for event in client.agent_events(name, ident):
        click.echo(json.dumps(event)) if as_json else _out(format_agent_event(event))


@agent.command("stop")
@name_argument
@click.argument("session", type=int, required=False)
@json_option
@click.pass_context
def stop(ctx: click.Context, name: str, session: int | None, as_json: bool) -> None:
    """Interrupt the colony's running agent (SIGINT, then SIGTERM, then SIGKILL).

    \b
    Example:
      colony agent stop web
    """
    result = _client(ctx).agent_stop(name, session)
    if as_json:
        _print_json(result)
    else:
        _out(f"agent session {result.id} of colony {name}: {result.status}")
