"""nftables: one table ``inet <prefix>-<name>`` per colony, rendered as text, applied atomically.

The table lives in the host's namespace and matches on the colony's veth, so nothing inside
the colony (not even root there) can see or change it. Its chains are the same for every
policy; the policy is data in its sets, so a policy change replaces set contents only:

- ``postrouting``: NAT of the colony's traffic to the outside (not to other colonies);
- ``prerouting``: every DNS query the colony sends (port 53, UDP and TCP, to any address)
  is redirected to Mycelium's DNS stub (:mod:`colony.daemon.dnsstub`), which listens on
  :func:`dns_port` of the host: the colony's gateway answers it;
- ``input`` → ``host``: what the colony may send to the host's own addresses: answers to
  connections the host opened and the DNS queries redirected to the stub; a spoofed source
  is dropped (the stub knows the colony by its address);
- ``forward`` → ``egress``: outbound, in order: answers pass, other colonies are left to
  their own ``ingress``, IPv6 is refused (colonies have IPv4 only), DNS refused (none is
  left to forward: it all went to the stub), ``deny4``/``denyp4`` refused,
  ``allow4``/``allowp4`` admitted (``0.0.0.0/0`` when egress is "allow"), the rest refused;
  → ``ingress``: new connections in only from the peers and ports in ``exposed``;
- ``admit``/``refuse``: the verdicts, each logging new connections to the daemon's NFLOG
  group for connection records; a refused TCP connection gets a reset (it fails at once);
- ``prerouting`` also (issue 16): when ``gated`` holds 80 and 443 (an allowlist naming
  hosts, or ``allow`` with deny entries naming hosts), new TCP connections to those ports
  outside the pool are redirected to the daemon's egress gate (:func:`gate_port`) on the
  colony's gateway address, except to ``direct4``/``directp4`` (the IP and CIDR entries of
  the allowlist and of deny), which the chains above decide as before; ``host`` admits the
  redirected connections to the gate's port only, and ``egress`` refuses UDP to those ports
  (QUIC falls back to TCP, through the gate). The addresses of denied *names* are in
  ``deny4``/``denyp4`` but not in ``direct4``: TCP 80/443 to them goes to the gate, which
  decides by name (another site on the same address passes); every other port and
  protocol to them is refused by address, as without the gate.

Rendering is pure; ``colony debug render-firewall NAME`` shows the same text.

Example:
    >>> create_table(slot, rules)                    # a new colony: chains and sets
    >>> apply_sets(slot, other_rules)                # a policy change: sets only
"""

from __future__ import annotations

import ipaddress
import zlib
from collections.abc import Iterable
from dataclasses import dataclass

from colony import host
from colony.core.egress import GATED_PORTS
from colony.core.model import Slot
from colony.core.policy import Rules
from colony.errors import HostError
from colony.isolation import nftnl

FAMILY = "inet"
EGRESS_CHAIN = "egress"
VERSION = 3  # of the chains below; a table of another version is replaced whole
HOST_VERSION = 1  # of the daemon's own table (loaded anew, whole, at every start)
LOCKED = Rules()  # what a colony gets until the daemon loads its policy: no egress
ACCEPT_PREFIX = "accept"
DENY_PREFIX = "deny"
TCP_UDP = "meta l4proto { tcp, udp }"
GROUP_BASE, GROUP_SPAN = 4096, 57344  # NFLOG groups of daemons: 4096-61439
DNS_BASE, DNS_SPAN = 20000, 10000  # DNS stub ports of daemons: below the ephemeral range
SETS: dict[str, str] = {  # name → type
    "allow4": "ipv4_addr",
    "allowp4": "ipv4_addr . inet_service",
    "deny4": "ipv4_addr",
    "denyp4": "ipv4_addr . inet_service",
    "exposed": "ifname . inet_service",
    "direct4": "ipv4_addr",
    "directp4": "ipv4_addr . inet_service",
    "gated": "inet_service",
}
INTERVAL = ("allow4", "allowp4", "deny4", "denyp4", "direct4", "directp4")
EVERYWHERE = ipaddress.IPv4Network("0.0.0.0/0")

Net4 = ipaddress.IPv4Network


def log_group(prefix: str) -> int:
    """The NFLOG group of a daemon's tables: fixed by its prefix, so tables outlive it."""
    return GROUP_BASE + zlib.crc32(prefix.encode()) % GROUP_SPAN


def dns_port(prefix: str) -> int:
    """The port of a daemon's DNS stub on the host: fixed by its prefix, like its NFLOG
    group, so its tables stay current across restarts."""
    return DNS_BASE + zlib.crc32(prefix.encode()) % DNS_SPAN


