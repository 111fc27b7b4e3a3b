"""Connection records: the NFLOG reader and the recent records and counters of each colony.

Every colony table logs new connections it admits or refuses to one NFLOG group of this
daemon (:mod:`colony.isolation.firewall`). :class:`NflogReader` reads that group on the event
loop; the network service turns each packet into a record, and :class:`NetLog` keeps the last
records and the counters per colony.

Example:
    >>> reader = NflogReader(on_packet=print)
    >>> reader.open(log_group("colony"))  # the group the daemon's tables log to
    >>> await reader.run()
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import socket
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from colony.core.hostname import normalize_name
from colony.errors import HostError
from colony.isolation import nflog

log = logging.getLogger("colony.netlog")
RCVBUF = 4 << 20
K = TypeVar("K")


class NflogReader:
    """One NFLOG group on a netlink socket, read from the event loop without a thread."""

    def __init__(self, on_packet: Callable[[nflog.Packet], None]) -> None:
        self.on_packet = on_packet
        self.sock: socket.socket | None = None
        self.group: int | None = None
        self.lost = 0  # packets the kernel dropped because we fell behind (ENOBUFS)

    def open(self, group: int) -> int:
        """Bind NFLOG ``group`` to a new socket; return it.

        Raises:
            HostError: no netlink socket, or another socket holds the group.
        """
        try:
            sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, nflog.NETLINK_NETFILTER)
            sock.bind((0, 0))
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, 33, RCVBUF)  # SO_RCVBUFFORCE (root)
        except OSError as exc:
            raise HostError(f"cannot open an NFLOG netlink socket: {exc.strerror}") from exc
        sock.settimeout(2)
        try:
            code = self._ask(sock, nflog.render_bind(group))
            if code == 0:
                code = self._ask(sock, nflog.render_mode(group))
        except OSError as exc:
            code = exc.errno or errno.EIO
        if code != 0:
            sock.close()
            raise HostError(
                f"cannot bind NFLOG group {group}: {os.strerror(code)}",
                hint="another daemon with a prefix of the same hash holds it; use another prefix",
            )
        sock.setblocking(False)
        self.sock, self.group = sock, group
        return group

    @staticmethod
    def _ask(sock: socket.socket, message: bytes) -> int:
        sock.send(message)
        while True:
            code = nflog.parse_ack(sock.recv(65536))
            if code is not None:
                return code

    async def run(self) -> None:
        """Deliver packets until cancelled; then release the group."""
        if self.sock is None:
            return
        loop = asyncio.get_running_loop()
        fd = self.sock.fileno()
        loop.add_reader(fd, self._readable)
        try:
            await asyncio.Event().wait()
        finally:
            loop.remove_reader(fd)
            self.close()

    def _readable(self) -> None:
        assert self.sock is not None
        for _ in range(256):  # then yield to the loop; it calls again while data is waiting
            try:
                data = self.sock.recv(1 << 16)
            except BlockingIOError:
                return
            except OSError as exc:
                if exc.errno == errno.ENOBUFS:
                    self.lost += 1
                    continue
                raise
            for packet in nflog.parse_packets(data):
                try:
                    self.on_packet(packet)
                except Exception:
                    log.exception("connection record of %s failed", packet)

    def close(self) -> None:
        if self.sock is not None:
            with contextlib.suppress(OSError):
                self.sock.setblocking(True)
                self.sock.send(nflog.render_unbind(self.group or 0))
            self.sock.close()
            self.sock = None


# --- records and counters ---------------------------------------------------------------------


@dataclass
class Traffic:
    """The recent records and counters of one colony."""

    records: deque[dict[str, Any]]
    accepted: int = 0
    denied: int = 0
    # (dest, port, proto) → [accepted, denied, last seen]
    destinations: dict[tuple[str, int | None, str], list[Any]] = field(default_factory=dict)


@dataclass
class Queries:
    """The recent DNS questions of one colony, and per name what it was told (issue 16)."""

    records: deque[dict[str, Any]]
    answered: int = 0
    refused: int = 0
    # (name, type, verdict) → [count, last seen, last answer, unpublished, last published]
    names: dict[tuple[str, str, str], list[Any]] = field(default_factory=dict)
    second: float = 0.0  # the bus budget's current second, and what it has left
    budget: int = 0


class NetLog:
    """Connection records of every colony: a ring of recent ones and counters, in memory.

    The bus carries each record too (``{"type": "net", ...}``) for the audit log.
    """

    def __init__(
        self,
        keep: int = 500,
        destinations: int = 1000,
        publish_every: float = 60.0,
        publish_rate: int = 20,
    ) -> None:
        self.keep = keep
        self.max_destinations = destinations
        self.publish_every = publish_every  # seconds between events of one name, type, verdict
        self.publish_rate = publish_rate  # DNS events a second per colony, at most
        self.colonies: dict[str, Traffic] = {}
        self.queries: dict[str, Queries] = {}
        # colony → (host, port) → [count, last seen, last reason, "gate" | "dns"] (issue 16)
        self.refused: dict[str, dict[tuple[str, int | None], list[Any]]] = {}

    def add_query(self, record: dict[str, Any]) -> int:
        """Count and keep one DNS question's record; how many alike the bus should be told
        of now (0: none; they are told with the next one that is published)."""
        q = self.queries.setdefault(record["colony"], Queries(deque(maxlen=self.keep)))
        q.records.append(record)
        accepted = record["verdict"] == "accept"
        if accepted:
            q.answered += 1
        else:
            q.refused += 1
        at = float(record["at"])
        key = (record["name"], record["qtype"], record["verdict"])
        entry = _bump(q.names, key, [0, 0.0, (), 0, None], self.max_destinations)
        entry[0] += 1
        entry[1] = at
        entry[2] = record.get("answer") or ()
        entry[3] += 1
        if not accepted:
            self._refuse(record, record["name"], None, "dns")
        if entry[4] is not None and at - entry[4] < self.publish_every:
            return 0
        if int(at) != q.second:
            q.second, q.budget = int(at), self.publish_rate
        if q.budget <= 0:
            return 0
        q.budget -= 1
        count, entry[3], entry[4] = entry[3], 0, at
        return int(count)

    def add(self, record: dict[str, Any]) -> None:
        traffic = self.colonies.setdefault(record["colony"], Traffic(deque(maxlen=self.keep)))
        traffic.records.append(record)
        accepted = record["verdict"] == "accept"
        if accepted:
            traffic.accepted += 1
        else:
            traffic.denied += 1
        key = (record.get("host") or record["dest"], record["port"], record["proto"])
        entry = _bump(traffic.destinations, key, [0, 0, 0.0], self.max_destinations)
        entry[0 if accepted else 1] += 1
        entry[2] = record["at"]
        if not accepted and record.get("host"):
            self._refuse(record, record["host"], record["port"], "gate")

    def _refuse(self, record: dict[str, Any], host: str, port: int | None, via: str) -> None:
        """Count a name the egress gate or the DNS stub refused (``colony net --blocked``)."""
        rows = self.refused.setdefault(record["colony"], {})
        # One row for Example.COM and example.com; a weird name stays as asked (its reason
        # says why it was refused).
        with contextlib.suppress(ValueError):
            host = normalize_name(host)
        entry = _bump(rows, (host, port), [0, 0.0, "", via], self.max_destinations)
        entry[0] += 1
        entry[1:] = [float(record["at"]), record.get("reason") or "", via]

    def blocked(self, colony: str) -> list[dict[str, Any]]:
        """The names (and ports; None: a DNS question) refused to ``colony``, latest first."""
        rows = sorted(self.refused.get(colony, {}).items(), key=lambda kv: -kv[1][1])
        return [
            {"host": h, "port": p, "count": c, "last": at, "reason": why, "via": via}
            for (h, p), (c, at, why, via) in rows
        ]

    def forget(self, colony: str) -> None:
        self.colonies.pop(colony, None)
        self.queries.pop(colony, None)
        self.refused.pop(colony, None)

    def view(self, colony: str, limit: int = 50) -> dict[str, Any]:
        return {**self._connections(colony, limit), "dns": self._queries(colony, limit)}

    def _queries(self, colony: str, limit: int) -> dict[str, Any]:
        q = self.queries.get(colony)
        if q is None:
            return {"answered": 0, "refused": 0, "names": [], "queries": []}
        rows = sorted(q.names.items(), key=lambda kv: -kv[1][0])
        return {
            "answered": q.answered,
            "refused": q.refused,
            "names": [
                {"name": n, "qtype": t, "verdict": v, "count": c, "last": at, "answer": list(a)}
                for (n, t, v), (c, at, a, _, _) in rows[:limit]
            ],
            "queries": list(q.records)[-limit:] if limit > 0 else [],
        }

    def _connections(self, colony: str, limit: int) -> dict[str, Any]:
        traffic = self.colonies.get(colony)
        if traffic is None:
            return {"accepted": 0, "denied": 0, "destinations": [], "records": []}
        rows = sorted(traffic.destinations.items(), key=lambda kv: -(kv[1][0] + kv[1][1]))
        return {
            "accepted": traffic.accepted,
            "denied": traffic.denied,
            "destinations": [
                {"dest": d, "port": p, "proto": pr, "accepted": a, "denied": n, "last": t}
                for (d, p, pr), (a, n, t) in rows[:limit]
            ],
            "records": list(traffic.records)[-limit:] if limit > 0 else [],
        }


def _bump(entries: dict[K, list[Any]], key: K, fresh: list[Any], most: int) -> list[Any]:
    """The entry of ``key`` (``fresh`` if new), moved last: the dict stays in LRU order, and
    keeps at most ``most`` entries (the least recent go)."""
    entry = entries.pop(key, None) or fresh
    entries[key] = entry
    if len(entries) > most:
        del entries[next(iter(entries))]
    return entry
