"""colony.toml → Config: validate everything at load time, with the key path in every message.

Pure: ``parse_config`` takes the data ``tomllib`` returns, ``parse_config_text`` takes the text;
reading the file is the caller's job. Every error is one line,
``<source>: <key.path>: expected <what>, got <value>``; unknown keys become warnings.

Environment values (``env``, ``[colony.environment]``) must be strings; integers are accepted
and converted, floats and booleans are not (``3.10`` would become ``'3.1'``, ``true`` ``'True'``).

Example:
    >>> cfg = parse_config_text('[services.web]\\ncommand = "npm run dev"\\nport = 3000\\n')
    >>> cfg.service("web").port, cfg.limits.memory, cfg.warnings
    (3000, None, ())
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any, Literal, get_args

from colony.core import secrets as sec
from colony.core import values as v
from colony.core.values import At, Reader
from colony.errors import ConfigError

Restart = Literal["always", "on-failure", "never"]
Level = Literal["none", "basic", "moderate", "strict"]
Egress = Literal["allow", "deny", "allowlist"]

NO_ENV: Mapping[str, str] = MappingProxyType({})
ENV_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
USER_RE = re.compile(r"[a-z_][a-z0-9_-]{0,31}")
PRESET_RE = re.compile(r"[a-z0-9][a-z0-9._-]{0,62}")
TOML_POS_RE = re.compile(r"(.*) \(at (?:line (\d+), column (\d+)|end of document)\)", re.S)


@dataclass(frozen=True)
class ServiceSpec:
    """A long-running process of a colony, as declared in colony.toml."""

    name: str
    command: str
    port: int | None = None
    working_dir: str | None = None  # relative to the workspace, never escaping it
    env: Mapping[str, str] = field(default_factory=lambda: NO_ENV)
    restart: Restart = "on-failure"
    retries: int = 5  # restarts before giving up
    backoff: float = 0.5  # seconds, doubled each retry, capped at 30
    ready_timeout: float = 30.0  # seconds for the port to accept connections
    stop_timeout: float = 5.0  # SIGTERM → SIGKILL grace


@dataclass(frozen=True)
class Limits:
    """cgroup limits; None means unlimited."""

    cpu: float | None = None  # cores
    memory: int | None = None  # bytes
    swap: int | None = None  # bytes; 0 turns swap off
    pids: int | None = None
    io_weight: int | None = None  # 1-10000
    disk: int | None = None  # bytes: workspace, data, home and tmp together (issue 11)


@dataclass(frozen=True)
class Sandbox:
    level: Level = "basic"
    user: str | None = None  # a real user instead of the colony's own uid (host-approved)
    hide: tuple[str, ...] = ()
    sockets: tuple[str, ...] = ()  # host sockets under /run to see (host-approved)


@dataclass(frozen=True)
class Network:
    egress: Egress = "allow"
    allow: tuple[str, ...] = ()  # 'host', '*.host', 'host:port', IP[:port], CIDR
    expose_to: tuple[str, ...] = ()  # 'colony:port' or 'colony:service'
    deny: tuple[str, ...] = ()  # as allow; refused first, whatever the egress mode (issue 4)


@dataclass(frozen=True)
class PreviewPorts:
    """Ports the preview proxy may reach besides the services' (``[previews] ports``)."""

    ports: tuple[int, ...] = ()


@dataclass(frozen=True)
class Agent:
    preset: str | None = None
    command: str | None = None  # contains '{prompt}'


@dataclass(frozen=True)
class Check:
    command: str | None = None


@dataclass(frozen=True)
class SecretDecl:
    """``[secrets.KEY]`` (issue 17): a secret the colony gets as KEY=<placeholder>, its value
    read by the CLI at spawn from the user's ``$from_env`` (never from the colony)."""

    key: str
    hosts: tuple[str, ...]
    from_env: str
    header: str | None = None


