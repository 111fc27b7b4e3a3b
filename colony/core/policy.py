"""Network policy of a colony: what it may reach, planned as data for the firewall.

Pure. A :class:`Policy` (egress mode, allow and deny entries) comes from colony.toml's
``[network]`` or from ``colony policy``; :func:`plan_rules` turns it, with the addresses the
daemon resolved for its host names, into :class:`Rules`, which
:func:`colony.isolation.firewall.render_colony_table` renders as nftables text.

Entries (allow and deny): ``host``, ``*.host`` (any name below host), ``host:port``, an IPv4
or IPv6 address, ``[v6]:port``, a CIDR network, ``CIDR:port``. A port applies to TCP and
UDP; an entry without one to every protocol. Which names a colony may reach is decided by
:func:`colony.core.hostmatch.decide`.

Example:
    >>> policy = parse_policy("allowlist", ["pypi.org:443", "10.1.2.0/24"])
    >>> rules = plan_rules(policy, {"pypi.org": ("151.101.0.223",)})
    >>> rules.allow.v4, rules.allow.v4_ports
    (('10.1.2.0/24',), (('151.101.0.223', 443),))
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Literal, get_args

from colony.core import values as v
from colony.core.hostname import is_wildcard, normalize_pattern
from colony.errors import ConfigError

if TYPE_CHECKING:
    from colony.core.config import Config

Egress = Literal["allow", "deny", "allowlist"]
EGRESS: tuple[str, ...] = get_args(Egress)
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
ENTRY_WHAT = "'host', '*.host', 'host:port', an IP address or a CIDR network (ports 1-65535)"


@dataclass(frozen=True)
class Target:
    """One parsed allow/deny entry: a host name to resolve, or a network; maybe a port."""

    host: str | None = None
    network: IPNetwork | None = None
    port: int | None = None


@dataclass(frozen=True)
class Policy:
    """What a colony may reach outside its own namespace (other colonies aside)."""

    egress: Egress = "allow"
    allow: tuple[str, ...] = ()
    deny: tuple[str, ...] = ()

    def hosts(self) -> frozenset[str]:
        """The host names its entries mention (the daemon resolves and pins them); not the
        wildcards, whose names are pinned as the colony's DNS stub answers them."""
        targets = (parse_target(e) for e in (*self.allow, *self.deny))
        return frozenset(t.host for t in targets if t.host is not None and not is_wildcard(t.host))

    def to_json(self) -> dict[str, object]:
        return {"egress": self.egress, "allow": list(self.allow), "deny": list(self.deny)}


def _port_error(entry: str, port: str) -> ValueError:
    return ValueError(f"expected a port 1-65535 in {entry!r}, got {port!r}")


def parse_target(entry: str) -> Target:
    """Parse an allow/deny entry.

    Raises:
        ValueError: saying what was expected (the caller adds where the entry sits).
    """
    bad = ValueError(f"expected {ENTRY_WHAT}, got {entry!r}")
    if not isinstance(entry, str) or not entry or entry != entry.strip():
        raise bad
    text, port_text = entry, None
    if m := v.BRACKETED_RE.fullmatch(entry):  # [v6] or [v6]:port
        text, port_text = m[1], m[2]
        if ":" not in text:
            raise bad
    elif "/" in entry:
        if m := v.CIDR_PORT_RE.fullmatch(entry):
            text, port_text = m[1], m[2]
    elif entry.count(":") == 1:
        text, _, port_text = entry.partition(":")
    port = None
    if port_text is not None:
        port = v.parse_port(port_text)
        if port is None:
            raise _port_error(entry, port_text)
    if "/" in text:
        try:
            return Target(network=ipaddress.ip_network(text, strict=True), port=port)
        except ValueError:
            raise bad from None
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        try:
            return Target(host=normalize_pattern(text), port=port)
        except ValueError:
            raise bad from None
    return Target(network=ipaddress.ip_network(address), port=port)


def parse_policy(
    egress: object,
    allow: Iterable[object] = (),
    deny: Iterable[object] = (),
    *,
    names: Mapping[str, str] | None = None,
) -> Policy:
    """Validate a policy given as plain values (an API body, CLI flags).

    ``names`` maps ``egress``/``allow``/``deny`` to how the caller spells them in messages
    (``--allow`` for the CLI); the default is the key itself.

    Raises:
        ConfigError: one line naming the field, the value and what was expected.
    """
    names = names or {}
    if egress not in EGRESS:
        raise ConfigError(
            f"{names.get('egress', 'egress')}: expected one of {', '.join(EGRESS)}, "
            f"got {v.show(egress)}"
        )
    lists: dict[str, tuple[str, ...]] = {}
    for key, entries in (("allow", allow), ("deny", deny)):
        checked = []
        for entry in entries:
            if not isinstance(entry, str):
                raise ConfigError(f"{names.get(key, key)}: expected a string, got {v.show(entry)}")
            try:
                parse_target(entry)
            except ValueError as exc:
                raise ConfigError(f"{names.get(key, key)}: {exc}") from None
            checked.append(entry)
        lists[key] = tuple(dict.fromkeys(checked))
    return Policy(egress=egress, allow=lists["allow"], deny=lists["deny"])  # type: ignore[arg-type]


