"""`colony audit` without a daemon: bad queries fail with one line before Mycelium is asked,
and entries and verdicts render as documented."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from colony.cli import main
from colony.cli.audit import format_entry, format_verdict
from colony.contract_responses import AuditEntry, Verdict


@pytest.fixture
def no_daemon() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="ct-audit-") as path:
        yield Path(path) / "none.sock"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["audit", "--since", "yesterdayish"],
            "error: --since: expected a duration such as 90s, 30m, 1h or 2d, or a time such as "
            "2024-05-01T10:00, got 'yesterdayish'",
        ),
        (
            ["audit", "--kind", "execs"],
            "error: --kind: expected one of lifecycle, exec, agent, request, net, files, "
            "resource, conflict, other, got 'execs'",
        ),
        (
            ["audit", "export", "--until", "soonish"],
            "error: --until: expected a duration such as 90s, 30m, 1h or 2d, or a time such as "
            "2024-05-01T10:00, got 'soonish'",
        ),
        (
            ["audit", "-f", "--since", "1 hour"],
            "error: --since: expected a duration such as 90s, 30m, 1h or 2d, or a time such as "
            "2024-05-01T10:00, got '1 hour'",
        ),
    ],
)
def test_bad_queries(args: list[str], message: str, no_daemon: Path) -> None:
    """When a query is bad, the CLI prints one error line naming flag and value, exits 1,
    and never starts or asks Mycelium."""
    result = CliRunner().invoke(main, args, env={"COLONY_SOCKET": str(no_daemon)})
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == message + "\n"
    assert not no_daemon.exists()


def test_format_entry() -> None:
    """When an entry is shown, the line has time, user, kind and message."""
    entry = AuditEntry(
        seq=1, at=0.0, user=None, kind="files", msg="web: 2 files changed: a, b", colony="web",
        data={}, hash="h",
    )  # fmt: skip
    text = format_entry(entry).plain
    assert text.endswith("  -          files     web: 2 files changed: a, b")


def test_format_verdict() -> None:
    """When the log verifies, the line says how much and between which checkpoints."""
    verdict = Verdict(ok=True, checked=5, first=None, problem=None, head=12, cut=7)
    assert format_verdict(verdict) == (
        "audit log verified: 5 entries, chain intact from the signed retention checkpoint at "
        "entry 7 up to the signed head (entry 12)"
    )
