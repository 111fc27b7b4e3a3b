"""``colony daemon``: start, stop, inspect or run Mycelium."""

from __future__ import annotations

import contextlib
import re
from pathlib import Path

import click

from colony.cli.app import Options, _out, _print_json, json_option, main
from colony.cli.format import format_health
from colony.client import (
    Client,
    DaemonUnavailable,
    default_socket,
    default_state_dir,
    ensure_daemon,
    stop_daemon,
)
from colony.core.identity import DEFAULT_UID_BASE, DEFAULT_UID_COUNT


@main.group()
def daemon() -> None:
    """Start, stop or inspect Mycelium (the daemon).

    \b
    Example:
      colony daemon status
    """


@daemon.command("start")
@click.pass_context
def daemon_start(ctx: click.Context) -> None:
    """Start Mycelium in the background unless it is running.

    \b
    Example:
      COLONY_STATE_DIR=/tmp/colony colony daemon start
    """
    socket_path = ctx.ensure_object(Options).socket_path
    with Client(socket_path) as client, contextlib.suppress(DaemonUnavailable):
        pid = client.health().get("pid")
        click.echo(f"Mycelium is already running (pid {pid}, socket {socket_path})")
        return
    ensure_daemon(socket_path).close()


@daemon.command("stop")
@click.option("--timeout", default=30.0, show_default=True, help="Seconds to wait for it to end.")
@click.pass_context
def daemon_stop(ctx: click.Context, timeout: float) -> None:
    """Stop Mycelium; colonies keep running.

    The next Mycelium adopts them.

    \b
    Example:
      colony daemon stop
    """
    pid = stop_daemon(ctx.ensure_object(Options).socket_path, timeout)
    if pid is None:
        click.echo("Mycelium is not running")
        return
    click.echo(f"stopped Mycelium (pid {pid})")


@daemon.command("status")
@json_option
@click.pass_context
def daemon_status(ctx: click.Context, as_json: bool) -> None:
    """Say whether Mycelium runs.

    Exits 3 if it does not, like systemctl.

    \b
    Example:
      colony daemon status || colony daemon start
    """
    socket_path = ctx.ensure_object(Options).socket_path
    with Client(socket_path) as client:
        try:
            health = client.health()
        except DaemonUnavailable:
            if as_json:
                _print_json({"ok": False, "socket": str(socket_path)})
            else:
                click.echo(f"Mycelium is not running (nothing answers on {socket_path})")
            ctx.exit(3)
    if as_json:
        _print_json(health)
    else:
        _out(format_health(health, socket_path))


def _http_port(ctx: click.Context, param: click.Parameter, value: str) -> int | None:
    if value.strip().lower() == "off":
        return None
    try:
        port = int(value)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise click.BadParameter(f"expected a port 0-65535 or 'off', got {value!r}", ctx, param)
    return port


HOST_NAME_RE = re.compile(
    r"(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)+"
)


def _host_name(ctx: click.Context, param: click.Parameter, value: str) -> str:
    name = value.strip().lower().removesuffix(".")
    if not HOST_NAME_RE.fullmatch(name) or name.replace(".", "").isdigit():
        raise click.BadParameter(
            f"expected a host name such as bloom.localhost, got {value!r}", ctx, param
        )
    return name


