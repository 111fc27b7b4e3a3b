"""Reading ``/proc/net/tcp`` and ``/proc/net/tcp6``: who listens on a port (issue 11).

Pure: the daemon reads the files and the fd links of ``/proc``; this finds the socket
inodes in the text.

Example:
    >>> text = (
    ...     "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt"
    ...     "   uid  timeout inode\\n"
    ...     "   0: 0100007F:1BA8 00000000:0000 0A 00000000:00000000 00:00000000 00000000"
    ...     "     0        0 48213 1 0000000000000000 100 0 0 10 0\\n"
    ... )
    >>> parse_listening(text, 7080)
    {48213}
"""

from __future__ import annotations

LISTEN = "0A"


def parse_listening(text: str, port: int) -> set[int]:
    """Inodes of the sockets that listen on TCP ``port`` (any address) in the table ``text``."""
    found: set[int] = set()
    for line in text.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 10 or fields[3] != LISTEN:
            continue
        try:
            if int(fields[1].rsplit(":", 1)[1], 16) == port:
                found.add(int(fields[9]))
        except (IndexError, ValueError):
            continue
    return found


def parse_listen_ports(text: str) -> set[int]:
    """The TCP ports something listens on (any address) in the table ``text`` (issue 12)."""
    found: set[int] = set()
    for line in text.splitlines()[1:]:
        fields = line.split()
        if len(fields) >= 4 and fields[3] == LISTEN:
            try:
                found.add(int(fields[1].rsplit(":", 1)[1], 16))
            except (IndexError, ValueError):
                continue
    return found
