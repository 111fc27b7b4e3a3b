"""``colony secret set|ls|rm``: credentials a colony uses without ever holding them (issue 17).

The colony's environment gets a placeholder; the egress gate puts the value in, only on
requests to the secret's hosts.
"""

from __future__ import annotations

import os
import sys

import click
from rich.text import Text

from colony.cli.app import _client, _out, _print_json, json_option, main, name_argument
from colony.contract_responses import Secrets
from colony.core.secrets import check_secret
from colony.errors import ConfigError


def format_secrets(view: Secrets) -> Text:
    """One line per secret: ``KEY  api.example.com, b.example.com  (header x-api-key)``."""
    if not view.secrets:
        return Text(f"{view.colony}: no secrets")
    text = Text()
    for i, s in enumerate(view.secrets):
        header = f"  (header {s.header})" if s.header else "  (any header)"
        text.append("\n" if i else "").append(s.key, "bold")
        text.append(f"  {', '.join(s.hosts)}{header}")
    return text


def read_value(from_env: str | None) -> str:
    """The value from ``$from_env`` or stdin (one line; the trailing newline dropped)."""
    if from_env is not None:
        value = os.environ.get(from_env)
        if value is None:
            raise ConfigError(
                f"--from-env: expected a variable set in your environment, got {from_env}"
            )
        return value
    if sys.stdin.isatty():
        click.echo("value (not shown): ", nl=False, err=True)
        import getpass

        return getpass.getpass(prompt="")
    return sys.stdin.read()


@main.group()
def secret() -> None:
    """Credentials a colony uses but never sees: it gets KEY=colony-secret-<random>, and
    the egress gate puts the real value in requests to the secret's hosts only.

    \b
    Examples:
      colony secret set web ANTHROPIC_API_KEY --hosts api.anthropic.com --header x-api-key < key
      colony secret set web GITHUB_TOKEN --hosts api.github.com --from-env GITHUB_TOKEN
      colony secret ls web
      colony secret rm web GITHUB_TOKEN
    """


@secret.command("set")
@name_argument
@click.argument("key")
@click.option("--hosts", required=True, help="Comma-separated host names the secret is for.")
@click.option(
    "--header", help="The header the placeholder is replaced in (Authorization, x-api-key) "
    "[default: any header carrying it].",
)  # fmt: skip
@click.option("--from-env", metavar="VAR", help="Read the value from $VAR instead of stdin.")
@json_option
@click.pass_context
def set_(
    ctx: click.Context,
    name: str,
    key: str,
    hosts: str,
    header: str | None,
    from_env: str | None,
    as_json: bool,
) -> None:
    """Store a secret of colony NAME (owner or admin). Setting it again rotates the value;
    running processes keep their placeholder and the next request carries the new value."""
    spec = check_secret(key, read_value(from_env), hosts, header)  # bad input: no request
    view = _client(ctx).set_secret(name, spec.key, spec.value, list(spec.hosts), spec.header)
    if as_json:
        _print_json(view)
    else:
        s = view.secret
        _out(f"{name}: secret {s.key} set for {', '.join(s.hosts)}")


@secret.command("ls")
@name_argument
@json_option
@click.pass_context
def ls(ctx: click.Context, name: str, as_json: bool) -> None:
    """List colony NAME's secrets: keys, hosts and headers, never values."""
    view = _client(ctx).secrets(name)
    if as_json:
        _print_json(view)
    else:
        _out(format_secrets(view))


@secret.command("rm")
@name_argument
@click.argument("key")
@json_option
@click.pass_context
def rm(ctx: click.Context, name: str, key: str, as_json: bool) -> None:
    """Remove secret KEY of colony NAME; its placeholder is put in nowhere from now on."""
    view = _client(ctx).remove_secret(name, key)
    if as_json:
        _print_json(view)
    else:
        _out(f"{name}: secret {key} removed")
