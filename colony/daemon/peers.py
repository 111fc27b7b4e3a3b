"""A cap on the open connections of each peer on one of Mycelium's TCP listeners (issue 11).

One unprivileged process held 1,079 idle connections to the preview port and every listener
of the daemon ran out of file descriptors. Each listener now counts its connections per peer
and closes, at once, those beyond the cap: a flood costs its sender, not the other users.

A peer is the user owning the other end when it is a local socket (found over sock_diag:
on loopback everyone's address is 127.0.0.1), else its address.

Example:
    >>> limit = PeerLimit(256)
    >>> if not limit.admit(transport):  # doctest: +SKIP
    ...     transport.close()
    >>> limit.release(transport)  # when the connection ends  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import socket
from collections import Counter
from collections.abc import Callable
from typing import Any

from colony.isolation.sockdiag import socket_owner

log = logging.getLogger("colony.daemon")
DEFAULT_CAP = 256  # open connections per peer and listener
DEFAULT_IDLE = 30.0  # seconds a connection may wait for a whole request head
# Connections waiting to be accepted. asyncio's default (100) overflows under a flood: the
# kernel then drops SYNs, everyone's included, and a dropped SYN costs its client 1 s.
BACKLOG = 1024


def peer_of(sock: socket.socket | None, uid: int | None) -> str:
    """``uid N`` for a local peer whose socket's owner is known, else its address."""
    if sock is None:
        return "unknown"
    if uid is not None:
        return f"uid {uid}"
    try:
        return str(sock.getpeername()[0])
    except OSError:
        return "unknown"


class PeerLimit:
    """Counts the open connections of each peer on one listener; refuses those beyond ``cap``.

    A connection is any hashable handle that is the same object from :meth:`admit` to
    :meth:`release` (an asyncio transport); admitting it again does not count it twice.
    """

    def __init__(
        self,
        cap: int = DEFAULT_CAP,
        what: str = "listener",
        owner: Callable[[socket.socket], int | None] = socket_owner,
    ) -> None:
        self.cap = cap
        self.what = what
        self.owner = owner
        self.peers: dict[Any, str] = {}  # open connection → its peer
        self.uids: dict[Any, int | None] = {}  # open connection → its local peer's uid
        self.counts: Counter[str] = Counter()
        self.refused: Counter[str] = Counter()

    def admit(self, conn: Any) -> bool:
        """Count ``conn`` (whose socket is ``conn.get_extra_info('socket')``); False when its
        peer already has ``cap`` open connections here (it is then not counted)."""
        if conn in self.peers:
            return True
        sock = conn.get_extra_info("socket")
        uid = None if sock is None else self.owner(sock)
        peer = peer_of(sock, uid)
        if self.counts[peer] >= self.cap:
            if not self.refused[peer]:  # once per flood, not once per connection
                log.warning(
                    "%s: %s has %d open connections, the most one peer may have; refusing "
                    "more (setting --peer-connections)",
                    self.what,
                    peer,
                    self.cap,
                )
            self.refused[peer] += 1
            return False
        self.peers[conn] = peer
        self.uids[conn] = uid
        self.counts[peer] += 1
        return True

    def uid(self, conn: Any) -> int | None:
        """The uid owning the local peer's end of admitted ``conn``; None when remote or
        unknown (issue 14: the preview gate's proof)."""
        return self.uids.get(conn)

    def release(self, conn: Any) -> None:
        """Forget ``conn``: its peer may open another (no-op for one never admitted)."""
        peer = self.peers.pop(conn, None)
        self.uids.pop(conn, None)
        if peer is None:
            return
        self.counts[peer] -= 1
        if self.counts[peer] <= 0:
            del self.counts[peer]
            self.refused.pop(peer, None)

    def message(self) -> str:
        """What a refused client is told."""
        return (
            f"too many open connections from your user (at most {self.cap} per peer); close "
            "some and retry"
        )
