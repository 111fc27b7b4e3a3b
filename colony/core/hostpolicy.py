"""Security settings come from the host (SPEC §7, issue 10): ``/etc/colony/policy.toml`` and
the spawn's own flags decide; a repository's colony.toml may only tighten.

A colony can edit colony.toml and have it merged, so what the file asks for is a request:
a stricter sandbox level, a stricter egress mode, lower limits, more hidden paths. Anything
that would loosen the host's settings is left out, with a warning that names the flag or the
policy key that would allow it. Pure: :func:`parse_host_policy` reads the policy text and
:func:`plan_effective` merges file, policy and flags.

Example:
    >>> policy = parse_host_policy('[sandbox]\\nlevel = "moderate"\\n', "policy.toml")
    >>> cfg = plan_effective(parse_config_text('[sandbox]\\nlevel = "none"\\n'), policy)
    >>> cfg.sandbox.level, cfg.warnings[0][:40]
    ('moderate', "colony.toml: sandbox.level: 'none' would")
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any, get_args

from colony.core import values as v
from colony.core.config import LIMIT_FIELDS, Config, Egress, Level, Limits, merge_overrides
from colony.core.values import At
from colony.errors import ConfigError

LEVEL_RANK = {"none": 0, "basic": 1, "moderate": 2, "strict": 3}
EGRESS_RANK = {"allow": 0, "allowlist": 1, "deny": 2}
DEFAULT_POLICY_FILE = "/etc/colony/policy.toml"


GiB = 1024**3
# Every colony's limits unless the host's policy says otherwise (``"max"``: none) (issue 11).
DEFAULT_LIMITS = Limits(memory=8 * GiB, pids=4096, disk=20 * GiB)


@dataclass(frozen=True)
class HostPolicy:
    """What the host decides for every colony."""

    level: Level = "basic"  # the level a colony gets unless a flag or its file asks for more
    floor: Level = "none"  # the lowest level even a flag may ask for
    egress: Egress = "allow"  # the egress mode unless the file asks for a stricter one
    allow: tuple[str, ...] = ()  # at egress allowlist: the only entries a file may use
    limits: Limits = DEFAULT_LIMITS  # defaults a file may only lower
    allowed_users: tuple[str, ...] = ()  # real users colonies may run as ([sandbox] user)
    sockets: tuple[str, ...] = ()  # host sockets under /run a file may ask to see
    source: str = "(defaults)"
    warnings: tuple[str, ...] = ()  # unknown keys


POLICY_SECTIONS = ("sandbox", "network", "limits")


def parse_host_policy(text: str, source: str = DEFAULT_POLICY_FILE) -> HostPolicy:
    """The host policy in ``text``; every error names the file and the key.

    Raises:
        ConfigError: ``source: key: expected …, got …``.
    """
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}") from exc
    root = At(source, "", [])
    table = v.table(data, root, POLICY_SECTIONS)

    def section(name: str, readers: Mapping[str, v.Reader[Any]]) -> dict[str, Any]:
        return v.pick(v.table(table.get(name, {}), root / name, readers), root / name, readers)

    sandbox, network = section("sandbox", SANDBOX_KEYS), section("network", NETWORK_KEYS)
    limits = replace(DEFAULT_LIMITS, **section("limits", POLICY_LIMIT_FIELDS))
    policy = HostPolicy(
        **sandbox, **network, limits=limits, source=source, warnings=tuple(root.warnings)
    )
    if LEVEL_RANK[policy.level] < LEVEL_RANK[policy.floor]:
        (root / "sandbox" / "level").fail(
            f"a level at or above floor {policy.floor!r}", policy.level
        )
    bad = [s for s in policy.sockets if not s.startswith("/run/")]
    if bad:
        (root / "sandbox" / "sockets").fail("paths under /run/", bad[0])
    return policy


def _or_max(read: v.Reader[Any]) -> v.Reader[Any]:
    """A limit, or "max" for none (to lift a default)."""

    def reader(value: object, at: At) -> Any:
        return None if value == "max" else read(value, at)

    return reader


POLICY_LIMIT_FIELDS: Mapping[str, v.Reader[Any]] = {k: _or_max(r) for k, r in LIMIT_FIELDS.items()}
SANDBOX_KEYS: Mapping[str, v.Reader[Any]] = {
    "level": v.choice(get_args(Level)),
    "floor": v.choice(get_args(Level)),
    "allowed_users": v.string_list(),
    "sockets": v.string_list(),
}
NETWORK_KEYS: Mapping[str, v.Reader[Any]] = {
    "egress": v.choice(get_args(Egress)),
    "allow": v.string_list(
        v.matching(
            "'host', '*.host', 'host:port', an IP address or a CIDR network", v.is_egress_rule
        )
    ),
}


@dataclass(frozen=True)
class Flags:
    """What the spawn (or a restart's stored record) asked for explicitly."""

    limits: Mapping[str, str] | None = None
    sandbox: str | None = None
    user: str | None = None
    sockets: tuple[str, ...] = ()


def plan_effective(cfg: Config, policy: HostPolicy, flags: Flags | None = None) -> Config:
    """colony.toml as far as the host lets it count, with the spawn's flags on top.

    Raises:
        ConfigError: a flag asks for a level below the policy's floor, or is malformed.
    """
    flags = flags or Flags()
    warnings: list[str] = []
    src = cfg.source

    def refuse(key: str, value: object, allow: str) -> None:
        warnings.append(f"{src}: {key}: {value!r} would loosen the host's setting; {allow}")

    # Sandbox level: the file may only raise the host's default; a flag decides alone.
    level = cfg.sandbox.level
    if LEVEL_RANK[level] < LEVEL_RANK[policy.level]:
        refuse("sandbox.level", level, f"kept {policy.level!r} (pass --sandbox {level})")
        level = policy.level
    # Who it runs as: only a flag, or a user the host's policy allows.
    user = flags.user
    if cfg.sandbox.user is not None and user is None:
        if cfg.sandbox.user in policy.allowed_users:
            user = cfg.sandbox.user
        else:
            refuse("sandbox.user", cfg.sandbox.user, "pass --user, or list it in allowed_users")
    # Host sockets: only those the policy offers, or the spawn's --socket.
    sockets = list(flags.sockets)
    for path in cfg.sandbox.sockets:
        if path in policy.sockets:
            sockets.append(path)
        else:
            refuse("sandbox.sockets", path, "pass --socket, or list it in the host policy")
    sandbox = replace(cfg.sandbox, level=level, user=user, sockets=tuple(dict.fromkeys(sockets)))
    # Egress: the file may only make it stricter.
    network = cfg.network
    if EGRESS_RANK[network.egress] < EGRESS_RANK[policy.egress]:
        refuse("network.egress", network.egress, f"kept {policy.egress!r}")
        network = replace(network, egress=policy.egress, allow=policy.allow)
    elif network.egress == "allowlist" and policy.egress == "allowlist":
        extra = [a for a in network.allow if a not in policy.allow]
        for entry in extra:
            refuse("network.allow", entry, "only the host policy's allow entries count")
        network = replace(network, allow=tuple(a for a in network.allow if a in policy.allow))
    # Limits: the host's defaults, lowered by the file; then the flags, which decide.
    limits = _lower(cfg.limits, policy.limits, refuse)
    merged = replace(
        cfg, sandbox=sandbox, network=network, limits=limits, warnings=(*cfg.warnings, *warnings)
    )
    merged = merge_overrides(merged, limits=flags.limits, sandbox=flags.sandbox)
    if LEVEL_RANK[merged.sandbox.level] < LEVEL_RANK[policy.floor]:
        raise ConfigError(
            f"--sandbox: {merged.sandbox.level!r} is below the host's floor {policy.floor!r} "
            f"({policy.source}: sandbox.floor)"
        )
    return merged


def _lower(asked: Limits, host: Limits, refuse: Any) -> Limits:
    """Each limit: the file's when the host sets none or the file's is lower, else the host's."""
    out = {}
    for f in fields(Limits):
        mine, theirs = getattr(asked, f.name), getattr(host, f.name)
        if mine is None or theirs is None:
            out[f.name] = theirs if mine is None else mine
        elif mine <= theirs:
            out[f.name] = mine
        else:
            refuse(f"limits.{f.name}", mine, f"kept the host's {theirs} (pass --limit)")
            out[f.name] = theirs
    return Limits(**out)


__all__ = [
    "DEFAULT_LIMITS",
    "DEFAULT_POLICY_FILE",
    "Flags",
    "HostPolicy",
    "parse_host_policy",
    "plan_effective",
]
