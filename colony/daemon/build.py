"""The composition root: every component of a Mycelium, built once, in dependency order
(issue 13).

:func:`build` takes the settings and the host backends (isolation, the workspace backend,
the store, the colony uid range) and returns :class:`Services`: every component fully
built, none Optional. The daemon (:mod:`colony.daemon.main`) builds with the real backends
and binds the sockets; the tests build with :class:`~colony.testing.fake_isolation.FakeIsolation`
and :class:`~colony.testing.fake_vcs.FakeVcs`. The API gets the components it serves, not a
registry to look them up in.

Example:
    >>> services = await build(settings, store=store, isolation=iso, open_vcs=open_vcs,
    ...                        ids=None, start_task=start_task)
    >>> await start(services)
    >>> services.agents is services.broods.agents
    True
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from colony.core.egress import GateRecord
from colony.core.hosts import preview_names
from colony.core.model import ColonyRecord
from colony.core.secrets import allowed_hosts
from colony.daemon.access import Access
from colony.daemon.agents import AgentService
from colony.daemon.audit import Auditor
from colony.daemon.auditing import start_audit
from colony.daemon.broods import BroodService
from colony.daemon.conflicts import ConflictWatch
from colony.daemon.dnsstub import RATE as DNS_RATE
from colony.daemon.dnsstub import DnsStub, serve_dns
from colony.daemon.doctor import Doctor
from colony.daemon.egress_gate import CachedNames, EgressGate, HostAddresses
from colony.daemon.events import EventBus
from colony.daemon.execs import Execs
from colony.daemon.hostsfile import HostsFile
from colony.daemon.identities import Identities
from colony.daemon.kit import ActorKit, ColonyEnv, TaskStarter
from colony.daemon.logs import LogBook
from colony.daemon.mycelium import Mycelium
from colony.daemon.network import Network, start_network
from colony.daemon.paths import Paths
from colony.daemon.peers import PeerLimit
from colony.daemon.preview_gate import PreviewGate, load_key
from colony.daemon.preview_records import PreviewRecords
from colony.daemon.previews import explain_preview
from colony.daemon.proxy import PreviewProxy, connect_in_netns
from colony.daemon.resources import Usage
from colony.daemon.review import Review
from colony.daemon.secret_ca import ColonyCAs
from colony.daemon.secret_tls import SecretGate
from colony.daemon.secrets import Secrets, SecretStore
from colony.daemon.settings import Settings
from colony.daemon.trash import TrashBin
from colony.isolation import Isolation
from colony.isolation.firewall import dns_port
from colony.store.queries import Store
from colony.vcs import Vcs
from colony.vcs import repo_root as vcs_repo_root


@dataclass(frozen=True)
class Services:
    """Every component of one Mycelium."""

    colonies: Mycelium
    network: Network  # network policies and connection records (issue 4)
    audit: Auditor  # the audit log (issue 5)
    proxy: PreviewProxy  # previews; not listening until the daemon starts it
    agents: AgentService  # issue 6
    review: Review
    conflicts: ConflictWatch
    trash: TrashBin
    broods: BroodService
    access: Access  # who callers are, who owns and shares what (issue 14)
    gate: PreviewGate  # who may open previews, first-visit links (issue 14)
    egress: EgressGate  # TCP 80/443 decided by host name (issue 16); not listening yet
    secrets: Secrets  # colonies' secrets, put in at the egress gate (issue 17)
    preview_records: PreviewRecords  # preview requests, batched into the audit log (issue 15)
    bus: EventBus  # what happens, for the API's streams and the audit log
    logs: LogBook  # every colony's logs
    clock: Callable[[], float]
    start_task: TaskStarter  # background work, in the daemon's task group
    # What the API serves besides (issue 13: it reaches them through colony.api.ports):
    execs: Execs
    usage: Usage
    hosts: HostsFile
    doctor: Doctor

    @property
    def proxy_port(self) -> int:
        """The preview proxy's port, once the daemon has started it."""
        return self.proxy.port or 0


