"""Pure formatting for Bloom's templates: times, sizes, usage, which buttons a state shows.

Example:
    >>> format_bytes(3 * 1024 * 1024)
    '3.0 MiB'
    >>> format_age(100.0, now=3700.0)
    '1h ago'
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

ACTIVE = ("spawning", "provisioning", "building", "starting", "running")


def format_age(at: float | None, *, now: float) -> str:
    """'12s ago', '5m ago', '3h ago', '2d ago'."""
    if at is None:
        return ""
    seconds = max(0, int(now - at))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit} ago"
    return f"{seconds}s ago"


def format_time(at: float | None) -> str:
    """Local wall-clock time with milliseconds, as the timeline shows it."""
    if at is None:
        return ""
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(at))
    return f"{stamp}.{int(at * 1000) % 1000:03d}"


def format_bytes(n: int | float | None) -> str:
    if n is None:
        return ""
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{int(size)} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GiB"  # pragma: no cover


def cpu_percent(previous: tuple[float, int] | None, current: tuple[float, int]) -> float | None:
    """CPU use in percent of one core between two (time, cpu_usec) samples."""
    if previous is None or current[0] <= previous[0]:
        return None
    used = (current[1] - previous[1]) / 1e6
    return max(0.0, 100.0 * used / (current[0] - previous[0]))


def format_usage(usage: Mapping[str, Any] | None) -> str:
    """'12.5% CPU · 40.1 MiB · 7 pids' (plus I/O and OOM kills) from whatever is known."""
    if not usage:
        return ""
    parts = []
    if usage.get("cpu_percent") is not None:
        parts.append(f"{float(usage['cpu_percent'] or 0):.1f}% CPU")
    elif usage.get("cpu_usec") is not None:
        parts.append(f"{float(usage['cpu_usec'] or 0) / 1e6:.1f}s CPU")
    if usage.get("memory") is not None:
        parts.append(format_bytes(usage["memory"]))
    if usage.get("pids") is not None:
        parts.append(f"{usage['pids']} pids")
    if usage.get("io_read") or usage.get("io_write"):
        parts.append(
            f"io {format_bytes(usage.get('io_read') or 0)} read, "
            f"{format_bytes(usage.get('io_write') or 0)} written"
        )
    if usage.get("oom_kills"):
        parts.append(f"{usage['oom_kills']} OOM kills")
    return " · ".join(parts)


def actions_for(state: str, role: str | None = "admin") -> list[str]:
    """The lifecycle buttons that make sense for a colony in ``state`` and that the caller's
    ``role`` on it allows (issue 14: a viewer gets none, an operator no remove)."""
    if role not in ("operator", "owner", "admin"):
        return []
    found = ["stop", "restart", "remove"] if state in ACTIVE else ["start", "remove"]
    return found if role != "operator" else [a for a in found if a != "remove"]
