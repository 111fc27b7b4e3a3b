"""Resource usage of colonies: CPU share from two samples, and which counter changes become
``resource`` events (OOM kills, limit hits). Pure: samples and times are arguments.

Example:
    >>> cpu_percent({"cpu_usec": 0}, {"cpu_usec": 500_000}, 1.0)
    50.0
    >>> plan_events({"oom_kills": 0}, {"oom_kills": 1}, {"memory": 128 << 20}, {}, 10.0)
    ([('oom', 'OOM kill: 1 process ended at the memory limit of 128M')], {})
"""

from __future__ import annotations

from collections.abc import Mapping

LIMIT_EVENT_GAP = 10.0  # seconds between two "limit" events of one resource of one colony
COUNTERS = ("oom_kills", "memory_hits", "pids_hits")


def format_size(n: float) -> str:
    """``134217728`` → ``"128M"``; ``1536`` → ``"1.5K"``; ``0`` → ``"0"``."""
    value = float(n)
    for unit in ("", "K", "M", "G", "T"):
        if abs(value) < 1024 or unit == "T":
            text = f"{value:.1f}".removesuffix(".0") if unit else str(int(value))
            return text + unit
        value /= 1024
    return str(n)  # pragma: no cover


def due(last_read: Mapping[str, float | None], budget: int) -> list[str]:
    """The colonies to read this round: those never read first, then the longest unread,
    at most ``budget`` of them (a read's cost must not grow with the number of colonies).

    Example:
        >>> due({"a": 5.0, "b": None, "c": 1.0}, 2)
        ['b', 'c']
    """

    def when(name: str) -> float:
        at = last_read[name]
        return float("-inf") if at is None else at

    return sorted(last_read, key=when)[:budget]


def cpu_percent(
    prev: Mapping[str, int] | None, cur: Mapping[str, int], seconds: float
) -> float | None:
    """CPU used between two samples ``seconds`` apart, in percent of one core (200 = two)."""
    if prev is None or seconds <= 0 or "cpu_usec" not in cur or "cpu_usec" not in prev:
        return None
    used = max(0, cur["cpu_usec"] - prev["cpu_usec"])
    return round(used / (seconds * 1e6) * 100, 1)


def plan_events(
    prev: Mapping[str, int] | None,
    cur: Mapping[str, int],
    limits: Mapping[str, int | float | None],
    last_limit: Mapping[str, float],
    now: float,
) -> tuple[list[tuple[str, str]], dict[str, float]]:
    """Events for counters that grew since ``prev``: (kind, detail) with kind "oom" or
    "limit", and the new times of the last limit event per resource.

    Every OOM kill is reported. Limit hits are reported at most once per resource every
    ``LIMIT_EVENT_GAP`` seconds (a process at its memory limit hits it thousands of times),
    and memory hits not at all in a round that had an OOM kill (the kill says it).
    The first sample (``prev`` None) is the baseline: nothing is reported.
    """
    last = dict(last_limit)
    if prev is None:
        return [], last
    grew = {k: cur.get(k, 0) - prev.get(k, 0) for k in COUNTERS}
    out: list[tuple[str, str]] = []
    memory = limits.get("memory")
    shown = f" of {format_size(memory)}" if memory else ""
    if (kills := grew["oom_kills"]) > 0:
        what = "process" if kills == 1 else "processes"
        out.append(("oom", f"OOM kill: {kills} {what} ended at the memory limit{shown}"))
    hits = (
        ("memory", grew["memory_hits"], f"memory limit{shown} reached", grew["oom_kills"] == 0),
        ("pids", grew["pids_hits"], f"pids limit of {limits.get('pids')} reached", True),
    )
    for resource, count, text, report in hits:
        recent = resource in last and now - last[resource] < LIMIT_EVENT_GAP
        if count <= 0 or not report or recent:
            continue
        plural = "" if count == 1 else "s"
        if resource == "pids":
            detail = f"{text}: {count} fork{plural} refused"
        else:
            detail = f"{text} ({count} time{plural})"
        out.append(("limit", detail))
        last[resource] = now
    return out, last
