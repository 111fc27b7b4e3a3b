"""Mycelium's DNS stub: the only resolver a colony reaches (issue 16).

Every colony's table redirects its DNS (port 53, UDP and TCP, whatever the address) to this
stub, which listens on :func:`colony.isolation.firewall.dns_port` of the host. It knows the
asking colony by the query's source address (the tables drop spoofed ones) and answers from
the colony's policy (:func:`colony.core.hostmatch.decide`):

- an allowed name gets its IPv4 addresses (``A``), looked up by Mycelium (its hosts file
  ``COLONY_HOSTS_FILE`` first, then the system resolver), pinned in the colony's table
  before the answer leaves; the types of :data:`FORWARDED` are asked of the host's
  nameservers and their answer records passed on; ``AAAA`` and other types get no records
  (colonies have IPv4 only);
- any other name gets NXDOMAIN, and is never sent on: a colony cannot carry data out in the
  names it asks for.

Every question is recorded with the network service (:meth:`Network.on_query`). A colony
that asks more than :data:`RATE` questions a second (``COLONY_DNS_RATE``) has the rest
dropped, and the slow path
(a lookup) runs on a few workers behind a bounded queue, so a flood neither fills memory nor
holds up the event loop. Sources that are no colony get nothing.

Example:
    >>> stub = DnsStub(net, port=dns_port("colony"))
    >>> await stub.run()   # until cancelled
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

import dns.exception
import dns.flags
import dns.message
import dns.opcode
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset

from colony.core.hostmatch import decide
from colony.core.hostname import normalize_name
from colony.daemon.network import Network

log = logging.getLogger("colony.dnsstub")
TTL = 30  # seconds a colony may keep an answer (the table keeps what it was told longer)
MAX_ADDRESSES = 16
RATE, BURST = 500.0, 1000.0  # questions a second per colony, and how many at once
QUEUE = 1024  # questions waiting for a lookup, all colonies
WAITING_PER_COLONY = 64  # of them, one colony's
WORKERS = 8
TCP_IDLE = 10.0
TCP_PER_COLONY = 8
TCP_QUERIES = 100  # per connection
# Types of allowed names asked of the host's nameservers (addresses are Mycelium's own).
FORWARDED = frozenset(
    dns.rdatatype.from_text(t) for t in ("CNAME", "MX", "TXT", "SRV", "NS", "SOA", "CAA", "PTR")
)
ANSWERS, ANSWER_KEEP = 4096, 5.0  # answers kept by question, and for how many seconds
# what a question is recorded as: name, type, verdict, addresses, reason
_Record = tuple[str, str, str, tuple[str, ...], str]


@dataclass
class _Bucket:
    tokens: float
    at: float


@dataclass(frozen=True)
class _Pending:
    """A question whose answer needs a lookup first."""

    colony: str
    query: dns.message.Message
    host: str
    entry: str | None
    forward: bool = False  # a type asked of the host's nameservers, not an address


class DnsStub:
    """The stub's sockets, its workers, and its answers."""

    def __init__(
        self,
        net: Network,
        port: int,
        *,
        address: str = "0.0.0.0",
        rate: float = RATE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.net = net
        self.port = port
        self.address = address
        self.rate, self.burst = rate, max(BURST, rate * 2)
        self.clock = clock
        self.buckets: dict[str, _Bucket] = {}
        self.queue: asyncio.Queue[tuple[_Pending, Callable[[bytes], None], int]] | None = None
        self.dropped = 0  # questions over a colony's rate or the queue's room
        self.strangers = 0  # datagrams and connections from no colony
        self.tcp: dict[str, int] = {}
        self.waiting: dict[str, int] = {}  # questions in the queue, per colony
        self.answers: dict[tuple[int, str, bytes, int], tuple[float, bytes, _Record]] = {}

    # --- serving ------------------------------------------------------------------------

    async def run(self) -> None:
        """Listen on UDP and TCP and answer until cancelled.

        Raises:
            OSError: the port is taken (the caller logs it; colonies then get no DNS).
        """
        loop = asyncio.get_running_loop()
        self.queue = asyncio.Queue(QUEUE)
        udp, _ = await loop.create_datagram_endpoint(
            lambda: _Udp(self), local_addr=(self.address, self.port), reuse_port=False
        )
        try:
            tcp = await asyncio.start_server(
                self._connection, self.address, self.port, reuse_address=True
            )
        except OSError:
            udp.close()
            raise
        try:
            async with asyncio.TaskGroup() as workers:
                for _ in range(WORKERS):
                    workers.create_task(self._work())
        finally:
            udp.close()
            tcp.close()
            with contextlib.suppress(Exception):
                await tcp.wait_closed()

    def on_datagram(self, data: bytes, source: str, send: Callable[[bytes], None]) -> None:
        """One UDP question: answered at once when no lookup is needed, else queued."""
        colony = self._admit(source)
        if colony is None:
            return
        step = self.answer_now(colony, data, 512)
        if isinstance(step, bytes):
            send(step)
        elif step is not None:
            self._enqueue(step, send, 512)

    async def _work(self) -> None:
        assert self.queue is not None
        while True:
            pending, send, size = await self.queue.get()
            try:
                send(await self._answer_later(pending, size))
            except Exception:
                log.exception("DNS answer for colony %s failed", pending.colony)
            finally:
                self.waiting[pending.colony] -= 1
                if not self.waiting[pending.colony]:
                    del self.waiting[pending.colony]

    def _enqueue(self, pending: _Pending, send: Callable[[bytes], None], size: int) -> None:
        """Queue a question for the workers; dropped if the queue, or the colony's share of
        it, is full (one colony's flood leaves room for the others')."""
        assert self.queue is not None
        if self.waiting.get(pending.colony, 0) >= WAITING_PER_COLONY:
            self.dropped += 1
            return
        try:
            self.queue.put_nowait((pending, send, size))
        except asyncio.QueueFull:
            self.dropped += 1
            return
        self.waiting[pending.colony] = self.waiting.get(pending.colony, 0) + 1

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        colony = self.net.colony_at(peer[0]) if peer else None
        if colony is None or self.tcp.get(colony, 0) >= TCP_PER_COLONY:
            self.strangers += colony is None
            writer.close()
            return
        self.tcp[colony] = self.tcp.get(colony, 0) + 1
        try:
            for _ in range(TCP_QUERIES):
                head = await asyncio.wait_for(reader.readexactly(2), TCP_IDLE)
                data = await asyncio.wait_for(
                    reader.readexactly(struct.unpack("!H", head)[0]), TCP_IDLE
                )
                if self._admit(peer[0]) is None:
                    continue
                step = self.answer_now(colony, data, 65535)
                if isinstance(step, _Pending):
                    step = await self._answer_later(step, 65535)
                if step is not None:
                    writer.write(struct.pack("!H", len(step)) + step)
                    await writer.drain()
        except (TimeoutError, asyncio.IncompleteReadError, OSError):
            pass
        finally:
            self.tcp[colony] -= 1
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    def _admit(self, source: str) -> str | None:
        """The colony at ``source`` if it has questions left this second, else None."""
        colony = self.net.colony_at(source)
        if colony is None:
            self.strangers += 1
            return None
        now = self.clock()
        bucket = self.buckets.get(colony)
        if bucket is None:
            if len(self.buckets) >= 4096:  # colonies come and go: forget the full ones' first
                self.buckets = {c: b for c, b in self.buckets.items() if c in self.net.members}
            bucket = self.buckets[colony] = _Bucket(self.burst, now)
        bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.at) * self.rate)
        bucket.at = now
        if bucket.tokens < 1:
            self.dropped += 1
            return None
        bucket.tokens -= 1
        return colony

    # --- answers ------------------------------------------------------------------------

    def answer_now(self, colony: str, data: bytes, size: int) -> bytes | _Pending | None:
        """The answer to ``data``, or what to look up before answering; None: no answer
        (not even a header to answer to).

        An answer is kept a few seconds for the same question bytes (but the id), until the
        network service changes anything (:attr:`Network.generation`): the same question
        is then answered, and recorded, without parsing it again.
        """
        key = (self.net.generation, colony, data[2:], size)
        now = self.clock()
        kept = self.answers.get(key)
        if kept is not None and kept[0] > now:
            self.net.on_query(colony, *kept[2])
            return data[:2] + kept[1]
        step, record = self._decide(colony, data, size)
        if record is not None:
            self.net.on_query(colony, *record)
            if isinstance(step, bytes):
                if len(self.answers) >= ANSWERS:
                    self.answers.clear()
                self.answers[key] = (now + ANSWER_KEEP, step[2:], record)
        return step

    def _decide(
        self, colony: str, data: bytes, size: int
    ) -> tuple[bytes | _Pending | None, _Record | None]:
        try:
            query = dns.message.from_wire(data)
        except dns.message.ShortHeader:
            return None, None
        except dns.exception.DNSException:
            return _error(data, dns.rcode.FORMERR), None
        if query.flags & dns.flags.QR:
            return None, None  # an answer sent to us: nothing to say
        if query.opcode() != dns.opcode.QUERY:
            return _reply(query, dns.rcode.NOTIMP, size), None
        if len(query.question) != 1:
            return _reply(query, dns.rcode.FORMERR, size), None
        question = query.question[0]
        qtype = dns.rdatatype.to_text(question.rdtype)
        text = question.name.to_text(omit_final_dot=True)[:255]
        policy = self.net.policy_of(colony)
        if policy is None:
            return _reply(query, dns.rcode.REFUSED, size), None
        verdict = decide(policy, text)
        if not verdict.allowed or question.rdclass != dns.rdataclass.IN:
            reason = verdict.reason if not verdict.allowed else "class is not IN"
            return _reply(query, dns.rcode.NXDOMAIN, size), (text, qtype, "deny", (), reason)
        host = normalize_name(text)
        if question.rdtype in FORWARDED:
            return _Pending(colony, query, host, verdict.entry, forward=True), None
        if question.rdtype != dns.rdatatype.A:  # no records of that type
            record: _Record = (host, qtype, "accept", (), verdict.reason)
            return _reply(query, dns.rcode.NOERROR, size), record
        ready = self.net.answer_now(colony, host, verdict.entry, now=time.monotonic())
        if ready is None:
            return _Pending(colony, query, host, verdict.entry), None
        record = (host, qtype, "accept", ready, verdict.reason)
        return _reply(query, dns.rcode.NOERROR, size, ready), record

    async def _answer_later(self, pending: _Pending, size: int) -> bytes:
        if pending.forward:
            return await self._forward(pending, size)
        addresses = await self.net.lookup(pending.colony, pending.host, pending.entry)
        reason = f"allowed by {pending.entry!r}" if pending.entry else "allowed (policy allow)"
        self.net.on_query(pending.colony, pending.host, "A", "accept", addresses, reason)
        if not addresses:
            return _reply(pending.query, dns.rcode.NXDOMAIN, size)
        return _reply(pending.query, dns.rcode.NOERROR, size, addresses)

    async def _forward(self, pending: _Pending, size: int) -> bytes:
        question = pending.query.question[0]
        qtype = dns.rdatatype.to_text(question.rdtype)
        reason = f"allowed by {pending.entry!r}" if pending.entry else "allowed (policy allow)"
        upstream = await self.net.names.forward(pending.host, question.rdtype)
        if upstream is None:
            self.net.on_query(pending.colony, pending.host, qtype, "accept", (), reason)
            return _reply(pending.query, dns.rcode.SERVFAIL, size)
        records = tuple(str(rd) for rrset in upstream.answer for rd in rrset)
        self.net.on_query(pending.colony, pending.host, qtype, "accept", records[:8], reason)
        response = dns.message.make_response(pending.query)
        response.flags |= dns.flags.RA
        response.set_rcode(upstream.rcode())
        response.answer = list(upstream.answer)
        return _wire(pending.query, response, size)


