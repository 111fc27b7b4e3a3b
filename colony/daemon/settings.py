"""What a Mycelium is started with: its settings (from ``colony daemon run``'s options) and
the host policy file they name."""

from __future__ import annotations

import ipaddress
import logging
from dataclasses import dataclass, field
from pathlib import Path

from colony.core.env import DEFAULT_PATH
from colony.core.filerate import FileRate
from colony.core.hostpolicy import DEFAULT_POLICY_FILE, HostPolicy, parse_host_policy
from colony.core.identity import DEFAULT_UID_BASE, DEFAULT_UID_COUNT, UidRange
from colony.core.logcap import LogCap
from colony.daemon.http import NAME
from colony.daemon.peers import DEFAULT_CAP, DEFAULT_IDLE
from colony.errors import ConfigError
from colony.store.queries import Store
from colony.store.trash import Trash

log = logging.getLogger("colony.daemon")

DEFAULT_POOL = ipaddress.IPv4Network("10.213.0.0/16")


@dataclass(frozen=True)
class Settings:
    state_dir: Path
    socket: Path
    proxy_port: int = 7080
    proxy_host: str = "127.0.0.1"
    prefix: str = "colony"
    pool: ipaddress.IPv4Network = DEFAULT_POOL
    domain: str = "localhost"
    http_port: int | None = 8000  # Bloom and the API on TCP; None: off
    http_host: str = "127.0.0.1"
    http_name: str = NAME  # Bloom's own name: its origin and its cookie's host (issue 11)
    peer_connections: int = DEFAULT_CAP  # per peer, on the proxy and on Bloom's listener
    idle_timeout: float = DEFAULT_IDLE  # seconds to wait for a request head
    proxy_workers: int = 0  # preview proxy processes; 0: in the daemon's loop (issue 15)
    audit_push: str | None = None  # VictoriaLogs jsonline URL (issue 5)
    audit_retention: float | None = None  # seconds of audit log kept; None: all
    log_cap: LogCap = field(default_factory=LogCap)  # each log source's files (issue 11)
    watch_limit: int = 8192  # inotify watches per colony (issue 11)
    file_rate: FileRate = field(default_factory=FileRate)  # paths listed per colony (issue 11)
    uids: UidRange = field(default_factory=lambda: UidRange(DEFAULT_UID_BASE, DEFAULT_UID_COUNT))
    colony_path: str = DEFAULT_PATH  # PATH of colony processes
    policy: HostPolicy = field(default_factory=HostPolicy)  # what the host decides (issue 10)
    preview_auth: str = "off"  # who may open previews: off, local, users (issue 14)


def load_policy(path: str | None) -> HostPolicy:
    """The host policy file (``--policy``; default /etc/colony/policy.toml, if it exists).

    Raises:
        ConfigError: the file named by --policy is missing, or the file is malformed.
    """
    source = path or DEFAULT_POLICY_FILE
    try:
        text = Path(source).read_text()
    except FileNotFoundError:
        if path is None:
            return HostPolicy()
        raise ConfigError(f"--policy: {path}: no such file") from None
    except OSError as exc:
        raise ConfigError(f"--policy: cannot read {source}: {exc.strerror}") from exc
    found = parse_host_policy(text, source)
    for warning in found.warnings:
        log.warning("%s", warning)
    return found


def used_uids(store: Store) -> set[int]:
    """uids of live colonies and of trash entries: none of them goes to a new colony."""
    live = {r.uid for r in store.colonies() if r.uid is not None}
    kept = {u for u in Trash(store.conn).uids() if u is not None}
    return live | kept


__all__ = ["DEFAULT_POOL", "Settings", "load_policy", "used_uids"]