@dataclass(frozen=True)
class Config:
    """A validated colony.toml. ``source`` names the file in messages."""

    source: str
    name: str | None = None
    description: str | None = None
    environment: Mapping[str, str] = field(default_factory=lambda: NO_ENV)
    setup: tuple[str, ...] = ()
    build: tuple[str, ...] = ()
    services: tuple[ServiceSpec, ...] = ()
    terminal: str = "bash"
    limits: Limits = field(default_factory=Limits)
    sandbox: Sandbox = field(default_factory=Sandbox)
    network: Network = field(default_factory=Network)
    previews: PreviewPorts = field(default_factory=PreviewPorts)
    agent: Agent = field(default_factory=Agent)
    check: Check = field(default_factory=Check)
    secrets: tuple[SecretDecl, ...] = ()
    warnings: tuple[str, ...] = ()  # e.g. "colony.toml: foo.bar: unknown key, ignored"

    def service(self, name: str) -> ServiceSpec | None:
        return next((s for s in self.services if s.name == name), None)


EMPTY = Config(source="(defaults)")
"""The configuration of a repository without colony.toml."""


def _prompt_command(value: object, at: At) -> str:
    command = v.string(value, at)
    if "{prompt}" not in command:
        at.fail("a command containing '{prompt}'", value)
    return command


PORT = v.integer("an integer 1-65535", 1, 65535)
SECONDS = v.number("a number of seconds greater than 0 (at most 3600)", 0, 3600)
SERVICE_FIELDS: Mapping[str, Reader[Any]] = {
    "command": v.string,
    "port": PORT,
    "working_dir": v.relative_dir,
    "env": v.str_map(ENV_NAME_RE.fullmatch, "an environment variable name"),
    "restart": v.choice(get_args(Restart)),
    "retries": v.integer("an integer 0-1000", 0, 1000),
    "backoff": v.number("a number of seconds greater than 0 (at most 30)", 0, 30),
    "ready_timeout": SECONDS,
    "stop_timeout": SECONDS,
}
MIN_DISK = 64 * 1024**2  # the smallest disk that holds an ext4 file system and a checkout
LIMIT_FIELDS: Mapping[str, Reader[Any]] = {
    "cpu": v.number("a number of cores greater than 0 (at most 1024)", 0, 1024, strings=True),
    "memory": v.size(1),
    "swap": v.size(0),
    "pids": v.integer("an integer 1-4194304", 1, 4194304, strings=True),
    "io_weight": v.integer("an integer 1-10000", 1, 10000, strings=True),
    "disk": v.size(MIN_DISK),
}
SANDBOX_FIELDS: Mapping[str, Reader[Any]] = {
    "level": v.choice(get_args(Level)),
    "user": v.matching("a user name such as 'alice'", USER_RE.fullmatch),
    "hide": v.string_list(),
    "sockets": v.string_list(v.matching("a path under /run/", lambda p: p.startswith("/run/"))),
}
NETWORK_FIELDS: Mapping[str, Reader[Any]] = {
    "egress": v.choice(get_args(Egress)),
    "allow": v.string_list(
        v.matching(
            "'host', '*.host', 'host:port', an IP address or a CIDR network", v.is_egress_rule
        )
    ),
    "expose_to": v.string_list(v.matching("'colony:port' or 'colony:service'", v.is_exposure)),
    "deny": v.string_list(
        v.matching(
            "'host', '*.host', 'host:port', an IP address or a CIDR network", v.is_egress_rule
        )
    ),
}
AGENT_FIELDS: Mapping[str, Reader[Any]] = {
    "preset": v.matching("a preset name such as 'claude'", PRESET_RE.fullmatch),
    "command": _prompt_command,
}
COMMAND_FIELDS: Mapping[str, Reader[Any]] = {"command": v.string}
COLONY_FIELDS: Mapping[str, Reader[Any]] = {
    "name": v.name,
    "description": v.text,
    "environment": v.str_map(bool, "a non-empty key"),
}


def _section(readers: Mapping[str, Reader[Any]], value: object, at: At, short: str) -> Any:
    """A table read by ``readers``; ``[x] short = "y"`` may be written ``x = "y"``."""
    if isinstance(value, str):
        value = {short: value}
    return v.pick(v.table(value, at, readers), at, readers)


