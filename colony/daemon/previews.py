"""What the preview proxy's 502 page says about a colony (issue 12): read from the colony's
state and its service's listening sockets; the words are :func:`explain_unreachable`'s."""

from __future__ import annotations

from typing import TYPE_CHECKING

from colony.core.routes import Upstream, explain_unreachable
from colony.daemon.ports import listening_ports

if TYPE_CHECKING:
    from colony.daemon.mycelium import Mycelium


def explain_preview(myc: Mycelium, up: Upstream) -> str:
    """Why ``up`` did not answer: the colony's state, else the ports it does listen on."""
    actor = myc.actors.get(up.colony)
    if actor is None:
        return explain_unreachable(up, None)
    ports: set[int] = set()
    if actor.contain.netns_path is not None:  # at level none these would be the host's
        pid = next((s.pid for s in actor.services.values() if s.pid is not None), None)
        ports = listening_ports(pid) if pid is not None else set()
    return explain_unreachable(up, str(actor.rec.state), ports)
