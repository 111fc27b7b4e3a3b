"""`colony doctor`: the installation against the security checklist (SPEC §12).

Pure: the daemon gathers :class:`Facts` from the host; :func:`plan_checks` decides what each
means and what to do about it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

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
    colonies: tuple[str, ...] = ()
    tables: tuple[str, ...] = ()  # colonies with their nft table present
    cgroup_versions: dict[str, int | None] = field(default_factory=dict)
    bubblewrap: bool = False
    userns: bool = False
    audit_ok: bool | None = None  # None: no audit log
    audit_detail: str = ""
    unlimited: tuple[str, ...] = ()  # colonies without any limit
    as_root: tuple[str, ...] = ()  # colonies whose processes would run as root
    http: str | None = None  # Bloom's listener, if any


def plan_checks(f: Facts) -> list[Check]:
    """One check per item of the security checklist, with a hint for each that is not ok."""
    checks = [
        Check("daemon user", "ok", "Mycelium runs as root; colony processes drop to their owner")
        if f.daemon_uid == 0
        else Check(
            "daemon user",
            "fail",
            f"Mycelium runs as uid {f.daemon_uid}",
            "start it as root: sudo colony daemon start",
        ),
        Check("api socket", "ok", "the Unix socket is root-only (0600)")
        if f.socket_mode & 0o077 == 0
        else Check(
            "api socket",
            "fail",
            f"the Unix socket has mode {f.socket_mode:o}",
            "restart Mycelium; it creates the socket with mode 0600",
        ),
    ]
    missing = sorted(set(f.colonies) - set(f.tables))
    if not f.nft:
        checks.append(
            Check(
                "firewall",
                "fail",
                "nft is not installed",
                "apt-get install nftables, then restart Mycelium",
            )
        )
    elif missing:
        checks.append(
            Check(
                "firewall",
                "fail",
                f"no nft table for {', '.join(missing)}",
                "restart Mycelium: it reloads each colony's policy",
            )
        )
    else:
        checks.append(Check("firewall", "ok", f"every colony has its nft table ({len(f.tables)})"))
    checks.append(
        Check("address pool", "ok", f"{f.pool} is covered by an unreachable route")
        if f.unreachable_route
        else Check(
            "address pool",
            "warn",
            f"no unreachable route covers {f.pool}",
            "restart Mycelium; it adds the route at start",
        )
    )
    checks.append(
        Check("forwarding", "ok", "IPv4 forwarding is on (colonies reach the outside via NAT)")
        if f.ip_forward
        else Check(
            "forwarding",
            "warn",
            "IPv4 forwarding is off: colonies have no egress",
            "sysctl -w net.ipv4.ip_forward=1",
        )
    )
    absent = [c for c in ("cpu", "memory", "pids") if f.cgroup_versions.get(c) is None]
    versions = ", ".join(f"{c} v{v}" for c, v in sorted(f.cgroup_versions.items()) if v)
    checks.append(
        Check("cgroups", "ok", versions)
        if not absent
        else Check(
            "cgroups",
            "fail",
            f"no cgroup controller for {', '.join(absent)}",
            "mount the cgroup hierarchies (systemd does by default)",
        )
    )
    checks.append(
        Check("limits", "ok", "every colony has limits")
        if not f.unlimited
        else Check(
            "limits",
            "warn",
            f"no limits: {', '.join(f.unlimited)}",
            "set [limits] in colony.toml or 'colony spawn --limit memory=2G ...'",
        )
    )
    checks.append(
        Check("sandbox", "ok", "bubblewrap and user namespaces: moderate and strict work")
        if f.bubblewrap and f.userns
        else Check(
            "sandbox",
            "warn",
            "moderate and strict are unavailable: "
            + ("bubblewrap is missing" if not f.bubblewrap else "user namespaces are off"),
            "apt-get install bubblewrap; sysctl -w user.max_user_namespaces=10000",
        )
    )
    checks.append(
        Check("colony users", "ok", "no colony process runs as root")
        if not f.as_root
        else Check(
            "colony users",
            "fail",
            f"running as root: {', '.join(f.as_root)}",
            "remove [sandbox] user = root and restart them",
        )
    )
    if f.audit_ok is None:
        checks.append(Check("audit", "warn", "no audit log", "upgrade Mycelium"))
    elif f.audit_ok:
        checks.append(Check("audit", "ok", f.audit_detail))
    else:
        checks.append(
            Check(
                "audit",
                "fail",
                f.audit_detail,
                "compare with an export or VictoriaLogs: 'colony audit verify'",
            )
        )
    checks.append(
        Check("dashboard", "ok", f"Bloom on {f.http}, token-protected")
        if f.http
        else Check("dashboard", "ok", "Bloom's TCP listener is off")
    )
    checks.append(
        Check(
            "tls",
            "warn",
            "previews are plain HTTP, served on 127.0.0.1 only",
            "HTTPS previews through Caddy are not built yet (SPEC §6)",
        )
    )
    return checks
