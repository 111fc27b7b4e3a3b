"""The egress gate's reading of first bytes (issue 16): HTTP Host, TLS SNI and ECH, limits."""

from __future__ import annotations

import ipaddress
import ssl
import struct

import pytest

from colony.core import egress
from colony.core.hostmatch import Verdict
from colony.core.sniff import MORE, TLS_LIMIT, Sniffed, Unreadable, sniff


def client_hello(server_hostname: str | None = None) -> bytes:
    """A real ClientHello, as Python's ssl module (OpenSSL) writes it."""
    ctx = ssl.create_default_context()
    if server_hostname is None:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    conn = ctx.wrap_bio(incoming, outgoing, server_hostname=server_hostname)
    with pytest.raises(ssl.SSLWantReadError):
        conn.do_handshake()
    return outgoing.read()


def record(body: bytes, ctype: int = 22) -> bytes:
    return struct.pack("!BHH", ctype, 0x0301, len(body)) + body


def hello(extensions: bytes, *, version: bytes = b"\x03\x03") -> bytes:
    body = version + bytes(32) + b"\x00" + b"\x00\x02\x13\x01" + b"\x01\x00"
    body += struct.pack("!H", len(extensions)) + extensions
    return record(b"\x01" + len(body).to_bytes(3, "big") + body)


def ext(kind: int, body: bytes) -> bytes:
    return struct.pack("!HH", kind, len(body)) + body


def sni(*names: bytes) -> bytes:
    entries = b"".join(b"\x00" + struct.pack("!H", len(n)) + n for n in names)
    return ext(0, struct.pack("!H", len(entries)) + entries)


def test_a_real_client_hello_names_its_server() -> None:
    """When OpenSSL greets pypi.org, the gate reads 'pypi.org' and no ECH."""
    assert sniff(client_hello("PyPI.org.")) == Sniffed("tls", "pypi.org")


def test_a_client_hello_without_sni_names_nothing() -> None:
    """When a client connects without server_hostname, there is no host to judge."""
    assert sniff(client_hello(None)) == Sniffed("tls", None)


def test_every_prefix_of_a_client_hello_asks_for_more() -> None:
    """When the ClientHello arrives a byte at a time, every prefix is MORE, the whole is done."""
    data = client_hello("files.pythonhosted.org")
    assert all(sniff(data[:n]) is MORE for n in range(len(data)))
    assert sniff(data + b"extra").host == "files.pythonhosted.org"  # type: ignore[union-attr]


def test_a_client_hello_over_two_records_is_gathered() -> None:
    """When a ClientHello's handshake message spans two records, both are read."""
    data = client_hello("a.example")
    body = data[5:]
    split = record(body[:40]) + record(body[40:])
    assert sniff(split) == Sniffed("tls", "a.example")
    assert sniff(split[:-1]) is MORE


def test_an_ech_client_hello_is_marked() -> None:
    """When a ClientHello carries encrypted_client_hello (0xfe0d), the gate knows."""
    got = sniff(hello(sni(b"public.example") + ext(0xFE0D, b"\x00" * 8)))
    assert got == Sniffed("tls", "public.example", ech=True)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (record(b"\x02\x00\x00\x00"), "not a ClientHello"),
        (b"\x16\x03\x01\x00\x00", "bad TLS record header"),
        (b"\x16\x02\x00\x00\x05hello", "bad TLS record header"),
        (hello(sni(b"a.example") + sni(b"b.example")), "repeated"),
        (hello(sni(b"a.example", b"b.example")), "names two servers"),
        (hello(sni(b"bad name!")), "expected a host name"),
        (hello(sni(b"\xff\xfe")), "not ASCII"),
        (hello(ext(0, b"\x00\x05\x00\x00\x09")), "truncated"),
        (hello(b"", version=b"\x02\x00"), "unknown TLS version"),
        (hello(ext(0, b"\x00\x00")), "without a host name"),
        (hello(b"")[:-2] + b"\x00\x05", "truncated"),
        (b"\x00\x01\x02", "neither an HTTP request nor a TLS ClientHello"),
    ],
)
def test_malformed_client_hellos_are_unreadable(data: bytes, message: str) -> None:
    """When a ClientHello is broken, sniff says why instead of guessing."""
    with pytest.raises(Unreadable, match=message):
        sniff(data)


