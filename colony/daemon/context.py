"""What every part of the daemon shares: the store, the backends, the event bus, the paths."""

from __future__ import annotations

import asyncio
import ipaddress
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from colony.core.env import DEFAULT_PATH
from colony.core.hostpolicy import HostPolicy
from colony.daemon.events import EventBus
from colony.daemon.identities import Identities
from colony.daemon.logs import LogBook
from colony.daemon.network import Network
from colony.daemon.paths import Paths
from colony.isolation import Isolation
from colony.store.queries import Store
from colony.vcs import Vcs
from colony.vcs import repo_root as vcs_repo_root

TaskStarter = Callable[[Coroutine[Any, Any, Any]], "asyncio.Task[Any]"]


@dataclass
class Context:
    store: Store
    iso: Isolation
    open_vcs: Callable[[Path], Vcs]  # the backend of a repository (git or jj)
    paths: Paths
    prefix: str
    pool: ipaddress.IPv4Network
    start_task: TaskStarter
    proxy_port: int = 0
    domain: str = "localhost"
    host_env: dict[str, str] = field(default_factory=dict)
    colony_path: str = DEFAULT_PATH  # PATH of colony processes (issue 10: not the daemon's)
    ids: Identities | None = None  # the colony uid range (issue 10); None: no uid switching
    policy: HostPolicy = field(default_factory=HostPolicy)  # /etc/colony/policy.toml (issue 10)

    @property
    def allowed_users(self) -> tuple[str, ...]:
        return self.policy.allowed_users

    bus: EventBus = field(default_factory=EventBus)
    logs: LogBook = field(default_factory=LogBook)
    clock: Callable[[], float] = time.time
    repo_root: Callable[[Path], Path] = vcs_repo_root  # toplevel of a repository
    net: Network | None = None  # network policies and connection records (issue 4)
    # Called with (record, result) as a colony is removed, before its record goes (issue 6).
    on_removed: list[Callable[[Any, dict[str, Any]], None]] = field(default_factory=list)