# --- rules: the policy with its names resolved, as address sets ------------------------------


@dataclass(frozen=True)
class AddressSets:
    """Networks (any port) and network.port pairs, per family; collapsed and sorted."""

    v4: tuple[str, ...] = ()
    v6: tuple[str, ...] = ()
    v4_ports: tuple[tuple[str, int], ...] = ()
    v6_ports: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True)
class Rules:
    """Everything the firewall needs for one colony besides its slot.

    The default is the locked table a colony gets when its kernel objects are made: no egress
    at all, nothing logged, until the daemon loads its policy.
    """

    egress: Egress = "deny"
    allow: AddressSets = field(default_factory=AddressSets)
    deny: AddressSets = field(default_factory=AddressSets)
    exposed: tuple[tuple[str, int], ...] = ()  # (peer colony's veth, port) let in
    # Issue 16: TCP 80/443 goes through the egress gate, which decides by host name; the
    # IP/CIDR entries of the allowlist and of deny (``direct``) stay the firewall's alone.
    gate: bool = False
    direct: AddressSets = field(default_factory=AddressSets)


def _collapse(nets: Iterable[IPNetwork]) -> tuple[str, ...]:
    items = list(nets)
    if not items:
        return ()
    merged = sorted(ipaddress.collapse_addresses(items))  # type: ignore[type-var]
    return tuple(str(n.network_address if n.prefixlen == n.max_prefixlen else n) for n in merged)


def _address_sets(targets: Iterable[tuple[IPNetwork, int | None]]) -> AddressSets:
    anyport: dict[int, list[IPNetwork]] = {4: [], 6: []}
    ported: dict[tuple[int, int], list[IPNetwork]] = {}
    for net, port in targets:
        if port is None:
            anyport[net.version].append(net)
        else:
            ported.setdefault((net.version, port), []).append(net)
    pairs: dict[int, list[tuple[str, int]]] = {4: [], 6: []}
    for (version, port), nets in sorted(ported.items()):
        pairs[version] += [(n, port) for n in _collapse(nets)]
    return AddressSets(
        v4=_collapse(anyport[4]),
        v6=_collapse(anyport[6]),
        v4_ports=tuple(sorted(pairs[4], key=_pair_key)),
        v6_ports=tuple(sorted(pairs[6], key=_pair_key)),
    )


def _pair_key(pair: tuple[str, int]) -> tuple[IPNetwork, int]:
    return ipaddress.ip_network(pair[0]), pair[1]


def _networks(
    entries: Sequence[str], resolved: Mapping[str, Sequence[str]]
) -> list[tuple[IPNetwork, int | None]]:
    out: list[tuple[IPNetwork, int | None]] = []
    for entry in entries:
        target = parse_target(entry)
        if target.network is not None:
            out.append((target.network, target.port))
            continue
        for address in resolved.get(target.host or "", ()):
            out.append((ipaddress.ip_network(address), target.port))
    return out


def _names(entries: Iterable[str]) -> bool:
    return any(parse_target(e).host for e in entries)


def gated(policy: Policy) -> bool:
    """Whether TCP 80/443 of a colony with ``policy`` goes through the egress gate (issue 16):
    an allowlist naming hosts, or ``allow`` with deny entries naming hosts (a denied name is
    refused by name there, not by its addresses, which other sites may share)."""
    if policy.egress == "allowlist":
        return _names(policy.allow)
    return policy.egress == "allow" and _names(policy.deny)


def _addresses(entries: Iterable[str]) -> list[str]:
    return [e for e in entries if parse_target(e).host is None]


def gate_secret_hosts(rules: Rules, addresses: Iterable[str]) -> Rules:
    """``rules`` that also send TCP 80/443 to ``addresses`` (those of a colony's secrets'
    hosts, issue 17) through the egress gate. An allowlist naming hosts goes through it
    already; in allow mode every other address is ``direct`` (the firewall's alone), so
    only the secrets' hosts are redirected. Deny mode reaches nothing anyway.

    Example:
        >>> r = gate_secret_hosts(Rules(egress="allow"), ["192.0.2.1"])
        >>> r.gate, "192.0.2.1" in r.direct.v4, "192.0.2.0" in r.direct.v4, len(r.direct.v4)
        (True, False, True, 32)
    """
    if rules.gate or rules.egress != "allow":
        return rules
    wanted = [ipaddress.ip_network(a) for a in addresses if ":" not in a]
    if not wanted:
        return rules
    rest: list[ipaddress.IPv4Network] = [ipaddress.IPv4Network("0.0.0.0/0")]
    for net in wanted:
        assert isinstance(net, ipaddress.IPv4Network)
        rest = [p for r in rest for p in (r.address_exclude(net) if net.subnet_of(r) else [r])]
    return replace(rules, gate=True, direct=AddressSets(v4=_collapse(rest)))


