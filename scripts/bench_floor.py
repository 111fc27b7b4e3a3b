"""The floor under colony create/delete: a bare netns + veth pair, made directly.

Measures p50/p95 over N rounds for
  * iproute2, batched: ``ip netns add`` + one ``ip -batch`` (host side) + one ``ip -n NS
    -batch`` (inside); deleted by ``ip netns del`` alone (the pair goes with it), then also
    timed until the kernel has dropped the host veth, and, for contrast, ``ip link del``
    first;
  * pyroute2 (if importable): netns.create + RTNL on one kept-open host socket + a socket in
    the netns; deleted by netns.remove;
  * LinuxIsolation.create/destroy: the floor plus cgroups and the nft table, as the daemon
    pays it.

Run as root: ``.venv/bin/python scripts/bench_floor.py [-n 50]``. Uses prefix ``ct-<hex>``
and pool 10.213.254.0/24; removes everything it made.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from ipaddress import IPv4Network
from typing import Any

from colony.core.model import Slot
from colony.isolation import netns
from colony.isolation.linux import LinuxIsolation
from colony.isolation.marks import render_mark

POOL = IPv4Network("10.213.254.0/24")


def ms(samples: list[float]) -> str:
    q = statistics.quantiles(samples, n=20, method="inclusive")
    return f"p50 {statistics.median(samples) * 1000:6.2f} ms   p95 {q[18] * 1000:6.2f} ms"


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def iproute2_create(slot: Slot) -> None:
    netns.add_netns(slot.netns)
    netns.run_batch(netns.render_host_batch(slot))
    netns.run_batch(netns.render_inside_batch(slot), netns=slot.netns)


def iproute2_delete(slot: Slot) -> None:
    netns.delete_netns(slot.netns)


def iproute2_delete_and_wait(slot: Slot) -> None:
    netns.delete_netns(slot.netns)
    netns.wait_link_gone(slot.veth)


def iproute2_delete_link_first(slot: Slot) -> None:
    netns.delete_link(slot.veth)
    netns.delete_netns(slot.netns)


def pyroute2_funcs() -> tuple[Callable[[Slot], None], Callable[[Slot], None]] | None:
    try:
        from pyroute2 import IPRoute
        from pyroute2 import netns as pnetns
    except ImportError:
        return None
    ipr: Any = IPRoute()

    def create(slot: Slot) -> None:
        pnetns.create(slot.netns)
        ipr.link(
            "add", ifname=slot.veth, kind="veth", peer={"ifname": "eth0", "net_ns_fd": slot.netns}
        )
        idx = ipr.link_lookup(ifname=slot.veth)[0]
        ipr.link("set", index=idx, ifalias=slot.netns)
        ipr.addr("add", index=idx, address=slot.host_ip, prefixlen=30)
        ipr.link("set", index=idx, state="up")
        with IPRoute(netns=slot.netns) as ns:
            ns.link("set", index=ns.link_lookup(ifname="lo")[0], state="up")
            eth = ns.link_lookup(ifname="eth0")[0]
            ns.addr("add", index=eth, address=slot.colony_ip, prefixlen=30)
            ns.link("set", index=eth, state="up")
            ns.route("add", dst="default", gateway=slot.host_ip)

    def delete(slot: Slot) -> None:
        pnetns.remove(slot.netns)

    return create, delete


def rounds(
    label: str,
    n: int,
    create: Callable[[Slot], None],
    deletes: dict[str, Callable[[Slot], None]],
    prefix: str,
) -> None:
    """Create and delete ``n`` times per delete variant; the veth is gone before each round."""
    made: list[float] = []
    for variant, delete in deletes.items():
        gone: list[float] = []
        for i in range(n):
            slot = Slot(prefix, f"b{i}", 1 + i % 60, POOL)
            try:
                made.append(timed(lambda: create(slot)))  # noqa: B023
                gone.append(timed(lambda: delete(slot)))  # noqa: B023
            finally:
                netns.delete_netns(slot.netns)
                netns.wait_link_gone(slot.veth, timeout=5)
        print(f"  {label:<28} delete: {variant:<28} {ms(gone)}")
    print(f"  {label:<28} create                                {ms(made)}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=50)
    args = parser.parse_args()
    prefix = f"ct-{uuid.uuid4().hex[:8]}"
    print(f"netns + veth floor, N={args.n} per row (prefix {prefix})")
    rounds(
        "iproute2 batched",
        args.n,
        iproute2_create,
        {
            "ip netns del": iproute2_delete,
            "ip netns del + veth gone": iproute2_delete_and_wait,
            "ip link del, ip netns del": iproute2_delete_link_first,
        },
        prefix,
    )
    pyroute2 = pyroute2_funcs()
    if pyroute2 is None:
        print("  pyroute2: not installed (pip install pyroute2 to compare)")
    else:
        create, delete = pyroute2

        def delete_and_wait(slot: Slot) -> None:
            delete(slot)
            netns.wait_link_gone(slot.veth)

        rounds(
            "pyroute2",
            args.n,
            create,
            {"netns.remove": delete, "netns.remove + veth gone": delete_and_wait},
            prefix,
        )
    iso = LinuxIsolation(mark=render_mark(prefix, "bench_floor"))
    iso.prepare(prefix, POOL)
    try:
        rounds("LinuxIsolation", args.n, iso.create, {"destroy": iso.destroy}, prefix)
    finally:
        seen = iso.observe(prefix)
        for kind, names in seen.by_kind():
            for name in names:
                iso.remove_orphan(prefix, kind, name)
        iso.unprepare(prefix, POOL)
    return 0


if __name__ == "__main__":
    sys.exit(main())
