"""nf_tables over netlink, for the few operations that must not cost as much as the ruleset.

The ``nft`` tool (1.0.6 on Debian 12) fetches a cache of every table before most commands:
with 200 colony tables, ``nft add element`` asks the kernel for every set of every table and
``nft list tables`` takes seconds. What a colony's lifetime repeats (replacing set contents
on a policy change, deleting its table, listing tables, reading a table's comment) is sent
here as netlink messages instead, at a cost independent of the other colonies.

A new colony's chains and rules are written by ``nft`` itself, but where its cache is empty:
in the colony's own, still empty, network namespace. :func:`take_tables` then reads them back
from there as netlink messages (and deletes them there), and :func:`recreate` turns each into
the message that makes it again on the host (issue 15: spawn flat in the number of colonies).

The ``render_*``/``parse_*`` functions are pure; :func:`transact`, :func:`dump` and
:func:`take_tables` own the socket.

Example:
    >>> transact([*render_flush_set("colony-web", "allow4"),
    ...           render_add_elements("colony-web", "allow4", [interval4(net)])])
"""

from __future__ import annotations

import atexit
import contextlib
import errno
import ipaddress
import itertools
import os
import socket
import struct
import threading
from collections.abc import Iterable, Iterator, Sequence

from colony import host
from colony.errors import HostError

NETLINK_NETFILTER = 12
NFNL_SUBSYS_NFTABLES = 10
NFNL_MSG_BATCH_BEGIN, NFNL_MSG_BATCH_END = 0x10, 0x11
NFT_MSG_NEWTABLE, NFT_MSG_GETTABLE, NFT_MSG_DELTABLE = 0, 1, 2
NFT_MSG_NEWCHAIN, NFT_MSG_GETCHAIN = 3, 4
NFT_MSG_NEWRULE, NFT_MSG_GETRULE = 6, 7
NFT_MSG_NEWSET, NFT_MSG_GETSET = 9, 10
NFT_MSG_GETSETELEM = 13
NFT_MSG_NEWSETELEM, NFT_MSG_DELSETELEM = 12, 14
NLMSG_ERROR, NLMSG_DONE = 2, 3
NLM_F_REQUEST, NLM_F_MULTI, NLM_F_ACK, NLM_F_DUMP, NLM_F_CREATE = 0x1, 0x2, 0x4, 0x300, 0x400
NLM_F_APPEND = 0x800
NLA_F_NESTED = 0x8000
NFPROTO_INET = 1

NFTA_TABLE_NAME, NFTA_TABLE_USERDATA = 1, 6
NFTA_SET_ELEM_LIST_TABLE, NFTA_SET_ELEM_LIST_SET, NFTA_SET_ELEM_LIST_ELEMENTS = 1, 2, 3
NFTA_LIST_ELEM = 1
NFTA_SET_ELEM_KEY, NFTA_SET_ELEM_FLAGS, NFTA_SET_ELEM_USERDATA = 1, 3, 6
NFTA_SET_ELEM_KEY_END = 10
NFTA_DATA_VALUE = 1
NFT_SET_ELEM_INTERVAL_END = 1
UDATA_TABLE_COMMENT = 0
UDATA_ELEM_FLAGS, ELEM_F_INTERVAL_OPEN = 1, 1
IFNAMSIZ = 16
NFTA_SET_TABLE, NFTA_SET_NAME, NFTA_SET_ID = 1, 2, 10
# The attributes of a dumped object that make it again. Left out: what only the kernel sets
# (handles, use counts, positions, ids).
RECREATE: dict[int, frozenset[int]] = {
    NFT_MSG_NEWTABLE: frozenset({1, 2, 6}),  # name, flags, userdata
    NFT_MSG_NEWCHAIN: frozenset({1, 3, 4, 5, 7, 12}),  # table, name, hook, policy, type, udata
    NFT_MSG_NEWRULE: frozenset({1, 2, 4, 7}),  # table, chain, expressions, userdata
    # table, name, flags, key type/len, data type/len, policy, desc, timeout, gc interval,
    # userdata, object type, expressions
    NFT_MSG_NEWSET: frozenset({1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 12, 13, 15, 17, 18}),
    NFT_MSG_NEWSETELEM: frozenset({1, 2, 3}),  # table, set, elements
}
BATCH = 64  # elements per message, far below the netlink message size limit

