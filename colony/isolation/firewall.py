"""nftables: one table ``inet <prefix>-<name>`` per colony, rendered as text, applied atomically.

The table carries the colony's NAT (so egress works) and the forward chain that the network
policy fills. Rendering is pure; ``colony debug render-firewall NAME`` shows the same text.

Example:
    >>> apply(render_colony_table(slot))
    >>> list_tables("colony")
    ['colony-web']
"""

from __future__ import annotations

from colony import host
from colony.core.model import Slot

FAMILY = "inet"
EGRESS_CHAIN = "egress"  # regular chain for the colony's outbound policy (empty: allow)


def _fresh(name: str) -> str:
    # Declare (no-op if it exists) and flush: the load replaces the rules of a table an older
    # daemon left, in one transaction. Not "delete table": any delete makes the kernel wait
    # for an RCU grace period (~15 ms) where a plain load takes ~4 ms.
    return f"table {FAMILY} {name} {{}}\nflush table {FAMILY} {name}\n"


def render_colony_table(slot: Slot) -> str:
    """The nft -f text that (re)creates the colony's table from scratch.

    Example:
        >>> print(render_colony_table(Slot("colony", "web", 3, pool)))
        table inet colony-web {}
        flush table inet colony-web
        table inet colony-web {
        ...
    """
    veth = slot.veth
    return _fresh(slot.table) + (
        f"table {FAMILY} {slot.table} {{\n"
        f"\tchain postrouting {{\n"
        f"\t\ttype nat hook postrouting priority srcnat; policy accept;\n"
        f'\t\tip saddr {slot.colony_ip} oifname != "{veth}" masquerade\n'
        f"\t}}\n"
        f"\tchain forward {{\n"
        f"\t\ttype filter hook forward priority filter; policy accept;\n"
        f'\t\tiifname "{veth}" jump {EGRESS_CHAIN}\n'
        f"\t}}\n"
        f"\tchain {EGRESS_CHAIN} {{\n"
        f"\t}}\n"
        f"}}\n"
    )


def apply(text: str) -> None:
    """Load nft -f text in one transaction: all of it or nothing.

    Raises:
        HostError: nft rejected it (the message carries nft's error line).
    """
    host.run(["nft", "-f", "-"], input=text)


def delete_table(name: str) -> bool:
    """Delete table ``inet <name>``; False if it was already gone."""
    done = host.run(["nft", "delete", "table", FAMILY, name], check=False)
    if done.returncode == 0:
        return True
    if "No such file or directory" in done.stderr:
        return False
    host.run(["nft", "delete", "table", FAMILY, name])  # raises, naming the cause
    return True


def list_tables(prefix: str) -> list[str]:
    """Names of the inet tables that carry ``<prefix>-``."""
    out = host.run(["nft", "list", "tables", FAMILY]).stdout
    rows = [line.split() for line in out.splitlines()]
    return sorted(
        r[2]
        for r in rows
        if len(r) == 3 and r[:2] == ["table", FAMILY] and r[2].startswith(f"{prefix}-")
    )
