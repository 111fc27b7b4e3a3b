"""Whether a colony may reach a host *name*: the decision of its DNS stub (and of a gate that
reads HTTP ``Host`` or TLS SNI), from its :class:`~colony.core.policy.Policy`.

Pure. The name entries of ``allow`` and ``deny`` count (``host``, ``*.host``, each maybe with
``:port``); address entries decide addresses, not names, and do not count here.

- ``deny`` egress: nothing.
- ``allow`` egress: every name but those a ``deny`` entry names.
- ``allowlist`` egress: names an ``allow`` entry names, minus those a ``deny`` entry names.

``port`` is the port the colony connects to; ``None`` asks about the name alone (a DNS
question): then any allow entry of the name counts (the colony needs the address for the
port the entry names) and only deny entries without a port refuse it.

Example:
    >>> policy = parse_policy("allowlist", ["pypi.org:443", "*.pythonhosted.org"])
    >>> decide(policy, "files.pythonhosted.org", 443)
    Verdict(allowed=True, reason="allowed by '*.pythonhosted.org'", entry='*.pythonhosted.org')
    >>> decide(policy, "pypi.org", 80).reason
    "port 80 of pypi.org is not allowed (allowlist: 'pypi.org:443')"
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from colony.core.hostname import matches, normalize_name
from colony.core.policy import Policy, parse_target


@dataclass(frozen=True)
class Verdict:
    """A decision and why, in words an agent can read; ``entry``: the entry that decided."""

    allowed: bool
    reason: str
    entry: str | None = None


@dataclass(frozen=True)
class _Rule:
    pattern: str
    port: int | None
    entry: str


@functools.lru_cache(maxsize=4096)
def _rules(entries: tuple[str, ...]) -> tuple[_Rule, ...]:
    out = []
    for entry in entries:
        target = parse_target(entry)
        if target.host is not None:
            out.append(_Rule(target.host, target.port, entry))
    return tuple(out)


def _target(name: str, port: int | None) -> str:
    return name if port is None else f"{name}:{port}"


def decide(policy: Policy, name: str, port: int | None = None) -> Verdict:
    """May a colony with ``policy`` reach ``name`` (on ``port``)?

    A name that is not a plain DNS name (see :mod:`colony.core.hostname`) is refused, in
    every mode.
    """
    try:
        host = normalize_name(name)
    except ValueError:
        return Verdict(False, f"{name[:80]!r} is not a valid host name")
    if policy.egress == "deny":
        return Verdict(False, f"egress to {_target(host, port)} is not allowed (policy deny)")
    for rule in _rules(policy.deny):
        if matches(rule.pattern, host) and rule.port in (None, port):
            return Verdict(False, f"{_target(host, port)} is denied by {rule.entry!r}", rule.entry)
    if policy.egress == "allow":
        return Verdict(True, "allowed (policy allow)")
    named = [r for r in _rules(policy.allow) if matches(r.pattern, host)]
    for rule in named:
        if port is None or rule.port in (None, port):
            return Verdict(True, f"allowed by {rule.entry!r}", rule.entry)
    if named:
        listed = ", ".join(repr(r.entry) for r in named)
        return Verdict(False, f"port {port} of {host} is not allowed (allowlist: {listed})")
    return Verdict(False, f"egress to {_target(host, port)} is not allowed (not in the allowlist)")


__all__ = ["Verdict", "decide"]
