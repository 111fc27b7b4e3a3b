"""Isolation backends: what a colony owns in the kernel (netns, veth, cgroups, nft table).

The daemon receives one as a constructor argument: :class:`colony.isolation.linux.LinuxIsolation`
on a real machine, :class:`colony.testing.fake_isolation.FakeIsolation` in tests. Methods are
blocking; the daemon calls them from worker threads.

Example:
    >>> iso = LinuxIsolation(mark=render_mark("colony", "/var/lib/colony"))
    >>> iso.prepare("colony", pool)
    >>> iso.create(slot)
    >>> proc = host.spawn(["uvicorn", "app:app"], placement=iso.placement(slot, "svc-api"))
    >>> iso.destroy(slot)
"""

from __future__ import annotations

import signal
from dataclasses import dataclass
from ipaddress import IPv4Network
from typing import Protocol

from colony.core.model import Slot
from colony.core.policy import Rules
from colony.host import Placement
from colony.isolation.cgroups import Limits

KINDS = ("netns", "veth", "cgroup", "table")


@dataclass(frozen=True)
class Observed:
    """Kernel objects carrying a daemon prefix, for adoption and gc."""

    netns: frozenset[str] = frozenset()  # colony names with a netns "<prefix>-<name>"
    veths: frozenset[str] = frozenset()  # host-side veth interface names "<prefix>h<N>"
    cgroups: frozenset[str] = frozenset()  # colony names with a cgroup dir "<prefix>/<name>"
    tables: frozenset[str] = frozenset()  # colony names with an nft table "inet <prefix>-<name>"

    @property
    def empty(self) -> bool:
        return not (self.netns or self.veths or self.cgroups or self.tables)

    def by_kind(self) -> list[tuple[str, frozenset[str]]]:
        """(kind, names) in the order gc removes them: cgroups (and their processes) first,
        veths last (most go with their namespace)."""
        return [
            ("cgroup", self.cgroups),
            ("table", self.tables),
            ("netns", self.netns),
            ("veth", self.veths),
        ]


class Isolation(Protocol):
    """Creates, tracks and removes what isolates a colony. Blocking; safe across threads."""

    mark: str  # on every object it makes: gc removes only what carries it (issue 11)

    def prepare(self, prefix: str, pool: IPv4Network) -> None:
        """At daemon start: forwarding on, the pool unreachable, cgroup parents created."""
        ...

    def unprepare(self, prefix: str, pool: IPv4Network) -> None:
        """When no colony is left: remove the pool route and the empty cgroup parents."""
        ...

    def create(self, slot: Slot) -> None:
        """Create netns, veth pair, addresses, routes, nft table and cgroups of ``slot``.

        Raises:
            HostError: naming the failed step; what this call created is removed again.
        """
        ...

    def destroy(self, slot: Slot) -> None:
        """Kill every process of the colony and remove all it owns; idempotent."""
        ...

    def placement(self, slot: Slot, leaf: str) -> Placement:
        """Create leaf cgroup ``leaf`` and return where a process of it must go."""
        ...

    def procs(self, slot: Slot, leaf: str | None = None) -> list[int]:
        """Every pid of the colony (recursively) or of one leaf."""
        ...

    def kill(self, slot: Slot, leaf: str | None = None, sig: int = signal.SIGKILL) -> None:
        """Signal every process of the colony or leaf; with SIGKILL, until none is left."""
        ...

    def remove_leaf(self, slot: Slot, leaf: str) -> None:
        """Kill what is left in ``leaf`` and remove its cgroups; a missing leaf is fine."""
        ...

    def observe(self, prefix: str) -> Observed:
        """Every kernel object that carries ``prefix``."""
        ...

    def remove_orphan(self, prefix: str, kind: str, name: str) -> bool:
        """Remove one object reported by :meth:`observe` if it carries :attr:`mark`; False
        (and nothing touched) if it does not. ``kind`` is one of :data:`KINDS`."""
        ...

    def netns_exists(self, slot: Slot) -> bool: ...

    def set_network(self, slot: Slot, rules: Rules, *, remake: bool = False) -> None:
        """Load the colony's network policy into its nft table, in one transaction (issue 4).

        A missing table is made anew only with ``remake`` (the colony's own request; a table
        removed with its colony must stay removed).

        Raises:
            HostError: nft rejected it, or the table is missing; the table is unchanged.
        """
        ...

    def set_limits(self, slot: Slot, limits: Limits) -> list[str]:
        """Apply CPU, memory, swap, pids and I/O limits to the colony's cgroup.

        Returns:
            Control files this kernel does not offer (their limits were left out).
        """
        ...

    def usage(self, slot: Slot) -> dict[str, int]:
        """``cpu_usec``, ``memory`` (bytes), ``pids``, ``io_read``/``io_write`` (bytes) and the
        counters ``oom_kills``, ``memory_hits``, ``pids_hits`` of the colony, where available."""
        ...

    def create_cgroup(self, slot: Slot) -> None:
        """Only the colony's cgroups (sandbox level none: no namespace); idempotent."""
        ...


__all__ = ["KINDS", "Isolation", "Limits", "Observed"]
