"""Why Mycelium ends, in one line, and who listens on a port (issue 11)."""

from __future__ import annotations

import asyncio
import signal

from colony.core.procnet import parse_listening
from colony.daemon.lifetime import Stop, exit_reason, parse_pid_file, user_error
from colony.errors import ColonyError

HEADER = (
    "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  t inode\n"
)


def row(local: str, state: str, inode: int) -> str:
    return f"   0: {local} 00000000:0000 {state} 0:0 00:00000000 00000000 0 0 {inode} 1 0 100\n"


def test_a_task_group_error_is_the_users_one_line() -> None:
    """When the user's error comes out of a task group next to cancellations, it is that
    error; anything else in the group is a bug."""
    taken = ColonyError("cannot listen for previews on 127.0.0.1:7080: the address is in use")
    group = BaseExceptionGroup("tasks", [asyncio.CancelledError(), ExceptionGroup("x", [taken])])
    assert user_error(group) is taken
    assert exit_reason(group) == str(taken)
    bug = ExceptionGroup("tasks", [taken, KeyError("k")])
    assert user_error(bug) is None
    assert exit_reason(bug).startswith("internal error: ExceptionGroup(")


def test_signals_and_exits_have_their_reasons() -> None:
    """When the daemon ends by a signal while starting, by SystemExit or by a bug, the
    reason says which."""
    assert exit_reason(Stop(signal.SIGTERM)) == "received SIGTERM while starting"
    assert exit_reason(SystemExit(3)) == "SystemExit(3) raised inside the daemon (a bug)"
    assert exit_reason(ValueError("x")) == "internal error: ValueError('x') (a bug)"


def test_pid_file() -> None:
    """When mycelium.pid holds a pid and a start time, both are read; empty is none."""
    assert parse_pid_file("4711 1714550000\n") == (4711, 1714550000.0)
    assert parse_pid_file("") == (None, None)
    assert parse_pid_file("junk") == (None, None)


def test_listening_sockets_by_port() -> None:
    """When /proc/net/tcp lists sockets, only those listening (0A) on the port count, on any
    address (IPv4 or IPv6)."""
    text = HEADER + row("0100007F:1BA8", "0A", 11) + row("00000000:1BA8", "01", 12)
    text += row("0100007F:1F40", "0A", 13) + row("00000000000000000000000000000000:1BA8", "0A", 14)
    assert parse_listening(text, 7080) == {11, 14}
    assert parse_listening(text, 9) == set()