_HDR = struct.Struct("=IHHII")
_seq = itertools.count(int.from_bytes(os.urandom(2), "big") << 8)


# --- encoding (pure) --------------------------------------------------------------------------


def _attr(kind: int, payload: bytes) -> bytes:
    size = 4 + len(payload)
    return struct.pack("=HH", size, kind) + payload + b"\0" * (-size % 4)


def _nested(kind: int, *parts: bytes) -> bytes:
    return _attr(kind | NLA_F_NESTED, b"".join(parts))


def _string(kind: int, text: str) -> bytes:
    return _attr(kind, text.encode() + b"\0")


def _message(kind: int, flags: int, body: bytes, family: int = NFPROTO_INET) -> bytes:
    payload = struct.pack("!BBH", family, 0, 0) + body
    return _HDR.pack(16 + len(payload), (NFNL_SUBSYS_NFTABLES << 8) | kind, flags, 0, 0) + payload


def _value(data: bytes) -> bytes:
    return _attr(NFTA_DATA_VALUE, data)


Element = bytes  # one encoded NFTA_LIST_ELEM


def element(
    key: bytes, *, key_end: bytes | None = None, end: bool = False, open_end: bool = False
) -> Element:
    """One set element: its key, and for intervals its end key or interval-end flag."""
    parts = [_nested(NFTA_SET_ELEM_KEY, _value(key))]
    if key_end is not None:
        parts.append(_nested(NFTA_SET_ELEM_KEY_END, _value(key_end)))
    if end:
        parts.append(_attr(NFTA_SET_ELEM_FLAGS, struct.pack("!I", NFT_SET_ELEM_INTERVAL_END)))
    if open_end:  # what nft writes for a range reaching the last address (shown as a prefix)
        udata = struct.pack("=BBI", UDATA_ELEM_FLAGS, 4, ELEM_F_INTERVAL_OPEN)
        parts.append(_attr(NFTA_SET_ELEM_USERDATA, udata))
    return _nested(NFTA_LIST_ELEM, *parts)


def port_key(port: int) -> bytes:
    """A port as a concatenation field: network order, padded to 4 bytes."""
    return struct.pack("!H", port) + b"\0\0"


def ifname_key(name: str) -> bytes:
    return name.encode().ljust(IFNAMSIZ, b"\0")


def intervals4(networks: Iterable[ipaddress.IPv4Network]) -> list[Element]:
    """Elements of an ``ipv4_addr`` interval set, laid out as nft does: sorted ranges, each a
    start and an end marker one past it, a leading end marker at 0.0.0.0, an open last one."""
    nets = sorted(ipaddress.collapse_addresses(networks))
    out: list[Element] = []
    if nets and int(nets[0].network_address) != 0:
        out.append(element(bytes(4), end=True))
    for net in nets:
        last = int(net.broadcast_address)
        is_open = last == 2**32 - 1
        out.append(element(net.network_address.packed, open_end=is_open))
        if not is_open:
            out.append(element((last + 1).to_bytes(4, "big"), end=True))
    return out


def ranges4_ports(pairs: Iterable[tuple[ipaddress.IPv4Network, int]]) -> list[Element]:
    """Elements of an ``ipv4_addr . inet_service`` interval set: key and key end."""
    return [
        element(
            net.network_address.packed + port_key(port),
            key_end=net.broadcast_address.packed + port_key(port),
        )
        for net, port in pairs
    ]


