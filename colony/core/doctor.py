"""`colony doctor`: the installation against the security checklist (SPEC §12).

Pure: the daemon gathers :class:`Facts` from the host; :func:`plan_checks` decides what each
means and what to do about it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from colony.core.access import ADMIN_GROUP, USERS_GROUP

Status = Literal["ok", "warn", "fail"]


@dataclass(frozen=True)
class Check:
    name: str
    status: Status
    detail: str
    hint: str | None = None

    def to_json(self) -> dict[str, str | None]:
        return {"name": self.name, "status": self.status, "detail": self.detail, "hint": self.hint}


@dataclass(frozen=True)
class Facts:
    """What the daemon found on the host."""

    daemon_uid: int
    socket_mode: int
    ip_forward: bool
    pool: str
    unreachable_route: bool
    nft: bool
    host_guard: bool = False  # the daemon's table: only root reaches colony addresses
    colonies: tuple[str, ...] = ()
    tables: tuple[str, ...] = ()  # colonies with their nft table present
    cgroup_versions: dict[str, int | None] = field(default_factory=dict)
    bubblewrap: bool = False
    userns: bool = False
    audit_ok: bool | None = None  # None: no audit log
    audit_detail: str = ""
    unlimited: tuple[str, ...] = ()  # colonies without any limit
    as_root: tuple[str, ...] = ()  # colonies whose processes would run as root
    # issue 10, looked at on live colonies: "colony: what is wrong" each
    identities: tuple[str, ...] = ()  # shared or foreign uids, files not the colony's own
    views: tuple[str, ...] = ()  # processes without no_new_privs or a private view
    state_files: tuple[str, ...] = ()  # state files and directories others may read
    http: str | None = None  # Bloom's listener, if any
    disks: bool = True  # loop devices and mkfs.ext4 are there (issue 11)
    no_disk: tuple[str, ...] = ()  # colonies with a disk limit and no disk mounted
    socket_group: str | None = None  # the API socket's group (issue 14)
    admins: tuple[str, ...] = ()  # members of colony-admin: they may act on every colony


def _judge(name: str, good: bool, ok: str, status: Status, bad: str, hint: str) -> Check:
    """``ok`` when ``good``, else ``status`` with what is wrong and how to fix it."""
    return Check(name, "ok", ok) if good else Check(name, status, bad, hint)


def _socket_check(f: Facts) -> Check:
    """Root's and the group colony's (0660), or root's alone (0600); nobody else's."""
    mode = f.socket_mode & 0o777
    if mode == 0o600:
        return Check("api socket", "ok", "the Unix socket is root-only (0600)")
    if mode == 0o660 and f.socket_group == USERS_GROUP:
        return Check(
            "api socket", "ok", f"the Unix socket is root's and the group {USERS_GROUP}'s (0660)"
        )
    return Check(
        "api socket",
        "fail",
        f"the Unix socket has mode {mode:o} and group {f.socket_group or '?'}",
        f"restart Mycelium; it makes the socket root:{USERS_GROUP} 0660 (0600 without that group)",
    )


def plan_checks(f: Facts) -> list[Check]:
    """One check per item of the security checklist, with a hint for each that is not ok."""
    missing = sorted(set(f.colonies) - set(f.tables))
    absent = [c for c in ("cpu", "memory", "pids") if f.cgroup_versions.get(c) is None]
    versions = ", ".join(f"{c} v{v}" for c, v in sorted(f.cgroup_versions.items()) if v)
    sandbox_gap = "bubblewrap is missing" if not f.bubblewrap else "user namespaces are off"
    checks = [
        _judge(
            "daemon user",
            f.daemon_uid == 0,
            "Mycelium runs as root; colony processes drop to their owner",
            "fail",
            f"Mycelium runs as uid {f.daemon_uid}",
            "start it as root: sudo colony daemon start",
        ),
        _socket_check(f),
        _judge(
            "admins",
            not f.admins,
            f"no member in the group {ADMIN_GROUP}: only root acts on every colony",
            "warn",
            f"{', '.join(f.admins)} may act on every colony (group {ADMIN_GROUP})",
            f"if that is not meant: gpasswd -d USER {ADMIN_GROUP}",
        ),
        Check(
            "firewall",
            "fail",
            "nft is not installed",
            "apt-get install nftables, then restart Mycelium",
        )
        if not f.nft
        else _judge(
            "firewall",
            not missing,
            f"every colony has its nft table ({len(f.tables)})",
            "fail",
            f"no nft table for {', '.join(missing)}",
            "restart Mycelium: it reloads each colony's policy",
        ),
        _judge(
            "colony addresses",
            f.host_guard,
            f"only root opens connections from the host to {f.pool}",
            "fail",
            "any local user can connect to colony addresses: the daemon's nft table is missing",
            "restart Mycelium: it loads the table at start",
        ),
        _judge(
            "address pool",
            f.unreachable_route,
            f"{f.pool} is covered by an unreachable route",
            "warn",
            f"no unreachable route covers {f.pool}",
            "restart Mycelium; it adds the route at start",
        ),
        _judge(
            "forwarding",
            f.ip_forward,
            "IPv4 forwarding is on (colonies reach the outside via NAT)",
            "warn",
            "IPv4 forwarding is off: colonies have no egress",
            "sysctl -w net.ipv4.ip_forward=1",
        ),
        _judge(
            "cgroups",
            not absent,
            versions,
            "fail",
            f"no cgroup controller for {', '.join(absent)}",
            "mount the cgroup hierarchies (systemd does by default)",
        ),
        _judge(
            "limits",
            not f.unlimited,
            "every colony has limits",
            "warn",
            f"no limits: {', '.join(f.unlimited)}",
            "set [limits] in colony.toml or 'colony spawn --limit memory=2G ...'",
        ),
        _judge(
            "sandbox",
            f.bubblewrap and f.userns,
            "bubblewrap and user namespaces: moderate and strict work",
            "warn",
            f"moderate and strict are unavailable: {sandbox_gap}",
            "apt-get install bubblewrap; sysctl -w user.max_user_namespaces=10000",
        ),
        _judge(
            "colony users",
            not f.as_root,
            "no colony process runs as root",
            "fail",
            f"running as root: {', '.join(f.as_root)}",
            "remove [sandbox] user = root and restart them",
        ),
        _judge(
            "colony identities",
            not f.identities,
            "every colony runs as a uid of its own; its workspace and data dir are 0700 of it",
            "fail",
            "; ".join(f.identities[:3]),
            "restart the colony; if its files changed owner, remove it and spawn it again",
        ),
        _judge(
            "colony views",
            not f.views,
            "every colony process has no_new_privs and, above none, a private view of the host",
            "fail",
            "; ".join(f.views[:3]),
            "restart the colony (processes started by an older Mycelium keep the host's view)",
        ),
        _judge(
            "state files",
            not f.state_files,
            "the state directory's database, logs and keys are root's alone",
            "fail",
            "; ".join(f.state_files[:3]),
            "chmod 0600 the files and 0700 the directories named (Mycelium does at start)",
        ),
        _judge(
            "colony disks",
            f.disks and not f.no_disk,
            "every colony with a disk limit has its own file system",
            "warn",
            "no loop devices or mkfs.ext4: disk limits cannot be made"
            if not f.disks
            else f"no disk mounted for: {', '.join(f.no_disk[:5])}",
            "modprobe loop and install e2fsprogs; a stopped colony gets its disk at start",
        ),
        Check("audit", "warn", "no audit log", "upgrade Mycelium")
        if f.audit_ok is None
        else _judge(
            "audit",
            f.audit_ok,
            f.audit_detail,
            "fail",
            f.audit_detail,
            "compare with an export or VictoriaLogs: 'colony audit verify'",
        ),
        Check(
            "dashboard",
            "ok",
            f"Bloom on {f.http}, token-protected" if f.http else "Bloom's TCP listener is off",
        ),
        Check(
            "tls",
            "warn",
            "previews are plain HTTP, served on 127.0.0.1 only",
            "HTTPS previews are not built yet (see the README, section 'Security model')",
        ),
    ]
    return checks
