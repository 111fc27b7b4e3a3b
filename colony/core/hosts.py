"""The block of preview names Colony keeps in /etc/hosts, for resolvers that do not know
``*.localhost`` (glibc without systemd-resolved, so wget, Python's requests, …).

Pure: text in, text out. Only the lines between the markers are Colony's; everything else in
the file is left exactly as it was.
"""

from __future__ import annotations

from collections.abc import Iterable

from colony.core.routes import RouteTable

BEGIN = "# BEGIN colony: preview names, managed by 'colony hosts'"
END = "# END colony"
PER_LINE = 8  # names per line, so the lines stay readable


def preview_names(table: RouteTable, domain: str) -> list[str]:
    """``<service>.<colony>.<domain>`` of every service with a port, sorted."""
    return sorted(
        f"{service}.{colony}.{domain}"
        for colony, previews in table.colonies.items()
        for service in previews.services
    )


def managed_names(text: str) -> list[str]:
    """The names inside Colony's block of a hosts file, in order."""
    inside = False
    names: list[str] = []
    for line in text.splitlines():
        if line == BEGIN:
            inside = True
        elif line == END:
            inside = False
        elif inside and line.strip() and not line.lstrip().startswith("#"):
            names += line.split()[1:]
    return names


def render_hosts(text: str, names: Iterable[str], address: str = "127.0.0.1") -> str:
    """``text`` with Colony's block replaced by one for ``names`` (removed when there are none).

    Example:
        >>> print(render_hosts("127.0.0.1 localhost\\n", ["web.shop.localhost"]), end="")
        127.0.0.1 localhost
        # BEGIN colony: preview names, managed by 'colony hosts'
        127.0.0.1 web.shop.localhost
        # END colony
    """
    kept: list[str] = []
    inside = False
    for line in text.splitlines():
        if line == BEGIN:
            inside = True
        elif line == END:
            inside = False
        elif not inside:
            kept.append(line)
    wanted = sorted(set(names))
    if wanted:
        block = [BEGIN]
        for i in range(0, len(wanted), PER_LINE):
            block.append(" ".join([address, *wanted[i : i + PER_LINE]]))
        block.append(END)
        kept += block
    return "\n".join(kept) + "\n" if kept else ""