def test_a_client_hello_past_the_limit_is_refused() -> None:
    """When a handshake message claims more than the limit, sniff stops early."""
    data = b"\x16\x03\x01\x40\x00\x01" + (TLS_LIMIT).to_bytes(3, "big") + bytes(100)
    with pytest.raises(Unreadable, match="longer than"):
        sniff(data)


def test_http_host_and_port() -> None:
    """When a request names its Host (with a port), sniff returns both."""
    got = sniff(b"GET / HTTP/1.1\r\nHost: Example.COM:8080\r\nAccept: */*\r\n\r\n")
    assert got == Sniffed("http", "example.com", 8080)
    assert sniff(b"GET / HTTP/1.1\r\nHost: example.com") is MORE
    assert sniff(b"GE") is MORE


def test_absolute_form_target_is_returned() -> None:
    """When the request target is absolute, its host comes back to be compared with Host."""
    got = sniff(b"GET http://other.test/x HTTP/1.1\r\nHost: ok.test\r\n\r\n")
    assert got == Sniffed("http", "ok.test", target="other.test")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"GET / HTTP/1.1\r\n\r\n", "exactly one Host"),
        (b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", "exactly one Host"),
        (b"GET / HTTP/1.1\r\nHost: a b\r\n\r\n", "expected a host name"),
        (b"GET / HTTP/1.1\r\nHost: a:99999\r\n\r\n", "bad port"),
        (b"GET / HTTP/9\r\nHost: a\r\n\r\n", "bad request line"),
        (b"GET ftp://x/ HTTP/1.1\r\nHost: a\r\n\r\n", "request target"),
        (b"A" * 40 + b"\r\n", "neither"),
        (b"GET / HTTP/1.1\r\nX: " + b"y" * 20000, "longer than 16 KiB"),
    ],
)
def test_malformed_requests_are_unreadable(data: bytes, message: str) -> None:
    """When a request head is broken, ambiguous or too long, sniff says why."""
    with pytest.raises(Unreadable, match=message):
        sniff(data)


# --- decisions --------------------------------------------------------------------------------


def test_the_refusal_line_names_the_fix() -> None:
    """When a name is not allowed, the line says so and gives the owner's command."""
    assert egress.render_refusal("web", "example.com", 443, "allowlist") == (
        "colony 'web': egress to example.com:443 is not allowed (policy allowlist); "
        "the owner can run: colony policy web --allow example.com:443"
    )
    response = egress.render_http_refusal("line")
    assert response.startswith(b"HTTP/1.1 403 Forbidden\r\n")
    assert response.endswith(b"\r\n\r\nline\n")
    assert egress.render_tls_alert() == b"\x15\x03\x03\x00\x02\x02\x31"


@pytest.mark.parametrize(
    ("sniffed", "port", "mode", "why"),
    [
        (Sniffed("http", "a.test", target="b.test"), 80, "allowlist", "request target names"),
        (Sniffed("http", "a.test", 8080), 80, "allowlist", "port 8080 on a connection"),
        (Sniffed("tls", None), 443, "allowlist", "names no server"),
        (Sniffed("tls", "a.test", ech=True), 443, "allowlist", "encrypted"),
    ],
)
def test_hosts_the_gate_cannot_judge_are_refused(
    sniffed: Sniffed, port: int, mode: str, why: str
) -> None:
    """When Host and target disagree, or TLS hides or omits its name, the gate refuses."""
    verdict = egress.plan_host("web", sniffed, "198.18.0.2", port, mode)
    assert not verdict.allowed
    assert why in verdict.reason
    assert verdict.reason.startswith("colony 'web': egress to ")


def test_hosts_the_gate_can_judge_pass_to_the_policy() -> None:
    """When the name is plain, plan_host leaves it to the policy."""
    assert egress.plan_host("w", Sniffed("http", "a.test", 80), "x", 80, "allowlist").allowed
    assert egress.plan_host("w", Sniffed("tls", "a.test"), "x", 443, "allowlist").allowed
    assert egress.plan_host("w", Sniffed("tls", None), "x", 443, "allow").allowed