def plan_rules(
    policy: Policy,
    resolved: Mapping[str, Sequence[str]],
    *,
    exposed: Iterable[tuple[str, int]] = (),
) -> Rules:
    """The rules of ``policy`` with host names replaced by their ``resolved`` addresses
    (a wildcard entry's: the addresses the colony's DNS stub answered for names below it).

    A name that resolved to nothing (yet) contributes no address: it is closed until the
    daemon's next resolution finds one.

    With the gate on, ``direct`` holds the IP and CIDR entries the firewall decides alone,
    on every port: the allowlist's and the deny list's. The addresses of denied names stay in
    ``deny``, which refuses them on every port the gate does not see (not TCP 80/443).
    """
    gate = gated(policy)
    direct = []
    if gate:
        allowed = _addresses(policy.allow) if policy.egress == "allowlist" else []
        direct = allowed + _addresses(policy.deny)
    return Rules(
        egress=policy.egress,
        allow=_address_sets(_networks(policy.allow, resolved)),
        deny=_address_sets(_networks(policy.deny, resolved)),
        exposed=tuple(sorted(set(exposed))),
        gate=gate,
        direct=_address_sets(_networks(direct, {})),
    )


# --- exposures: which other colony may reach which of a colony's ports ----------------------


@dataclass(frozen=True)
class Peer:
    """What the exposure plan needs of one colony."""

    veth: str
    expose_to: tuple[str, ...] = ()  # 'colony:port' or 'colony:service'
    ports: Mapping[str, int] = field(default_factory=dict)  # service name → port


def check_exposures(expose_to: Sequence[str], ports: Mapping[str, int], source: str) -> None:
    """Raise ConfigError if an ``expose_to`` entry names a service without a port."""
    for index, entry in enumerate(expose_to):
        _, _, target = entry.partition(":")
        if not target.isdigit() and target not in ports:
            known = ", ".join(sorted(ports)) or "none"
            raise ConfigError(
                f"{source}: network.expose_to[{index}]: expected a port or a service with a "
                f"port (services with ports: {known}), got {entry!r}"
            )


def check_config_exposures(cfg: Config) -> None:
    """:func:`check_exposures` of a whole colony.toml."""
    ports = {s.name: s.port for s in cfg.services if s.port is not None}
    check_exposures(cfg.network.expose_to, ports, cfg.source)


def plan_exposures(peers: Mapping[str, Peer]) -> dict[str, tuple[tuple[str, int], ...]]:
    """For each colony, the (veth of the colony let in, port) pairs of its ``expose_to``.

    ``expose_to = ["api:5432"]`` in colony ``db`` lets colony ``api`` open connections to
    port 5432 of ``db``; the entry lives with the colony that offers the service, so a colony
    can only ever open its own ports. Entries naming a colony that does not exist (yet) are
    inactive until it does.
    """
    plan: dict[str, tuple[tuple[str, int], ...]] = {}
    for name, peer in peers.items():
        pairs = set()
        for entry in peer.expose_to:
            other, _, target = entry.partition(":")
            port = int(target) if target.isdigit() else peer.ports.get(target)
            client = peers.get(other)
            if client is not None and other != name and port is not None:
                pairs.add((client.veth, port))
        plan[name] = tuple(sorted(pairs))
    return plan


# --- the host's name sources ------------------------------------------------------------------


def parse_hosts(text: str) -> dict[str, tuple[str, ...]]:
    """Name → addresses from hosts(5) text (later lines add addresses, never replace)."""
    out: dict[str, list[str]] = {}
    for line in text.splitlines():
        fields = line.split("#", 1)[0].split()
        if len(fields) < 2:
            continue
        try:
            address = str(ipaddress.ip_address(fields[0].split("%", 1)[0]))
        except ValueError:
            continue
        for name in fields[1:]:
            addresses = out.setdefault(name.rstrip(".").lower(), [])
            if address not in addresses:
                addresses.append(address)
    return {name: tuple(addresses) for name, addresses in out.items()}


def parse_nameservers(text: str) -> tuple[str, ...]:
    """The ``nameserver`` addresses of resolv.conf(5) text, in order."""
    out: list[str] = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) >= 2 and fields[0] == "nameserver":
            try:
                address = str(ipaddress.ip_address(fields[1].split("%", 1)[0]))
            except ValueError:
                continue
            if address not in out:
                out.append(address)
    return tuple(out)
