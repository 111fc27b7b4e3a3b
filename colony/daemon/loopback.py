"""Listening sockets on the loopback for Mycelium's TCP listeners: both loopbacks or neither.

Browsers resolve ``bloom.localhost`` and ``*.localhost`` to ``::1`` first (Chromium does),
then to 127.0.0.1. A listener on 127.0.0.1 alone leaves ``[::1]:<its port>`` to whoever binds
it first, any local user or a colony at level none: that process would then receive what the
browser meant for Mycelium, in Mycelium's own origin (Bloom's cookie, and a page of its own
that reads Bloom's token; every preview's traffic). So for 127.0.0.1 the daemon also holds
``[::1]`` on the same port (issue 11). A host without an IPv6 loopback needs only the one.

Example:
    >>> socks = bind_loopback("127.0.0.1", 0, backlog=1024)  # doctest: +SKIP
    >>> {s.getsockname()[1] for s in socks}  # one port, both loopbacks  # doctest: +SKIP
    {41234}
"""

from __future__ import annotations

import errno
import socket

TRIES = 20  # port 0: ports tried until one is free on both loopbacks


def _listen(family: socket.AddressFamily, host: str, port: int, backlog: int) -> socket.socket:
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind((host, port))
        sock.listen(backlog)
    except BaseException:
        sock.close()
        raise
    return sock


def _with_ipv6(v4: socket.socket, backlog: int) -> list[socket.socket]:
    """``v4`` and a socket on ``[::1]`` at its port; ``[v4]`` without an IPv6 loopback."""
    try:
        v6 = _listen(socket.AF_INET6, "::1", v4.getsockname()[1], backlog)
    except OSError as exc:
        if exc.errno in (errno.EADDRNOTAVAIL, errno.EAFNOSUPPORT):
            return [v4]  # no IPv6 loopback: browsers cannot reach one either
        v4.close()
        raise
    return [v4, v6]


def bind_loopback(host: str, port: int, backlog: int) -> list[socket.socket]:
    """Listening sockets for ``host:port``; for 127.0.0.1 also ``[::1]`` on the same port.

    ``port`` 0 picks one free on both.

    Raises:
        OSError: the port is taken on either loopback (EADDRINUSE), or cannot be bound.
    """
    if host != "127.0.0.1":
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        return [_listen(family, host, port, backlog)]
    for _ in range(TRIES if port == 0 else 1):
        v4 = _listen(socket.AF_INET, host, port, backlog)
        try:
            return _with_ipv6(v4, backlog)
        except OSError as exc:
            if port != 0 or exc.errno != errno.EADDRINUSE:
                raise
    raise OSError(errno.EADDRINUSE, f"no port free on both loopbacks after {TRIES} tries")
