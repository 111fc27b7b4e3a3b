"""``colony brood spawn/ls/show/pick/rm``: one objective given to N colonies (issue 6)."""

from __future__ import annotations

import time
from pathlib import Path

import click

from colony.cli.agent import env_option, forwarded_env, read_task
from colony.cli.app import (
    _client,
    _name_option,
    _out,
    _print_json,
    config_option,
    json_option,
    main,
    repo_option,
)
from colony.cli.colonies import find_repo_root, report_removals
from colony.cli.workflow_format import format_brood, format_broods, format_pick


@main.group()
def brood() -> None:
    """Give one objective to several agents, compare their results, keep the best.

    \b
    Example:
      colony brood spawn "fix the flaky test" --count 4 --max-parallel 2
    """


@brood.command("spawn")
@click.argument("objective")
@click.option("--count", type=int, default=3, show_default=True, help="How many colonies.")
@click.option("--agent", "preset", help="Preset: claude, codex, aider, gemini [default: [agent]].")
@click.option("--command", help="Command template with {prompt}, instead of a preset.")
@click.option("--max-parallel", type=int, help="Agents running at once [default: 4].")
@repo_option
@click.option("--rev", help="Revision every colony starts from [default: HEAD].")
@config_option
@click.option("--name", callback=_name_option, help="Brood name [default: from the objective].")
@env_option
@json_option
@click.pass_context
def spawn(
    ctx: click.Context,
    objective: str,
    count: int,
    preset: str | None,
    command: str | None,
    max_parallel: int | None,
    repo: Path | None,
    rev: str | None,
    config: Path | None,
    name: str | None,
    env: dict[str, str],
    as_json: bool,
) -> None:
    """Spawn COUNT colonies from one base and give each agent OBJECTIVE ("-" reads stdin).

    At most --max-parallel agents run at once; when one ends, [check] runs in its colony.
    'colony brood show' ranks them; 'colony brood pick' merges one and trashes the rest.

    \b
    Example:
      colony brood spawn "make the build faster" --count 4 --agent claude
    """
    start = (repo or Path.cwd()).resolve()
    root = find_repo_root(start) or start
    result = _client(ctx).brood_spawn(
        read_task(objective),
        count,
        root,
        agent=preset,
        command=command,
        max_parallel=max_parallel,
        rev=rev,
        config=config,
        name=name,
        env=forwarded_env(env),
    )
    if as_json:
        _print_json(result)
    else:
        _out(format_brood(result, time.time()))


@brood.command("ls")
@json_option
@click.pass_context
def list_broods(ctx: click.Context, as_json: bool) -> None:
    """List broods."""
    result = _client(ctx).broods()
    if as_json:
        _print_json(result)
    else:
        _out(format_broods(result.broods, time.time()))


@brood.command("show")
@click.argument("name")
@json_option
@click.pass_context
def show(ctx: click.Context, name: str, as_json: bool) -> None:
    """Show a brood's members, best first: check passed, agent completed, smaller diff,
    shorter run, lower cost.

    \b
    Example:
      colony brood show fix-login-3f2a
    """
    result = _client(ctx).brood(name)
    if as_json:
        _print_json(result)
    else:
        _out(format_brood(result, time.time()))


@brood.command("pick")
@click.argument("name")
@click.argument("colony", required=False)
@click.option("--squash", is_flag=True, help="One commit on the branch instead of a merge.")
@click.option("--into", help="Branch to merge into [default: the brood's].")
@click.option("--force", is_flag=True, help="Pick even while members still run.")
@json_option
@click.pass_context
def pick(
    ctx: click.Context,
    name: str,
    colony: str | None,
    squash: bool,
    into: str | None,
    force: bool,
    as_json: bool,
) -> None:
    """Merge COLONY (default: the best ranked) and move the brood's other colonies to the trash.

    \b
    Example:
      colony brood pick fix-login-3f2a --squash
    """
    result = _client(ctx).brood_pick(name, colony, squash=squash, into=into, force=force)
    if as_json:
        _print_json(result)
    else:
        _out(format_pick(result))


@brood.command("rm")
@click.argument("name")
@click.option("--force", is_flag=True, help="Remove its colonies even if they still run.")
@json_option
@click.pass_context
def remove(ctx: click.Context, name: str, force: bool, as_json: bool) -> None:
    """Remove a brood and its colonies; their work stays recoverable.

    Its colonies are removed together, each as 'colony rm' does (a final snapshot, then its
    work to the trash: 'colony trash restore COLONY' brings one back), then the brood. If
    any of them could not be removed, the brood stays (remove it again) and the exit code is
    1. --json prints {brood, removed, results}.

    \b
    Example:
      colony brood rm fix-login-3f2a --force
    """
    result = _client(ctx).brood_remove(name, force=force)
    if as_json:
        _print_json(result)
        if not result.removed:
            ctx.exit(1)
        return
    if result.results:
        report_removals(result.results, len(result.results), as_json=False)
    _out(f"removed brood '{name}'")
