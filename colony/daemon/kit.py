"""What every colony's actor is built with (issue 13): frozen, built once by
:func:`colony.daemon.build.build`, never changed after.

:class:`ColonyEnv` is what the host decides for every colony (names, addresses, uids,
policy); :class:`ActorKit` adds the backends and the shared parts an actor uses and hands
on, piece by piece, to its parts (containment, services, removal).

Example:
    >>> kit = ActorKit(store, iso, open_vcs, paths, ColonyEnv("colony", pool), start_task,
    ...                EventBus(), LogBook(), time.time, net=network)  # doctest: +SKIP
    >>> actor = ColonyActor(kit, rec, cfg)  # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from colony.core.env import DEFAULT_PATH
from colony.core.hostpolicy import HostPolicy
from colony.core.model import ColonyRecord
from colony.daemon.events import EventBus
from colony.daemon.identities import Identities
from colony.daemon.logs import LogBook
from colony.daemon.network import Network
from colony.daemon.paths import Paths
from colony.daemon.secret_ca import ColonyCAs
from colony.daemon.secrets import SecretStore
from colony.isolation import Isolation
from colony.store.queries import Store
from colony.vcs import Vcs

TaskStarter = Callable[[Coroutine[Any, Any, Any]], "asyncio.Task[Any]"]
# Called with (record, result) as a colony is removed, before its record goes (issue 6).
OnRemoved = Callable[[ColonyRecord, dict[str, Any]], None]


@dataclass(frozen=True)
class ColonyEnv:
    """What the host decides for every colony."""

    prefix: str  # of kernel object names
    pool: ipaddress.IPv4Network  # colony addresses
    domain: str = "localhost"  # of preview URLs
    host_env: Mapping[str, str] = field(default_factory=dict)
    colony_path: str = DEFAULT_PATH  # PATH of colony processes (issue 10: not the daemon's)
    ids: Identities | None = None  # the colony uid range (issue 10); None: no uid switching
    policy: HostPolicy = field(default_factory=HostPolicy)  # /etc/colony/policy.toml (issue 10)


def _no_port() -> int:
    return 0


def _keep_nothing(rec: ColonyRecord, result: dict[str, Any]) -> None:
    return None


@dataclass(frozen=True)
class ActorKit:
    """The backends and shared parts of every colony actor."""

    store: Store
    iso: Isolation
    open_vcs: Callable[[Path], Vcs]  # the backend of a repository (git or jj)
    paths: Paths
    env: ColonyEnv
    start_task: TaskStarter
    bus: EventBus
    logs: LogBook
    clock: Callable[[], float]
    net: Network | None = None  # network policies (issue 4); None: not policed (unit tests)
    proxy_port: Callable[[], int] = _no_port  # the previews' port, once the proxy listens
    on_removed: OnRemoved = _keep_nothing  # the trash records what it takes to restore
    secrets: SecretStore | None = None  # colonies' secrets (issue 17); None: none (unit tests)
    cas: ColonyCAs | None = None  # their CAs, whose bundle colonies with secrets trust
