"""TCP ports Mycelium listens on: checked before it starts, and who holds one that is taken.

A port that is taken is one line naming the port, the process that holds it (from
``/proc/net/tcp`` and the ``socket:[inode]`` links of ``/proc/*/fd``) and the setting that
changes it, never a traceback (issue 11). :func:`listening_ports` reads what a colony's
service listens on, for its readiness notes and the previews' 502 page (issue 12).

Example:
    >>> try:
    ...     check_free("127.0.0.1", 7080, "previews", "--proxy-port")
    ... except ColonyError as exc:
    ...     print(exc)
    cannot listen for previews on 127.0.0.1:7080: the address is in use by pid 4711 (nginx)
"""

from __future__ import annotations

import errno
import socket
from pathlib import Path

from colony import host
from colony.core.procnet import parse_listen_ports, parse_listening
from colony.errors import ColonyError, HostError

CMDLINE_MAX = 80


def check_free(address: str, port: int, what: str, setting: str) -> None:
    """Raise the one-line error of :func:`bind_error` if ``address:port`` cannot be bound."""
    if port == 0:
        return
    sock = socket.socket(socket.AF_INET6 if ":" in address else socket.AF_INET)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as asyncio binds
        sock.bind((address, port))
    except OSError as exc:
        raise bind_error(what, address, port, exc, setting) from exc
    finally:
        sock.close()


def bind_error(what: str, address: str, port: int, exc: OSError, setting: str) -> ColonyError:
    """``cannot listen for <what> on <address:port>: <why>``, with a hint naming ``setting``."""
    env = "COLONY_" + setting.lstrip("-").replace("-", "_").upper()
    hint = f"stop what holds it, or set {setting} (env {env}) to another port; 0 picks a free one"
    if exc.errno == errno.EADDRINUSE:
        who = holder(port)
        why = f"the address is in use by {who}" if who else "the address is in use"
    else:
        why = f"{exc.strerror} ({errno.errorcode.get(exc.errno or 0, '?')})"
    return ColonyError(f"cannot listen for {what} on {address}:{port}: {why}", hint=hint)


def holder(port: int) -> str | None:
    """``pid 4711 (nginx: master process)`` of a process listening on TCP ``port``, if found."""
    inodes: set[int] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        inodes |= parse_listening(host.read_text(table) or "", port)
    if not inodes:
        return None
    links = {f"socket:[{inode}]" for inode in inodes}
    for pid in host.list_dir("/proc"):
        if not pid.isdigit():
            continue
        try:
            fds = host.list_dir(f"/proc/{pid}/fd")
        except HostError:  # not ours to look at
            continue
        if any(host.read_link(f"/proc/{pid}/fd/{fd}") in links for fd in fds):
            cmdline = " ".join(
                (host.read_text(f"/proc/{pid}/cmdline") or "").replace("\0", " ").split()
            )
            if len(cmdline) > CMDLINE_MAX:
                cmdline = cmdline[: CMDLINE_MAX - 1] + "…"
            return f"pid {pid} ({cmdline})" if cmdline else f"pid {pid}"
    return None


def listening_ports(pid: int) -> set[int]:
    """The TCP ports listened on in the network namespace of process ``pid``."""
    found: set[int] = set()
    for table in ("tcp", "tcp6"):
        found |= parse_listen_ports(host.read_text(Path(f"/proc/{pid}/net/{table}")) or "")
    return found
