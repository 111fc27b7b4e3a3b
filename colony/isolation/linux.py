"""The real isolation backend: netns + veth (iproute2), nft table, cgroups (v1 or v2).

Example:
    >>> iso = LinuxIsolation(mark=render_mark("colony", "/var/lib/colony"))
    >>> iso.prepare("colony", IPv4Network("10.213.0.0/16"))
    >>> slot = Slot("colony", "web", 1, IPv4Network("10.213.0.0/16"))
    >>> iso.create(slot)
    >>> iso.placement(slot, "svc-api")
    Placement(netns='/run/netns/colony-web', cgroups=[...], no_new_privs=False)
    >>> iso.destroy(slot)
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from ipaddress import IPv4Network
from pathlib import Path
from typing import TYPE_CHECKING

from colony import host
from colony.core.model import Slot
from colony.core.policy import Rules
from colony.errors import HostError
from colony.host import Placement
from colony.isolation import KINDS, Isolation, Observed, netns
from colony.isolation import firewall as fw
from colony.isolation.cgroups import Cgroups, Layout, Limits, load_layout
from colony.isolation.marks import alias_netns, has_mark

GC_HINT = "run 'colony gc' to remove kernel objects left by a crashed daemon"


class LinuxIsolation:
    """Isolation through kernel objects; every name carries the daemon's prefix, and every
    object the daemon's ``mark`` (:func:`colony.isolation.marks.render_mark`), so that gc
    removes only what this daemon made."""

    def __init__(self, layout: Layout | None = None, *, mark: str) -> None:
        self.cgroups = Cgroups(layout or load_layout())
        self.mark = mark

    # --- daemon start and stop -------------------------------------------------------------

    def prepare(self, prefix: str, pool: IPv4Network) -> None:
        netns.enable_forwarding()
        netns.add_unreachable(pool)
        fw.apply(fw.render_host_table(prefix, pool))  # only root reaches colonies (issue 11)
        self.cgroups.prepare(prefix)

    def host_guard(self, prefix: str) -> bool:
        """Whether the daemon's own table (only root reaches colony addresses) is loaded."""
        return fw.table_comment(fw.host_table(prefix)) is not None

    def unprepare(self, prefix: str, pool: IPv4Network) -> None:
        netns.remove_unreachable(pool)
        fw.delete_table(fw.host_table(prefix))
        self.cgroups.unprepare(prefix)

    # --- one colony ------------------------------------------------------------------------

    def create(self, slot: Slot) -> None:
        undo: list[Callable[[], object]] = []

        def step(what: str, action: Callable[[], object]) -> None:
            try:
                action()
            except HostError as exc:
                for fn in reversed(undo):
                    with contextlib.suppress(HostError):
                        fn()
                raise HostError(f"cannot {what}: {exc}", hint=GC_HINT) from exc

        if netns.link_exists(slot.veth):
            alias = netns.link_alias(slot.veth) or "none"
            raise HostError(
                f"cannot create veth {slot.veth!r} of netns {slot.netns!r}: an interface of "
                f"that name exists (alias {alias!r})",
                hint=GC_HINT,
            )
        step(f"create netns {slot.netns!r}", lambda: netns.add_netns(slot.netns))
        undo.append(lambda: _delete_netns(slot))
        step(
            f"create veth {slot.veth!r} of netns {slot.netns!r}",
            lambda: netns.run_batch(netns.render_host_batch(slot, self.mark)),
        )
        step(
            f"configure netns {slot.netns!r}",
            lambda: netns.run_batch(netns.render_inside_batch(slot, self.mark), netns=slot.netns),
        )
        made: list[str] = []
        undo.append(lambda: [host.remove_dir(p) for p in reversed(made)])
        step(f"create cgroup {slot.cgroup!r}", lambda: self._make_cgroup(slot, made))
        # Last, so nothing after it can fail and the table never needs undoing; the load is one
        # transaction, and a table an older daemon left under this name gets its rules replaced.
        step(
            f"load nft table {slot.table!r}",
            lambda: fw.create_table(slot, mark=self.mark),
        )

    def _make_cgroup(self, slot: Slot, made: list[str]) -> None:
        made.extend(self.cgroups.create(slot.cgroup))
        self.cgroups.mark(made, self.mark)

    def destroy(self, slot: Slot) -> None:
        self.cgroups.remove(slot.cgroup)
        # Deleting the table waits ~12 ms for the kernel and the veth ~25 ms to vanish with
        # the netns; neither needs the other, so they overlap.
        with ThreadPoolExecutor(max_workers=1) as pool:
            table = pool.submit(fw.delete_table, slot.table)
            _delete_netns(slot)
            table.result()

    def placement(self, slot: Slot, leaf: str) -> Placement:
        rel = f"{slot.cgroup}/{leaf}"
        dirs = self.cgroups.dirs(rel)
        made = [host.make_dir(path, exist_ok=True) for path in dirs]
        if not all(made):  # a leaf an earlier Mycelium made, maybe frozen
            self.cgroups.thaw(rel)
        return Placement(netns=slot.netns_path, cgroups=[Path(p) for p in dirs])

    def procs(self, slot: Slot, leaf: str | None = None) -> list[int]:
        return self.cgroups.procs(_rel(slot, leaf))

    def kill(self, slot: Slot, leaf: str | None = None, sig: int = signal.SIGKILL) -> None:
        self.cgroups.kill(_rel(slot, leaf), sig)

    def remove_leaf(self, slot: Slot, leaf: str) -> None:
        self.cgroups.remove(_rel(slot, leaf))

    def netns_exists(self, slot: Slot) -> bool:
        return netns.exists(slot.netns)

    def set_network(self, slot: Slot, rules: Rules, *, remake: bool = False) -> None:
        if remake and fw.table_comment(slot.table) is None:  # e.g. `nft flush ruleset` on the host
            fw.create_table(slot, rules, self.mark)
        else:
            fw.apply_policy(slot, rules, self.mark)

    def set_limits(self, slot: Slot, limits: Limits) -> list[str]:
        return self.cgroups.set_limits(slot.cgroup, limits)

    def create_cgroup(self, slot: Slot) -> None:
        # Sandbox level none (issue 3): the colony's processes share the host's network, so
        # it gets only its cgroups; destroy() removes them and skips what was never made.
        if not host.exists(f"{self.cgroups.layout.tracking.path}/{slot.cgroup}"):
            self._make_cgroup(slot, [])

    def usage(self, slot: Slot) -> dict[str, int]:
        return self.cgroups.usage(slot.cgroup)

    # --- adoption and gc -------------------------------------------------------------------

    def observe(self, prefix: str) -> Observed:
        cut = len(prefix) + 1
        return Observed(
            netns=frozenset(n[cut:] for n in netns.list_netns(prefix)),
            veths=frozenset(netns.list_veths(prefix)),
            cgroups=frozenset(self.cgroups.names(prefix)),
            tables=frozenset(t[cut:] for t in fw.list_tables(prefix)),
        )

    def remove_orphan(self, prefix: str, kind: str, name: str) -> bool:
        if not self.owns(prefix, kind, name):
            return False
        if kind == "netns":
            netns.delete_netns(f"{prefix}-{name}")
        elif kind == "veth":
            netns.delete_link(name)
        elif kind == "cgroup":
            self.cgroups.remove(f"{prefix}/{name}")
        else:
            fw.delete_table(f"{prefix}-{name}")
        return True

    def owns(self, prefix: str, kind: str, name: str) -> bool:
        """Whether the object carries this daemon's mark (issue 11: never the name alone)."""
        if kind == "netns":
            return has_mark(netns.lo_alias(f"{prefix}-{name}"), self.mark)
        if kind == "veth":
            return has_mark(netns.link_alias(name), self.mark)
        if kind == "cgroup":
            return self.cgroups.marked(f"{prefix}/{name}", self.mark)
        if kind == "table":
            return has_mark(fw.table_comment(f"{prefix}-{name}"), self.mark)
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")


def _rel(slot: Slot, leaf: str | None) -> str:
    return slot.cgroup if leaf is None else f"{slot.cgroup}/{leaf}"


def _delete_netns(slot: Slot) -> None:
    """Delete the netns, then wait for the kernel to drop the host veth with it.

    Waiting (about 20 ms, no CPU) lets a colony created right after reuse the slot's veth
    name. A veth that outlives its namespace (something still holds the netns, e.g. an open
    socket in it) is deleted directly after a second; only one whose alias names this
    colony's netns is touched.
    """
    netns.delete_netns(slot.netns)
    alias = netns.link_alias(slot.veth)
    if alias_netns(alias) == slot.netns and not netns.wait_link_gone(slot.veth):
        netns.delete_link(slot.veth)


if TYPE_CHECKING:
    _conforms: Isolation = LinuxIsolation(mark="")