def gate_port(prefix: str) -> int:
    """The port of a daemon's egress gate (issue 16): fixed by its prefix like its DNS stub's,
    never the same as that one."""
    port = DNS_BASE + zlib.crc32(b"gate " + prefix.encode()) % DNS_SPAN
    return port + 1 if port == dns_port(prefix) else port


def comment(slot: Slot, mark: str = "") -> str:
    """What a current table of ``slot`` says of itself (its chains depend on nothing else),
    ending with the mark of the daemon that made it (:mod:`colony.isolation.marks`)."""
    text = (
        f"colony network v{VERSION} group {log_group(slot.prefix)} veth {slot.veth} "
        f"dns {dns_port(slot.prefix)} gate {gate_port(slot.prefix)}"
    )
    return f"{text} {mark}" if mark else text


@dataclass(frozen=True)
class Contents:
    """What each set of a colony's table holds (IPv4: colonies have no IPv6)."""

    allow4: tuple[Net4, ...] = ()
    allowp4: tuple[tuple[Net4, int], ...] = ()
    deny4: tuple[Net4, ...] = ()
    denyp4: tuple[tuple[Net4, int], ...] = ()
    exposed: tuple[tuple[str, int], ...] = ()
    direct4: tuple[Net4, ...] = ()
    directp4: tuple[tuple[Net4, int], ...] = ()
    gated: tuple[int, ...] = ()


def _v4(nets: Iterable[str]) -> tuple[Net4, ...]:
    return tuple(n for n in map(ipaddress.ip_network, nets) if isinstance(n, Net4))


def _v4_ports(pairs: Iterable[tuple[str, int]]) -> tuple[tuple[Net4, int], ...]:
    out = ((ipaddress.ip_network(net), port) for net, port in pairs)
    return tuple((net, port) for net, port in out if isinstance(net, Net4))


def plan_contents(rules: Rules) -> Contents:
    """The egress mode as data: allow admits everything not denied (DNS is the stub's)."""
    mode = rules.egress
    allow4 = {"allow": (EVERYWHERE,), "allowlist": _v4(rules.allow.v4)}.get(mode, ())
    return Contents(
        allow4=allow4,
        allowp4=_v4_ports(rules.allow.v4_ports) if mode == "allowlist" else (),
        deny4=_v4(rules.deny.v4),
        denyp4=_v4_ports(rules.deny.v4_ports),
        exposed=rules.exposed,
        direct4=_v4(rules.direct.v4) if rules.gate else (),
        directp4=_v4_ports(rules.direct.v4_ports) if rules.gate else (),
        gated=GATED_PORTS if rules.gate else (),
    )


# --- text for nft -f --------------------------------------------------------------------------


def _net(net: Net4) -> str:
    return str(net.network_address) if net.prefixlen == 32 else str(net)


def _elements(contents: Contents) -> dict[str, list[str]]:
    return {
        "allow4": [_net(n) for n in contents.allow4],
        "allowp4": [f"{_net(n)} . {p}" for n, p in contents.allowp4],
        "deny4": [_net(n) for n in contents.deny4],
        "denyp4": [f"{_net(n)} . {p}" for n, p in contents.denyp4],
        "exposed": [f'"{name}" . {port}' for name, port in contents.exposed],
        "direct4": [_net(n) for n in contents.direct4],
        "directp4": [f"{_net(n)} . {p}" for n, p in contents.directp4],
        "gated": [str(p) for p in contents.gated],
    }


def _set(name: str, elements: Iterable[str] = ()) -> str:
    flags = " flags interval;" if name in INTERVAL else ""
    items = list(elements)
    body = f" elements = {{ {', '.join(items)} }};" if items else ""
    return f"\tset {name} {{ type {SETS[name]};{flags}{body} }}\n"


def _chain(name: str, rules: Iterable[str], hook: str | None = None) -> str:
    head = f"\t\t{hook}\n" if hook else ""
    return f"\tchain {name} {{\n{head}" + "".join(f"\t\t{r}\n" for r in rules) + "\t}\n"