def _steps(value: object, at: At) -> tuple[str, ...]:
    """[setup]/[build]: ``commands = [...]`` or ``command = "..."``; a bare string or array too."""
    if not isinstance(value, Mapping):
        return v.string_list()(value, at)
    table = v.table(value, at, ("commands", "command"))
    if "command" in table and "commands" in table:
        raise at.error("expected 'command' or 'commands', got both")
    key = "command" if "command" in table else "commands"
    return v.string_list()(table[key], at / key) if key in table else ()


def _terminal(value: object, at: At) -> str:
    return str(_section(COMMAND_FIELDS, value, at, "command").get("command", "bash"))


def _limits(value: object, at: At) -> Limits:
    return Limits(**v.pick(v.table(value, at, LIMIT_FIELDS), at, LIMIT_FIELDS))


def _sandbox(value: object, at: At) -> Sandbox:
    return Sandbox(**_section(SANDBOX_FIELDS, value, at, "level"))


def _network(value: object, at: At) -> Network:
    return Network(**_section(NETWORK_FIELDS, value, at, "egress"))


def _previews(value: object, at: At) -> PreviewPorts:
    """``[previews] ports = [5173, 9229]``: each an integer 1-65535 (duplicates dropped)."""
    table = v.table(value, at, ("ports",))
    if "ports" not in table:
        return PreviewPorts()
    ports, where = table["ports"], at / "ports"
    if not isinstance(ports, list | tuple):
        where.fail("an array of ports such as [5173, 9229]", ports)
    return PreviewPorts(tuple(dict.fromkeys(PORT(p, where.item(i)) for i, p in enumerate(ports))))


def _agent(value: object, at: At) -> Agent:
    agent = Agent(**_section(AGENT_FIELDS, value, at, "preset"))
    if agent.preset and agent.command:
        raise at.error("expected 'preset' or 'command', got both")
    return agent


def _check(value: object, at: At) -> Check:
    return Check(**_section(COMMAND_FIELDS, value, at, "command"))


def _secrets(value: object, at: At) -> tuple[SecretDecl, ...]:
    """``[secrets.KEY] hosts = [...] from_env = "VAR" header = "x-api-key"``."""
    if not isinstance(value, Mapping):
        at.fail("[secrets.KEY] tables", value)
    out = []
    for key, item in value.items():
        where = at / str(key)
        if not isinstance(key, str) or not sec.KEY_RE.fullmatch(key):
            where.fail("an environment variable name such as ANTHROPIC_API_KEY", key)
        table = v.table(item, where, ("hosts", "from_env", "header"))
        for needed in ("hosts", "from_env"):
            if needed not in table:
                (where / needed).fail("a value")
        try:
            hosts = sec.check_hosts(list(v.string_list()(table["hosts"], where / "hosts")))
        except ConfigError as exc:
            raise (where / "hosts").error(str(exc).removeprefix("secret hosts: ")) from exc
        from_env = v.matching("an environment variable name", sec.KEY_RE.fullmatch)(
            table["from_env"], where / "from_env"
        )
        header = None
        if "header" in table:
            header = v.matching("an HTTP header name such as x-api-key", sec.HEADER_RE.fullmatch)(
                table["header"], where / "header"
            )
        out.append(SecretDecl(key, hosts, from_env, header))
    return tuple(out)


SECTIONS: Mapping[str, Reader[Any]] = {
    "setup": _steps,
    "build": _steps,
    "terminal": _terminal,
    "limits": _limits,
    "sandbox": _sandbox,
    "network": _network,
    "previews": _previews,
    "agent": _agent,
    "check": _check,
    "secrets": _secrets,
}
SERVICE_KEYS = ("name", *SERVICE_FIELDS)
TOP_KEYS = ("colony", "services", *SECTIONS)


def _service(name: str, table: Mapping[Any, Any], at: At) -> ServiceSpec:
    if "command" not in table:
        typo = next((k for k in table if v.close_key(k, ("command",))), None)
        said = f" ({typo!r} is not a key: did you mean 'command'?)" if typo else ""
        raise (at / "command").error(f"expected a non-empty string, got nothing{said}")
    return ServiceSpec(name=name, **v.pick(table, at, SERVICE_FIELDS))


