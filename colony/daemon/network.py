"""Mycelium's network service: each colony's policy loaded into its nft table, kept current.

A colony is *attached* once its kernel objects exist (spawn, start after a vanished netns,
adoption) and *detached* when they are removed. While attached, its table carries its policy
(a stored ``colony policy`` override, else colony.toml's ``[network]``), the addresses its
host names resolve to (re-resolved on a timer), the addresses its DNS stub answered for its
wildcard entries (:meth:`Network.lookup`) and the peers its ``expose_to`` lets in. Every
change is one kernel transaction per affected table (its set contents, over netlink; see
:func:`colony.isolation.firewall.apply_policy`).

Example:
    >>> net = Network(iso=iso, policies=PolicyStore(store), bus=bus, names=Names())
    >>> await net.attach(rec, slot, cfg)
    []
    >>> await net.set_policy("web", parse_policy("deny"), by="alice")
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import socket
import time
from collections.abc import Callable, Coroutine, Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from colony.core import egress, hostmatch
from colony.core.approvals import amend_policy, format_change, plan_blocked, plan_warnings
from colony.core.bus_events import DnsEvent, NetEvent, PolicyEvent, render_event
from colony.core.config import Config
from colony.core.egress import Asker, GateRecord
from colony.core.hostmatch import Verdict
from colony.core.hostname import is_wildcard
from colony.core.model import ColonyRecord, Slot
from colony.core.policy import (
    Peer,
    Policy,
    Rules,
    check_exposures,
    gate_secret_hosts,
    parse_target,
    plan_exposures,
    plan_rules,
)
from colony.daemon.events import EventBus
from colony.daemon.names import RESOLV_CONF, Names
from colony.daemon.netlog import NetLog, NflogReader
from colony.errors import ColonyError, Conflict, HostError, NotFound
from colony.isolation import Isolation, nflog
from colony.isolation.firewall import ACCEPT_PREFIX, DENY_PREFIX, log_group, render_colony_table
from colony.store.policies import PolicyStore, StoredPolicy
from colony.store.queries import Store

log = logging.getLogger("colony.network")
LEARNED_MAX = 256  # addresses pinned per wildcard entry of a colony (the oldest go first)
CACHE_TTL = 60.0  # seconds the stub reuses an address it looked up for a name
CACHE_MAX = 4096


@dataclass
class Member:
    """An attached colony, as the network service sees it."""

    slot: Slot
    owner: str
    config: Policy  # colony.toml's [network]
    override: StoredPolicy | None
    expose_to: tuple[str, ...]
    ports: Mapping[str, int]
    # wildcard entry → addresses the DNS stub answered for names below it (pinned; LRU order)
    learned: dict[str, dict[str, None]] = field(default_factory=dict)
    changed: float = 0.0  # when its policy was last set live (refusals before it may be moot)

    @property
    def policy(self) -> Policy:
        return self.override.policy if self.override else self.config


def config_policy(cfg: Config) -> Policy:
    net = cfg.network
    return Policy(egress=net.egress, allow=net.allow, deny=net.deny)


@functools.lru_cache(maxsize=4096)
def _hosts(policy: Policy) -> frozenset[str]:
    return policy.hosts()


@functools.lru_cache(maxsize=4096)
def _wildcards(policy: Policy) -> tuple[str, ...]:
    """The wildcard patterns of the allow entries (pinned as the stub answers names)."""
    hosts = {parse_target(e).host for e in policy.allow}
    return tuple(sorted(h for h in hosts if h is not None and is_wildcard(h)))


@functools.lru_cache(maxsize=4096)
def _plan(
    policy: Policy,
    resolved: tuple[tuple[str, tuple[str, ...]], ...],
    exposed: tuple[tuple[str, int], ...],
) -> Rules:
    # Cached: with hundreds of colonies, every attach re-checks every table's rules.
    return plan_rules(policy, dict(resolved), exposed=exposed)


def _v4(addresses: Iterable[str]) -> tuple[str, ...]:
    return tuple(a for a in addresses if ":" not in a)


def service_ports(cfg: Config) -> dict[str, int]:
    return {s.name: s.port for s in cfg.services if s.port is not None}


class Network:
    """Policies of the attached colonies, their tables, and their connection records."""

    def __init__(
        self,
        *,
        iso: Isolation,
        policies: PolicyStore,
        bus: EventBus,
        names: Names | None = None,
        netlog: NetLog | None = None,
        clock: Callable[[], float] = time.time,
        ifname: Callable[[int], str | None] | None = None,
        on_policy: Callable[[str], None] = lambda name: None,
        secret_hosts: Callable[[str], frozenset[str]] = lambda name: frozenset(),
    ) -> None:
        self.secret_hosts = secret_hosts  # hosts of a colony's secrets: gated (issue 17)
        self.iso = iso
        self.on_policy = on_policy  # a colony's policy changed (the gate re-judges, issue 16)
        self.ifname = ifname or _ifname
        self.policies = policies
        self.bus = bus
        self.names = names or Names()
        self.netlog = netlog or NetLog()
        self.clock = clock
        self.log_group: int | None = None  # set once the NFLOG reader has its group
        self.members: dict[str, Member] = {}
        self.resolved: dict[str, tuple[str, ...]] = {}
        self.resolvers: tuple[str, ...] = self.names.nameservers()
        self.applied: dict[str, Rules] = {}
        self.exposed: dict[str, tuple[tuple[str, int], ...]] = {}  # as last loaded
        self._by_veth: dict[str, str] = {}
        self._by_address: dict[str, str] = {}
        self._cache: dict[str, tuple[tuple[str, ...], float]] = {}  # the stub's lookups
        self._lock = asyncio.Lock()
        self._changing = asyncio.Lock()  # one policy change at a time: amendments add up
        self.generation = 0  # bumped at every change: the DNS stub's answers go stale

    # --- colonies coming and going ----------------------------------------------------------

    async def attach(self, rec: ColonyRecord, slot: Slot, cfg: Config) -> list[str]:
        """Load the colony's policy into its table (and update peers it exposes to or uses).

        Returns warnings (names that resolve to nothing yet).

        Raises:
            ConfigError: an ``expose_to`` entry names a service without a port.
            HostError: nft rejected the colony's table.
        """
        ports = service_ports(cfg)
        check_exposures(cfg.network.expose_to, ports, cfg.source)
        member = Member(
            slot=slot,
            owner=rec.owner,
            config=config_policy(cfg),
            override=self.policies.get(rec.name),
            expose_to=cfg.network.expose_to,
            ports=ports,
        )
        warnings = await self._resolve(_hosts(member.policy))
        await self._resolve(self.secret_hosts(rec.name))
        async with self._lock:
            self.members[rec.name] = member
            self._members_changed()
            self.applied.pop(rec.name, None)  # the table was just made (or is an old one)
            try:
                await self._sync(strict=rec.name, names={rec.name})
            except ColonyError:
                self.members.pop(rec.name, None)
                self._members_changed()
                await self._sync(names=())  # peers already told to let it in forget it again
                raise
        return warnings

    async def detach(self, name: str) -> None:
        """Forget a colony whose kernel objects are gone; peers stop letting it in."""
        async with self._lock:
            if self.members.pop(name, None) is None:
                return
            self._members_changed()
            self.applied.pop(name, None)
            self.netlog.forget(name)
            await self._sync(names=())

    # --- policy changes -----------------------------------------------------------------

    async def set_policy(self, name: str, policy: Policy | None, *, by: str) -> list[str]:
        """Store and apply ``policy`` for colony ``name`` (None: back to colony.toml's).

        An attached colony's table changes in one transaction; a colony without kernel
        objects gets the policy when they are made. Returns warnings.
        """
        async with self._changing:
            return await self._set_policy(name, policy, by=by)

    async def change_policy(
        self,
        name: str,
        *,
        allow: Iterable[object] = (),
        deny: Iterable[object] = (),
        remove: Iterable[object] = (),
        by: str,
    ) -> list[str]:
        """Add ``allow`` and ``deny`` entries to colony ``name``'s policy in effect and take
        ``remove`` out (:func:`colony.core.approvals.amend_policy`), live. Returns warnings.

        Raises:
            ConfigError: a bad entry, or one to remove that the policy does not have.
            Conflict: the colony has no network and no stored policy to amend.
        """
        allow, deny, remove = list(allow), list(deny), list(remove)
        async with self._changing:
            current = self.policy_of(name) or self._stored(name)
            if current is None:
                raise Conflict(
                    f"colony '{name}' has no network now: its policy is colony.toml's until "
                    "it runs",
                    hint=f"state the whole policy: colony policy {name} --egress MODE --allow …",
                )
            policy = amend_policy(current, allow, deny, remove)
            change = format_change(*([str(e) for e in x] for x in (allow, deny, remove)))
            warnings = await self._set_policy(name, policy, by=by, change=change)
        return plan_warnings(policy, [str(e) for e in allow]) + warnings

    def _stored(self, name: str) -> Policy | None:
        stored = self.policies.get(name)
        return stored.policy if stored else None

    async def _set_policy(
        self, name: str, policy: Policy | None, *, by: str, change: str | None = None
    ) -> list[str]:
        at = self.clock()
        override = None if policy is None else StoredPolicy(policy, by, at)
        member = self.members.get(name)
        effective = policy or (member.config if member else None)
        # Resolved afresh: a name no colony used lately may have a stale cached address.
        warnings = await self._resolve(_hosts(effective), fresh=True) if effective else []
        async with self._lock:
            if member is not None:
                old = member.override
                member.override = override
                try:
                    await self._sync(strict=name, names={name})
                except ColonyError:
                    member.override = old
                    raise
                member.changed = at
            if policy is None:
                self.policies.delete(name)
            else:
                self.policies.save(name, policy, by=by, at=at)
        self.bus.publish(
            PolicyEvent(
                colony=name,
                user=by,
                at=at,
                reset=policy is None,
                policy=effective,
                change=change,
            )
        )
        self.on_policy(name)
        return warnings

    async def refresh(self) -> None:
        """Re-read the resolvers and re-resolve every name in use; reload what changed."""
        self.resolvers = self.names.nameservers()
        hosts: set[str] = set()
        for name, member in self.members.items():
            hosts |= _hosts(member.policy) | self.secret_hosts(name)
        fresh = await self.names.resolve(hosts)
        async with self._lock:
            self.resolved.update(fresh)
            await self._sync()

    async def run(self, interval: float = 60.0) -> None:
        """Re-resolve names every ``interval`` seconds, until cancelled."""
        while True:
            await asyncio.sleep(interval)
            try:
                await self.refresh()
            except Exception:
                log.exception("re-resolving policy names failed")

    # --- views --------------------------------------------------------------------------

    def rules(self, name: str) -> Rules:
        """What colony ``name``'s table should hold now."""
        return self._rules(name, self.members[name], self._exposures())

    def _exposures(self) -> dict[str, tuple[tuple[str, int], ...]]:
        """What each colony that exposes ports lets in (the others let in nothing): built
        from those colonies and the ones they name, not from every colony."""
        offering = [n for n, m in self.members.items() if m.expose_to]
        named = {e.partition(":")[0] for n in offering for e in self.members[n].expose_to}
        peers = {
            n: Peer(m.slot.veth, m.expose_to, m.ports)
            for n in {*offering, *named}
            if (m := self.members.get(n)) is not None
        }
        return {n: pairs for n, pairs in plan_exposures(peers).items() if pairs}

    def _rules(
        self, name: str, member: Member, exposures: Mapping[str, tuple[tuple[str, int], ...]]
    ) -> Rules:
        policy = member.policy
        resolved = tuple((h, self.resolved.get(h, ())) for h in sorted(_hosts(policy)))
        learned = tuple((w, tuple(member.learned.get(w, ()))) for w in _wildcards(policy))
        return self._gate_secrets(name, _plan(policy, resolved + learned, exposures.get(name, ())))

    # --- secrets (issue 17) ---------------------------------------------------------------

    def _gate_secrets(self, name: str, rules: Rules) -> Rules:
        """``rules`` that send TCP 80/443 to the colony's secrets' hosts through the gate."""
        hosts = self.secret_hosts(name)
        if not hosts:
            return rules
        return gate_secret_hosts(
            rules, [a for h in sorted(hosts) for a in self.resolved.get(h, ())]
        )

    async def secrets_changed(self, name: str) -> None:
        """The colony's secrets changed: their hosts resolved afresh, its table reloaded."""
        await self._resolve(self.secret_hosts(name), fresh=True)
        async with self._lock:
            if name in self.members:
                await self._sync(strict=name, names={name})

    def render(self, name: str) -> str:
        member = self._member(name)
        return render_colony_table(member.slot, self.rules(name), self.iso.mark)

    def view(self, name: str, limit: int = 50) -> dict[str, Any]:
        """The colony's policy, where it comes from, its resolved names, and its records."""
        member = self.members.get(name)
        stored = member.override if member else self.policies.get(name)
        policy = member.policy if member else (stored.policy if stored else None)
        names = sorted(_hosts(policy)) if policy else []
        rules = self.rules(name) if member else None
        return {
            "colony": name,
            "attached": member is not None,
            "policy": policy.to_json() if policy else None,
            "source": "override" if stored else "colony.toml",
            "set_by": stored.by if stored else None,
            "set_at": stored.at if stored else None,
            "resolved": {n: list(self.resolved.get(n, ())) for n in names},
            "learned": {w: list(a) for w, a in member.learned.items()} if member else {},
            "stub": member.slot.host_ip if member else None,  # its resolver: the DNS stub
            "resolvers": list(self.resolvers),  # what Mycelium's own lookups use
            "expose_to": list(member.expose_to) if member else [],
            "exposed_to": sorted({self._colony_of(v) or v for v, _ in rules.exposed})
            if rules
            else [],
            **self.netlog.view(name, limit),
            "blocked": self.blocked(name)[: max(0, limit)],
        }

    def blocked(self, name: str) -> list[dict[str, Any]]:
        """Names the gate and the DNS stub refused colony ``name`` lately, latest first, each
        with the allow entry that admits it (``fix``) or the deny entry that refuses it; a
        name allowed since drops out (:func:`colony.core.approvals.plan_blocked`)."""
        member = self.members.get(name)
        policy = member.policy if member else None
        return plan_blocked(self.netlog.blocked(name), policy, member.changed if member else 0.0)

    # --- connection records -------------------------------------------------------------

    def on_packet(self, packet: nflog.Packet) -> None:
        """Turn one logged packet into a record of the colony it came from (or went to)."""
        name = self._colony_of(self.ifname(packet.indev)) or self._colony_of(
            self.ifname(packet.outdev)
        )
        if name is None or packet.prefix not in (ACCEPT_PREFIX, DENY_PREFIX):
            return
        event = NetEvent(
            colony=name,
            user=self.members[name].owner,
            dest=packet.dest,
            port=packet.port,
            proto=packet.proto,
            verdict="accept" if packet.prefix == ACCEPT_PREFIX else "deny",
            at=self.clock(),
        )
        self.netlog.add(render_event(event))
        self.bus.publish(event)

    # --- the DNS stub's questions (colony.daemon.dnsstub) --------------------------------

    def colony_at(self, address: str) -> str | None:
        """The attached colony whose address ``address`` is (a query's source), or None."""
        return self._by_address.get(address)

    def policy_of(self, name: str) -> Policy | None:
        member = self.members.get(name)
        return member.policy if member else None

    def cached(self, host: str, now: float) -> tuple[str, ...] | None:
        """The addresses the stub looked up for ``host`` less than a minute ago, or None."""
        hit = self._cache.get(host)
        return hit[0] if hit is not None and hit[1] > now else None

    def answer_now(
        self, name: str, host: str, entry: str | None, now: float
    ) -> tuple[str, ...] | None:
        """What :meth:`lookup` would give without waiting for anything, or None if it must
        look up or pin first (``now``: the monotonic clock)."""
        member = self.members.get(name)
        if member is None:
            return ()
        target = parse_target(entry) if entry is not None else None
        if target is not None and target.host == host:
            found = self.resolved.get(host)
            return _v4(found) if found else None
        hit = self.cached(host, now)
        if hit is None or target is None or target.host is None:
            return hit
        if member.policy.egress != "allowlist":
            return hit
        learned = member.learned.get(target.host, {})
        return hit if all(a in learned for a in hit) else None

    async def lookup(self, name: str, host: str, entry: str | None) -> tuple[str, ...]:
        """The IPv4 addresses colony ``name`` is given for ``host`` (normalised), which its
        policy allows through ``entry`` (None: egress allow); pinned in its table first.

        A name an entry names exactly gets the addresses Mycelium pinned for the entry (so
        the colony connects to what its table admits); a name below a wildcard entry is
        looked up, and its addresses join the entry's in the colony's table before the
        answer leaves (at most :data:`LEARNED_MAX` per entry, the oldest dropped).
        """
        member = self.members.get(name)
        if member is None:
            return ()
        target = parse_target(entry) if entry is not None else None
        if target is not None and target.host == host:
            if not self.resolved.get(host):
                await self._resolve([host], fresh=True)
                async with self._lock:
                    await self._sync(names=self._using(host))
            return _v4(self.resolved.get(host, ()))
        addresses = await self._lookup(host)
        if target is None or target.host is None or member.policy.egress != "allowlist":
            return addresses
        learned = member.learned.setdefault(target.host, {})
        fresh = [a for a in addresses if a not in learned]
        for address in addresses:
            learned.pop(address, None)
            learned[address] = None  # last: most recently answered
        while len(learned) > LEARNED_MAX:
            del learned[next(iter(learned))]
        if fresh:
            async with self._lock:
                await self._sync(names={name})
        return addresses

    def on_query(
        self, name: str, host: str, qtype: str, verdict: str, answer: Iterable[str], reason: str
    ) -> None:
        """Record one DNS question the stub answered (``accept``) or refused (``deny``) for
        colony ``name``. Every one is counted and kept among the recent ones; the bus (and so
        the audit log) gets the first of each name, type and verdict per minute, with how
        many alike it stands for, and at most a few a second per colony."""
        member = self.members.get(name)
        if member is None:
            return
        event = DnsEvent(
            colony=name,
            user=member.owner,
            name=host,
            qtype=qtype,
            verdict=verdict,
            answer=tuple(answer),
            reason=reason,
            at=self.clock(),
        )
        count = self.netlog.add_query(render_event(event))
        if count:
            self.bus.publish(replace(event, count=count))

    async def _lookup(self, host: str) -> tuple[str, ...]:
        now = time.monotonic()
        hit = self.cached(host, now)
        if hit is not None:
            return hit
        found = _v4((await self.names.resolve([host])).get(host, ()))
        if len(self._cache) >= CACHE_MAX:
            self._cache = {h: v for h, v in self._cache.items() if v[1] > now}
            while len(self._cache) >= CACHE_MAX:
                del self._cache[next(iter(self._cache))]
        self._cache[host] = (found, now + CACHE_TTL)
        return found

    def _using(self, host: str) -> set[str]:
        return {n for n, m in self.members.items() if host in _hosts(m.policy)}

    # --- the egress gate (issue 16) ----------------------------------------------------

    def asker(self, address: str) -> Asker | None:
        """The colony whose address ``address`` is, with its egress mode."""
        name = self._by_address.get(address)
        member = None if name is None else self.members.get(name)
        if name is None or member is None:
            return None
        policy = member.policy
        if policy.egress != "allow" or not policy.deny:
            return Asker(name, policy.egress)
        pinned = egress.plan_pinned(policy.deny, lambda h: self.resolved.get(h, ()))
        return Asker(name, policy.egress, pinned)

    def decide(self, colony: str, host: str, port: int) -> Verdict:
        """The policy's verdict on ``host:port`` for ``colony`` (:mod:`colony.core.hostmatch`)."""
        member = self.members.get(colony)
        if member is None:
            return Verdict(False, f"colony '{colony}' has no network")
        return hostmatch.decide(member.policy, host, port)

    def on_gate(self, rec: GateRecord) -> None:
        """A verdict of the gate: a connection record, and an event (the audit log)."""
        member = self.members.get(rec.colony)
        if member is None:
            return
        event = NetEvent(
            colony=rec.colony,
            user=member.owner,
            dest=rec.dest,
            port=rec.port,
            proto="tcp",
            verdict=rec.verdict,
            at=self.clock(),
            host=rec.host,
            reason=rec.reason or None,
        )
        self.netlog.add(render_event(event))
        self.bus.publish(event)

    # --- internals ----------------------------------------------------------------------

    def _member(self, name: str) -> Member:
        member = self.members.get(name)
        if member is None:
            raise NotFound(
                f"colony '{name}' has no network: its kernel objects do not exist",
                hint=f"start it with 'colony start {name}'",
            )
        return member

    def _colony_of(self, veth: str | None) -> str | None:
        return None if veth is None else self._by_veth.get(veth)

    def _members_changed(self) -> None:
        self._by_veth = {m.slot.veth: n for n, m in self.members.items()}
        self._by_address = {m.slot.colony_ip: n for n, m in self.members.items()}

    async def _resolve(self, hosts: Iterable[str], fresh: bool = False) -> list[str]:
        wanted = [h for h in hosts if fresh or h not in self.resolved]
        if not wanted:
            return []
        found = await self.names.resolve(wanted)
        self.resolved.update(found)
        return [f"{h}: no address found; retried every minute" for h, a in found.items() if not a]

    async def _sync(self, strict: str | None = None, names: Iterable[str] | None = None) -> None:
        """Load every table whose rules changed: of ``names`` and of the colonies whose
        exposures changed (None: of every colony, after names resolved anew). A colony's
        attach or detach so costs the same however many colonies there are (issue 15). A
        failure of ``strict``'s raises; others log."""
        self.generation += 1
        try:
            await self._load(strict, names)
        finally:
            self.generation += 1  # a failed load puts the old policy back

    async def _load(self, strict: str | None, names: Iterable[str] | None) -> None:
        exposures = self._exposures()
        moved = {n for n in {*exposures, *self.exposed} if exposures.get(n) != self.exposed.get(n)}
        self.exposed = exposures
        todo = list(self.members) if names is None else [*{*names, *moved}]
        for name in todo:
            member = self.members.get(name)
            if member is None:
                continue
            rules = self._rules(name, member, exposures)
            if self.applied.get(name) == rules:
                continue
            load = functools.partial(self.iso.set_network, remake=name == strict)
            try:
                await asyncio.to_thread(load, member.slot, rules)
            except ColonyError as exc:
                if name == strict:
                    raise
                log.error("colony %s: cannot load its network policy: %s", name, exc)
                continue
            self.applied[name] = rules


def _ifname(index: int) -> str | None:
    if index <= 0:
        return None
    try:
        return socket.if_indextoname(index)
    except OSError:
        return None


def start_network(
    store: Store,
    iso: Isolation,
    bus: EventBus,
    prefix: str,
    start_task: Callable[[Coroutine[Any, Any, Any]], Any],
    env: Mapping[str, str] = os.environ,
    on_policy: Callable[[str], None] = lambda name: None,
    secret_hosts: Callable[[str], frozenset[str]] = lambda name: frozenset(),
) -> Network:
    """The daemon's network service, its NFLOG reader and its re-resolution timer, running.

    ``COLONY_HOSTS_FILE`` names a hosts(5) file consulted before DNS for policy names;
    ``COLONY_RESOLVE_INTERVAL`` sets the seconds between re-resolutions (default 60);
    ``COLONY_RESOLV_CONF`` the file naming the DNS servers colonies may query (default
    /etc/resolv.conf, which is also what colony processes read).
    Without NFLOG (no netlink, the group taken) policies still apply, unrecorded.
    """
    hosts = env.get("COLONY_HOSTS_FILE")
    resolv_conf = Path(env.get("COLONY_RESOLV_CONF") or RESOLV_CONF)
    net = Network(
        iso=iso,
        policies=PolicyStore(store),
        bus=bus,
        names=Names(Path(hosts) if hosts else None, resolv_conf),
        on_policy=on_policy,
        secret_hosts=secret_hosts,
    )
    reader = NflogReader(net.on_packet)
    try:
        # The group is fixed by the prefix: tables log to it whichever daemon made them.
        net.log_group = reader.open(log_group(prefix))
    except HostError as exc:
        log.error("connection records are off: %s", exc)
    else:
        start_task(reader.run())
    start_task(net.run(float(env.get("COLONY_RESOLVE_INTERVAL") or 60)))
    return net