def addresses4(addresses: Iterable[ipaddress.IPv4Address]) -> list[Element]:
    return [element(a.packed) for a in addresses]


def ports(values: Iterable[int]) -> list[Element]:
    """Elements of an ``inet_service`` set (a lone port: two bytes, network order)."""
    return [element(struct.pack("!H", p)) for p in values]


def ifname_ports(pairs: Iterable[tuple[str, int]]) -> list[Element]:
    return [element(ifname_key(name) + port_key(port)) for name, port in pairs]


def render_flush_set(table: str, name: str) -> bytes:
    """Remove every element of set ``name`` (a delete without elements)."""
    body = _string(NFTA_SET_ELEM_LIST_TABLE, table) + _string(NFTA_SET_ELEM_LIST_SET, name)
    return _message(NFT_MSG_DELSETELEM, NLM_F_REQUEST | NLM_F_ACK, body)


def render_add_elements(table: str, name: str, elements: Sequence[Element]) -> list[bytes]:
    """Messages adding ``elements`` to set ``name``, in chunks."""
    head = _string(NFTA_SET_ELEM_LIST_TABLE, table) + _string(NFTA_SET_ELEM_LIST_SET, name)
    flags = NLM_F_REQUEST | NLM_F_CREATE | NLM_F_ACK
    return [
        _message(
            NFT_MSG_NEWSETELEM,
            flags,
            head + _nested(NFTA_SET_ELEM_LIST_ELEMENTS, *elements[i : i + BATCH]),
        )
        for i in range(0, len(elements), BATCH)
    ]


def render_delete_table(table: str) -> bytes:
    return _message(NFT_MSG_DELTABLE, NLM_F_REQUEST | NLM_F_ACK, _string(NFTA_TABLE_NAME, table))


def render_get_table(table: str | None = None) -> bytes:
    """A request for one table, or (None) a dump of every inet table."""
    if table is None:
        return _message(NFT_MSG_GETTABLE, NLM_F_REQUEST | NLM_F_DUMP, b"")
    return _message(NFT_MSG_GETTABLE, NLM_F_REQUEST | NLM_F_ACK, _string(NFTA_TABLE_NAME, table))


def _batch(messages: Sequence[bytes], first_seq: int) -> tuple[bytes, list[int]]:
    """Wrap ``messages`` in a batch (one transaction), numbering each; the seqs to expect."""
    begin = struct.pack("!BBH", 0, 0, NFNL_SUBSYS_NFTABLES)
    framed = [_HDR.pack(20, NFNL_MSG_BATCH_BEGIN, NLM_F_REQUEST, first_seq, 0) + begin]
    seqs = []
    for offset, message in enumerate(messages, start=1):
        seq = first_seq + offset
        seqs.append(seq)
        framed.append(message[:8] + struct.pack("=I", seq) + message[12:])
    end_seq = first_seq + len(messages) + 1
    framed.append(_HDR.pack(20, NFNL_MSG_BATCH_END, NLM_F_REQUEST, end_seq, 0) + begin)
    return b"".join(framed), seqs


# --- decoding (pure) --------------------------------------------------------------------------


def _messages(data: bytes) -> Iterator[tuple[int, int, int, bytes]]:
    """(type, flags, seq, payload) of each netlink message in ``data``."""
    offset = 0
    while offset + _HDR.size <= len(data):
        size, kind, flags, seq, _ = _HDR.unpack_from(data, offset)
        if size < _HDR.size:
            return
        yield kind, flags, seq, data[offset + _HDR.size : offset + size]
        offset += (size + 3) & ~3


def _raw_attrs(data: bytes) -> Iterator[tuple[int, bytes]]:
    """(type without flags, the whole attribute with its header and padding) of each."""
    offset = 0
    while offset + 4 <= len(data):
        size, kind = struct.unpack_from("=HH", data, offset)
        if size < 4:
            return
        end = offset + ((size + 3) & ~3)
        yield kind & 0x3FFF, data[offset:end].ljust(end - offset, b"\0")
        offset = end


