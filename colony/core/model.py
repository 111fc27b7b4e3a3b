"""Runtime model of a colony: states, the kernel names a colony owns, service status.

Pure: no I/O. The daemon stores and mutates these through the store; the core decides.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from enum import StrEnum

from colony.core.names import NAME_RE as NAME_RE
from colony.core.names import check_name as check_name
from colony.errors import ConfigError

PREFIX_RE = re.compile(r"^[a-z][a-z0-9-]{0,10}$")
IFNAMSIZ = 15  # longest network interface name the kernel accepts


class State(StrEnum):
    SPAWNING = "spawning"
    PROVISIONING = "provisioning"
    BUILDING = "building"
    STARTING = "starting"
    RUNNING = "running"
    STOPPING = "stopping"
    STOPPED = "stopped"
    FAILED = "failed"

    @property
    def settled(self) -> bool:
        """A state that lasts until someone asks for a change."""
        return self in (State.RUNNING, State.STOPPED, State.FAILED)

    @property
    def has_processes(self) -> bool:
        return self in (State.PROVISIONING, State.BUILDING, State.STARTING, State.RUNNING)


class ServiceState(StrEnum):
    STARTING = "starting"  # process started, port not yet answering
    RUNNING = "running"
    BACKOFF = "backoff"  # exited, waiting to be restarted
    STOPPING = "stopping"
    STOPPED = "stopped"
    EXITED = "exited"  # ended and its policy says not to restart
    FATAL = "fatal"  # gave up after its retries


@dataclass(frozen=True)
class Slot:
    """The kernel names and addresses of one colony, derived from its name and index.

    Every object carries the daemon's prefix so a daemon (or a test run) only ever adopts or
    removes its own objects.

    Example:
        >>> s = Slot("colony", "web", 3, ipaddress.IPv4Network("10.213.0.0/16"))
        >>> s.netns, s.veth, s.host_ip, s.colony_ip
        ('colony-web', 'colonyh3', '10.213.0.13', '10.213.0.14')
    """

    prefix: str
    name: str
    index: int
    pool: ipaddress.IPv4Network

    @property
    def netns(self) -> str:
        return f"{self.prefix}-{self.name}"

    @property
    def netns_path(self) -> str:
        return f"/run/netns/{self.netns}"

    @property
    def veth(self) -> str:
        return f"{self.prefix}h{self.index}"

    @property
    def subnet(self) -> ipaddress.IPv4Network:
        base = int(self.pool.network_address) + 4 * self.index
        return ipaddress.IPv4Network((base, 30))

    @property
    def host_ip(self) -> str:
        return str(self.subnet.network_address + 1)

    @property
    def colony_ip(self) -> str:
        return str(self.subnet.network_address + 2)

    @property
    def table(self) -> str:
        """nftables table (family inet) holding this colony's rules."""
        return f"{self.prefix}-{self.name}"

    @property
    def cgroup(self) -> str:
        """Path of the colony's cgroup below each hierarchy's root."""
        return f"{self.prefix}/{self.name}"


def pool_capacity(pool: ipaddress.IPv4Network) -> int:
    """How many colonies a pool holds: one /30 each, index 0 reserved."""
    return max(0, pool.num_addresses // 4 - 1)


def check_prefix(prefix: str, pool: ipaddress.IPv4Network) -> None:
    """Raise ConfigError if veth names built from ``prefix`` would not fit IFNAMSIZ."""
    if not PREFIX_RE.fullmatch(prefix):
        raise ConfigError(f"prefix: expected 1-11 lowercase letters, digits, '-', got {prefix!r}")
    longest = len(f"{prefix}h{pool_capacity(pool)}")
    if longest > IFNAMSIZ:
        raise ConfigError(
            f"prefix: {prefix!r} with pool {pool} makes interface names of {longest} characters; "
            f"the kernel allows {IFNAMSIZ}",
            hint="use a shorter prefix or a smaller pool",
        )


def plan_index(used: set[int], pool: ipaddress.IPv4Network) -> int:
    """The smallest free slot index (index 0 is never used), or raise Conflict when full."""
    from colony.errors import Conflict

    for index in range(1, pool_capacity(pool) + 1):
        if index not in used:
            return index
    raise Conflict(f"address pool {pool} is full ({pool_capacity(pool)} colonies)")


@dataclass(frozen=True)
class Transition:
    state: State
    at: float
    step: str | None = None
    reason: str | None = None

    def to_json(self) -> dict[str, object]:
        return {"state": str(self.state), "at": self.at, "step": self.step, "reason": self.reason}


@dataclass(frozen=True)
class ServiceRecord:
    """What the daemon knows of one service's process; stored so a new daemon can adopt it."""

    name: str
    state: ServiceState = ServiceState.STOPPED
    pid: int | None = None
    started: int | None = None  # process start time in ticks, guards against pid reuse
    restarts: int = 0
    exit_code: int | None = None
    at: float = 0.0  # when it entered this state


@dataclass(frozen=True)
class ColonyRecord:
    """One colony as stored."""

    name: str
    index: int
    state: State
    owner: str
    created: float
    updated: float
    repo: str
    config_source: str
    config_text: str
    overrides: str = "{}"  # JSON of CLI overrides (limits, sandbox)
    rev: str | None = None
    step: str | None = None
    reason: str | None = None
    vcs: str | None = None
    branch: str | None = None
    base: str | None = None
    workspace: str | None = None
    workspace_created: bool = False
    isolated: bool = False  # the colony's kernel objects exist and are its own
    provisioned: bool = False
    uid: int | None = None  # its own uid (and gid) from Mycelium's range (issue 10)
    objects: str | None = None  # the repository's object directory, shared read-only
