"""FakeIsolation: the Isolation protocol in memory, recording every call.

Processes spawned with its placements run on the host (no netns, no cgroup), so daemon tests
run without root. Tests read ``calls``, pre-seed orphans through ``objects`` (objects someone
else made, without this daemon's mark, also go in ``foreign``) and make a method fail
through ``fail``.

Example:
    >>> iso = FakeIsolation()
    >>> iso.create(slot)
    >>> iso.calls
    [('create', 'web')]
    >>> iso.fail["create"] = HostError("cannot create netns 'colony-web': File exists")
"""

from __future__ import annotations

import signal
from dataclasses import dataclass, field
from ipaddress import IPv4Network
from typing import TYPE_CHECKING

from colony import host
from colony.core.model import Slot
from colony.core.policy import Rules
from colony.errors import HostError
from colony.host import Placement
from colony.isolation import KINDS, Isolation, Observed
from colony.isolation.cgroups import Limits


@dataclass
class FakeIsolation:
    """In-memory isolation. ``objects`` maps (prefix, kind) to the names that "exist"."""

    calls: list[tuple[object, ...]] = field(default_factory=list)
    fail: dict[str, Exception] = field(default_factory=dict)
    objects: dict[tuple[str, str], set[str]] = field(default_factory=dict)
    leaves: dict[tuple[str, str], set[str]] = field(default_factory=dict)
    pids: dict[tuple[str, str, str], list[int]] = field(default_factory=dict)
    limits: dict[tuple[str, str], Limits] = field(default_factory=dict)
    prepared: set[tuple[str, IPv4Network]] = field(default_factory=set)
    networks: dict[tuple[str, str], Rules] = field(default_factory=dict)  # set_network (issue 4)
    mark: str = "mycelium:fake"
    foreign: set[tuple[str, str, str]] = field(default_factory=set)  # (prefix, kind, name)

    def _call(self, method: str, *args: object) -> None:
        self.calls.append((method, *args))
        if method in self.fail:
            raise self.fail[method]

    def _names(self, prefix: str, kind: str) -> set[str]:
        return self.objects.setdefault((prefix, kind), set())

    def add_pid(self, slot: Slot, leaf: str, pid: int) -> None:
        """Pretend ``pid`` runs in ``leaf`` (so procs() and kill() see it)."""
        self.pids.setdefault((slot.prefix, slot.name, leaf), []).append(pid)

    def prepare(self, prefix: str, pool: IPv4Network) -> None:
        self._call("prepare", prefix, pool)
        self.prepared.add((prefix, pool))

    def unprepare(self, prefix: str, pool: IPv4Network) -> None:
        self._call("unprepare", prefix, pool)
        self.prepared.discard((prefix, pool))

    def create(self, slot: Slot) -> None:
        self._call("create", slot.name)
        if slot.name in self._names(slot.prefix, "netns"):
            raise HostError(
                f"cannot create netns {slot.netns!r}: 'ip netns add' exited 1: File exists",
                hint="run 'colony gc' to remove kernel objects left by a crashed daemon",
            )
        for kind in ("netns", "cgroup", "table"):
            self._names(slot.prefix, kind).add(slot.name)
        self._names(slot.prefix, "veth").add(slot.veth)

    def destroy(self, slot: Slot) -> None:
        self._call("destroy", slot.name)
        self._kill(slot, None, signal.SIGKILL)
        for kind in ("netns", "cgroup", "table"):
            self._names(slot.prefix, kind).discard(slot.name)
        self._names(slot.prefix, "veth").discard(slot.veth)
        self.leaves.pop((slot.prefix, slot.name), None)

    def placement(self, slot: Slot, leaf: str) -> Placement:
        self._call("placement", slot.name, leaf)
        if slot.name not in self._names(slot.prefix, "cgroup"):
            raise HostError(f"cannot create cgroup {slot.cgroup}/{leaf}: colony has no cgroup")
        self.leaves.setdefault((slot.prefix, slot.name), set()).add(leaf)
        return Placement()

    def procs(self, slot: Slot, leaf: str | None = None) -> list[int]:
        self._call("procs", slot.name, leaf)
        return self._procs(slot, leaf)

    def _procs(self, slot: Slot, leaf: str | None) -> list[int]:
        return sorted(
            pid
            for (prefix, name, lf), pids in self.pids.items()
            if (prefix, name) == (slot.prefix, slot.name) and leaf in (None, lf)
            for pid in pids
            if host.alive(pid)
        )

    def kill(self, slot: Slot, leaf: str | None = None, sig: int = signal.SIGKILL) -> None:
        self._call("kill", slot.name, leaf, sig)
        self._kill(slot, leaf, sig)

    def _kill(self, slot: Slot, leaf: str | None, sig: int) -> None:
        for key in [k for k in self.pids if k[:2] == (slot.prefix, slot.name)]:
            if leaf in (None, key[2]):
                for pid in self.pids[key]:
                    host.kill(pid, sig)
                if sig == signal.SIGKILL:
                    del self.pids[key]

    def remove_leaf(self, slot: Slot, leaf: str) -> None:
        self._call("remove_leaf", slot.name, leaf)
        self._kill(slot, leaf, signal.SIGKILL)
        self.leaves.get((slot.prefix, slot.name), set()).discard(leaf)

    def observe(self, prefix: str) -> Observed:
        self._call("observe", prefix)
        return Observed(
            netns=frozenset(self._names(prefix, "netns")),
            veths=frozenset(self._names(prefix, "veth")),
            cgroups=frozenset(self._names(prefix, "cgroup")),
            tables=frozenset(self._names(prefix, "table")),
        )

    def remove_orphan(self, prefix: str, kind: str, name: str) -> bool:
        self._call("remove_orphan", prefix, kind, name)
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
        if (prefix, kind, name) in self.foreign:
            return False
        self._names(prefix, kind).discard(name)
        return True

    def netns_exists(self, slot: Slot) -> bool:
        self._call("netns_exists", slot.name)
        return slot.name in self._names(slot.prefix, "netns")

    def set_network(self, slot: Slot, rules: Rules, *, remake: bool = False) -> None:
        self._call("set_network", slot.name, rules)
        if slot.name not in self._names(slot.prefix, "table"):
            if not remake:
                raise HostError(f"cannot load nft table {slot.table!r}: no such table")
            self._names(slot.prefix, "table").add(slot.name)
        self.networks[(slot.prefix, slot.name)] = rules

    def set_limits(self, slot: Slot, limits: Limits) -> list[str]:
        self._call("set_limits", slot.name, limits)
        self.limits[(slot.prefix, slot.name)] = limits
        return []

    def create_cgroup(self, slot: Slot) -> None:
        self._call("create_cgroup", slot.name)
        self._names(slot.prefix, "cgroup").add(slot.name)

    def usage(self, slot: Slot) -> dict[str, int]:
        self._call("usage", slot.name)
        return {"cpu_usec": 0, "memory": 0, "pids": len(self._procs(slot, None))}


if TYPE_CHECKING:
    _conforms: Isolation = FakeIsolation()
