"""The egress gate (issue 16): TCP 80/443 of colonies whose allowlist names hosts (or whose
``allow`` policy denies names), decided by the host name each connection asks for, with the
address the daemon resolved itself.

A colony's table redirects those connections here (:mod:`colony.isolation.firewall`, chain
``gate``). For each, the gate finds the colony by the source address, the port asked for
by the original destination (``SO_ORIGINAL_DST``), and reads the first bytes: an HTTP
request's ``Host`` or a TLS ClientHello's server name (:mod:`colony.core.sniff`). The policy
judges the name (``decide``); the gate resolves it (``resolve``: the daemon's resolver,
``COLONY_HOSTS_FILE`` first) and refuses if any address is the host's own, loopback,
link-local or a colony's (DNS rebinding), then connects to the first address that answers,
sends the bytes it read, and splices the rest both ways without reading it
(:mod:`colony.daemon.splice`). TLS is never decrypted; after the first request, plain HTTP
is not parsed either.

In ``allow`` mode a connection that names no host (no SNI, ECH, an address as Host) passes
to where the colony dialled, unless that is an address of a denied name; its record says so.
The host checks above hold in every mode.

Issue 17: a TLS connection to port 443 of one of the colony's secrets' hosts is the one
exception to "never decrypted": :mod:`colony.daemon.secret_tls` terminates it with the
colony's own CA and puts the secrets' values in (``_inject``); a plain request carrying a
placeholder where it does not belong is refused as a possible leak (``_leak``).

A refused HTTP request gets ``403`` with one line naming the fix; a refused TLS connection
gets an ``access_denied`` alert. Every verdict goes to ``report`` (the colony's log, its
connection records and the audit log).

Example:
    >>> gate = EgressGate(asker=net.asker, decide=decide, resolve=resolve, report=report,
    ...                   host_addresses=host_addresses, pool=pool)
    >>> await gate.start("0.0.0.0", gate_port(prefix))
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import resource
import socket
import ssl
import struct
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import replace

from colony.core import egress
from colony.core.egress import GATED_PORTS, Asker, Decide, GateRecord
from colony.core.hostmatch import Verdict
from colony.core.secrets import render_leak
from colony.core.sniff import MORE, Sniffed, Unreadable, sniff
from colony.daemon.peers import BACKLOG
from colony.daemon.secret_tls import SecretGate
from colony.daemon.splice import Splice

log = logging.getLogger("colony.gate")
SO_ORIGINAL_DST = 80  # linux/netfilter_ipv4.h
READ_TIMEOUT = 10.0  # seconds a colony has to send the request head or ClientHello
CONNECT_TIMEOUT = 10.0
PER_COLONY = 256  # open connections of one colony through the gate
FDS_PER_CONNECTION = 6  # two sockets, two pipes


def default_limit() -> int:
    """Connections through the gate in all: at most a third of the daemon's files."""
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    return max(64, soft // 3 // FDS_PER_CONNECTION)


def original_dst(sock: socket.socket) -> tuple[str, int]:
    """The destination the colony asked for, before the redirect (conntrack's record)."""
    raw = sock.getsockopt(socket.SOL_IP, SO_ORIGINAL_DST, 16)
    port, packed = struct.unpack_from("!2xH4s", raw)
    return socket.inet_ntoa(packed), port


class EgressGate:
    """Accepts the redirected connections and judges each (see the module docstring)."""

    def __init__(
        self,
        *,
        asker: Callable[[str], Asker | None],
        decide: Decide,
        resolve: Callable[[str], Awaitable[tuple[str, ...]]],
        report: Callable[[GateRecord], None],
        host_addresses: Callable[[], Iterable[str]],
        pool: ipaddress.IPv4Network,
        read_timeout: float = READ_TIMEOUT,
        connect_timeout: float = CONNECT_TIMEOUT,
        limit: int | None = None,
        secrets: SecretGate | None = None,
    ) -> None:
        self.secrets = secrets  # issue 17: connections that get a colony's secrets
        self.asker = asker
        self.decide = decide
        self.resolve = resolve
        self.report = report
        self.host_addresses = host_addresses
        self.pool = pool
        self.read_timeout = read_timeout
        self.connect_timeout = connect_timeout
        self.port: int | None = None
        self.limit = default_limit() if limit is None else limit
        self.open: Counter[str] = Counter()  # open connections per colony
        self.total = 0
        self.live: dict[str, dict[Splice | Intercepted, tuple[str, int]]] = {}  # colony → open
        self._listener: socket.socket | None = None
        self._accepting: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self, host: str, port: int) -> int:
        """Listen on ``host:port``; returns the port."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((host, port))
            sock.listen(BACKLOG)
            sock.setblocking(False)
        except OSError:
            sock.close()
            raise
        self._listener = sock
        self.port = sock.getsockname()[1]
        self._accepting = asyncio.get_running_loop().create_task(self._accept(sock))
        return self.port

    async def close(self) -> None:
        tasks = [t for t in (self._accepting, *self._tasks) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._listener is not None:
            self._listener.close()
            self._listener = None

    async def _accept(self, listener: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                conn, peer = await loop.sock_accept(listener)
            except OSError as exc:  # EMFILE and the like: the colonies wait, not the daemon
                log.error("egress gate: cannot accept: %s", exc)
                await asyncio.sleep(0.1)
                continue
            task = loop.create_task(self._serve(conn, str(peer[0])))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _serve(self, conn: socket.socket, peer: str) -> None:
        asker = self.asker(peer)
        try:
            if asker is None or self.total >= self.limit or self.open[asker.colony] >= PER_COLONY:
                return
            self.open[asker.colony] += 1
            self.total += 1
            try:
                await self._gate(conn, asker)
            finally:
                self.total -= 1
                self.open[asker.colony] -= 1
                if not self.open[asker.colony]:
                    del self.open[asker.colony]
        except OSError:
            pass  # the colony went away mid-way
        finally:
            conn.close()

    async def _gate(self, conn: socket.socket, asker: Asker) -> None:
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # spliced as it comes
        try:
            dest, port = original_dst(conn)
        except OSError:
            return  # not redirected: someone connected to the gate's port directly
        if port not in GATED_PORTS:
            return
        loop = asyncio.get_running_loop()
        first, sniffed = await self._read_head(conn, loop)
        if first is None:
            return
        base = GateRecord(asker.colony, None, dest, port, "deny", "")
        if not isinstance(sniffed, Sniffed):
            line = f"colony '{asker.colony}': egress to {dest}:{port} is refused: {sniffed}"
            await self._refuse(conn, loop, base, line, first[:1] == b"\x16")
            return
        is_tls = sniffed.kind == "tls"
        base = GateRecord(asker.colony, sniffed.host, dest, port, "deny", "")
        verdict, addresses = await self._judge(asker, sniffed, dest, port)
        if not verdict.allowed:
            await self._refuse(conn, loop, base, verdict.reason, is_tls)
            return
        leak = None if is_tls else self._leak(asker.colony, first, sniffed.host or dest, port)
        if leak is not None:
            await self._refuse(conn, loop, base, leak, is_tls)
            return
        upstream = await self._connect(addresses, port, loop)
        if upstream is None:
            line = (
                f"colony '{asker.colony}': egress to {sniffed.host or dest}:{port} failed: "
                f"no answer from {', '.join(addresses)}"
            )
            await self._refuse(conn, loop, base, line, is_tls, status=502)
            return
        secrets = self.secrets if is_tls and not sniffed.ech else None
        if secrets is not None and secrets.wants(asker.colony, sniffed.host, port):
            assert sniffed.host is not None
            await self._inject(conn, first, upstream, replace(base, address=addresses[0]))
            return
        splice = Splice(loop, conn, upstream)
        live = self.live.setdefault(asker.colony, {})
        if sniffed.host is not None and not egress.is_address(sniffed.host):
            live[splice] = (sniffed.host, port)
        try:
            accepted = replace(base, verdict="accept", reason=verdict.reason)
            self.report(replace(accepted, address=addresses[0]))
            await loop.sock_sendall(upstream, first)
            await splice.run()
        finally:
            live.pop(splice, None)
            if not live:
                self.live.pop(asker.colony, None)
            upstream.close()

    def _leak(self, colony: str, first: bytes, host: str, port: int) -> str | None:
        """The refusal of a plain request carrying a placeholder of a secret not for
        ``host`` (issue 17), or None."""
        key = None if self.secrets is None else self.secrets.leak(colony, first, host)
        return None if key is None else render_leak(colony, key, host, port)

    async def _inject(
        self, conn: socket.socket, first: bytes, upstream: socket.socket, rec: GateRecord
    ) -> None:
        """A connection to a secret's host: TLS terminated, the secrets put in (issue 17)."""
        assert self.secrets is not None
        assert rec.host is not None
        host = rec.host

        def on_leak(key: str) -> str:
            line = render_leak(rec.colony, key, host, rec.port)
            self.report(replace(rec, reason=line))
            return line

        self.report(replace(rec, verdict="accept"))
        handle = Intercepted(asyncio.current_task())
        live = self.live.setdefault(rec.colony, {})
        live[handle] = (host, rec.port)  # closed like a splice when the policy drops it
        try:
            await self.secrets.run(conn, first, upstream, rec.colony, host, on_leak)
        except (OSError, ssl.SSLError, TimeoutError) as exc:
            log.info("egress gate: colony %s to %s: %s", rec.colony, host, exc)
        finally:
            live.pop(handle, None)
            if not live:
                self.live.pop(rec.colony, None)
            upstream.close()

    def recheck(self, colony: str) -> None:
        """Judge ``colony``'s open connections again (its policy changed): those the policy no
        longer allows are closed, like the firewall's next packet of a removed entry."""
        for splice, (host, port) in list(self.live.get(colony, {}).items()):
            if not self.decide(colony, host, port).allowed:
                splice.fail()

    async def _read_head(
        self, conn: socket.socket, loop: asyncio.AbstractEventLoop
    ) -> tuple[bytes | None, Sniffed | str]:
        """The bytes read and what they ask for, or why they cannot be read (None: the colony
        sent nothing in time)."""
        data = b""
        deadline = loop.time() + self.read_timeout
        while True:
            try:
                chunk = await asyncio.wait_for(
                    loop.sock_recv(conn, 16 * 1024), deadline - loop.time()
                )
            except TimeoutError:
                chunk = b""
            if not chunk:
                return None, ""
            data += chunk
            try:
                got = sniff(data)
            except Unreadable as exc:
                return data, str(exc)
            if got is not MORE:
                assert isinstance(got, Sniffed)
                return data, got

    async def _judge(
        self, asker: Asker, sniffed: Sniffed, dest: str, port: int
    ) -> tuple[Verdict, tuple[str, ...]]:
        verdict = egress.plan_host(asker.colony, sniffed, dest, port, asker.egress)
        if not verdict.allowed:
            return verdict, ()
        host = sniffed.host
        named = host is not None and not egress.is_address(host)
        if host is not None and not named and asker.egress != "allow":
            # an address is no name: IP entries are the firewall's
            line = egress.render_refusal(asker.colony, host, port, asker.egress)
            return Verdict(False, line), ()
        if host is not None and named:  # an ECH hello's outer name too
            judged = self.decide(asker.colony, host, port)
            if not judged.allowed:
                line = egress.explain(asker.colony, host, port, asker.egress, judged)
                return Verdict(False, line), ()
        verdict = egress.ALLOWED
        unnamed = _unnamed(sniffed, named)
        if unnamed is not None:  # where the mode lets it pass (allow): where the colony asked
            verdict = egress.plan_address(asker, dest, port, unnamed)
            if not verdict.allowed:
                return verdict, ()
            addresses: tuple[str, ...] = (dest,)
        else:
            assert host is not None
            addresses = await self.resolve(host)
            if not addresses:
                why = f"{host} does not resolve"
                return egress.refused(asker.colony, host, port, why), ()
        own = frozenset(self.host_addresses())
        for address in addresses:
            bad = egress.forbidden(address, own, self.pool)
            if bad is not None:
                name = host if named and host is not None else dest
                return egress.render_forbidden(asker.colony, name, port, address, bad), ()
        return verdict, addresses

    async def _connect(
        self, addresses: tuple[str, ...], port: int, loop: asyncio.AbstractEventLoop
    ) -> socket.socket | None:
        # IPv4 first: colonies have only IPv4, and a host's IPv6 may route nowhere
        for address in sorted(addresses, key=lambda a: ":" in a):
            family = socket.AF_INET6 if ":" in address else socket.AF_INET
            sock = socket.socket(family, socket.SOCK_STREAM)
            sock.setblocking(False)
            try:
                await asyncio.wait_for(
                    loop.sock_connect(sock, (address, port)), self.connect_timeout
                )
            except (OSError, TimeoutError):
                sock.close()
                continue
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            return sock
        return None

    async def _refuse(
        self,
        conn: socket.socket,
        loop: asyncio.AbstractEventLoop,
        base: GateRecord,
        line: str,
        tls: bool,
        status: int = 403,
    ) -> None:
        self.report(replace(base, reason=line))
        if tls:
            answer = egress.render_tls_alert()
        elif status == 403:
            answer = egress.render_http_refusal(line)
        else:
            answer = egress.render_http_error(status, line)
        with contextlib.suppress(OSError, TimeoutError):
            await asyncio.wait_for(loop.sock_sendall(conn, answer), 5)
            conn.shutdown(socket.SHUT_WR)
            # Let the colony read the answer before the close: unread bytes would reset it.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(_drain(conn, loop), 2)