async def serve_dns(stub: DnsStub) -> None:
    """Run ``stub`` until cancelled; if its port is taken, say so (colonies get no DNS)."""
    try:
        await stub.run()
    except OSError as exc:
        log.error(
            "the DNS stub cannot listen on %s:%d (%s): colonies get no DNS",
            stub.address,
            stub.port,
            exc.strerror,
        )


class _Udp(asyncio.DatagramProtocol):
    def __init__(self, stub: DnsStub) -> None:
        self.stub = stub
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)  # uvloop's is its own

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        transport = self.transport
        if transport is None:
            return

        def send(answer: bytes) -> None:
            with contextlib.suppress(OSError):
                transport.sendto(answer, addr)

        try:
            self.stub.on_datagram(data, str(addr[0]), send)
        except Exception:
            log.exception("DNS question from %s failed", addr[0])

    def error_received(self, exc: Exception) -> None:
        pass  # an ICMP error for an answer: the colony went away


def _reply(
    query: dns.message.Message, rcode: int, size: int, addresses: tuple[str, ...] = ()
) -> bytes:
    response = dns.message.make_response(query)
    response.flags |= dns.flags.RA
    response.set_rcode(dns.rcode.Rcode(rcode))
    if addresses:
        question = query.question[0]
        rrset = dns.rrset.from_text_list(
            question.name, TTL, "IN", "A", list(addresses[:MAX_ADDRESSES])
        )
        response.answer.append(rrset)
    return _wire(query, response, size)


def _wire(query: dns.message.Message, response: dns.message.Message, size: int) -> bytes:
    """``response`` as bytes of at most what the question allows (else truncated: TC)."""
    limit = max(size, response.payload) if query.edns >= 0 else size
    try:
        return response.to_wire(max_size=limit)
    except dns.exception.TooBig:
        response.answer.clear()
        response.flags |= dns.flags.TC
        return response.to_wire(max_size=limit)


def _error(data: bytes, rcode: int) -> bytes | None:
    """A bare answer (the query's id, QR, ``rcode``) to a query that does not parse."""
    if len(data) < 12:
        return None
    ident, flags = struct.unpack("!HH", data[:4])
    if flags & 0x8000:
        return None
    return struct.pack("!HHHHHH", ident, 0x8000 | (flags & 0x0100) | rcode, 0, 0, 0, 0)


__all__ = ["DnsStub", "serve_dns"]
