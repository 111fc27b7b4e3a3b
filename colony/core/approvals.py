"""Live approvals (issue 16): a policy changed entry by entry, and the hosts a colony was
refused with the entry that would admit each.

Pure. ``colony policy web --allow example.com:443`` (no ``--egress``) adds to the policy in
effect rather than stating a new one: :func:`amend_policy`. ``colony net web --blocked`` and
Bloom list what the egress gate and the DNS stub refused lately: :func:`plan_blocked` keeps
what the policy still refuses (or refused since it last changed) and says how to admit it.

An entry is compared by what it means, not how it is spelled: ``PyPI.org:443`` is
``pypi.org:443``.

Example:
    >>> policy = parse_policy("allowlist", ["pypi.org:443"])
    >>> amend_policy(policy, allow=["files.pythonhosted.org:443"]).allow
    ('pypi.org:443', 'files.pythonhosted.org:443')
    >>> plan_fix(policy, "example.com", 443)
    Fix(allowed=False, entry='example.com:443', denied_by=None)
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from colony.core.hostmatch import decide
from colony.core.policy import Policy, Target, parse_policy, parse_target
from colony.errors import ConfigError

FLAGS = {"allow": "allow", "deny": "deny", "remove": "remove"}


def _key(entry: str) -> Target:
    return parse_target(entry)


def _without(entries: Iterable[str], gone: set[Target]) -> tuple[str, ...]:
    return tuple(e for e in entries if _key(e) not in gone)


def _adding(entries: tuple[str, ...], new: Iterable[str]) -> tuple[str, ...]:
    have = {_key(e) for e in entries}
    out = list(entries)
    for entry in new:
        if _key(entry) not in have:
            have.add(_key(entry))
            out.append(entry)
    return tuple(out)


def amend_policy(
    policy: Policy,
    allow: Iterable[object] = (),
    deny: Iterable[object] = (),
    remove: Iterable[object] = (),
    *,
    names: Mapping[str, str] | None = None,
) -> Policy:
    """``policy`` with ``allow`` and ``deny`` entries added and ``remove`` taken out; the
    egress mode stays. An entry added to one list leaves the other (allowing what was denied
    by that very entry admits it). ``names``: how the caller spells the fields in messages.

    Raises:
        ConfigError: a bad entry, or one to remove that is in neither list (one line).
    """
    names = {**FLAGS, **(names or {})}
    checked = parse_policy(policy.egress, allow, deny, names=names)
    gone = _targets(remove, names["remove"])
    present = {_key(e) for e in (*policy.allow, *policy.deny)}
    for entry, target in gone.items():
        if target not in present:
            listed = ", ".join(repr(e) for e in (*policy.allow, *policy.deny)) or "none"
            raise ConfigError(
                f"{names['remove']}: {entry!r} is not an entry of the policy (entries: {listed})"
            )
    added_allow = {_key(e) for e in checked.allow}
    added_deny = {_key(e) for e in checked.deny}
    both = added_allow & added_deny
    if both:
        entry = next(e for e in checked.allow if _key(e) in both)
        raise ConfigError(f"{names['deny']}: {entry!r} is also given to allow; expected one")
    dropped = set(gone.values())
    kept_allow = _without(policy.allow, dropped | added_deny)
    kept_deny = _without(policy.deny, dropped | added_allow)
    return Policy(
        egress=policy.egress,
        allow=_adding(kept_allow, checked.allow),
        deny=_adding(kept_deny, checked.deny),
    )


def _targets(entries: Iterable[object], field: str) -> dict[str, Target]:
    out: dict[str, Target] = {}
    for entry in entries:
        if not isinstance(entry, str):
            raise ConfigError(f"{field}: expected a string, got {entry!r}")
        try:
            out[entry] = parse_target(entry)
        except ValueError as exc:
            raise ConfigError(f"{field}: {exc}") from None
    return out


def plan_warnings(policy: Policy, allow: Iterable[str]) -> list[str]:
    """What an owner who allowed ``allow`` should know: the mode ignores allow entries, or a
    deny entry still refuses the name."""
    entries = list(allow)
    if not entries:
        return []
    if policy.egress == "deny":
        return ["egress is deny: nothing goes out; allow entries count in allowlist mode only"]
    if policy.egress == "allow":
        return ["egress is allow: every host but the deny entries is allowed already"]
    out = []
    for entry in entries:
        host = parse_target(entry).host
        if host is None or host.startswith("*."):
            continue
        verdict = decide(policy, host, parse_target(entry).port)
        if not verdict.allowed and verdict.entry is not None:
            out.append(f"{entry}: still refused: {verdict.reason}")
    return out


def format_change(allow: Iterable[str], deny: Iterable[str], remove: Iterable[str]) -> str:
    """``allowed example.com:443; removed 10.0.0.0/8``: what an amendment did, in words."""
    parts = [
        f"{verb} {', '.join(entries)}"
        for verb, entries in (
            ("allowed", list(allow)),
            ("denied", list(deny)),
            ("removed", list(remove)),
        )
        if entries
    ]
    return "; ".join(parts)


# --- refused hosts and their fixes -----------------------------------------------------------


@dataclass(frozen=True)
class Fix:
    """Whether ``policy`` admits a host and port now; else the allow entry that would
    (``entry``), or the deny entry that refuses it (``denied_by``)."""

    allowed: bool
    entry: str | None = None
    denied_by: str | None = None


def _address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def _covers(entries: Sequence[str], address: Any, port: int | None) -> str | None:
    for entry in entries:
        target = parse_target(entry)
        net = target.network
        if net is not None and address in net and target.port in (None, port):
            return entry
    return None


def _target_text(host: str, port: int | None) -> str:
    shown = f"[{host}]" if ":" in host and port is not None else host
    return shown if port is None else f"{shown}:{port}"


def plan_fix(policy: Policy, host: str, port: int | None) -> Fix:
    """What admits ``host`` (a name, or an address a Host header named) on ``port`` (None:
    a DNS question, any port) under ``policy``."""
    address = _address(host)
    if address is not None:  # an address entry admits it, in the firewall or the gate
        denied = _covers(policy.deny, address, port)
        if policy.egress == "deny" or denied is not None:
            return Fix(False, denied_by=denied)
        if policy.egress == "allow" or _covers(policy.allow, address, port) is not None:
            return Fix(True)
        return Fix(False, entry=_target_text(str(address), port))
    verdict = decide(policy, host, port)
    if verdict.allowed:
        return Fix(True)
    if verdict.entry is not None:
        return Fix(False, denied_by=verdict.entry)
    if policy.egress != "allowlist" or verdict.reason.endswith("is not a valid host name"):
        return Fix(False)
    return Fix(False, entry=_target_text(host, port))


def plan_blocked(
    rows: Iterable[Mapping[str, Any]], policy: Policy | None, changed: float
) -> list[dict[str, Any]]:
    """The refused hosts worth showing, each with ``fix`` (the allow entry that admits it)
    and ``denied_by``: those ``policy`` still refuses, and those refused since it last
    changed (at ``changed``; refused for another reason, such as where the name resolves).
    A host the owner allowed drops out."""
    out = []
    for row in rows:
        fix = plan_fix(policy, str(row["host"]), row.get("port")) if policy else Fix(False)
        if fix.allowed and float(row.get("last") or 0) <= changed:
            continue
        out.append({**row, "fix": fix.entry, "denied_by": fix.denied_by})
    return out
