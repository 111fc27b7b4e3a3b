"""Mycelium's listeners on loopback: both loopbacks held, peers told apart by the owner of
the other end of a real TCP connection, and the open-files limit."""

from __future__ import annotations

import errno
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from colony.daemon.loopback import bind_loopback
from colony.daemon.peers import PeerLimit, peer_of
from colony.isolation.sockdiag import socket_owner


class Conn:
    """A connection handle as asyncio's transports offer it: the socket in extra info."""

    def __init__(self, sock: socket.socket | None) -> None:
        self.sock = sock

    def get_extra_info(self, name: str) -> socket.socket | None:
        return self.sock if name == "socket" else None


def test_the_owner_of_a_local_peer_is_its_uid() -> None:
    """When a local process connects over loopback, the accepted socket's peer is found to be
    that process's user, and a peer that is gone falls back to its address."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        client = socket.create_connection(server.getsockname())
        conn, _ = server.accept()
        with conn:
            assert socket_owner(conn) == os.getuid()
            assert peer_of(conn, socket_owner(conn)) == f"uid {os.getuid()}"
            client.close()
            assert peer_of(conn, None) == "127.0.0.1"
    with socket.socket(socket.AF_UNIX) as unix:
        assert socket_owner(unix) is None


def test_limit_counts_each_peer_apart() -> None:
    """When a peer reaches the cap, its next connection is refused while another peer's is
    admitted; a released connection makes room, and admitting twice counts once."""
    owners = {}
    limit = PeerLimit(2, owner=lambda sock: owners[sock.fileno()])
    socks = [socket.socket() for _ in range(4)]
    try:
        owners.update({socks[0].fileno(): 1, socks[1].fileno(): 1, socks[2].fileno(): 1})
        owners[socks[3].fileno()] = 2
        first, second, third, other = (Conn(s) for s in socks)
        assert limit.admit(first)
        assert limit.admit(first)
        assert limit.admit(second)
        assert not limit.admit(third)
        assert limit.admit(other)
        limit.release(first)
        limit.release(first)
        assert limit.admit(third)
        assert dict(limit.counts) == {"uid 1": 2, "uid 2": 1}
        assert peer_of(None, 0) == "unknown"
    finally:
        for sock in socks:
            sock.close()


def test_the_open_files_limit_is_raised_to_the_hard_one() -> None:
    """When a process starts with a low soft open-files limit, raise_open_files lifts it to
    the hard limit and says what it was."""
    script = (
        "import resource\n"
        "from colony import host\n"
        "hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]\n"
        "resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))\n"
        "print(host.raise_open_files() == (256, hard))\n"
        "print(host.raise_open_files() == (hard, hard))\n"
    )
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": str(root)},
    ).stdout.split("\n")
    assert out[:2] == ["True", "True"]


def _ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


def test_listeners_hold_both_loopbacks() -> None:
    """When a listener binds 127.0.0.1, it holds [::1] on the same port too (browsers try it
    first for *.localhost); a port taken on [::1] by someone else is refused, not shared."""
    if not _ipv6_loopback():
        pytest.skip("this host has no IPv6 loopback")
    socks = bind_loopback("127.0.0.1", 0, backlog=16)
    try:
        assert [s.family for s in socks] == [socket.AF_INET, socket.AF_INET6]
        assert socks[0].getsockname()[1] == socks[1].getsockname()[1]
        with pytest.raises(OSError, match="in use"):
            socket.create_server(("::1", socks[1].getsockname()[1]), family=socket.AF_INET6)
    finally:
        for sock in socks:
            sock.close()
    with socket.create_server(("::1", 0), family=socket.AF_INET6) as squatter:
        port = squatter.getsockname()[1]
        with pytest.raises(OSError, match="in use") as taken:
            bind_loopback("127.0.0.1", port, backlog=16)
        assert taken.value.errno == errno.EADDRINUSE
        socket.create_server(("127.0.0.1", port)).close()  # not left half-bound
