"""Gathers the facts `colony doctor` judges (host I/O); the judging is colony.core.doctor."""

from __future__ import annotations

import asyncio
import grp
import os
import pwd
import shutil
from pathlib import Path
from typing import Any

from colony import host
from colony.core.access import ADMIN_GROUP
from colony.core.doctor import Check, Facts, plan_checks
from colony.core.model import State
from colony.daemon.actor import ColonyActor
from colony.daemon.audit import Auditor
from colony.daemon.mycelium import Mycelium


def _flag(path: str) -> str:
    return (host.read_text(path) or "").strip()


def _route_covers(pool: str) -> bool:
    done = host.run(["ip", "route", "show", "type", "unreachable"], check=False)
    return any(line.split()[:2] == ["unreachable", pool] for line in done.stdout.splitlines())


def _status(pid: int) -> dict[str, str]:
    text = host.read_text(f"/proc/{pid}/status") or ""
    return dict(line.split(":\t", 1) for line in text.splitlines() if ":\t" in line)


def _mnt_ns(pid: int | str) -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/ns/mnt")
    except OSError:
        return None


def live_colony(actor: ColonyActor, procs: list[int]) -> tuple[list[str], list[str]]:
    """What is wrong with one running colony: (identity problems, view problems)."""
    name, ident = actor.name, actor.contain.identity
    identity: list[str] = []
    views: list[str] = []
    uid = ident.uid if ident is not None else None
    for path in (actor.rec.workspace, str(actor.contain.home.data)):
        try:
            st = os.stat(path) if path else None
        except OSError:
            continue
        if st is not None and (st.st_uid != uid or st.st_mode & 0o077):
            identity.append(f"{name}: {path} is uid {st.st_uid} mode {st.st_mode & 0o7777:04o}")
    own_view = _mnt_ns("self")
    for pid in procs:
        status = _status(pid)
        if not status:
            continue  # gone meanwhile
        ids = status.get("Uid", "").split()
        if ids and (ids[0] == "0" or (uid is not None and ids[0] != str(uid))):
            identity.append(f"{name}: pid {pid} runs as uid {ids[0]}")
        if status.get("NoNewPrivs", "1").strip() != "1":
            views.append(f"{name}: pid {pid} can gain privileges (no no_new_privs)")
        private = actor.contain.level != "none" and actor.contain.privileged
        if private and _mnt_ns(pid) == own_view:
            views.append(f"{name}: pid {pid} sees the host's mounts")
    return identity, views


def state_files(root: Path) -> list[str]:
    """Files of the state directory others may read or write (issue 10)."""
    found = []
    for path in (root / "mycelium.db", root / "audit.db", root / "audit.key"):
        if path.exists() and path.stat().st_mode & 0o077:
            found.append(f"{path} mode {path.stat().st_mode & 0o777:04o}")
    for logs in [*root.glob("colonies/*/logs"), *root.glob("colonies/*/agents"), root / "trash"]:
        if logs.is_dir() and logs.stat().st_mode & 0o077:
            found.append(f"{logs} mode {logs.stat().st_mode & 0o777:04o}")
    if root.stat().st_mode & 0o066:
        found.append(f"{root} mode {root.stat().st_mode & 0o777:04o}")
    return found


def _live(myc: Mycelium) -> tuple[list[str], list[str]]:
    identity: list[str] = []
    views: list[str] = []
    uids: dict[int, str] = {}
    for name, actor in sorted(myc.actors.items()):
        rec = actor.rec
        if rec.uid is not None:
            if rec.uid in uids:
                identity.append(f"{name}: shares uid {rec.uid} with {uids[rec.uid]}")
            uids[rec.uid] = name
        if not actor.rec.state.has_processes:
            continue
        more = live_colony(actor, myc.kit.iso.procs(actor.slot))
        identity += more[0]
        views += more[1]
    return identity, views


def _group_name(path: Path) -> str | None:
    try:
        return grp.getgrgid(path.stat().st_gid).gr_name
    except (OSError, KeyError):
        return None


