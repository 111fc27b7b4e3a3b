"""Which cgroup hierarchy serves what on this machine: v1/v2 detection. Pure.

Detection reads the text of /proc/self/mountinfo (:func:`detect`), so pure v1, hybrid and
pure v2 machines are unit-tested from fixtures; :func:`colony.isolation.cgroups.load_layout`
reads this machine's.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from colony.errors import HostError

# Controllers a colony uses, by their v2 name. v1 names differ for io only ("blkio").
CONTROLLERS = ("pids", "memory", "cpu", "io")
V1_NAMES = {"io": "blkio"}
V1_EXTRA = ("cpuacct", "freezer")  # v1 only: CPU usage lives in cpuacct, kill needs freezer


@dataclass(frozen=True)
class Mount:
    """One mounted cgroup hierarchy."""

    path: str
    version: int  # 1 or 2
    controllers: frozenset[str]  # v1: from the mount options; v2: from cgroup.controllers


@dataclass(frozen=True)
class Layout:
    """Which hierarchy serves what on this machine.

    ``tracking`` lists and kills processes; ``by_controller`` maps a controller name (pids,
    memory, cpu, cpuacct, freezer) to its hierarchy; ``mounts`` are all hierarchies a colony
    gets a directory in, tracking first.
    """

    tracking: Mount
    by_controller: Mapping[str, Mount] = field(default_factory=dict)
    mounts: tuple[Mount, ...] = ()

    def version(self, controller: str) -> int | None:
        mount = self.by_controller.get(controller)
        return mount.version if mount else None


def _unescape(path: str) -> str:
    # mountinfo escapes space, tab, newline and backslash as \ooo octal.
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), path)


def parse_mounts(text: str) -> list[tuple[str, str, frozenset[str]]]:
    """Cgroup mounts as (mount point, fs type, options) from mountinfo or /proc/mounts text."""
    out = []
    for line in text.splitlines():
        fields = line.split()
        if " - " in line:  # mountinfo: id parent dev root mountpoint opts [tags] - type src sopts
            left, right = line.split(" - ", 1)
            point, rest = left.split()[4], right.split()
            if len(rest) < 3:
                continue
            fstype, options = rest[0], rest[2]
        elif len(fields) >= 4:  # /proc/mounts: src mountpoint type opts freq passno
            point, fstype, options = fields[1], fields[2], fields[3]
        else:
            continue
        if fstype in ("cgroup", "cgroup2"):
            out.append((_unescape(point), fstype, frozenset(options.split(","))))
    return out


def unified_mount(text: str) -> str | None:
    """Mount point of the cgroup2 (unified) hierarchy, if any; its cgroup.controllers is next."""
    for point, fstype, _ in parse_mounts(text):
        if fstype == "cgroup2":
            return point
    return None


def detect(mountinfo: str, unified_controllers: str = "") -> Layout:
    """Decide, per controller, whether this machine serves it from v2 or from v1.

    A controller is v2 when the unified hierarchy lists it in ``unified_controllers`` (the
    text of its cgroup.controllers), else v1 when a v1 hierarchy is mounted with it. Processes
    are tracked in the unified hierarchy when pids is v2 or no v1 pids hierarchy exists,
    otherwise in the v1 pids hierarchy (hybrid machines: /sys/fs/cgroup/unified is tracked by
    systemd and often offers no controller).

    Raises:
        HostError: no cgroup hierarchy is mounted.
    """
    unified: Mount | None = None
    v1: dict[str, Mount] = {}
    for point, fstype, options in parse_mounts(mountinfo):
        if fstype == "cgroup2" and unified is None:
            unified = Mount(point, 2, frozenset(unified_controllers.split()))
        elif fstype == "cgroup":
            names = {V1_NAMES.get(c, c): c for c in (*CONTROLLERS, *V1_EXTRA)}
            mount = Mount(point, 1, frozenset(names[o] for o in options if o in names))
            for ctrl in mount.controllers:
                v1.setdefault(ctrl, mount)
    by: dict[str, Mount] = {}
    for ctrl in CONTROLLERS:
        if unified and ctrl in unified.controllers:
            by[ctrl] = unified
        elif ctrl in v1:
            by[ctrl] = v1[ctrl]
    if "pids" in by:
        tracking = by["pids"]
    elif unified is not None:
        tracking = unified
    else:
        raise HostError(
            "no usable cgroup hierarchy: neither cgroup2 nor a v1 'pids' hierarchy is mounted",
            hint="mount cgroup2 on /sys/fs/cgroup or the v1 pids controller",
        )
    if tracking.version == 1 and "freezer" in v1:
        by["freezer"] = v1["freezer"]  # v2 kills with cgroup.kill instead
    if tracking.version == 1 and "cpuacct" in v1 and (cpu := by.get("cpu")) and cpu.version == 1:
        by["cpuacct"] = v1["cpuacct"]  # v2 reports usage in every cgroup's cpu.stat
    mounts = [tracking]
    for mount in by.values():
        if mount not in mounts:
            mounts.append(mount)
    return Layout(tracking=tracking, by_controller=by, mounts=tuple(mounts))


__all__ = ["CONTROLLERS", "Layout", "Mount", "detect", "parse_mounts", "unified_mount"]
