"""Network namespaces, veth pairs, addresses and routes, through iproute2 in batches.

A colony's network costs three commands: ``ip netns add``, one ``ip -batch`` on the host side
(the veth pair is created with its peer already inside the namespace) and one
``ip -n NS -batch`` inside. Deleting the namespace deletes the veth pair with it, far faster
than ``ip link del`` (which waits for an RCU grace period per call); the kernel then removes
the host side asynchronously, within some 20 ms.

Example:
    >>> add_netns("colony-web")
    >>> run_batch(render_host_batch(slot))
    >>> run_batch(render_inside_batch(slot), netns=slot.netns)
"""

from __future__ import annotations

import json
import re
import time
from ipaddress import IPv4Network

from colony import host
from colony.core.model import Slot
from colony.isolation.marks import render_alias

NETNS_DIR = "/run/netns"
SYS_NET = "/sys/class/net"
INSIDE_IF = "eth0"


def render_host_batch(slot: Slot, mark: str = "") -> str:
    """``ip -batch`` lines for the host side: the pair, its address, its alias (the netns and
    the daemon's mark, :mod:`colony.isolation.marks`), up."""
    return (
        f"link add {slot.veth} type veth peer name {INSIDE_IF} netns {slot.netns}\n"
        f'link set dev {slot.veth} alias "{render_alias(slot.netns, mark)}"\n'
        f"addr add {slot.host_ip}/30 dev {slot.veth}\n"
        f"link set dev {slot.veth} up\n"
    )


def render_inside_batch(slot: Slot, mark: str = "") -> str:
    """``ip -n NS -batch`` lines inside the colony: lo up (with the daemon's mark as its
    alias), eth0 up, address, default route."""
    alias = f'link set dev lo alias "{mark}"\n' if mark else ""
    return (
        alias + "link set dev lo up\n"
        f"addr add {slot.colony_ip}/30 dev {INSIDE_IF}\n"
        f"link set dev {INSIDE_IF} up\n"
        f"route add default via {slot.host_ip} dev {INSIDE_IF}\n"
    )


def run_batch(text: str, netns: str | None = None) -> None:
    """Run ``ip -batch -`` (inside ``netns`` when given); it stops at the first failing line."""
    argv = ["ip", "-batch", "-"] if netns is None else ["ip", "-n", netns, "-batch", "-"]
    host.run(argv, input=text)


def add_netns(name: str) -> None:
    """Create the named netns; fails (without touching it) if the name is taken."""
    host.run(["ip", "netns", "add", name])


def exists(name: str) -> bool:
    """Whether the named netns is mounted (a stale file left by a crash does not count)."""
    return host.is_mount(f"{NETNS_DIR}/{name}")


def delete_netns(name: str) -> bool:
    """Delete the named netns (and the veth pair in it); False if it was already gone."""
    if not host.exists(f"{NETNS_DIR}/{name}"):
        return False
    host.run(["ip", "netns", "delete", name])
    return True


def link_exists(ifname: str) -> bool:
    return host.exists(f"{SYS_NET}/{ifname}")


def link_alias(ifname: str) -> str | None:
    """The interface's alias (a colony veth carries its netns name), None if it is gone."""
    text = host.read_text(f"{SYS_NET}/{ifname}/ifalias")
    return None if text is None else text.strip()


def wait_link_gone(ifname: str, timeout: float = 1.0) -> bool:
    """Wait until the kernel has removed ``ifname``; False if it is still there."""
    deadline = time.monotonic() + timeout
    pause = 0.001
    while link_exists(ifname):
        if time.monotonic() > deadline:
            return False
        time.sleep(pause)
        pause = min(pause * 2, 0.002)  # a stat per poll is cheap; coarse polls add latency
    return True


def lo_alias(netns: str) -> str | None:
    """The alias of ``lo`` inside the named netns (a colony's carries its daemon's mark)."""
    done = host.run(["ip", "-n", netns, "-j", "link", "show", "dev", "lo"], check=False)
    try:
        links = json.loads(done.stdout or "[]")
    except ValueError:
        return None
    return str(links[0].get("ifalias", "")) if done.returncode == 0 and links else None


def delete_link(ifname: str) -> bool:
    """Delete a host interface (and its veth peer); False if it was already gone."""
    if not link_exists(ifname):
        return False
    done = host.run(["ip", "link", "delete", "dev", ifname], check=False)
    if done.returncode != 0 and link_exists(ifname):
        host.run(["ip", "link", "delete", "dev", ifname])  # raises with the cause
    return True


def list_netns(prefix: str) -> list[str]:
    """Names of the netns that carry ``<prefix>-``."""
    return [n for n in host.list_dir(NETNS_DIR) if n.startswith(f"{prefix}-")]


def list_veths(prefix: str) -> list[str]:
    """Host interfaces named like a colony veth of ``prefix`` (``<prefix>h<N>``)."""
    pattern = re.compile(rf"{re.escape(prefix)}h\d+")
    return [n for n in host.list_dir(SYS_NET) if pattern.fullmatch(n)]


def enable_forwarding() -> None:
    host.write_text("/proc/sys/net/ipv4/ip_forward", "1\n")


def add_unreachable(pool: IPv4Network) -> None:
    """Route the whole pool to 'unreachable': addresses of no live colony never leave."""
    host.run(["ip", "route", "replace", "unreachable", str(pool)])


def remove_unreachable(pool: IPv4Network) -> None:
    """Remove the pool's unreachable route; a missing route is fine."""
    shown = host.run(["ip", "route", "show", "type", "unreachable", str(pool)]).stdout
    if shown.strip():
        host.run(["ip", "route", "delete", "unreachable", str(pool)])
