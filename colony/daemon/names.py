"""Host names of network policies, resolved by the daemon (the colony's view is pinned to it).

A hosts file of the daemon's own (``COLONY_HOSTS_FILE``) is consulted first, then the system
resolver; ``/etc/resolv.conf`` names the DNS servers the DNS stub forwards other questions
than addresses to (``MX``, ``TXT``, ``SRV``… of names a colony may resolve).

Example:
    >>> await Names(Path("/etc/colony/hosts")).resolve(["pypi.org"])
    {'pypi.org': ('151.101.0.223', ...)}
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Iterable
from pathlib import Path

import dns.asyncquery
import dns.exception
import dns.message
import dns.rdatatype

from colony.core.policy import parse_hosts, parse_nameservers

log = logging.getLogger("colony.names")
RESOLV_CONF = Path("/etc/resolv.conf")
RESOLVE_TIMEOUT = 5.0
FORWARD_TIMEOUT = 2.0


class Names:
    """Resolves the host names of policies: a hosts file of its own first, then the system.

    ``hosts_file`` (the daemon's ``COLONY_HOSTS_FILE``) pins names without touching
    /etc/hosts; tests point names at their own hosts with it.
    """

    def __init__(self, hosts_file: Path | None = None, resolv_conf: Path = RESOLV_CONF) -> None:
        self.hosts_file = hosts_file
        self.resolv_conf = resolv_conf

    def nameservers(self) -> tuple[str, ...]:
        try:
            return parse_nameservers(self.resolv_conf.read_text())
        except OSError:
            return ()

    async def forward(self, name: str, rdtype: int) -> dns.message.Message | None:
        """The answer of the first of the host's nameservers that gives one to a question
        for ``name`` of type ``rdtype`` (UDP, then TCP if truncated); None if none does."""
        query = dns.message.make_query(name, dns.rdatatype.RdataType(rdtype))
        for server in self.nameservers()[:3]:
            try:
                response, _ = await dns.asyncquery.udp_with_fallback(
                    query, server, timeout=FORWARD_TIMEOUT
                )
            except (dns.exception.DNSException, OSError, ValueError):
                continue
            return response
        return None

    async def resolve(self, names: Iterable[str]) -> dict[str, tuple[str, ...]]:
        """Addresses of each name; () for a name that does not resolve (now)."""
        pinned: dict[str, tuple[str, ...]] = {}
        if self.hosts_file is not None:
            try:
                pinned = parse_hosts(self.hosts_file.read_text())
            except OSError as exc:
                log.warning("cannot read hosts file %s: %s", self.hosts_file, exc.strerror)
        wanted = sorted(set(names))
        found = await asyncio.gather(*(self._lookup(n) for n in wanted if n not in pinned))
        looked_up = dict(zip([n for n in wanted if n not in pinned], found, strict=True))
        return {n: pinned[n] if n in pinned else looked_up[n] for n in wanted}

    @staticmethod
    async def _lookup(name: str) -> tuple[str, ...]:
        loop = asyncio.get_running_loop()
        try:
            infos = await asyncio.wait_for(
                loop.getaddrinfo(name, None, proto=socket.IPPROTO_TCP), RESOLVE_TIMEOUT
            )
        except (OSError, TimeoutError):
            return ()
        return tuple(sorted({str(info[4][0]).split("%", 1)[0] for info in infos}))
