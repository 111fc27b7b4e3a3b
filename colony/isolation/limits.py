"""Cgroup limits and accounting as text: what to write to control files, how to read them.

Pure: :func:`render_limits` turns :class:`Limits` into (control file, value) pairs for the
machine's :class:`~colony.isolation.layout.Layout`; :func:`parse_usage` and
:func:`parse_counters` read the text of control files back into numbers. The cgroups backend
(:mod:`colony.isolation.cgroups`) does the reading and writing.

Example:
    >>> render_limits(Limits(cpus=0.5, memory=128 << 20, pids=64), layout_v2)
    [('cpu.max', '50000 100000'), ('memory.max', '134217728'), ('pids.max', '64')]
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from colony.isolation.layout import Layout

CPU_PERIOD_US = 100_000
# Control files a kernel may not offer (no swap accounting, no weight-based I/O scheduler);
# writing them is skipped when they are missing, and the limit reported as not applied.
OPTIONAL = frozenset(
    {
        "memory.swap.max",
        "memory.memsw.limit_in_bytes",
        "io.weight",
        "io.bfq.weight",
        "blkio.weight",
        "blkio.bfq.weight",
    }
)
# The limit each optional file applies, for messages.
OPTIONAL_LIMIT = {name: "swap" if name.startswith("memory") else "io_weight" for name in OPTIONAL}


@dataclass(frozen=True)
class Limits:
    """Resource limits of one colony; None means unlimited (swap: the kernel's default)."""

    cpus: float | None = None  # cores, e.g. 1.5
    memory: int | None = None  # bytes
    pids: int | None = None
    swap: int | None = None  # bytes of swap on top of memory; 0 turns swap off
    io_weight: int | None = None  # 1-10000, proportional share of disk time (default 100)


def render_limits(limits: Limits, layout: Layout) -> list[tuple[str, str]]:
    """Control files and values that apply ``limits``, as (file, value) per used controller.

    cpu, memory and pids are always written (unset means unlimited), so applying new limits
    also lifts old ones. Swap and I/O weight are written only when set; on v1 swap is the
    memory+swap limit, so it needs a memory limit, and the I/O weight goes to BFQ (1-1000).

    Example:
        >>> render_limits(Limits(cpus=1.5), hybrid_layout)
        [('cpu.cfs_period_us', '100000'), ('cpu.cfs_quota_us', '150000'), ...]
    """
    out: list[tuple[str, str]] = []
    quota = None if limits.cpus is None else max(1000, round(limits.cpus * CPU_PERIOD_US))
    memory = None if limits.memory is None else str(limits.memory)
    pids = None if limits.pids is None else str(limits.pids)
    if (cpu := layout.version("cpu")) == 2:
        out.append(("cpu.max", f"{quota or 'max'} {CPU_PERIOD_US}"))
    elif cpu == 1:
        out.append(("cpu.cfs_period_us", str(CPU_PERIOD_US)))
        out.append(("cpu.cfs_quota_us", str(quota or -1)))
    if (mem := layout.version("memory")) == 2:
        out.append(("memory.max", memory or "max"))
        if limits.swap is not None:
            out.append(("memory.swap.max", str(limits.swap)))
    elif mem == 1:
        out.append(("memory.limit_in_bytes", memory or "-1"))
        if limits.swap is not None and limits.memory is not None:
            # memsw must stay >= limit_in_bytes: it is written after it.
            out.append(("memory.memsw.limit_in_bytes", str(limits.memory + limits.swap)))
    if layout.version("pids"):
        out.append(("pids.max", pids or "max"))
    if limits.io_weight is not None and (io := layout.version("io")):
        if io == 2:
            out.append(("io.weight", f"default {limits.io_weight}"))
        else:  # v1 weights come from BFQ (CFQ's blkio.weight left with Linux 5.0)
            out.append(("blkio.bfq.weight", str(min(1000, limits.io_weight))))
    return out


def fallback(name: str, value: str) -> tuple[str, str] | None:
    """Another file for an I/O weight whose file is missing: v2 BFQ's ``io.bfq.weight``
    (1-1000), v1 CFQ's ``blkio.weight`` (10-1000) on old kernels."""
    weight = int(value.split()[-1])
    if name == "io.weight":
        return "io.bfq.weight", f"default {min(1000, weight)}"
    if name == "blkio.bfq.weight":
        return "blkio.weight", str(max(10, weight))
    return None


def _io_bytes(text: str) -> tuple[int, int]:
    """(read, written) bytes from v2 ``io.stat`` or v1 ``blkio.throttle.io_service_bytes``."""
    read = written = 0
    for line in text.splitlines():
        fields = line.split()
        if len(fields) == 3 and fields[1] in ("Read", "Write"):  # v1: "8:0 Read 4096"
            if fields[1] == "Read":
                read += int(fields[2])
            else:
                written += int(fields[2])
            continue
        for item in fields[1:]:  # v2: "8:0 rbytes=4096 wbytes=0 rios=1 ..."
            key, _, value = item.partition("=")
            if key == "rbytes":
                read += int(value)
            elif key == "wbytes":
                written += int(value)
    return read, written


def parse_usage(files: Mapping[str, str | None]) -> dict[str, int]:
    """Usage numbers from the text of control files (missing ones are left out).

    Keys: ``cpu_usec`` (CPU time used), ``memory`` (bytes now), ``pids`` (processes now),
    ``io_read`` and ``io_write`` (bytes since the colony started).
    """
    out: dict[str, int] = {}
    if stat := files.get("cpu.stat"):
        for line in stat.splitlines():
            key, _, value = line.partition(" ")
            if key == "usage_usec":
                out["cpu_usec"] = int(value)
    if ns := files.get("cpuacct.usage"):
        out["cpu_usec"] = int(ns) // 1000
    for name in ("memory.current", "memory.usage_in_bytes"):
        if text := files.get(name):
            out["memory"] = int(text)
    if text := files.get("pids.current"):
        out["pids"] = int(text)
    for name in ("io.stat", "blkio.throttle.io_service_bytes_recursive"):
        if (text := files.get(name)) is not None:
            out["io_read"], out["io_write"] = _io_bytes(text)
    return out


def _keyed(text: str | None) -> dict[str, int]:
    """``"max 3\\noom_kill 1\\n"`` → ``{"max": 3, "oom_kill": 1}``."""
    out: dict[str, int] = {}
    for line in (text or "").splitlines():
        key, _, value = line.partition(" ")
        if value.strip().isdigit():
            out[key] = int(value)
    return out


def parse_counters(files: Mapping[str, str | None]) -> dict[str, int]:
    """Event counters that only grow: OOM kills and how often a limit was hit.

    Keys: ``oom_kills`` (processes the OOM killer ended), ``memory_hits`` (v2: times the
    memory limit was reached; v1: failcnt, failed charges at the limit), ``pids_hits`` (forks
    refused by the pids limit). Reads v2 ``memory.events``/``pids.events`` or v1
    ``memory.oom_control``/``memory.failcnt``/``pids.events``.
    """
    out: dict[str, int] = {}
    if (events := files.get("memory.events")) is not None:
        keyed = _keyed(events)
        out["oom_kills"] = keyed.get("oom_kill", 0)
        out["memory_hits"] = keyed.get("max", 0)
    if (control := files.get("memory.oom_control")) is not None:
        out["oom_kills"] = _keyed(control).get("oom_kill", 0)
    if (failcnt := files.get("memory.failcnt")) is not None and failcnt.strip().isdigit():
        out["memory_hits"] = int(failcnt)
    if (pids := files.get("pids.events")) is not None:
        out["pids_hits"] = _keyed(pids).get("max", 0)
    return out


def add_counts(a: Mapping[str, int], b: Mapping[str, int]) -> dict[str, int]:
    """Key-wise sum (v1 counts events in the cgroup where they happen: leaves are summed)."""
    return {k: a.get(k, 0) + b.get(k, 0) for k in {*a, *b}}
