"""The JSON bodies the client sends and the API decodes, each written once (issue 13).

One frozen dataclass per operation. The client builds one and sends :func:`to_json`; the API
reads a request with :func:`decode`, which answers a bad body with a one-line ConfigError
naming the field, the value and what was expected; ``/openapi.json`` shows
:func:`json_schema` of each. Pure: no I/O, nothing of Colony but its errors.

Example:
    >>> decode(Snapshot, {"message": "before lunch"})
    Snapshot(message='before lunch')
    >>> decode(Merge, {"squash": "yes"})
    Traceback (most recent call last):
    colony.errors.ConfigError: request body: squash: expected bool, got 'yes'
"""

from __future__ import annotations

import dataclasses
import types
from dataclasses import dataclass, field
from typing import Any, TypeVar, Union, get_args, get_origin, get_type_hints

from colony.errors import ConfigError

T = TypeVar("T")
Env = dict[str, str]  # variables forwarded to a colony's process; decoded strictly


@dataclass(frozen=True)
class Spawn:
    """``POST /colonies``."""

    name: str
    repo: str
    rev: str | None = None
    config: str | None = None
    limits: dict[str, Any] | None = None
    sandbox: str | None = None
    user: str | None = None
    sockets: list[Any] | None = None  # each checked by the daemon (a socket under /run/)
    # issue 17: values of colony.toml's [secrets.KEY], read by the CLI from $from_env
    secrets: dict[str, Any] | None = None
    # issue 18: an agent's task to start once the colony runs (Bloom's "new colony")
    task: str | None = None
    agent: str | None = None  # its preset; default colony.toml's [agent]


@dataclass(frozen=True)
class RemoveMany:
    """``POST /colonies/remove``: several colonies at once (issue 15); each name is checked
    and removed on its own."""

    names: list[Any]
    force: bool = False


@dataclass(frozen=True)
class AgentRun:
    """``POST /colonies/{name}/agents/run``."""

    task: str = ""
    preset: str | None = None
    command: str | None = None
    env: Env = field(default_factory=dict)


@dataclass(frozen=True)
class AgentContinue:
    """``POST /colonies/{name}/agents/continue``."""

    session: int | None = None
    task: str = "continue"
    env: Env = field(default_factory=dict)


@dataclass(frozen=True)
class BroodSpawn:
    """``POST /broods``."""

    repo: str
    objective: str = ""
    count: int = 1
    agent: str | None = None
    command: str | None = None
    max_parallel: int | None = None
    rev: str | None = None
    config: str | None = None
    name: str | None = None
    env: Env = field(default_factory=dict)


@dataclass(frozen=True)
class Pick:
    """``POST /broods/{brood}/pick``."""

    colony: str | None = None
    squash: bool = False
    into: str | None = None
    force: bool = False


@dataclass(frozen=True)
class Merge:
    """``POST /colonies/{name}/workspace/merge``."""

    into: str | None = None
    squash: bool = False
    force: bool = False
    message: str | None = None


@dataclass(frozen=True)
class Snapshot:
    """``POST /colonies/{name}/workspace/snapshots``."""

    message: str | None = None


@dataclass(frozen=True)
class Undo:
    """``POST /colonies/{name}/workspace/undo``."""

    to: int | None = None
    force: bool = False
    session: int | None = None


@dataclass(frozen=True)
class PolicyBody:
    """``PUT /colonies/{name}/policy``: egress allow, deny or allowlist; entries are
    checked by :func:`colony.core.policy.parse_policy`."""

    egress: str | None = None
    allow: list[Any] = field(default_factory=list)
    deny: list[Any] = field(default_factory=list)


@dataclass(frozen=True)
class PolicyChange:
    """``PATCH /colonies/{name}/policy`` (issue 16): entries added to the policy in effect
    (its egress mode stays) and entries taken out; checked by
    :func:`colony.core.approvals.amend_policy`."""

    allow: list[Any] = field(default_factory=list)
    deny: list[Any] = field(default_factory=list)
    remove: list[Any] = field(default_factory=list)


@dataclass(frozen=True)
class SecretSet:
    """``PUT /colonies/{name}/secrets/{key}`` (issue 17): checked by
    :func:`colony.core.secrets.check_secret`."""

    value: str
    hosts: list[Any]
    header: str | None = None


@dataclass(frozen=True)
class HostsAction:
    """``POST /hosts``: "add" or "remove"."""

    action: str


@dataclass(frozen=True)
class Share:
    """``PUT /colonies/{name}/shares/{user}``: "viewer" or "operator"."""

    role: str = "viewer"


def to_json(body: Any) -> dict[str, Any]:
    """The JSON object of a body, every field included."""
    return dataclasses.asdict(body)


def decode(cls: type[T], data: object) -> T:
    """``data`` (a decoded JSON body) as ``cls``; a missing or null field takes its default,
    unknown fields are ignored.

    Raises:
        ConfigError: ``request body: FIELD: expected TYPE, got VALUE`` (or ``required``).
    """
    if not isinstance(data, dict) or not dataclasses.is_dataclass(cls):
        raise ConfigError("request body: expected a JSON object")
    hints = get_type_hints(cls)
    values = {f.name: _field(f, hints[f.name], data.get(f.name)) for f in dataclasses.fields(cls)}
    return cls(**values)


def _field(f: dataclasses.Field[Any], hint: Any, value: Any) -> Any:
    kind = _required(hint)
    if hint == Env:
        value = value or {}  # as the API always took it: a falsy env is none
        if not isinstance(value, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()
        ):
            raise ConfigError(f"request body: {f.name}: expected an object of strings")
        return value
    if value is None:
        if f.default is not dataclasses.MISSING:
            return f.default
        if f.default_factory is not dataclasses.MISSING:
            return f.default_factory()
        raise ConfigError(f"request body: {f.name}: required")
    base = get_origin(kind) or kind
    if base is not Any and not isinstance(value, base):
        raise ConfigError(f"request body: {f.name}: expected {base.__name__}, got {value!r}")
    return value


def _required(hint: Any) -> Any:
    """``X`` of ``X | None``; other hints as they are."""
    if get_origin(hint) in (Union, types.UnionType):
        args = [a for a in get_args(hint) if a is not type(None)]
        return args[0] if len(args) == 1 else Any
    return hint


_JSON_TYPES = {str: "string", int: "integer", bool: "boolean", dict: "object", list: "array"}


def json_schema(cls: type) -> dict[str, Any]:
    """The OpenAPI (3.0) schema of a body."""
    hints = get_type_hints(cls)
    props: dict[str, Any] = {}
    required = []
    for f in dataclasses.fields(cls):
        hint = hints[f.name]
        kind = _required(hint)
        base = get_origin(kind) or kind
        prop: dict[str, Any] = {"type": _JSON_TYPES[base]} if base in _JSON_TYPES else {}
        if hint == Env:
            prop["additionalProperties"] = {"type": "string"}
        if kind is not hint:
            prop["nullable"] = True
        if f.default is not dataclasses.MISSING and f.default is not None:
            prop["default"] = f.default
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            required.append(f.name)
        props[f.name] = prop
    schema: dict[str, Any] = {"type": "object", "properties": props}
    if required:
        schema["required"] = required
    if cls.__doc__:
        schema["description"] = cls.__doc__.strip()
    return schema


__all__ = [
    "AgentContinue",
    "AgentRun",
    "BroodSpawn",
    "Env",
    "HostsAction",
    "Merge",
    "Pick",
    "PolicyBody",
    "RemoveMany",
    "Share",
    "Snapshot",
    "Spawn",
    "Undo",
    "decode",
    "json_schema",
    "to_json",
]
