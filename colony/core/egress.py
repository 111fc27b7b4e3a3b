"""The egress gate's decisions, as data: which host a connection asks for, which addresses
it may be sent to, and the reasons and refusals a colony gets. Pure, no I/O.

The gate (:mod:`colony.daemon.egress_gate`) receives TCP 80/443 connections of colonies
whose allowlist names hosts, or whose ``allow`` policy denies names: it reads the host
(:mod:`colony.core.sniff`), asks the policy, resolves the name itself and connects only to
addresses outside the host and the pool.

In ``allow`` mode a connection that names no host (a ClientHello without SNI, an encrypted
one (ECH), an HTTP Host that is an address) is not refused for that: it goes where the
colony dialled, unless that is an address of a denied name (:func:`plan_address`), and its
record says it passed unnamed.

Example:
    >>> print(render_refusal("web", "example.com", 443, "allowlist"))  # one line
    colony 'web': egress to example.com:443 is not allowed (policy allowlist); the owner
    can run: colony policy web --allow example.com:443
"""

from __future__ import annotations

import ipaddress
import shlex
import struct
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from colony.core.hostmatch import Verdict
from colony.core.http1 import render_error_page
from colony.core.policy import parse_target
from colony.core.sniff import Sniffed

GATED_PORTS = (80, 443)  # TCP to these goes through the gate; UDP to them is refused (QUIC)
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True)
class Asker:
    """The colony a connection comes from, as the gate needs it."""

    colony: str
    egress: str  # its policy's mode
    # the addresses of its denied names: (address, port or None: any, the deny entry)
    pinned: tuple[tuple[str, int | None, str], ...] = ()


@dataclass(frozen=True)
class GateRecord:
    """One verdict of the gate; ``reason`` is the line a refused colony is told."""

    colony: str
    host: str | None
    dest: str  # the original destination address
    port: int
    verdict: str  # accept | deny
    reason: str
    address: str | None = None  # where an admitted connection went


Decide = Callable[[str, str, int], Verdict]  # (colony, host name, port) → the policy's verdict
ALLOWED = Verdict(True, "")


def render_refusal(colony: str, host: str, port: int, egress: str) -> str:
    """The line of a name the policy does not allow: what happened and the fix."""
    return (
        f"colony '{colony}': egress to {host}:{port} is not allowed (policy {egress}); "
        f"the owner can run: colony policy {colony} --allow {host}:{port}"
    )


def render_denial(colony: str, host: str, port: int, egress: str, entry: str) -> str:
    """The line of a name a deny entry refuses: the entry and the fix (taking it out)."""
    return (
        f"colony '{colony}': egress to {host}:{port} is not allowed (policy {egress}, "
        f"deny entry {entry!r}); the owner can run: "
        f"colony policy {colony} --remove {shlex.quote(entry)}"
    )


def explain(colony: str, host: str, port: int, egress: str, verdict: Verdict) -> str:
    """The line of the policy's refusal of ``host:port``: the fix when an allow entry would
    admit it; the deny entry that refuses it otherwise, with its removal in ``allow`` mode
    (in an allowlist, taking it out may not be enough: the name needs an allow entry too)."""
    if verdict.entry is None:
        return render_refusal(colony, host, port, egress)
    if egress == "allow":
        return render_denial(colony, host, port, egress, verdict.entry)
    return f"colony '{colony}': egress to {host}:{port} is refused: {verdict.reason}"


def plan_pinned(
    deny: Iterable[str], resolved: Callable[[str], Iterable[str]]
) -> tuple[tuple[str, int | None, str], ...]:
    """The addresses of the denied names among ``deny`` (``resolved``: a name's addresses
    as the daemon pinned them), for :class:`Asker`: (address, port or None, entry)."""
    out = []
    for entry in deny:
        target = parse_target(entry)
        if target.host is not None:
            out += [(a, target.port, entry) for a in resolved(target.host)]
    return tuple(out)


