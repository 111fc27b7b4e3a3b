"""How many changed paths of a colony's workspace are listed in the audit log (issue 11).

Pure. Each colony has a token bucket: :attr:`FileRate.burst` paths listed at once, refilled at
:attr:`FileRate.rate` paths a second. Paths beyond it are counted, not listed, and the count is
reported as ``… and 9,412 more``: with the next batch that lists paths, or on its own at most
every :data:`SUMMARY_EVERY` seconds, and always when the colony stops being watched. So a
colony that rewrites its workspace in a loop costs the audit log a bounded number of bytes.

Example:
    >>> rate = FileRate(rate=100, burst=1000)
    >>> budget, listed, more = plan_batch(None, 1500, now=0.0, rate=rate)
    >>> listed, more
    (1000, 500)
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from colony.core.values import bad_setting, int_setting, parse_number

SUMMARY_EVERY = 10.0  # seconds between "… and N more" entries of a colony


@dataclass(frozen=True)
class FileRate:
    """Paths listed per colony: ``burst`` at once, ``rate`` a second after that."""

    rate: float = 100.0
    burst: int = 10_000


def parse_file_rate(rate: str | float, burst: str | int) -> FileRate:
    """The limit from the daemon's ``--files-rate`` and ``--files-burst``.

    Raises:
        ConfigError: naming the setting, the value and what was expected.
    """
    per_second = parse_number(rate, strings=True)
    if per_second is None or not 0 < per_second <= 1_000_000:
        raise bad_setting("--files-rate", "paths per second such as 100", rate)
    expected = "a number of paths such as 10000"
    return FileRate(per_second, int_setting("--files-burst", burst, 1, 10_000_000, expected))


@dataclass(frozen=True)
class Budget:
    """One colony's bucket: ``tokens`` left at time ``at``; ``held`` paths changed but not
    listed since the last report, which was at ``reported``."""

    tokens: float
    at: float
    held: int = 0
    reported: float | None = None


def plan_batch(
    budget: Budget | None,
    count: int,
    now: float,
    rate: FileRate,
    *,
    unnamed: int = 0,
    final: bool = False,
) -> tuple[Budget, int, int]:
    """Of ``count`` paths changed in one batch, how many to list, and how many unlisted paths
    to report now (with that batch, or alone when it lists none).

    ``unnamed`` changes are counted but cannot be listed (too many to hold at once);
    ``final`` reports whatever is held (the colony stops being watched).
    """
    if budget is None:
        budget = Budget(tokens=float(rate.burst), at=now)
    tokens = min(float(rate.burst), budget.tokens + rate.rate * max(0.0, now - budget.at))
    listed = min(count, int(tokens))
    held = budget.held + count - listed + unnamed
    due = budget.reported is None or now - budget.reported >= SUMMARY_EVERY
    if held and (final or due):
        return Budget(tokens - listed, now, 0, now), listed, held
    return replace(budget, tokens=tokens - listed, at=now, held=held), listed, 0
