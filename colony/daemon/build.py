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

from colony.core.bus_events import RequestEvent
from colony.core.hosts import preview_names
from colony.daemon.access import Access
from colony.daemon.agents import AgentService
from colony.daemon.audit import Auditor
from colony.daemon.auditing import start_audit
from colony.daemon.broods import BroodService
from colony.daemon.conflicts import ConflictWatch
from colony.daemon.context import Context, TaskStarter
from colony.daemon.doctor import Doctor
from colony.daemon.events import EventBus
from colony.daemon.execs import Execs
from colony.daemon.hostsfile import HostsFile
from colony.daemon.identities import Identities
from colony.daemon.logs import LogBook
from colony.daemon.mycelium import Mycelium
from colony.daemon.network import Network, start_network
from colony.daemon.paths import Paths
from colony.daemon.peers import PeerLimit
from colony.daemon.preview_gate import PreviewGate, load_key
from colony.daemon.previews import explain_preview
from colony.daemon.proxy import PreviewProxy, connect_in_netns
from colony.daemon.resources import Usage
from colony.daemon.review import Review
from colony.daemon.settings import Settings
from colony.daemon.trash import TrashBin
from colony.isolation import Isolation
from colony.store.queries import Store
from colony.vcs import Vcs
from colony.vcs import repo_root as vcs_repo_root


@dataclass(frozen=True)
class Services:
    """Every component of one Mycelium."""

    ctx: Context  # what the colonies' actors share: store, backends, bus, paths
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
    # What the API serves besides (issue 13: it reaches them through colony.api.ports):
    bus: EventBus
    logs: LogBook
    execs: Execs
    usage: Usage
    hosts: HostsFile
    doctor: Doctor
    clock: Callable[[], float]

    @property
    def proxy_port(self) -> int:
        """The preview proxy's port, once the daemon has started it."""
        return self.ctx.proxy_port


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
    ctx = Context(
        store=store,
        iso=isolation,
        open_vcs=open_vcs,
        paths=Paths(s.state_dir),
        prefix=s.prefix,
        pool=s.pool,
        start_task=start_task,
        domain=s.domain,
        host_env=dict(os.environ) if host_env is None else host_env,
        logs=LogBook(s.log_cap),
        colony_path=s.colony_path,
        ids=ids,
        policy=s.policy,
        clock=clock,
        repo_root=repo_root,
    )
    network = start_network(store, isolation, ctx.bus, s.prefix, start_task)
    ctx.net = network
    colonies = Mycelium(ctx)
    audit = await start_audit(
        ctx,
        colonies,
        push=s.audit_push,
        retention=s.audit_retention,
        watch_limit=s.watch_limit,
        file_rate=s.file_rate,
    )
    access = Access(store, ctx.bus, clock)
    gate = PreviewGate(s.preview_auth, load_key(ctx.paths.preview_key), access, clock)
    proxy = PreviewProxy(
        routes=colonies.routes,
        connect=lambda up: connect_in_netns(colonies.netns_path(up.colony), up.port),
        on_request=lambda r: ctx.bus.publish(RequestEvent.of(r, ctx.clock())),
        domain=s.domain,
        peers=PeerLimit(s.peer_connections, "preview proxy"),
        idle_timeout=s.idle_timeout,
        explain=lambda up: explain_preview(colonies, up),  # issue 12
        gate=gate.check,  # issue 14
    )
    agents = AgentService(colonies)
    review = Review(colonies, agents)
    trash = TrashBin(colonies)
    ctx.on_removed.append(trash.record)  # the trash records what it takes to restore
    return Services(
        ctx=ctx,
        colonies=colonies,
        network=network,
        audit=audit,
        proxy=proxy,
        agents=agents,
        review=review,
        conflicts=ConflictWatch(colonies),
        trash=trash,
        broods=BroodService(colonies, agents, review),
        access=access,
        gate=gate,
        bus=ctx.bus,
        logs=ctx.logs,
        execs=Execs(colonies.actor, ctx.bus.publish, clock),
        usage=Usage(colonies.resources, lambda: colonies.actors, colonies.actor),
        hosts=HostsFile(names=lambda: preview_names(colonies.routes(), s.domain)),
        doctor=Doctor(colonies, audit),
        clock=clock,
    )


async def start(services: Services) -> list[dict[str, str]]:
    """Adopt the colonies, agent sessions and broods a previous Mycelium left, and start the
    background work (conflicts, logs, usage); what gc removed on the way."""
    removed = await services.colonies.adopt_all()
    await services.agents.adopt()  # before broods: their drivers look at live sessions
    await services.broods.adopt()
    start_task = services.ctx.start_task
    start_task(services.conflicts.run())
    start_task(services.ctx.logs.run())
    start_task(services.colonies.resources.run())  # usage samples and resource events
    return removed


__all__ = ["Services", "build", "start"]