def plan_address(asker: Asker, dest: str, port: int, what: str) -> Verdict:
    """A connection that names no host (``what`` says how), in ``allow`` mode: it may go to
    ``dest``, where the colony dialled, unless that is an address of a denied name (the
    firewall refuses those addresses on other ports; the gate keeps that here). An admitted
    one's reason is its record's line."""
    for address, only, entry in asker.pinned:
        if address == dest and only in (None, port):
            why = f"{what}, and {dest} is an address of the denied {entry!r}"
            return refused(asker.colony, dest, port, why)
    line = f"colony '{asker.colony}': egress to {dest}:{port} passed unnamed: {what}"
    return Verdict(True, f"{line} (policy {asker.egress})")


def refused(colony: str, host: str, port: int, why: str) -> Verdict:
    return Verdict(False, f"colony '{colony}': egress to {host}:{port} is refused: {why}")


def plan_host(colony: str, sniffed: Sniffed, dest: str, port: int, egress: str) -> Verdict:
    """Whether the connection names a host the gate can decide on (the name itself is the
    policy's to judge): an HTTP Host that agrees with the request target and the port, a
    ClientHello with a server name and not encrypted (ECH) in allowlist mode."""
    host = sniffed.host
    if sniffed.kind == "http":
        assert host is not None
        if sniffed.target is not None and sniffed.target != host:
            why = f"the request target names {sniffed.target} but the Host header {host}"
            return refused(colony, host, port, why)
        if sniffed.port is not None and sniffed.port != port:
            why = f"the Host header names port {sniffed.port} on a connection to port {port}"
            return refused(colony, host, port, why)
        return ALLOWED
    if sniffed.ech and egress == "allowlist":
        why = "its TLS ClientHello is encrypted (ECH): the server name cannot be checked"
        return refused(colony, host or dest, port, why)
    if host is None:
        if egress == "allowlist":
            why = "its TLS ClientHello names no server (SNI): nothing to check the policy against"
            return refused(colony, dest, port, why)
        return ALLOWED
    return ALLOWED


def is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def forbidden(
    address: str, host_addresses: Iterable[str], pool: ipaddress.IPv4Network
) -> str | None:
    """Why the gate must not connect to ``address`` (None: it may): the host itself, its
    loopback and link-local networks (cloud metadata), and the colonies' pool — whatever
    name resolved to it (DNS rebinding)."""
    ip: IPAddress = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_loopback:
        return "loopback"
    if ip.is_link_local:
        return "link-local (cloud metadata)"
    if ip.is_unspecified or ip.is_multicast or ip == ipaddress.IPv4Address("255.255.255.255"):
        return "not a host's address"
    if isinstance(ip, ipaddress.IPv4Address) and (ip in pool or ip.packed[0] == 0):
        return "a colony's" if ip in pool else "not a host's address"
    if str(ip) in set(host_addresses):
        return "this host's own"
    return None


# --- what a refused colony gets ------------------------------------------------------------


def render_forbidden(colony: str, host: str, port: int, address: str, why: str) -> Verdict:
    return refused(colony, host, port, f"{host} resolves to {address} ({why})")


def render_http_refusal(line: str) -> bytes:
    """A whole 403 response whose body is ``line``; it closes the connection."""
    body = (line + "\n").encode()
    head = (
        "HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain; charset=utf-8\r\n"
        f"Content-Length: {len(body)}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n"
    ).encode()
    return head + body


def render_http_error(status: int, line: str) -> bytes:
    return render_error_page(status, line)


ALERT_ACCESS_DENIED = 49
ALERT_HANDSHAKE_FAILURE = 40


def render_tls_alert(description: int = ALERT_ACCESS_DENIED) -> bytes:
    """A fatal TLS alert record, as a server sends it before its ServerHello."""
    return struct.pack("!BHHBB", 21, 0x0303, 2, 2, description)