def _chains(slot: Slot) -> str:
    veth, pool, group = f'"{slot.veth}"', slot.pool, log_group(slot.prefix)
    stub = dns_port(slot.prefix)
    filter_hook = "type filter hook {} priority filter; policy accept;"
    # not decided by IP/CIDR entries (of the allowlist or deny): the gate's to decide by name
    undecided = "ip daddr != @direct4 ip daddr . th dport != @directp4"
    return "".join(
        [
            _chain(
                "prerouting",
                [
                    f"iifname {veth} {TCP_UDP} th dport 53 redirect to :{stub}",
                    f"iifname {veth} ip daddr != {pool} tcp dport @gated {undecided} "
                    f"redirect to :{gate_port(slot.prefix)}",
                ],
                "type nat hook prerouting priority dstnat; policy accept;",
            ),
            _chain(
                "postrouting",
                [f"ip saddr {slot.colony_ip} ip daddr != {pool} oifname != {veth} masquerade"],
                "type nat hook postrouting priority srcnat; policy accept;",
            ),
            _chain(
                "input",
                [f"iifname {veth} ip saddr != {slot.colony_ip} drop", f"iifname {veth} jump host"],
                filter_hook.format("input"),
            ),
            _chain(
                "forward",
                [
                    f"iifname {veth} ip saddr != {slot.colony_ip} drop",  # a spoofed source
                    f"iifname {veth} jump {EGRESS_CHAIN}",
                    f"oifname {veth} jump ingress",
                ],
                filter_hook.format("forward"),
            ),
            _chain(
                "host",
                [
                    "ct state established,related accept",
                    f"{TCP_UDP} th dport {stub} ct status dnat accept",  # DNS, to the stub
                    # the gate: only connections the chain "prerouting" redirected (its records
                    # are the gate's own, which knows the host name)
                    f"tcp dport {gate_port(slot.prefix)} ct status dnat accept",
                    "jump refuse",
                ],
            ),
            _chain(
                EGRESS_CHAIN,
                [
                    "ct direction reply accept",  # the colony answering a connection to it
                    "ct state related accept",
                    f"ip daddr {pool} return",  # another colony: its ingress chain decides
                    "meta nfproto ipv6 jump refuse",
                    f"{TCP_UDP} th dport 53 jump refuse",  # never left: DNS is the stub's
                    "ip daddr @deny4 jump refuse",
                    f"{TCP_UDP} ip daddr . th dport @denyp4 jump refuse",
                    f"udp dport @gated {undecided} jump refuse",  # QUIC: to TCP, the gate
                    "ip daddr @allow4 jump admit",
                    f"{TCP_UDP} ip daddr . th dport @allowp4 jump admit",
                    "jump refuse",
                ],
            ),
            _chain(
                "ingress",
                [
                    "ct direction reply accept",  # answers to the colony's own connections
                    "ct state related accept",
                    f"{TCP_UDP} iifname . th dport @exposed jump admit",
                    "jump refuse",
                ],
            ),
            _chain("admit", [f'ct state new log prefix "{ACCEPT_PREFIX}" group {group}', "accept"]),
            _chain(
                "refuse",
                [
                    f'ct state new log prefix "{DENY_PREFIX}" group {group}',
                    "meta l4proto tcp reject with tcp reset",  # fail fast, not a timeout
                    "reject with icmpx admin-prohibited",
                ],
            ),
        ]
    )


def _body(slot: Slot, rules: Rules, mark: str) -> str:
    elements = _elements(plan_contents(rules))
    sets = "".join(_set(name, elements[name]) for name in SETS)
    note = comment(slot, mark)
    return f'table {FAMILY} {slot.table} {{\n\tcomment "{note}"\n{sets}{_chains(slot)}}}\n'


def render_colony_table(slot: Slot, rules: Rules = LOCKED, mark: str = "") -> str:
    """The nft -f text that (re)creates the colony's table with ``rules``, in one transaction.

    Without ``rules`` the table is locked: NAT is in place but no egress and no ingress.
    A table of that name left by an older daemon has its rules and set contents replaced
    (declare, then flush: a plain load takes a few ms where a delete waits ~15 ms for the
    kernel).

    Example:
        >>> print(render_colony_table(Slot("colony", "web", 3, pool)))
        table inet colony-web {
        ...
    """
    table = f"{FAMILY} {slot.table}"
    reset = (  # a table's comment is set when it is made: the first block must carry it
        f'table {table} {{\n\tcomment "{comment(slot, mark)}"\n'
        + "".join(_set(name) for name in SETS)
        + f"}}\nflush table {table}\n"
        + "".join(f"flush set {table} {name}\n" for name in SETS)
    )
    return reset + _body(slot, rules, mark)


def render_replacement(slot: Slot, rules: Rules, mark: str = "") -> str:
    """Delete and recreate the table in one transaction (a table of another version)."""
    table = f"{FAMILY} {slot.table}"
    return f"table {table} {{}}\ndelete table {table}\n" + _body(slot, rules, mark)


def render_set_messages(slot: Slot, rules: Rules) -> list[bytes]:
    """Netlink messages replacing the contents of every set of the table."""
    contents = plan_contents(rules)
    encoded = {
        "allow4": nftnl.intervals4(contents.allow4),
        "allowp4": nftnl.ranges4_ports(contents.allowp4),
        "deny4": nftnl.intervals4(contents.deny4),
        "denyp4": nftnl.ranges4_ports(contents.denyp4),
        "exposed": nftnl.ifname_ports(contents.exposed),
        "direct4": nftnl.intervals4(contents.direct4),
        "directp4": nftnl.ranges4_ports(contents.directp4),
        "gated": nftnl.ports(contents.gated),
    }
    messages = []
    for name, elements in encoded.items():
        messages.append(nftnl.render_flush_set(slot.table, name))
        messages += nftnl.render_add_elements(slot.table, name, elements)
    return messages


