"""The egress gate's parts that need no root (issue 16): the splice pump, the host's addresses, the
name cache."""

from __future__ import annotations

import asyncio
import os
import socket

from colony.daemon.egress_gate import CachedNames, HostAddresses, parse_local_addresses
from colony.daemon.splice import Splice


def _pair() -> tuple[socket.socket, socket.socket]:
    a, b = socket.socketpair()
    a.setblocking(False)
    b.setblocking(False)
    return a, b


async def _read_all(loop: asyncio.AbstractEventLoop, sock: socket.socket) -> bytes:
    out = b""
    while chunk := await loop.sock_recv(sock, 1 << 16):
        out += chunk
    return out


async def test_bytes_pass_both_ways_and_half_closes_follow() -> None:
    """When a client sends 8 MiB and closes its writing side, the upstream gets every byte
    and then EOF; its answer comes back after, and the splice ends when both ways ended."""
    loop = asyncio.get_running_loop()
    client, gate_client = _pair()
    gate_upstream, upstream = _pair()
    data = os.urandom(8 << 20)
    pump = loop.create_task(Splice(loop, gate_client, gate_upstream).run())

    async def send() -> None:
        await loop.sock_sendall(client, data)
        client.shutdown(socket.SHUT_WR)

    sending = loop.create_task(send())
    assert await _read_all(loop, upstream) == data
    await sending
    await loop.sock_sendall(upstream, b"answer")
    upstream.shutdown(socket.SHUT_WR)
    assert await _read_all(loop, client) == b"answer"
    await asyncio.wait_for(pump, 10)
    for sock in (client, gate_client, gate_upstream, upstream):
        sock.close()


async def test_a_failed_side_ends_the_splice() -> None:
    """When one side is reset, the splice ends instead of waiting."""
    loop = asyncio.get_running_loop()
    client, gate_client = _pair()
    gate_upstream, upstream = _pair()
    pump = loop.create_task(Splice(loop, gate_client, gate_upstream).run())
    upstream.close()
    await loop.sock_sendall(client, b"x" * 100)
    client.close()
    await asyncio.wait_for(pump, 10)
    gate_client.close()
    gate_upstream.close()


def test_local_addresses_from_proc() -> None:
    """When /proc lists LOCAL host routes and IPv6 addresses, each is a host address."""
    trie = (
        "Local:\n  +-- 0.0.0.0/0 3 0 5\n     |-- 10.0.0.5\n        /32 host LOCAL\n"
        "     |-- 10.0.0.255\n        /32 link BROADCAST\n     |-- 127.0.0.1\n"
        "        /32 host LOCAL\n"
    )
    inet6 = "00000000000000000000000000000001 01 80 10 80       lo\n"
    assert parse_local_addresses(trie, inet6) == {"10.0.0.5", "127.0.0.1", "::1"}
    assert "127.0.0.1" in HostAddresses()()


async def test_names_are_cached_for_their_ttl() -> None:
    """When a name was looked up within the ttl, the gate does not look it up again."""
    asked: list[str] = []
    now = [0.0]

    async def resolve(names: object) -> dict[str, tuple[str, ...]]:
        name = next(iter(names))  # type: ignore[call-overload]
        asked.append(name)
        return {name: ("198.18.0.2",)}

    cached = CachedNames(resolve, ttl=5, clock=lambda: now[0])
    assert await cached("a.test") == ("198.18.0.2",)
    assert await cached("a.test") == ("198.18.0.2",)
    now[0] = 6
    await cached("a.test")
    assert asked == ["a.test", "a.test"]
