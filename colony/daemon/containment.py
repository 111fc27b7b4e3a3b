"""Containment of one colony's processes (SPEC §7): who they run as, what they see of the
host, their cgroup limits, their sandbox level, and the host ports of a colony at ``none``.

Every process of a colony starts through :meth:`Containment.contained`: services, setup,
build, exec, shell, agents, and the git Mycelium runs in the workspace (:meth:`inside`). It
returns the argv (bubblewrap in front at moderate and strict) and the placement: netns,
cgroups, the private view of the host (a mount plan, issue 10), the colony's own uid and
gid, no_new_privs. The decisions are pure (:mod:`colony.core.sandbox`,
:mod:`colony.core.mounts`); this module knows paths and applies limits.

Example:
    >>> contain = Containment(rec, cfg, slot, iso=iso, store=store, paths=paths, env=env)
    >>> argv, placement = await contain.process("svc-web", ["/bin/sh", "-c", "npm start"], ws)
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import pwd
import shutil
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import IO

from colony import contract_responses as answers
from colony import host
from colony.core import config as conf
from colony.core.config import Config, ServiceSpec
from colony.core.model import ColonyRecord, Slot
from colony.core.mounts import OBJECTS, MountOp, View, below, plan_view
from colony.core.sandbox import (
    LEVEL_TEXT,
    NEEDS_BWRAP,
    Identity,
    Jail,
    check_user,
    colony_identity,
    find_unreachable,
    plan_hide,
    plan_identity_env,
    render_sandbox,
)
from colony.daemon.home import ColonyHome
from colony.daemon.kit import ColonyEnv
from colony.daemon.paths import Paths
from colony.daemon.secret_ca import SYSTEM_BUNDLE, ca_bundle_path
from colony.errors import ColonyError, ConfigError, HostError
from colony.host import Placement, overlay
from colony.isolation import Isolation
from colony.isolation.limits import OPTIONAL_LIMIT, Limits
from colony.store.ports import PortStore
from colony.store.queries import Store
from colony.vcs.checkouts import Checkout, checkout_key, checkouts_at, reachable
from colony.vcs.inside import Ran, hardening_env
from colony.vcs.repo import Repo

USERNS_MAX = "/proc/sys/user/max_user_namespaces"
USERNS_CLONE = "/proc/sys/kernel/unprivileged_userns_clone"  # Debian's switch, where present
_git_runs = itertools.count(1)


def _passwd(name: str) -> pwd.struct_passwd | None:
    try:
        return pwd.getpwnam(name)
    except KeyError:
        return None


def real_user(name: str) -> Identity:
    """A local user a colony runs as instead of its own uid (``--user``, host-approved).

    Raises:
        ConfigError: the user does not exist or has uid 0.
    """
    entry = _passwd(name)
    if entry is None:
        raise ConfigError(f"--user: expected an existing user, got {name!r}")
    if entry.pw_uid == 0:
        raise ConfigError(f"--user: expected an unprivileged user, got {name!r} (uid 0)")
    groups = tuple(os.getgrouplist(name, entry.pw_gid))
    why = "--user: a local user the host allowed"
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


def validate(owner: str, cfg: Config, allowed_users: Sequence[str] = ()) -> None:
    """Everything about containment that can be wrong before a colony is made.

    Raises:
        ConfigError: naming the setting (--user, sandbox.level).
    """
    if cfg.sandbox.user is not None:
        check_user(cfg.sandbox.user, owner, allowed_users)
        real_user(cfg.sandbox.user)
    check_level(cfg.sandbox.level)


def check_objects(objects: Path, level: str, uid: int, groups: Sequence[int]) -> None:
    """Refuse a repository whose objects the colony's user could not read: its git would not
    work (issue 10). At ``none`` the whole path must be passable; above, the directory is
    bound into the colony's view, so only its own mode counts.

    Raises:
        ConfigError: naming the directory that is closed.
    """
    if os.geteuid() != 0:
        return
    chain = host.path_chain(objects)
    if level != "none":
        chain = chain[-1:]
        if chain and chain[0][1] & 0o005 != 0o005 and chain[0][2] != uid:
            blocked: str | None = f"{objects} (mode {chain[0][1] & 0o7777:04o})"
        else:
            blocked = find_unreachable(chain, uid, groups)
    else:
        blocked = find_unreachable(chain, uid, groups)
    if blocked:
        raise ConfigError(
            f"the colony's user (uid {uid}) could not read the repository's objects: "
            f"{blocked} is closed to it",
            hint=f"let others read it (chmod -R o+rX {objects})"
            + (", or use a sandbox level above none" if level == "none" else ""),
        )


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

    def __init__(
        self,
        rec: ColonyRecord,
        cfg: Config,
        slot: Slot,
        *,
        iso: Isolation,
        store: Store,
        paths: Paths,
        env: ColonyEnv,
    ) -> None:
        self.iso = iso
        self.paths = paths
        self.colony_path = env.colony_path
        self.name = rec.name
        self.owner = rec.owner
        self.rec = rec
        self.cfg = cfg
        self.slot = slot
        self.level = cfg.sandbox.level
        self.home = ColonyHome(paths, rec.name)
        self.identity: Identity | None = None
        self.error: ColonyError | None = None
        self.unapplied: list[str] = []  # limits this kernel does not offer
        self.jail: Jail | None = None
        self.ports = PortStore(store)
        self.host_ports = self.ports.get(rec.name) if self.level == "none" else {}
        # Root with a uid range switches users and builds views; otherwise (a daemon that is
        # not root, or the daemon's unit tests) colonies run as the daemon's own user.
        self.privileged = host.is_root() and env.ids is not None
        try:
            self.identity = self._identity(rec)
        except ColonyError as exc:
            self.error = exc

    def _identity(self, rec: ColonyRecord) -> Identity:
        if not self.privileged:
            me = pwd.getpwuid(os.getuid())
            why = "Mycelium's own user (it cannot switch users)"
            groups = tuple(os.getgroups())
            return Identity(me.pw_name, me.pw_uid, me.pw_gid, groups, me.pw_dir, me.pw_shell, why)
        if self.cfg.sandbox.user is not None:
            return real_user(self.cfg.sandbox.user)
        if rec.uid is None:
            raise ColonyError(
                f"colony '{rec.name}' was made by an older Colony and has no uid of its own",
                hint=f"merge or save its work, then 'colony rm {rec.name}' and spawn it again",
            )
        shell = "/bin/bash" if os.path.exists("/bin/bash") else "/bin/sh"
        return colony_identity(rec.name, rec.uid, str(self.home.home), shell)

    def user(self) -> Identity:
        if self.identity is None:
            raise self.error or ColonyError(f"colony '{self.name}': no user to run as")
        return self.identity

    @property
    def own_uid(self) -> bool:
        """Whether the colony runs as a uid of its own (not a real user, not the daemon's)."""
        return self.identity is not None and self.privileged and self.cfg.sandbox.user is None

    # --- kernel objects and limits (blocking: call from a worker thread) ----------------

    def create(self) -> None:
        """The colony's kernel objects (only cgroups at level none), with its limits applied;
        nothing is left if applying the limits fails."""
        if self.level == "none":
            self.iso.create_cgroup(self.slot)
        else:
            self.iso.create(self.slot)
        try:
            self.apply_limits()
        except ColonyError:
            with contextlib.suppress(ColonyError):
                self.iso.destroy(self.slot)
            raise

    def exists(self) -> bool:
        """Whether the kernel objects a start needs are there (level none: always remade)."""
        return self.level != "none" and self.iso.netns_exists(self.slot)

    def ensure(self) -> bool:
        """Re-create missing kernel objects before a start; True if they were re-created."""
        if self.exists():
            self.apply_limits()
            return False
        if self.level == "none":
            self.iso.create_cgroup(self.slot)
            self.apply_limits()
        else:
            self.iso.destroy(self.slot)
            self.create()
        return True

    def apply_limits(self) -> None:
        limits = cgroup_limits(self.cfg.limits)
        if limits == Limits():
            return
        missing = self.iso.set_limits(self.slot, limits)
        self.unapplied = sorted({OPTIONAL_LIMIT.get(m, m) for m in missing})

    # --- files (blocking) -------------------------------------------------------------

    def prepare(self, workspace: Path) -> None:
        """Make the colony's directories (before any of its processes runs): its disk (a
        size-limited file system with the ``disk`` limit), and on it the workspace, data dir
        and database, home, /tmp and /dev/shm of its own, 0700 of its uid with the owner in
        their ACL; and the passwd and group files its view shows."""
        ident = self.user()
        grant = self._owner_uid()
        self.home.mount(self.cfg.limits.disk if self.privileged else None)
        self.home.make(ident.uid, ident.gid, workspace, grant)
        if self.own_uid:
            self.home.write_identity(ident)

    # --- the workspace's overlay (issue 15; blocking) ---------------------------------------

    @property
    def can_layer(self) -> bool:
        """Whether a new workspace is an overlay of its base's shared checkout: Mycelium is
        root with colony uids (it mounts, and the colony runs as an id the files are shown
        as) on a kernel that can mount it; otherwise the colony checks its base out itself."""
        return self.privileged and not self.home.legacy and overlay.supported()

    def can_layer_for(self, repo: Repo) -> bool:
        """:attr:`can_layer`, and the repository's owner may reach the shared checkouts (its
        git writes them there; a state directory under a private one has plain checkouts)."""
        return self.can_layer and reachable(self.paths.checkouts, repo.owner)

    def make_upper(self) -> None:
        ident = self.user()
        self.home.make_upper(ident.uid, ident.gid, self._owner_uid())

    def mount_workspace(self, workspace: Path, repo: Callable[[], Repo], base: str) -> Checkout:
        """Mount the overlay of ``base``'s shared checkout at ``workspace``, unless it is
        mounted; the checkout. ``repo`` opens the repository, needed only when the checkout
        the colony recorded is gone (then it is made again).

        Raises:
            HostError: git could not make the checkout, or the kernel refused the mount.
        """
        cache = checkouts_at(self.paths.checkouts)
        key = self.home.checkout_key()
        lower = cache.find_key(key) if key else None
        ident = self.user()
        if lower is not None and lower.key.endswith(base):
            self.home.mount_workspace(lower.tree, lower.owner, (ident.uid, ident.gid), workspace)
            return lower
        found = repo()
        key = checkout_key(found, base)
        with cache.holding(key):  # until the record below keeps it from gc
            host.replace_file(self.home.checkout, key + "\n")
            lower = cache.ensure(found, base)
            self.home.mount_workspace(lower.tree, lower.owner, (ident.uid, ident.gid), workspace)
        return lower

    def _owner_uid(self) -> list[int]:
        entry = _passwd(self.owner)
        return [entry.pw_uid] if entry is not None and entry.pw_uid != 0 else []

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

    def has_view(self) -> bool:
        """Whether the colony's processes get a private view (:meth:`view`)."""
        return not (self.level == "none" or not self.privileged)

    def view(self, workspace: Path) -> tuple[MountOp, ...] | None:
        """The colony's private view of the host; None at level none (and for a daemon that
        is not root, which cannot build one)."""
        if self.level == "none" or not self.privileged:
            return None
        h = self.home
        own = (str(workspace), str(h.data), str(h.home))
        resolv = os.path.realpath("/etc/resolv.conf")  # /etc is root's: no colony's link
        if below(resolv, "/run") or os.path.isfile(resolv):
            dns = (str(h.write_resolv(self.slot.host_ip)), resolv)
        else:
            dns = None
        passwd = str(h.passwd) if self.own_uid else None
        group = str(h.group) if self.own_uid else None
        bundle = ca_bundle_path(self.paths, self.name)
        system = os.path.realpath(SYSTEM_BUNDLE)  # /etc and /usr are root's: no colony's link
        view = View(
            state_dir=str(self.paths.root),
            tmp=str(h.tmp),
            shm=str(h.shm),
            own=own,
            objects=self.rec.objects,
            passwd=passwd,
            group=group,
            sockets=self.cfg.sandbox.sockets,
            resolv_conf=dns,
            ca_bundle=str(bundle) if bundle.is_file() else None,  # issue 17
            system_bundle=system if os.path.isfile(system) else None,
        )
        return tuple(plan_view(view))

    def objects_seen(self, objects: Path) -> str:
        """Where the colony's git finds the repository's objects."""
        return str(objects) if self.level == "none" or not self.privileged else OBJECTS

    def _jail(self) -> Jail:
        """The colony's bubblewrap setup without its workspace (computed once)."""
        if self.jail is not None:
            return self.jail
        ident = self.user()
        bwrap = check_level(self.level) or "bwrap"
        writable: list[str] = []
        hidden: list[tuple[str, bool]] = []
        tmp = None
        if self.level == "strict":
            writable = [str(self.home.data)]
            if ident.home == str(self.home.home):  # its own home; a real user's stays read-only
                writable.append(ident.home)
            if self.privileged:  # the view gives the colony its own /tmp, /var/tmp, /dev/shm
                writable += ["/tmp", "/var/tmp", "/dev/shm"]
            else:
                tmp = str(self.home.tmp)
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
        self.jail = Jail(self.level, tuple(writable), tmp, tuple(hidden), bwrap)
        return self.jail

    def placement_for(
        self, leaf: str | None, workspace: Path | None = None, *, private_net: bool = False
    ) -> Placement:
        """Blocking: the leaf cgroup, and who and where the process runs.

        ``private_net``: an empty network namespace of its own instead of the colony's (the
        git Mycelium runs needs no network, and works while the colony's namespace is gone).
        ``leaf`` None: no cgroup, only for the checkout of a new, empty workspace, where no
        code of the colony can run yet (its configuration does not exist yet).
        """
        ident = self.user()
        placement = self.iso.placement(self.slot, leaf) if leaf else Placement()
        switch = ident.uid != os.geteuid()
        netns = None if self.level == "none" or private_net else placement.netns
        return replace(
            placement,
            netns=netns,
            new_netns=private_net and self.level != "none",
            no_new_privs=True,
            uid=ident.uid if switch else None,
            gid=ident.gid if switch else None,
            groups=ident.groups if switch else None,
            view=self.view(workspace or Path(self.rec.workspace or "/")),
            umask=0o022,
        )

    def contained(
        self,
        leaf: str | None,
        argv: Sequence[str],
        cwd: Path | str,
        workspace: Path | str,
        *,
        tty: bool = False,
        private_net: bool = False,
    ) -> tuple[list[str], Placement]:
        """Blocking: the argv and placement of one process of the colony in leaf ``leaf``."""
        placement = self.placement_for(leaf, Path(workspace), private_net=private_net)
        jail = self._jail()
        if jail.level == "strict":
            jail = replace(jail, writable=(str(workspace), *jail.writable))
        if tty and jail.level in NEEDS_BWRAP:
            placement = replace(placement, controlling_tty=False)
        return render_sandbox(jail, argv, str(cwd), tty=tty), placement

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
        return await asyncio.to_thread(self.contained, leaf, argv, cwd, workspace, tty=tty)

    def inside(self, workspace: Path, *, fresh: bool = False) -> Inside:
        """A runner for git in the workspace: as the colony, contained (issue 10).

        ``fresh``: the workspace is new and empty and the colony's cgroup may not exist yet;
        its first checkout runs before any configuration of the colony exists, so nothing of
        the colony runs in it, and it may run outside the cgroup (while the cgroup is made).
        """
        return Inside(self, workspace, fresh=fresh)

    # --- what processes see -----------------------------------------------------------

    def env(self) -> dict[str, str]:
        """Variables that replace the daemon's own: PATH, the colony user's HOME, USER, …"""
        env = {"PATH": self.colony_path}
        if self.identity is not None:
            env.update(plan_identity_env(self.identity, self.level))
        return env

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

    def answer(self) -> answers.Containment:
        """How the colony is contained, as the API answers."""
        ident = self.identity
        disk = self.home.usage()
        return answers.Containment(
            level=self.level,
            description=LEVEL_TEXT.get(self.level, ""),
            user=answers.RunsAs(name=ident.user, uid=ident.uid, gid=ident.gid, why=ident.why)
            if ident
            else None,
            user_error=str(self.error) if self.error else None,
            unapplied_limits=list(self.unapplied),
            disk=answers.Disk(size=disk["size"], used=disk["used"]) if disk else None,
        )


class Inside:
    """Runs a command in a colony's workspace as the colony, contained: the one way Mycelium
    runs git there (issue 10). Blocking; call from a worker thread."""

    def __init__(self, contain: Containment, workspace: Path, *, fresh: bool = False) -> None:
        self.contain = contain
        self.workspace = workspace
        self.fresh = fresh

    def __call__(
        self,
        argv: Sequence[str],
        *,
        input: bytes | None = None,
        stdout: IO[bytes] | None = None,
        timeout: float = 120,
    ) -> Ran:
        contain = self.contain
        leaf = None if self.fresh else f"git-{next(_git_runs)}"
        argv, placement = contain.contained(
            leaf, argv, self.workspace, self.workspace, private_net=True
        )
        env = {**contain.env(), "LANGUAGE": "C", "LC_ALL": "C.UTF-8", **hardening_env()}
        # git never looks for a repository above the workspace (an empty one, say)
        env["GIT_CEILING_DIRECTORIES"] = str(self.workspace.parent)
        iso, slot = contain.iso, contain.slot
        try:
            proc = host.spawn(
                argv,
                cwd=self.workspace,
                env=env,
                placement=placement,
                stdin=host.PIPE if input is not None else host.DEVNULL,
                stdout=stdout if stdout is not None else host.PIPE,
                stderr=host.PIPE,
            )
            try:
                out, err = proc.communicate(input, timeout)
            except host.TimeoutExpired as exc:
                if leaf is None:
                    proc.kill()
                else:
                    iso.kill(slot, leaf)
                proc.communicate()
                raise HostError(
                    f"git in colony '{contain.name}' timed out after {timeout:g}s"
                ) from exc
        finally:
            if leaf is not None:
                with contextlib.suppress(ColonyError):
                    iso.remove_leaf(slot, leaf)
        return Ran(proc.returncode, out or b"", (err or b"").decode(errors="replace"))


__all__ = ["Containment", "Inside", "check_level", "check_objects", "real_user", "validate"]