def _service_list(value: object, at: At) -> Iterable[tuple[ServiceSpec, At, At]]:
    """[services.NAME] tables or a [[services]] array: (spec, its path, its name's path)."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            name = v.name(key, at / key)
            table = v.table(item, at / key, SERVICE_KEYS)
            if "name" in table and table["name"] != name:
                (at / key / "name").fail(f"{name!r} (the table's name) or nothing", table["name"])
            yield _service(name, table, at / key), at / key, at / key
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            table = v.table(item, at.item(i), SERVICE_KEYS)
            if "name" not in table:
                (at.item(i) / "name").fail("a service name")
            name = v.name(table["name"], at.item(i) / "name")
            yield _service(name, table, at / name), at / name, at.item(i) / "name"
    else:
        at.fail("[services.NAME] tables or a [[services]] array", value)


def _services(top: Mapping[Any, Any], colony: Mapping[Any, Any], at: At) -> tuple[ServiceSpec, ...]:
    """Services from [services] and [colony.services]: names and ports are unique."""
    found: dict[str, tuple[ServiceSpec, str]] = {}
    by_port: dict[int, str] = {}
    for parent, base in ((top, at), (colony, at / "colony")):
        if "services" not in parent:
            continue
        for spec, where, name_at in _service_list(parent["services"], base / "services"):
            if spec.name in found:
                first = found[spec.name][1]
                raise name_at.error(f"service {spec.name!r} is already defined at {first}")
            if spec.port in by_port:
                used = by_port[spec.port]
                raise (where / "port").error(
                    f"port {spec.port} is already used by service {used!r}"
                )
            found[spec.name] = spec, name_at.path
            if spec.port is not None:
                by_port[spec.port] = spec.name
    return tuple(spec for spec, _ in found.values())


def parse_config(data: Mapping[str, Any], source: str = "colony.toml") -> Config:
    """Validate the data ``tomllib`` read from colony.toml into a Config.

    Raises:
        ConfigError: one line naming ``source``, the key path and what was expected.
    """
    at = At(source, "", [])
    top = v.table(data, at, TOP_KEYS)
    colony = v.table(top.get("colony", {}), at / "colony", (*COLONY_FIELDS, "services"))
    head = v.pick(colony, at / "colony", COLONY_FIELDS)
    services = _services(top, colony, at)
    body = v.pick(top, at, SECTIONS)
    if not services:
        _warn_no_services(top, at)
    return Config(source=source, services=services, warnings=tuple(at.warnings), **head, **body)


def _warn_no_services(top: Mapping[Any, Any], at: At) -> None:
    """A file that declares tables Colony does not know and no service most likely misspelt
    ``[services.NAME]``: say that the colony will run nothing (issue 12)."""
    unknown = [k for k, value in top.items() if k not in TOP_KEYS and isinstance(value, Mapping)]
    if unknown:
        shown = ", ".join(f"[{(at / k).path}]" for k in unknown[:3])
        at.warnings.append(
            f"{at.source}: no services: the colony runs none ({shown} ignored; "
            "services are [services.NAME] tables)"
        )


def parse_config_text(text: str, source: str = "colony.toml") -> Config:
    """Parse colony.toml text; TOML syntax errors read ``colony.toml: line 3, column 5: …``."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(_toml_message(str(exc), source)) from None
    except RecursionError:
        raise ConfigError(v.one_line(f"{source}: arrays or tables nested too deeply")) from None
    except ValueError as exc:  # e.g. an integer literal longer than Python converts
        raise ConfigError(v.one_line(f"{source}: {str(exc).partition(';')[0]}")) from None
    return parse_config(data, source)


def _toml_message(text: str, source: str) -> str:
    """'Invalid value (at line 3, column 5)' → 'colony.toml: line 3, column 5: invalid value'."""
    where = ""
    if m := TOML_POS_RE.fullmatch(text):
        text, where = m[1], f"line {m[2]}, column {m[3]}: " if m[2] else "end of file: "
    return v.one_line(f"{source}: {where}{text[:1].lower()}{text[1:]}")