class Intercepted:
    """An open connection the gate put secrets in (issue 17), as :meth:`EgressGate.recheck`
    ends it: its task is cancelled, which closes both sockets."""

    def __init__(self, task: asyncio.Task[object] | None) -> None:
        self.task = task

    def fail(self) -> None:
        if self.task is not None:
            self.task.cancel()


def _unnamed(sniffed: Sniffed, named: bool) -> str | None:
    """How a connection names no host the gate can trust (None: it names one)."""
    if sniffed.ech:
        return "its TLS ClientHello is encrypted (ECH)"
    if sniffed.host is None:
        return "its TLS ClientHello names no server (SNI)"
    if not named:
        return f"its Host header is an address ({sniffed.host})"
    return None


async def _drain(conn: socket.socket, loop: asyncio.AbstractEventLoop) -> None:
    while await loop.sock_recv(conn, 64 * 1024):
        pass


def parse_local_addresses(fib_trie: str, if_inet6: str) -> frozenset[str]:
    """The host's own addresses: the ``host LOCAL`` entries of /proc/net/fib_trie and every
    address of /proc/net/if_inet6."""
    found: set[str] = set()
    last = None
    for line in fib_trie.splitlines():
        text = line.strip()
        if text.startswith("|--"):
            last = text[3:].strip()
        elif last is not None and text.endswith("host LOCAL"):
            found.add(last)
    for line in if_inet6.splitlines():
        fields = line.split()
        if fields and len(fields[0]) == 32:
            with contextlib.suppress(ValueError):
                found.add(str(ipaddress.IPv6Address(bytes.fromhex(fields[0]))))
    return frozenset(found)