@pytest.mark.parametrize(
    ("address", "why"),
    [
        ("127.0.0.53", "loopback"),
        ("::1", "loopback"),
        ("::ffff:127.0.0.1", "loopback"),
        ("169.254.169.254", "link-local"),
        ("fe80::1", "link-local"),
        ("0.0.0.0", "not a host's address"),
        ("0.1.2.3", "not a host's address"),
        ("224.0.0.1", "not a host's address"),
        ("10.213.0.13", "a colony's"),
        ("192.168.1.5", "this host's own"),
        ("198.18.0.2", None),
        ("2001:db8::1", None),
    ],
)
def test_forbidden_addresses(address: str, why: str | None) -> None:
    """When a name resolves to the host, its loopback, metadata or a colony, it is refused."""
    pool = ipaddress.IPv4Network("10.213.0.0/16")
    got = egress.forbidden(address, {"192.168.1.5"}, pool)
    assert got == why if why is None else (got or "").startswith(why)


def test_a_denied_name_says_which_entry_and_how_to_take_it_out() -> None:
    """When a deny entry refuses a name in allow mode, the line names the mode, the entry and
    the owner's command that removes it (quoted for a shell when it is a wildcard)."""
    verdict = Verdict(False, "x.evil.test:443 is denied by '*.evil.test'", "*.evil.test")
    assert egress.explain("web", "x.evil.test", 443, "allow", verdict) == (
        "colony 'web': egress to x.evil.test:443 is not allowed (policy allow, deny entry "
        "'*.evil.test'); the owner can run: colony policy web --remove '*.evil.test'"
    )
    plain = Verdict(False, "bad.test:80 is denied by 'bad.test'", "bad.test")
    assert egress.explain("web", "bad.test", 80, "allow", plain).endswith(
        "colony policy web --remove bad.test"
    )
    # in an allowlist, removing the entry may admit nothing: only the entry is named
    assert egress.explain("web", "bad.test", 80, "allowlist", plain) == (
        "colony 'web': egress to bad.test:80 is refused: bad.test:80 is denied by 'bad.test'"
    )


def test_unnamed_connections_in_allow_mode_pass_unless_to_a_denied_names_address() -> None:
    """When a connection names no host in allow mode, it passes with a record line, except to
    an address of a denied name (on its port, or any port when the entry has none)."""
    table = {"bad.test": ("198.18.0.7",), "worse.test": ("198.18.0.8",)}
    pinned = egress.plan_pinned(
        ["bad.test", "worse.test:443", "*.evil.test", "10.0.0.0/8"],
        lambda name: table.get(name, ()),
    )
    assert pinned == (("198.18.0.7", None, "bad.test"), ("198.18.0.8", 443, "worse.test:443"))
    asker = egress.Asker("web", "allow", pinned)
    no_sni = "its TLS ClientHello names no server (SNI)"
    passed = egress.plan_address(asker, "198.18.0.9", 443, no_sni)
    assert passed == Verdict(
        True, f"colony 'web': egress to 198.18.0.9:443 passed unnamed: {no_sni} (policy allow)"
    )
    assert egress.plan_address(asker, "198.18.0.8", 80, no_sni).allowed  # the entry is :443
    refused = egress.plan_address(asker, "198.18.0.7", 80, no_sni)
    assert not refused.allowed
    assert refused.reason == (
        f"colony 'web': egress to 198.18.0.7:80 is refused: {no_sni}, and 198.18.0.7 is an "
        "address of the denied 'bad.test'"
    )


def test_allow_mode_lets_hellos_without_a_checkable_name_through_plan_host() -> None:
    """When egress is allow, no SNI and ECH are left to the address check; in allowlist
    mode both are refused."""
    ech = Sniffed("tls", "public.test", ech=True)
    assert egress.plan_host("w", ech, "x", 443, "allow").allowed
    assert not egress.plan_host("w", ech, "x", 443, "allowlist").allowed
