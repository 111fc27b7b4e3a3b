"""Who is calling: the Unix socket's peer credentials, put into each request's state."""

from __future__ import annotations

import socket
import struct
from asyncio import BaseTransport, Transport

from uvicorn.protocols.http.h11_impl import H11Protocol


def peer_uid(transport: BaseTransport) -> int | None:
    sock = transport.get_extra_info("socket")
    if sock is None or sock.family != socket.AF_UNIX:
        return None
    creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    _pid, uid, _gid = struct.unpack("3i", creds)
    return int(uid)


class PeerCredProtocol(H11Protocol):
    """uvicorn's h11 protocol that records the peer's uid as ``request.state.peer_uid``.

    The state dict is handed on to the WebSocket protocol on upgrade, so WebSocket handlers
    see it too.
    """

    def connection_made(self, transport: Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.app_state = {**self.app_state, "peer_uid": peer_uid(transport)}