async def build(
    settings: Settings,
    *,
    store: Store,
    isolation: Isolation,
    open_vcs: Callable[[Path], Vcs],
    ids: Identities | None,
    start_task: TaskStarter,
    clock: Callable[[], float] = time.time,
    host_env: dict[str, str] | None = None,
    repo_root: Callable[[Path], Path] = vcs_repo_root,
) -> Services:
    """Every component, wired; background tasks go to ``start_task``. Nothing listens yet
    and no colony is adopted: :func:`start` does that."""
    s = settings
    paths, bus, logs = Paths(s.state_dir), EventBus(), LogBook(s.log_cap)
    env = ColonyEnv(
        prefix=s.prefix,
        pool=s.pool,
        domain=s.domain,
        host_env=dict(os.environ) if host_env is None else host_env,
        colony_path=s.colony_path,
        ids=ids,
        policy=s.policy,
    )
    secret_store = SecretStore(paths.secrets)
    cas = ColonyCAs(paths)  # issue 17: COLONY_UPSTREAM_CA is for tests (a test server's CA)
    secret_gate = SecretGate(secret_store, cas, os.environ.get("COLONY_UPSTREAM_CA") or None)
    network = start_network(
        store,
        isolation,
        bus,
        s.prefix,
        start_task,
        on_policy=lambda name: egress.recheck(name),
        secret_hosts=lambda name: allowed_hosts(secret_store.of(name).values()),
    )
    egress = EgressGate(
        asker=network.asker,
        decide=network.decide,
        resolve=CachedNames(network.names.resolve),
        report=lambda rec: _gate_report(network, logs, rec),
        host_addresses=HostAddresses(),
        pool=s.pool,
        secrets=secret_gate,
    )
    rate = float(os.environ.get("COLONY_DNS_RATE") or DNS_RATE)
    start_task(serve_dns(DnsStub(network, dns_port(s.prefix), rate=rate)))
    # Some components need each other: the actors read the proxy's port (known once it
    # listens) and hand what they remove to the trash, and the agents tell the broods of
    # sessions that end. Each goes through one function over a component built below.
    kit = ActorKit(
        store=store,
        iso=isolation,
        open_vcs=open_vcs,
        paths=paths,
        env=env,
        start_task=start_task,
        bus=bus,
        logs=logs,
        clock=clock,
        net=network,
        proxy_port=lambda: proxy.port or 0,
        on_removed=lambda rec, result: _removed(rec, result),
        secrets=secret_store,
        cas=cas,
    )
    colonies = Mycelium(kit, repo_root)
    secrets = Secrets(
        secret_store,
        exists=colonies.actor,
        publish=bus.publish,
        clock=clock,
        made=cas.ensure,
        changed=network.secrets_changed,
    )

    def _removed(rec: ColonyRecord, result: dict[str, Any]) -> None:
        secret_store.forget(rec.name)  # issue 17: a colony's secrets go with it
        cas.forget(rec.name)
        trash.record(rec, result)  # issue 6

    audit = await start_audit(
        colonies,
        paths=paths,
        bus=bus,
        clock=clock,
        start_task=start_task,
        push=s.audit_push,
        retention=s.audit_retention,
        watch_limit=s.watch_limit,
        file_rate=s.file_rate,
    )
    access = Access(store, bus, clock)
    gate = PreviewGate(s.preview_auth, load_key(paths.preview_key), access, clock)
    records = PreviewRecords(bus.publish, clock)  # issue 15: not one write per request
    start_task(records.run())
    proxy = PreviewProxy(
        routes=colonies.routes,
        connect=lambda up: connect_in_netns(colonies.netns_path(up.colony), up.port),
        on_request=records.add,
        domain=s.domain,
        peers=PeerLimit(s.peer_connections, "preview proxy"),
        idle_timeout=s.idle_timeout,
        explain=lambda up: explain_preview(colonies, up),  # issue 12
        gate=gate.check,  # issue 14
    )
    agents = AgentService(
        colonies,
        store=store,
        iso=isolation,
        bus=bus,
        logs=logs,
        paths=paths,
        clock=clock,
        start_task=start_task,
        on_end=lambda rec: broods.agent_ended(rec),  # a brood waits for its agents
        secrets=secrets.for_agent,  # issue 17
    )
    review = Review(colonies, agents, open_vcs=open_vcs, bus=bus, clock=clock)
    trash = TrashBin(
        colonies, store=store, open_vcs=open_vcs, paths=paths, pool=s.pool, clock=clock
    )
    broods = BroodService(
        colonies,
        agents,
        review,
        store=store,
        iso=isolation,
        open_vcs=open_vcs,
        repo_root=repo_root,
        paths=paths,
        bus=bus,
        clock=clock,
        start_task=start_task,
    )
    return Services(
        colonies=colonies,
        network=network,
        audit=audit,
        proxy=proxy,
        agents=agents,
        review=review,
        conflicts=ConflictWatch(colonies, open_vcs=open_vcs, bus=bus, clock=clock),
        trash=trash,
        broods=broods,
        access=access,
        gate=gate,
        egress=egress,
        secrets=secrets,
        preview_records=records,
        bus=bus,
        logs=logs,
        clock=clock,
        start_task=start_task,
        execs=Execs(colonies.actor, bus.publish, clock),
        usage=Usage(colonies.resources, lambda: colonies.actors, colonies.actor),
        hosts=HostsFile(names=lambda: preview_names(colonies.routes(), s.domain)),
        doctor=Doctor(colonies, audit),
    )


def _gate_report(network: Network, logs: LogBook, rec: GateRecord) -> None:
    """A verdict of the egress gate: a connection record and an audit entry; a refusal also
    in the colony's log (source ``net``), as the colony was told."""
    network.on_gate(rec)
    book = logs.colonies.get(rec.colony)
    if rec.verdict != "accept" and book is not None:
        book.note("net", rec.reason)


async def start(services: Services) -> list[dict[str, str]]:
    """Adopt the colonies, agent sessions and broods a previous Mycelium left, and start the
    background work (conflicts, logs, usage); what gc removed on the way."""
    removed = await services.colonies.adopt_all()
    await services.agents.adopt()  # before broods: their drivers look at live sessions
    await services.broods.adopt()
    start_task = services.start_task
    start_task(services.conflicts.run())
    start_task(services.logs.run())
    start_task(services.colonies.resources.run())  # usage samples and resource events
    return removed


__all__ = ["Services", "build", "start"]
