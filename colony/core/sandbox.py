"""Sandbox levels and the identity colony processes run as: pure decisions, argv as data.

SPEC §7. Every process of a colony (service, setup, build, exec, shell) starts through one
helper that asks :func:`render_sandbox` for its argv: ``none`` and ``basic`` run the command
as it is (``basic`` inside the colony's network namespace), ``moderate`` and ``strict`` put
bubblewrap (``bwrap``) in front of it. Who the process runs as comes from :func:`choose_user`;
never root.

Example:
    >>> render_sandbox(Jail("moderate"), ["sh", "-c", "make"], "/ws")
    ['bwrap', '--unshare-user', '--unshare-pid', '--dev-bind', '/', '/', '--proc', '/proc',
     '--chdir', '/ws', '--', 'sh', '-c', 'make']
"""

from __future__ import annotations

import stat
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import get_args

from colony.core.config import Level
from colony.errors import ConfigError

LEVELS: tuple[Level, ...] = get_args(Level)
NEEDS_BWRAP = frozenset({"moderate", "strict"})
FALLBACK_USER = "nobody"

LEVEL_TEXT: Mapping[str, str] = {
    "none": "no namespace: the host's network, ports remapped to free host ports; cgroup limits",
    "basic": "own network namespace and cgroup",
    "moderate": "own network, PID and user namespaces and cgroup: other colonies' processes "
    "are invisible and cannot be signalled",
    "strict": "moderate + mount namespace: host filesystem read-only, only the workspace, "
    "data dir and a private /tmp writable, secrets hidden",
}

# Secrets hidden at level strict, relative to a home directory; `[sandbox] hide` adds more.
DEFAULT_HIDE: tuple[str, ...] = (
    "~/.ssh",
    "~/.aws",
    "~/.gnupg",
    "~/.config/gh",
    "~/.config/hub",
    "~/.netrc",
    "~/.docker",
    "~/.kube",
    "~/.config/gcloud",
    "~/.azure",
    "~/.oci",
    "~/.config/doctl",
    "~/.terraform.d",
    "~/.git-credentials",
    "~/.config/git/credentials",
    "~/.npmrc",
    "~/.pypirc",
    "~/.vault-token",
    "~/.password-store",
    "~/.local/share/keyrings",
)
NO_LOGIN_SHELLS = frozenset(
    {"", "/usr/sbin/nologin", "/sbin/nologin", "/bin/false", "/usr/bin/false"}
)


@dataclass(frozen=True)
class Identity:
    """The unprivileged user a colony's processes run as, and why that one."""

    user: str
    uid: int
    gid: int
    groups: tuple[int, ...]
    home: str
    shell: str
    why: str

    def to_json(self) -> dict[str, object]:
        return {"name": self.user, "uid": self.uid, "gid": self.gid, "why": self.why}


def choose_user(
    owner: str, requested: str | None, *, owner_is_local: bool, repo_owner: str | None
) -> tuple[str, str]:
    """The user name a colony runs as, and why: never root.

    ``[sandbox] user`` wins; only root may name another user than themselves (anyone may name
    ``nobody``). Otherwise the owner (the user who spawned it); when that is root (or not a
    local user), the repository's owner, and when that is root too, ``nobody``.

    Raises:
        ConfigError: ``requested`` is root, or names another user and the owner is not root.

    Example:
        >>> choose_user("root", None, owner_is_local=True, repo_owner="alice")
        ('alice', "owner root: the repository's owner")
    """
    if requested is not None:
        if requested == "root":
            raise ConfigError("sandbox.user: expected an unprivileged user, got 'root'")
        if owner != "root" and requested not in (owner, FALLBACK_USER):
            raise ConfigError(
                f"sandbox.user: only root may run a colony as another user; {owner!r} may name "
                f"{owner!r} or {FALLBACK_USER!r}, got {requested!r}"
            )
        return requested, "[sandbox] user"
    if owner != "root" and owner_is_local:
        return owner, "the owner"
    if repo_owner and repo_owner != "root":
        return repo_owner, f"owner {owner}: the repository's owner"
    return FALLBACK_USER, f"owner {owner}: colonies never run as root"