def recreate(kind: int, payload: bytes, ident: int = 0) -> bytes:
    """The message that makes again the object a dump answered with ``payload`` (a NEW*
    message of ``kind``): its attributes but those only the kernel sets (:data:`RECREATE`).
    Rules are appended to their chain, so a dump's order is kept; a set gets ``ident``, the
    id the kernel asks of a new set (unique in its batch)."""
    keep = RECREATE[kind]
    body = b"".join(raw for attr, raw in _raw_attrs(payload[4:]) if attr in keep)
    if kind == NFT_MSG_NEWSET:
        body += _attr(NFTA_SET_ID, struct.pack("!I", ident))
    flags = NLM_F_REQUEST | NLM_F_CREATE | NLM_F_ACK
    if kind == NFT_MSG_NEWRULE:
        flags |= NLM_F_APPEND
    return _message(kind, flags, body)


def _name(payload: bytes, attr: int) -> str:
    return _attrs(payload[4:]).get(attr, b"").split(b"\0", 1)[0].decode()


def render_dump(kind: int, body: bytes = b"") -> bytes:
    """A dump request of every object of ``kind`` (GET*) of the inet family."""
    return _message(kind, NLM_F_REQUEST | NLM_F_DUMP, body)


def _attrs(data: bytes) -> dict[int, bytes]:
    out, offset = {}, 0
    while offset + 4 <= len(data):
        size, kind = struct.unpack_from("=HH", data, offset)
        if size < 4:
            break
        out[kind & 0x3FFF] = data[offset + 4 : offset + size]
        offset += (size + 3) & ~3
    return out


def parse_table(payload: bytes) -> tuple[str, str | None]:
    """(name, comment) of a NEWTABLE message's payload."""
    attrs = _attrs(payload[4:])
    name = attrs.get(NFTA_TABLE_NAME, b"").split(b"\0", 1)[0].decode()
    comment, udata = None, attrs.get(NFTA_TABLE_USERDATA, b"")
    offset = 0
    while offset + 2 <= len(udata):
        kind, size = udata[offset], udata[offset + 1]
        if kind == UDATA_TABLE_COMMENT:
            comment = udata[offset + 2 : offset + 2 + size].split(b"\0", 1)[0].decode()
        offset += 2 + size
    return name, comment


# --- the socket ---------------------------------------------------------------------------------


def _socket(netns_path: str | None = None) -> socket.socket:
    try:
        if netns_path is None:
            sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
        else:
            sock = host.socket_in_netns(
                netns_path, socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER
            )
        sock.bind((0, 0))
    except OSError as exc:
        raise HostError(f"cannot open an nf_tables netlink socket: {exc.strerror}") from exc
    sock.settimeout(5)
    return sock


_shared: list[socket.socket] = []  # the host namespace's socket, once opened
_shared_lock = threading.Lock()


@contextlib.contextmanager
def _host_socket() -> Iterator[socket.socket]:
    """The socket in the host's namespace, kept open and used by one thread at a time:
    closing a netfilter netlink socket waits ~7 ms for the kernel, longer than what is sent
    on it. A socket that saw an error is closed, so nothing left unread on it can answer a
    later request."""
    with _shared_lock:
        if not _shared:
            _shared.append(_socket())
        sock = _shared[0]
        try:
            yield sock
        except BaseException:
            _shared.clear()
            sock.close()
            raise


def _close_shared() -> None:
    with _shared_lock:
        for sock in _shared:
            sock.close()
        _shared.clear()


atexit.register(_close_shared)


def _close_later(sock: socket.socket) -> None:
    threading.Thread(target=sock.close, name="nftnl-close", daemon=True).start()


