"""Sandbox levels and the identity colony processes run as: pure decisions, argv as data.

SPEC §7. Every process of a colony (service, setup, build, exec, shell) starts through one
helper that asks :func:`render_sandbox` for its argv: ``none`` and ``basic`` run the command
as it is (``basic`` inside the colony's network namespace), ``moderate`` and ``strict`` put
bubblewrap (``bwrap``) in front of it. Who the process runs as is the colony's own uid
(:func:`colony_identity`), never root.

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


def colony_identity(name: str, uid: int, home: str, shell: str) -> Identity:
    """The identity of colony ``name``: its own uid and gid, a user name that exists only
    inside the colony, and its private home.

    Example:
        >>> colony_identity("web", 1_900_000_003, "/st/colonies/web/home", "/bin/bash").user
        'colony-web'
    """
    why = "its own uid from Mycelium's colony range"
    return Identity(f"colony-{name}", uid, uid, (uid,), home, shell, why)


def check_user(requested: str, owner: str, allowed: Iterable[str]) -> None:
    """Check that a colony may run as the local user ``requested`` instead of its own uid.

    Only the host decides: the spawn's ``--user`` flag (root's, or the owner naming
    themselves) or ``allowed_users`` of the host policy file. Never root.

    Raises:
        ConfigError: naming the setting.
    """
    if requested == "root":
        raise ConfigError("--user: expected an unprivileged user, got 'root'")
    if owner != "root" and requested != owner and requested not in allowed:
        raise ConfigError(
            f"--user: only root may run a colony as another user; {owner!r} may name "
            f"{owner!r}, got {requested!r}",
            hint="or list the user in allowed_users of /etc/colony/policy.toml",
        )


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

    The network namespace, the cgroup and the private view of the host are entered before
    exec (see ``host.Placement``); bwrap adds the PID and user namespaces (moderate) and the
    read-only file system (strict). With ``tty``, the command takes the terminal as its
    controlling one inside the PID namespace (``setsid --ctty``), so a shell's job control
    sees process groups it can address.
    """
    if jail.level not in NEEDS_BWRAP:
        return list(argv)
    if tty:
        argv = ["setsid", "--ctty", "--wait", *argv]
    out = [jail.bwrap, "--unshare-user", "--unshare-pid"]
    if jail.level == "moderate":
        out += ["--dev-bind", "/", "/", "--proc", "/proc"]
    else:
        out += ["--ro-bind", "/", "/", "--dev-bind", "/dev", "/dev", "--proc", "/proc"]
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
