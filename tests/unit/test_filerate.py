"""The rate limit on changed paths listed in the audit log (issue 11)."""

from __future__ import annotations

import pytest

from colony.core.filerate import SUMMARY_EVERY, Budget, FileRate, parse_file_rate, plan_batch
from colony.errors import ConfigError

RATE = FileRate(rate=10, burst=100)


def test_a_burst_is_listed_then_the_rest_is_counted() -> None:
    """When 150 paths change at once, the burst's 100 are listed and the other 50 reported
    as more, with the same batch."""
    budget, listed, more = plan_batch(None, 150, now=0.0, rate=RATE)
    assert (listed, more) == (100, 50)
    assert budget == Budget(tokens=0.0, at=0.0, held=0, reported=0.0)


def test_the_bucket_refills_at_the_rate() -> None:
    """When the bucket is empty, it lists `rate` paths a second, never more than the burst."""
    budget, _, _ = plan_batch(None, 100, now=0.0, rate=RATE)
    budget, listed, _ = plan_batch(budget, 50, now=2.0, rate=RATE)
    assert listed == 20
    budget, listed, _ = plan_batch(budget, 500, now=1000.0, rate=RATE)
    assert listed == 100


def test_held_paths_are_reported_at_most_every_ten_seconds() -> None:
    """When a flood goes on, what is held is reported at most every SUMMARY_EVERY seconds,
    nothing is lost, and a final flush reports the rest at once."""
    budget, listed, more = plan_batch(None, 1000, now=0.0, rate=RATE)
    total_listed, total_more = listed, more
    now = 0.0
    for _ in range(39):  # batches every half second for 19.5 s
        now += 0.5
        budget, listed, more = plan_batch(budget, 1000, now, RATE)
        total_listed += listed
        total_more += more
        assert more == 0 or now % SUMMARY_EVERY == 0
    budget, listed, more = plan_batch(budget, 0, now + 0.5, RATE, final=True)
    total_listed += listed
    total_more += more
    assert total_listed + total_more == 40_000
    assert total_listed == 100 + 39 * 5  # the burst, then 10 a second
    assert budget.held == 0


def test_unnamed_changes_are_only_counted() -> None:
    """When changes could not be held by name, they count as more, never as listed."""
    _, listed, more = plan_batch(None, 3, now=0.0, rate=RATE, unnamed=7)
    assert (listed, more) == (3, 7)


def test_quiet_colonies_report_nothing() -> None:
    """When nothing is held, nothing is reported, however long it has been."""
    budget, _, _ = plan_batch(None, 5, now=0.0, rate=RATE)
    assert plan_batch(budget, 0, now=100.0, rate=RATE)[1:] == (0, 0)


def test_settings() -> None:
    """When --files-rate and --files-burst are read, bad values are one-line errors."""
    assert parse_file_rate("2.5", "10") == FileRate(2.5, 10)
    with pytest.raises(ConfigError) as caught:
        parse_file_rate("fast", "10")
    assert str(caught.value) == "--files-rate: expected paths per second such as 100, got 'fast'"
    with pytest.raises(ConfigError, match=r"^--files-burst: .* got '0'$"):
        parse_file_rate("1", "0")