def plan_identity_env(identity: Identity, level: str) -> dict[str, str]:
    """HOME, USER, LOGNAME and SHELL of the colony user (instead of the daemon's)."""
    shell = identity.shell if identity.shell not in NO_LOGIN_SHELLS else "/bin/sh"
    env = {"HOME": identity.home, "USER": identity.user, "LOGNAME": identity.user, "SHELL": shell}
    if level == "strict":
        env["XDG_CACHE_HOME"] = "/tmp/.cache"  # the home is read-only there
    return env


def plan_hide(homes: Iterable[str], extra: Iterable[str]) -> list[str]:
    """Absolute paths of the secrets to hide: the defaults and ``extra`` (``~/…`` or absolute)
    in each of ``homes``, without duplicates, in order."""
    out: list[str] = []
    for entry in (*DEFAULT_HIDE, *extra):
        for home in homes if entry.startswith("~/") else ("",):
            path = home.rstrip("/") + entry[1:] if entry.startswith("~/") else entry
            if path.startswith("/") and path not in out and path.rstrip("/") != home.rstrip("/"):
                out.append(path)
    return out


@dataclass(frozen=True)
class Jail:
    """What bubblewrap must set up for one colony (levels moderate and strict).

    ``writable`` paths stay writable at level strict (workspace, data dir, a private home);
    ``tmp`` is the host directory mounted on /tmp; ``hidden`` are (path, is_dir) of existing
    secrets to cover.
    """

    level: str
    writable: tuple[str, ...] = ()
    tmp: str | None = None
    hidden: tuple[tuple[str, bool], ...] = ()
    bwrap: str = "bwrap"


def render_sandbox(jail: Jail, argv: Sequence[str], cwd: str, *, tty: bool = False) -> list[str]:
    """The argv that runs ``argv`` at ``jail.level``; unchanged for none and basic.

    The network namespace and the cgroup are entered before exec (see ``host.Placement``);
    bwrap adds the PID and user namespaces (moderate) and the read-only view (strict). With
    ``tty``, the command takes the terminal as its controlling one inside the PID namespace
    (``setsid --ctty``), so a shell's job control sees process groups it can address.
    """
    if jail.level not in NEEDS_BWRAP:
        return list(argv)
    if tty:
        argv = ["setsid", "--ctty", "--wait", *argv]
    out = [jail.bwrap, "--unshare-user", "--unshare-pid"]
    if jail.level == "moderate":
        out += ["--dev-bind", "/", "/", "--proc", "/proc"]
    else:
        out += ["--ro-bind", "/", "/", "--dev-bind", "/dev", "/dev", "--tmpfs", "/dev/shm"]
        out += ["--proc", "/proc"]
        if jail.tmp:
            out += ["--bind", jail.tmp, "/tmp"]
        for path in jail.writable:
            out += ["--bind", path, path]
        for path, is_dir in jail.hidden:
            if is_dir:
                out += ["--tmpfs", path, "--remount-ro", path]
            else:
                out += ["--ro-bind", "/dev/null", path]
    return [*out, "--chdir", cwd, "--", *argv]


def find_unreachable(
    chain: Sequence[tuple[str, int, int, int]], uid: int, gids: Iterable[int]
) -> str | None:
    """The first directory of ``chain`` ((path, mode, uid, gid) from ``/`` down, as
    ``host.path_chain`` returns) that ``uid`` cannot enter, described; None if all can be."""
    if uid == 0:
        return None
    groups = set(gids)
    for path, mode, owner, group in chain:
        if owner == uid:
            ok = mode & stat.S_IXUSR
        elif group in groups:
            ok = mode & stat.S_IXGRP
        else:
            ok = mode & stat.S_IXOTH
        if not ok:
            return f"{path} (mode {stat.S_IMODE(mode):04o}, owner uid {owner})"
    return None