# --- the daemon's own table -----------------------------------------------------------------


def host_table(prefix: str) -> str:
    """The name of the daemon's own table; '_' keeps it apart from every colony's."""
    return f"{prefix}_host"


def render_host_table(prefix: str, pool: Net4) -> str:
    """The nft -f text of the daemon's table: on the host, only root (Mycelium) may open
    connections to the pool's addresses (issue 11). The colonies' tables see only traffic
    forwarded through their veths; this output hook sees what the host's own processes send,
    so a local user (or a colony at level none) cannot reach a colony's services directly.
    Answers to connections a colony opened are not new, and pass.

    Example:
        >>> print(render_host_table("colony", Net4("10.213.0.0/16")))
        table inet colony_host {
        ...
    """
    table = f"{FAMILY} {host_table(prefix)}"
    guard = f"ip daddr {pool} meta skuid != 0 ct state new"
    return (
        f'table {table} {{\n\tcomment "colony host v{HOST_VERSION}"\n}}\nflush table {table}\n'
        f"table {table} {{\n"
        + _chain(
            "output",
            [
                f"{guard} meta l4proto tcp reject with tcp reset",  # fails at once
                f"{guard} reject with icmpx admin-prohibited",
            ],
            "type filter hook output priority filter; policy accept;",
        )
        + "}\n"
    )


# --- applying -----------------------------------------------------------------------------------


def apply(text: str) -> None:
    """Load nft -f text in one transaction: all of it or nothing.

    Raises:
        HostError: nft rejected it (the message carries nft's error line).
    """
    host.run(["nft", "-f", "-"], input=text)


def create_table(slot: Slot, rules: Rules = LOCKED, mark: str = "") -> None:
    """Make the colony's table with ``rules`` in one transaction, at a cost independent of
    the other colonies' tables (issue 15).

    ``nft`` (1.0.6) reads every table of the namespace it loads into, so it writes the chains
    where there are none: in the colony's network namespace, still empty while the colony is
    made. The table is read back from there over netlink, deleted there, and sent to the
    host's namespace as one batch with its set contents. A table of that name already on the
    host (left by an older daemon) has its rules replaced by ``nft -f`` as before.

    Raises:
        HostError: nft or the kernel refused; nothing was made on the host.
    """
    if table_comment(slot.table) is not None:
        apply(render_colony_table(slot, rules, mark))
        return
    host.run(
        ["nsenter", f"--net={slot.netns_path}", "nft", "-f", "-"], input=_body(slot, LOCKED, mark)
    )
    messages = nftnl.take_tables(slot.netns_path)
    nftnl.transact([*messages, *render_set_messages(slot, rules)], f"create table {slot.table}")


def apply_policy(slot: Slot, rules: Rules, mark: str = "") -> None:
    """Put ``rules`` into the colony's table in one transaction.

    A current table (see :func:`comment`) gets only its set contents replaced, over netlink:
    the cost does not grow with the number of colonies. Any other is replaced whole.

    Raises:
        HostError: the table does not exist (a colony being removed: never made anew here).
    """
    found = table_comment(slot.table)
    if found is None:
        raise HostError(f"cannot load the policy of table {slot.table!r}: it does not exist")
    if found == comment(slot, mark):
        nftnl.transact(render_set_messages(slot, rules), f"load the policy of {slot.table}")
    else:
        apply(render_replacement(slot, rules, mark))


def table_comment(name: str) -> str | None:
    """The comment of table ``inet <name>`` ("" if it has none); None if it does not exist."""
    try:
        payloads = nftnl.dump(nftnl.render_get_table(name), f"read table {name}")
    except HostError as exc:
        if "ENOENT" in str(exc):
            return None
        raise
    return (nftnl.parse_table(payloads[0])[1] or "") if payloads else None


def delete_table(name: str) -> bool:
    """Delete table ``inet <name>`` (its chains and sets with it); False if already gone."""
    try:
        nftnl.transact([nftnl.render_delete_table(name)], f"delete table {FAMILY} {name}")
    except HostError as exc:
        if "ENOENT" in str(exc):
            return False
        raise
    return True


def table_names() -> list[str]:
    """Names of every inet table, over netlink (``nft list tables`` reads every table's
    contents first, and starts over while other tables change)."""
    payloads = nftnl.dump(nftnl.render_get_table(), "list tables")
    return sorted(nftnl.parse_table(p)[0] for p in payloads)


def list_tables(prefix: str) -> list[str]:
    """Names of the inet tables that carry ``<prefix>-``."""
    return [n for n in table_names() if n.startswith(f"{prefix}-")]
