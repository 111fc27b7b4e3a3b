"""Gathers the facts `colony doctor` judges (host I/O); the judging is colony.core.doctor."""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path
from typing import Any

from colony import host
from colony.core.doctor import Check, Facts, plan_checks
from colony.daemon.mycelium import Mycelium


def _flag(path: str) -> str:
    return (host.read_text(path) or "").strip()


def _route_covers(pool: str) -> bool:
    done = host.run(["ip", "route", "show", "type", "unreachable"], check=False)
    return any(line.split()[:2] == ["unreachable", pool] for line in done.stdout.splitlines())


async def gather(myc: Mycelium, info: dict[str, Any]) -> Facts:
    ctx = myc.ctx
    socket = Path(str(info.get("socket", "")))
    observed = await asyncio.to_thread(ctx.iso.observe, ctx.prefix)
    route = await asyncio.to_thread(_route_covers, str(ctx.pool))
    guarded = getattr(ctx.iso, "host_guard", None)  # the real backend's (issue 11)
    host_guard = bool(guarded and await asyncio.to_thread(guarded, ctx.prefix))
    isolated = tuple(
        sorted(n for n, a in myc.actors.items() if a.rec.isolated and a.cfg.sandbox.level != "none")
    )
    layout = getattr(getattr(ctx.iso, "cgroups", None), "layout", None)
    versions = {c: layout.version(c) if layout else None for c in ("cpu", "memory", "pids")}
    audit_ok: bool | None = None
    audit_detail = ""
    if ctx.audit is not None:
        verdict = await ctx.audit.verify()
        audit_ok = verdict.ok
        audit_detail = (
            f"audit log verified: {verdict.checked} entries"
            if verdict.ok
            else f"audit log does not verify at entry {verdict.first}: {verdict.problem}"
        )
    as_root = tuple(
        sorted(
            n
            for n, a in myc.actors.items()
            if ((a.contain.to_json().get("user") or {}).get("uid")) == 0
        )
    )
    unlimited = tuple(
        sorted(n for n, a in myc.actors.items() if not any(vars(a.cfg.limits).values()))
    )
    userns = _flag("/proc/sys/user/max_user_namespaces") not in ("", "0")
    return Facts(
        daemon_uid=os.geteuid(),
        socket_mode=socket.stat().st_mode & 0o777 if socket.exists() else 0o777,
        ip_forward=_flag("/proc/sys/net/ipv4/ip_forward") == "1",
        pool=str(ctx.pool),
        unreachable_route=route,
        host_guard=host_guard,
        nft=shutil.which("nft") is not None,
        colonies=isolated,
        tables=tuple(sorted(observed.tables)),
        cgroup_versions=versions,
        bubblewrap=shutil.which("bwrap") is not None,
        userns=userns,
        audit_ok=audit_ok,
        audit_detail=audit_detail,
        unlimited=unlimited,
        as_root=as_root,
        http=info.get("http_url"),
    )


async def run_checks(myc: Mycelium, info: dict[str, Any]) -> list[Check]:
    return plan_checks(await gather(myc, info))