def parse_limits(pairs: Mapping[str, str | int | float], source: str) -> Limits:
    """Limits from a mapping such as ``{"memory": "1G", "cpu": "1.5"}``; unknown keys are errors.

    ``source`` is a file (errors read ``colony.toml: limits.memory: …``) or a flag
    (``--limit`` → errors read ``--limit memory: …``).

    Example:
        >>> parse_limits({"memory": "512M", "pids": "64"}, "--limit")
        Limits(cpu=None, memory=536870912, swap=None, pids=64, io_weight=None)
    """
    flag = source.startswith("-")
    base = At(source, "" if flag else "limits", [])
    parsed = {}
    for key, value in pairs.items():
        if key not in LIMIT_FIELDS:
            base.fail(f"one of {', '.join(LIMIT_FIELDS)}", key)
        at = At(f"{source} {key}", "", []) if flag else base / key
        parsed[key] = LIMIT_FIELDS[key](value, at)
    return Limits(**parsed)


def merge_overrides(
    cfg: Config,
    *,
    limits: Mapping[str, str] | None = None,
    sandbox: str | None = None,
) -> Config:
    """Apply CLI flags over the file: ``--limit k=v`` per key, ``--sandbox LEVEL``."""
    if limits:
        given = parse_limits(limits, "--limit")
        cfg = replace(cfg, limits=replace(cfg.limits, **{k: getattr(given, k) for k in limits}))
    if sandbox is not None:
        level = SANDBOX_FIELDS["level"](sandbox, At("--sandbox", "", []))
        cfg = replace(cfg, sandbox=replace(cfg.sandbox, level=level))
    return cfg


def render_default_config(name: str) -> str:
    """The commented colony.toml that ``colony init`` writes."""
    v.name(name, At("colony name", "", []))
    return DEFAULT_CONFIG.replace("{name}", name)


DEFAULT_CONFIG = """\
# colony.toml: how Colony runs this repository in each colony.
# Every key is described in Colony's README, section "colony.toml"; unknown keys are
# warnings that `colony spawn` prints.

[colony]
name = "{name}"                   # `colony spawn` without NAME names colonies {name}-1, -2, …
# description = "what this repository is"

# [colony.environment]            # runtimes the colony expects; checked and reported
# python_version = "3.11"

[setup]                           # run once after the workspace exists
commands = []                     # e.g. ["pip install -r requirements.txt"]

[build]                           # run before services start
commands = []                     # e.g. ["npm run build"]

# [services.web]                  # one table per long-running process
# command = "npm run dev -- --port 3000"
# port = 3000                     # each colony has its own loopback: no clashes
# working_dir = "frontend"        # relative to the repository
# env = { NODE_ENV = "development" }
# restart = "on-failure"          # always | on-failure | never

[terminal]
command = "bash"                  # what `colony shell` opens

[limits]                          # empty: unlimited
# cpu = 1.5                       # cores
# memory = "2G"
# swap = "0"                      # 0 turns swap off
# pids = 512
# io_weight = 100                 # 1-10000
# disk = "10G"                    # workspace, data, home and tmp together

[sandbox]
level = "basic"                   # none | basic | moderate | strict

[network]
egress = "allow"                  # allow | deny | allowlist
# allow = ["pypi.org:443", "*.pythonhosted.org", "10.1.2.0/24"]   # egress = "allowlist"
# deny = ["169.254.169.254"]                # refused whatever the egress mode
# expose_to = ["api:5432"]                  # colony 'api' may connect to our port 5432

# [previews]                      # ports reachable at <port>.<colony>.localhost besides
# ports = [5173, 9229]            # the services' (only declared ports are previewed)

# [secrets.GITHUB_TOKEN]          # the colony sees a placeholder; the egress gate puts the
# hosts = ["api.github.com"]      # value in requests to these hosts only
# from_env = "GITHUB_TOKEN"       # read by `colony spawn` from your environment

[agent]
# preset = "claude"               # or command = "my-agent --task {prompt}"

[check]                           # how to judge a colony's result
# command = "pytest -q"
"""