def _members(group: str) -> tuple[str, ...]:
    """Users in ``group``: listed in it, or with it as their primary group."""
    try:
        entry = grp.getgrnam(group)
    except KeyError:
        return ()
    primary = {p.pw_name for p in pwd.getpwall() if p.pw_gid == entry.gr_gid}
    return tuple(sorted(set(entry.gr_mem) | primary))


async def gather(myc: Mycelium, audit: Auditor, info: dict[str, Any]) -> Facts:
    kit = myc.kit
    socket = Path(str(info.get("socket", "")))
    observed = await asyncio.to_thread(kit.iso.observe, kit.env.prefix)
    route = await asyncio.to_thread(_route_covers, str(kit.env.pool))
    guarded = getattr(kit.iso, "host_guard", None)  # the real backend's (issue 11)
    host_guard = bool(guarded and await asyncio.to_thread(guarded, kit.env.prefix))
    isolated = tuple(
        sorted(n for n, a in myc.actors.items() if a.rec.isolated and a.cfg.sandbox.level != "none")
    )
    layout = getattr(getattr(kit.iso, "cgroups", None), "layout", None)
    versions = {c: layout.version(c) if layout else None for c in ("cpu", "memory", "pids")}
    verdict = await audit.verify()
    audit_detail = (
        f"audit log verified: {verdict.checked} entries"
        if verdict.ok
        else f"audit log does not verify at entry {verdict.first}: {verdict.problem}"
    )
    as_root = tuple(
        sorted(
            n
            for n, a in myc.actors.items()
            if a.contain.identity is not None and a.contain.identity.uid == 0
        )
    )
    unlimited = tuple(
        sorted(n for n, a in myc.actors.items() if not any(vars(a.cfg.limits).values()))
    )
    userns = _flag("/proc/sys/user/max_user_namespaces") not in ("", "0")
    identities, views = await asyncio.to_thread(_live, myc)
    files = await asyncio.to_thread(state_files, kit.paths.root)
    disks = Path("/dev/loop-control").exists() and shutil.which("mkfs.ext4") is not None
    no_disk = tuple(
        sorted(
            n
            for n, a in myc.actors.items()
            if a.cfg.limits.disk
            and a.contain.privileged
            and a.rec.state == State.RUNNING
            and not a.contain.home.legacy
            and a.contain.home.usage() is None
        )
    )
    return Facts(
        daemon_uid=os.geteuid(),
        socket_mode=socket.stat().st_mode & 0o777 if socket.exists() else 0o777,
        socket_group=_group_name(socket),
        admins=_members(ADMIN_GROUP),
        ip_forward=_flag("/proc/sys/net/ipv4/ip_forward") == "1",
        pool=str(kit.env.pool),
        unreachable_route=route,
        host_guard=host_guard,
        nft=shutil.which("nft") is not None,
        colonies=isolated,
        tables=tuple(sorted(observed.tables)),
        cgroup_versions=versions,
        bubblewrap=shutil.which("bwrap") is not None,
        userns=userns,
        audit_ok=verdict.ok,
        audit_detail=audit_detail,
        unlimited=unlimited,
        as_root=as_root,
        identities=tuple(identities),
        views=tuple(views),
        state_files=tuple(files),
        http=info.get("http_url"),
        disks=disks,
        no_disk=no_disk,
    )


async def run_checks(myc: Mycelium, audit: Auditor, info: dict[str, Any]) -> list[Check]:
    return plan_checks(await gather(myc, audit, info))


class Doctor:
    """The checklist over this daemon's colonies and audit log; ``info`` is what the API
    reports of the daemon (its socket, HTTP URL)."""

    def __init__(self, myc: Mycelium, audit: Auditor) -> None:
        self.myc = myc
        self.audit = audit

    async def checks(self, info: dict[str, Any]) -> list[Check]:
        return await run_checks(self.myc, self.audit, info)