def _recv(sock: socket.socket, what: str) -> bytes:
    try:
        return sock.recv(1 << 20)
    except OSError as exc:  # a timeout included: the kernel never answered
        raise HostError(f"nf_tables did not answer while trying to {what}: {exc}") from exc


def _error(code: int, what: str) -> HostError:
    name = errno.errorcode.get(code, "?")
    return HostError(f"nf_tables refused to {what}: {os.strerror(code)} ({name})")


def transact(messages: Sequence[bytes], what: str = "change a colony's sets") -> None:
    """Send ``messages`` as one batch: the kernel applies all of them or none.

    Raises:
        HostError: naming the first error the kernel answered.
    """
    if messages:
        with _host_socket() as sock:
            _transact_on(sock, messages, what)


def _transact_on(sock: socket.socket, messages: Sequence[bytes], what: str) -> None:
    first = next(_seq) * 1024 % 2**31
    batch, seqs = _batch(messages, first)
    waiting = set(seqs)
    sock.sendall(batch)
    while waiting:
        for kind, _flags, seq, payload in _messages(_recv(sock, what)):
            if kind == NLMSG_ERROR and seq in waiting:
                code = -struct.unpack_from("=i", payload)[0]
                if code:
                    raise _error(code, what)
                waiting.discard(seq)


def dump(request: bytes, what: str) -> list[bytes]:
    """Payloads the kernel answers to a get request (a dump or a single object).

    Raises:
        HostError: the kernel answered an error (ENOENT for a missing object included).
    """
    with _host_socket() as sock:
        return _dump_on(sock, request, what)


def _dump_on(sock: socket.socket, request: bytes, what: str) -> list[bytes]:
    seq = next(_seq) * 1024 % 2**31
    out: list[bytes] = []
    sock.sendall(request[:8] + struct.pack("=I", seq) + request[12:])
    while True:
        for kind, _flags, got, payload in _messages(_recv(sock, what)):
            if got != seq:
                continue  # an answer to an earlier request
            if kind == NLMSG_DONE:
                return out
            if kind == NLMSG_ERROR:
                code = -struct.unpack_from("=i", payload)[0]
                if code:
                    raise _error(code, what)
                return out
            out.append(payload)


def take_tables(netns_path: str) -> list[bytes]:
    """Read every inet table of the network namespace ``netns_path`` as the messages that
    make it again (tables, sets with their elements, chains, then rules in order), and delete
    those tables there.

    Raises:
        HostError: the namespace cannot be entered or the kernel answered an error.
    """
    what = f"read the tables of {netns_path}"
    sock = _socket(netns_path)
    try:
        tables = _dump_on(sock, render_get_table(), what)
        messages = [recreate(NFT_MSG_NEWTABLE, p) for p in tables]
        for ident, payload in enumerate(_dump_on(sock, render_dump(NFT_MSG_GETSET), what), 1):
            messages.append(recreate(NFT_MSG_NEWSET, payload, ident))
            body = _string(NFTA_SET_ELEM_LIST_TABLE, _name(payload, NFTA_SET_TABLE))
            body += _string(NFTA_SET_ELEM_LIST_SET, _name(payload, NFTA_SET_NAME))
            for elements in _dump_on(sock, render_dump(NFT_MSG_GETSETELEM, body), what):
                if NFTA_SET_ELEM_LIST_ELEMENTS in _attrs(elements[4:]):  # an empty set has none
                    messages.append(recreate(NFT_MSG_NEWSETELEM, elements))
        for kind, get in ((NFT_MSG_NEWCHAIN, NFT_MSG_GETCHAIN), (NFT_MSG_NEWRULE, NFT_MSG_GETRULE)):
            messages += [recreate(kind, p) for p in _dump_on(sock, render_dump(get), what)]
        names = [parse_table(p)[0] for p in tables]
        _transact_on(sock, [render_delete_table(n) for n in names], f"clear {netns_path}")
    finally:
        _close_later(sock)
    return messages
