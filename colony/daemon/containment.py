"""Containment of one colony's processes (SPEC §7): who they run as, their cgroup limits,
their sandbox level, and the host ports of a colony at level ``none``.

Every process of a colony starts through :meth:`Containment.process`, which returns the argv
(bubblewrap in front at moderate and strict) and the placement (netns, cgroups, uid, gid,
groups, no_new_privs). The decisions are pure (:mod:`colony.core.sandbox`); this module looks
users up, creates and chowns directories, and applies limits.

Example:
    >>> contain = Containment(ctx, rec, cfg, slot)
    >>> argv, placement = await contain.process("svc-web", ["/bin/sh", "-c", "npm start"], ws)
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pwd
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

from colony import host
from colony.core import config as conf
from colony.core.config import Config, ServiceSpec
from colony.core.model import ColonyRecord, Slot
from colony.core.sandbox import (
    LEVEL_TEXT,
    NEEDS_BWRAP,
    Identity,
    Jail,
    choose_user,
    find_unreachable,
    plan_hide,
    plan_identity_env,
    render_sandbox,
)
from colony.daemon.context import Context
from colony.errors import ColonyError, ConfigError
from colony.host import Placement
from colony.isolation.limits import OPTIONAL_LIMIT, Limits
from colony.store.ports import PortStore

USERNS_MAX = "/proc/sys/user/max_user_namespaces"
USERNS_CLONE = "/proc/sys/kernel/unprivileged_userns_clone"  # Debian's switch, where present


def _passwd(name: str) -> pwd.struct_passwd | None:
    try:
        return pwd.getpwnam(name)
    except KeyError:
        return None


def _owner_name(path: Path) -> str | None:
    try:
        return pwd.getpwuid(path.stat().st_uid).pw_name
    except (OSError, KeyError):
        return None


def resolve_identity(owner: str, requested: str | None, repo: Path) -> Identity:
    """The unprivileged user of a colony (see :func:`colony.core.sandbox.choose_user`).

    A daemon that does not run as root cannot switch users: its colonies run as itself.

    Raises:
        ConfigError: the user does not exist or has uid 0.
    """
    if not host.is_root():
        me = pwd.getpwuid(os.getuid())
        if requested not in (None, me.pw_name):
            raise ConfigError(
                f"sandbox.user: Mycelium does not run as root, so colonies run as its user "
                f"{me.pw_name!r}; got {requested!r}"
            )
        groups = tuple(os.getgroups())
        why = "Mycelium's own user (it does not run as root)"
        return Identity(me.pw_name, me.pw_uid, me.pw_gid, groups, me.pw_dir, me.pw_shell, why)
    name, why = choose_user(
        owner,
        requested,
        owner_is_local=_passwd(owner) is not None,
        repo_owner=_owner_name(repo),
    )
    entry = _passwd(name)
    if entry is None:
        raise ConfigError(f"sandbox.user: expected an existing user, got {name!r}")
    if entry.pw_uid == 0:
        raise ConfigError(f"sandbox.user: expected an unprivileged user, got {name!r} (uid 0)")
    groups = tuple(os.getgrouplist(name, entry.pw_gid))
    return Identity(name, entry.pw_uid, entry.pw_gid, groups, entry.pw_dir, entry.pw_shell, why)


def check_level(level: str) -> str | None:
    """The bwrap binary for ``level``, None when none is needed.

    Raises:
        ConfigError: bubblewrap is missing or the kernel refuses unprivileged user namespaces.
    """
    if level not in NEEDS_BWRAP:
        return None
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        raise ConfigError(
            f"sandbox.level: {level!r} needs bubblewrap ('bwrap'), which is not installed",
            hint="install it: apt-get install bubblewrap",
        )
    off = (host.read_text(USERNS_MAX) or "1").strip() == "0"
    off = off or (host.read_text(USERNS_CLONE) or "1").strip() == "0"
    if off:
        raise ConfigError(
            f"sandbox.level: {level!r} needs unprivileged user namespaces, which this kernel "
            "has turned off",
            hint="sysctl -w kernel.unprivileged_userns_clone=1 user.max_user_namespaces=10000",
        )
    return bwrap


def validate(owner: str, cfg: Config, repo: Path) -> None:
    """Everything about containment that can be wrong before a colony is made.

    Raises:
        ConfigError: naming the key (sandbox.user, sandbox.level).
    """
    resolve_identity(owner, cfg.sandbox.user, repo)
    check_level(cfg.sandbox.level)


def cgroup_limits(limits: conf.Limits) -> Limits:
    return Limits(
        cpus=limits.cpu,
        memory=limits.memory,
        pids=limits.pids,
        swap=limits.swap,
        io_weight=limits.io_weight,
    )


class Containment:
    """The containment of one colony, built from its record and configuration."""

    def __init__(self, ctx: Context, rec: ColonyRecord, cfg: Config, slot: Slot) -> None:
        self.ctx = ctx
        self.name = rec.name
        self.owner = rec.owner
        self.repo = Path(rec.repo)
        self.cfg = cfg
        self.slot = slot
        self.level = cfg.sandbox.level
        self.identity: Identity | None = None
        self.error: ColonyError | None = None
        self.unapplied: list[str] = []  # limits this kernel does not offer
        self.jail: Jail | None = None
        self.ports = PortStore(ctx.store)
        self.host_ports = self.ports.get(rec.name) if self.level == "none" else {}
        try:
            found = resolve_identity(rec.owner, cfg.sandbox.user, self.repo)
        except ColonyError as exc:
            self.error = exc
        else:
            if not Path(found.home).is_dir():  # e.g. nobody's /nonexistent
                found = replace(found, home=str(self.private_home))
            self.identity = found

    @property
    def private_home(self) -> Path:
        return self.ctx.paths.colony(self.name) / "home"

    @property
    def private_tmp(self) -> Path:
        return self.ctx.paths.colony(self.name) / "tmp"

    def user(self) -> Identity:
        if self.identity is None:
            raise self.error or ColonyError(f"colony '{self.name}': no user to run as")
        return self.identity

    # --- kernel objects and limits (blocking: call from a worker thread) ----------------

    def create(self) -> None:
        """The colony's kernel objects (only cgroups at level none), with its limits applied;
        nothing is left if applying the limits fails."""
        if self.level == "none":
            self.ctx.iso.create_cgroup(self.slot)
        else:
            self.ctx.iso.create(self.slot)
        try:
            self.apply_limits()
        except ColonyError:
            with contextlib.suppress(ColonyError):
                self.ctx.iso.destroy(self.slot)
            raise

    def exists(self) -> bool:
        """Whether the kernel objects a start needs are there (level none: always remade)."""
        return self.level != "none" and self.ctx.iso.netns_exists(self.slot)

    def ensure(self) -> bool:
        """Re-create missing kernel objects before a start; True if they were re-created."""
        if self.exists():
            self.apply_limits()
            return False
        if self.level == "none":
            self.ctx.iso.create_cgroup(self.slot)
            self.apply_limits()
        else:
            self.ctx.iso.destroy(self.slot)
            self.create()
        return True

    def apply_limits(self) -> None:
        limits = cgroup_limits(self.cfg.limits)
        if limits == Limits():
            return
        missing = self.ctx.iso.set_limits(self.slot, limits)
        self.unapplied = sorted({OPTIONAL_LIMIT.get(m, m) for m in missing})

    # --- files and ports (blocking) ---------------------------------------------------

    def prepare(self, workspace: Path) -> None:
        """Give the workspace, data dir and colony database to the colony's user, make its
        private home and /tmp, and check that it can reach them.

        Raises:
            ColonyError: the user cannot enter a parent directory of the state directory.
        """
        ident = self.user()
        data = self.ctx.paths.data(self.name)
        if ident.uid != os.geteuid():  # a daemon that is not root: its files are its user's
            for path in (workspace, data):
                blocked = find_unreachable(host.path_chain(path), ident.uid, ident.groups)
                if blocked:
                    raise ColonyError(
                        f"colony user '{ident.user}' (uid {ident.uid}) cannot reach {path}: "
                        f"{blocked} is closed to it",
                        hint="keep the state directory where every user may pass "
                        "(chmod o+x on its parents), or run the colony as a user who can",
                    )
            for path in (workspace, data, *self._git_admin(workspace, ident)):
                host.chown_tree(path, ident.uid, ident.gid)
        if ident.home == str(self.private_home):
            host.make_private_dir(self.private_home, ident.uid, ident.gid)
        if self.level == "strict":
            host.make_private_dir(self.private_tmp, ident.uid, ident.gid)

    def _git_admin(self, workspace: Path, ident: Identity) -> list[Path]:
        """The worktree's admin dir and branch refs, when the colony user owns the repository
        (so it can commit on its branch); nothing otherwise."""
        dotgit = workspace / ".git"
        with contextlib.suppress(OSError):
            text = dotgit.read_text() if dotgit.is_file() else ""
            if not text.startswith("gitdir: "):
                return []
            admin = Path(text.removeprefix("gitdir: ").strip())
            common = admin.parent.parent
            if common.stat().st_uid != ident.uid:
                return []
            return [admin, common / "refs/heads/colony", common / "logs/refs/heads/colony"]
        return []

    def assign_ports(self) -> None:
        """Level none: a free host port for each service port, kept while still free."""
        if self.level != "none":
            return
        wanted = [s.name for s in self.cfg.services if s.port is not None]
        taken = set(self.ports.used()) - set(self.host_ports.values())
        ports: dict[str, int] = {}
        for service in wanted:
            port = self.host_ports.get(service)
            if port is None or port in taken or not host.port_free(port):
                port = host.free_port(frozenset(taken | set(ports.values())))
            ports[service] = port
        if ports != self.host_ports:
            self.ports.save(self.name, ports)
            self.host_ports = ports

    # --- processes --------------------------------------------------------------------

    def _jail(self) -> Jail:
        """The colony's bubblewrap setup without its workspace (computed once)."""
        if self.jail is not None:
            return self.jail
        ident = self.user()
        bwrap = check_level(self.level) or "bwrap"
        writable: list[str] = []
        hidden: list[tuple[str, bool]] = []
        if self.level == "strict":
            writable = [str(self.ctx.paths.data(self.name))]
            if ident.home == str(self.private_home):
                writable.append(ident.home)
            homes = [ident.home]
            owner = _passwd(self.owner)
            if owner is not None and owner.pw_dir not in homes:
                homes.append(owner.pw_dir)
            for path in plan_hide(homes, self.cfg.sandbox.hide):
                # What the user cannot reach (another user's 0700 home) needs no cover, and
                # bwrap, running as that user, could not mount over it anyway.
                parent = host.path_chain(os.path.dirname(path))
                if os.path.lexists(path) and not find_unreachable(parent, ident.uid, ident.groups):
                    hidden.append((path, os.path.isdir(path)))
        self.jail = Jail(self.level, tuple(writable), str(self.private_tmp), tuple(hidden), bwrap)
        return self.jail

    def placement_for(self, leaf: str) -> Placement:
        """Blocking: the leaf cgroup, and who and where the process runs."""
        ident = self.user()
        placement = self.ctx.iso.placement(self.slot, leaf)
        switch = ident.uid != os.geteuid()
        return replace(
            placement,
            netns=None if self.level == "none" else placement.netns,
            no_new_privs=True,
            uid=ident.uid if switch else None,
            gid=ident.gid if switch else None,
            groups=ident.groups if switch else None,
        )

    async def process(
        self,
        leaf: str,
        argv: list[str],
        cwd: Path | str,
        workspace: Path | str,
        *,
        tty: bool = False,
    ) -> tuple[list[str], Placement]:
        """The argv and placement of one process of the colony, in cgroup leaf ``leaf``;
        ``tty`` when it runs on a PTY (``colony shell``)."""

        def plan() -> tuple[list[str], Placement]:
            placement = self.placement_for(leaf)
            jail = self._jail()
            if jail.level == "strict":
                jail = replace(jail, writable=(str(workspace), *jail.writable))
            if tty and jail.level in NEEDS_BWRAP:
                placement = replace(placement, controlling_tty=False)
            return render_sandbox(jail, argv, str(cwd), tty=tty), placement

        return await asyncio.to_thread(plan)

    # --- what processes see -----------------------------------------------------------

    def env(self) -> dict[str, str]:
        """Variables that replace the daemon's own: the colony user's HOME, USER, …"""
        if self.identity is None:
            return {}
        return plan_identity_env(self.identity, self.level)

    def port(self, spec: ServiceSpec | None) -> int | None:
        """The port the service listens on: its own, or its host port at level none."""
        if spec is None or spec.port is None:
            return None
        return self.host_ports.get(spec.name, spec.port)

    def service_ports(self) -> list[tuple[str, int | None]]:
        return [(s.name, self.port(s)) for s in self.cfg.services]

    @property
    def netns_path(self) -> str | None:
        """Where the colony's loopback is: None means the host's (level none)."""
        return None if self.level == "none" else self.slot.netns_path

    def to_json(self) -> dict[str, Any]:
        ident = self.identity
        return {
            "level": self.level,
            "description": LEVEL_TEXT.get(self.level, ""),
            "user": ident.to_json() if ident else None,
            "user_error": str(self.error) if self.error else None,
            "unapplied_limits": self.unapplied,
        }