class CachedNames:
    """A name's addresses as ``resolve`` gives them, kept ``ttl`` seconds (at most ``size``
    names): a connection costs no lookup when its name was looked up lately."""

    def __init__(
        self,
        resolve: Callable[[Iterable[str]], Awaitable[dict[str, tuple[str, ...]]]],
        ttl: float = 5.0,
        size: int = 4096,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.resolve, self.ttl, self.size, self.clock = resolve, ttl, size, clock
        self._cache: dict[str, tuple[float, tuple[str, ...]]] = {}

    async def __call__(self, name: str) -> tuple[str, ...]:
        now = self.clock()
        hit = self._cache.get(name)
        if hit is not None and now - hit[0] < self.ttl:
            return hit[1]
        found = (await self.resolve([name])).get(name, ())
        if len(self._cache) >= self.size:
            self._cache.clear()
        self._cache[name] = (now, found)
        return found


class HostAddresses:
    """The host's own addresses, read again when older than ``ttl`` seconds."""

    def __init__(self, ttl: float = 2.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl, self.clock = ttl, clock
        self._at = -ttl
        self._found: frozenset[str] = frozenset()

    def __call__(self) -> frozenset[str]:
        now = self.clock()
        if now - self._at >= self.ttl:
            texts = []
            for path in ("/proc/net/fib_trie", "/proc/net/if_inet6"):
                try:
                    with open(path) as f:
                        texts.append(f.read())
                except OSError:
                    texts.append("")
            self._found, self._at = parse_local_addresses(*texts), now
        return self._found