@daemon.command("run")
@click.option(
    "--state-dir",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="COLONY_STATE_DIR",
    help="Where colonies, the database and the log live "
    "[env COLONY_STATE_DIR; default /var/lib/colony].",
)
@click.option(
    "--socket",
    "socket_path",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="COLONY_SOCKET",
    help="API socket [env COLONY_SOCKET; default <state dir>/mycelium.sock].",
)
@click.option(
    "--proxy-port",
    type=click.IntRange(0, 65535),
    envvar="COLONY_PROXY_PORT",
    default=7080,
    show_default=True,
    help="Port of the preview proxy, 0 for any free port [env COLONY_PROXY_PORT].",
)
@click.option(
    "--prefix",
    envvar="COLONY_PREFIX",
    default="colony",
    show_default=True,
    help="Prefix of kernel object names [env COLONY_PREFIX].",
)
@click.option(
    "--pool",
    envvar="COLONY_POOL",
    default="10.213.0.0/16",
    show_default=True,
    help="Address pool for colonies [env COLONY_POOL].",
)
@click.option(
    "--domain",
    envvar="COLONY_DOMAIN",
    default="localhost",
    show_default=True,
    help="Domain of preview URLs [env COLONY_DOMAIN].",
)
@click.option(
    "--http-port",
    envvar="COLONY_HTTP_PORT",
    default="8000",
    show_default=True,
    callback=_http_port,
    help="Port of Bloom and the token-protected API on 127.0.0.1; 0 for any free port, "
    "'off' for none [env COLONY_HTTP_PORT].",
)
@click.option(
    "--http-name",
    envvar="COLONY_HTTP_NAME",
    default="bloom.localhost",
    show_default=True,
    callback=_host_name,
    help="Bloom's own name: its URL, its cookie's host and the only origin its API accepts "
    "(*.localhost resolves to 127.0.0.1 in browsers) [env COLONY_HTTP_NAME].",
)
@click.option(
    "--peer-connections",
    envvar="COLONY_PEER_CONNECTIONS",
    type=click.IntRange(1, 65535),
    default=256,
    show_default=True,
    help="Open connections one peer (a local user, else an address) may hold on the preview "
    "proxy, and as many on Bloom's listener; more are answered 429 [env "
    "COLONY_PEER_CONNECTIONS].",
)
@click.option(
    "--proxy-workers",
    envvar="COLONY_PROXY_WORKERS",
    type=click.IntRange(0, 64),
    default=None,
    help="Processes that serve previews, each as its own unprivileged uid [env "
    "COLONY_PROXY_WORKERS; default: one per core]. 0 serves them in the daemon's own event "
    "loop (slower).",
)
@click.option(
    "--idle-timeout",
    envvar="COLONY_IDLE_TIMEOUT",
    type=click.FloatRange(1, 3600),
    default=30.0,
    show_default=True,
    help="Seconds a connection to the preview proxy or Bloom may wait for a request head "
    "(its first, or its next when idle) [env COLONY_IDLE_TIMEOUT].",
)
@click.option(
    "--audit-push",
    envvar="COLONY_AUDIT_PUSH",
    metavar="URL",
    help="Push the audit log to VictoriaLogs at URL (its /insert/jsonline) "
    "[env COLONY_AUDIT_PUSH].",
)
@click.option(
    "--audit-retention",
    envvar="COLONY_AUDIT_RETENTION",
    metavar="DURATION",
    help="Prune audit entries older than this (e.g. 90d), keeping a signed checkpoint; "
    "default: keep all [env COLONY_AUDIT_RETENTION].",
)
@click.option(
    "--log-size",
    envvar="COLONY_LOG_SIZE",
    default="10M",
    show_default=True,
    metavar="SIZE",
    help="Largest log file of a colony's source (a service, setup, an agent) before it is "
    "rotated [env COLONY_LOG_SIZE].",
)
@click.option(
    "--log-files",
    envvar="COLONY_LOG_FILES",
    default="3",
    show_default=True,
    metavar="N",
    help="Files kept per log source: the live one and N-1 rotated ones [env COLONY_LOG_FILES].",
)
@click.option(
    "--watch-limit",
    envvar="COLONY_WATCH_LIMIT",
    type=click.IntRange(1, 1_000_000),
    default=8192,
    show_default=True,
    metavar="N",
    help="inotify watches (workspace directories) per colony [env COLONY_WATCH_LIMIT].",
)
@click.option(
    "--files-rate",
    envvar="COLONY_FILES_RATE",
    default="100",
    show_default=True,
    metavar="N",
    help="Changed paths per second a colony may list in the audit log once its burst is "
    "used up; the rest are counted [env COLONY_FILES_RATE].",
)
@click.option(
    "--files-burst",
    envvar="COLONY_FILES_BURST",
    default="10000",
    show_default=True,
    metavar="N",
    help="Changed paths a colony may list at once [env COLONY_FILES_BURST].",
)
@click.option(
    "--uid-base",
    envvar="COLONY_UID_BASE",
    type=int,
    default=DEFAULT_UID_BASE,
    show_default=True,
    help="First uid of the range colonies get their own uid from; no user, group or "
    "subordinate id of the host may fall in it [env COLONY_UID_BASE].",
)
@click.option(
    "--uid-count",
    envvar="COLONY_UID_COUNT",
    type=int,
    default=DEFAULT_UID_COUNT,
    show_default=True,
    help="Size of that range: colonies plus trash entries [env COLONY_UID_COUNT].",
)
@click.option(
    "--policy",
    envvar="COLONY_POLICY",
    metavar="FILE",
    help="The host policy: sandbox level and floor, egress, default limits, allowed users "
    "[env COLONY_POLICY; default /etc/colony/policy.toml if it exists].",
)
@click.option(
    "--preview-auth",
    envvar="COLONY_PREVIEW_AUTH",
    type=click.Choice(["off", "local", "users"]),
    help="Who may open a colony's previews: anyone reaching the proxy (off), local users who "
    "may see the colony (local), or also browsers with a first-visit link from 'colony url' "
    "(users) [env COLONY_PREVIEW_AUTH; default users on a machine with more than one human "
    "account, else off].",
)
@click.pass_context
def daemon_run(
    ctx: click.Context,
    state_dir: Path | None,
    socket_path: Path | None,
    proxy_port: int,
    prefix: str,
    pool: str,
    domain: str,
    http_port: int | None,
    http_name: str,
    peer_connections: int,
    proxy_workers: int | None,
    idle_timeout: float,
    audit_push: str | None,
    audit_retention: str | None,
    log_size: str,
    log_files: str,
    watch_limit: int,
    files_rate: str,
    files_burst: str,
    uid_base: int,
    uid_count: int,
    policy: str | None,
    preview_auth: str | None,
) -> None:
    """Run Mycelium in the foreground (for systemd); Ctrl-C stops it.

    \b
    Example:
      colony daemon run --state-dir /var/lib/colony --proxy-port 7080
    """
    from colony.daemon.main import run_daemon

    state_dir = state_dir or default_state_dir()
    socket_path = socket_path or ctx.ensure_object(Options).socket or default_socket(state_dir)
    run_daemon(
        state_dir=state_dir,
        socket=socket_path,
        proxy_port=proxy_port,
        prefix=prefix,
        pool=pool,
        domain=domain,
        http_port=http_port,
        http_name=http_name,
        peer_connections=peer_connections,
        proxy_workers=proxy_workers,
        idle_timeout=idle_timeout,
        audit_push=audit_push,
        audit_retention=audit_retention,
        log_size=log_size,
        log_files=log_files,
        watch_limit=watch_limit,
        files_rate=files_rate,
        files_burst=files_burst,
        uid_base=uid_base,
        uid_count=uid_count,
        policy=policy,
        preview_auth=preview_auth,
    )
