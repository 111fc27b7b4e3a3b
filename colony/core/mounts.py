"""A colony's private view of the host: the mount namespace every process of a colony gets at
sandbox level ``basic`` and above (SPEC §7, issue 10). Pure: :func:`plan_view` returns the
operations as data; :func:`colony.host.spawn` performs them between fork and exec, as root,
before the process drops to the colony's identity.

What the view changes, and why:

* ``/sys`` is a fresh sysfs of the colony's own network namespace: ``/sys/class/net`` lists
  only its interfaces, and ``/sys/fs/cgroup`` (the other colonies' cgroups) is gone.
* ``/proc`` is a fresh procfs with ``hidepid=invisible``: processes of other users (other
  colonies, the host) are not listed.
* ``/run`` is an empty tmpfs: host sockets (D-Bus, docker, databases) are hidden, except those
  the host granted, bound back one by one.
* The state directory is an empty tmpfs, with only the colony's own workspace, data dir and
  home bound back: no ``mycelium.db``, no other colony's logs or files.
* ``/tmp``, ``/var/tmp`` and ``/dev/shm`` are the colony's own directories.
* ``/etc/passwd`` and ``/etc/group`` name the colony's user, which exists nowhere else.
* ``/etc/resolv.conf`` (or the file it links to) names Mycelium's DNS stub on the colony's
  gateway (issue 16): the only resolver the colony's table lets it reach anyway.
* The repository's object directory is visible read-only at :data:`OBJECTS`: the colony's
  git finds the shared history there (its ``objects/info/alternates``), and can write none.

Order matters, because every path is resolved as root: covers first, then read-only binds,
and the binds of directories the colony can write last, so that no later step ever resolves
a path through something the colony controls.

Example:
    >>> view = View(state_dir="/var/lib/colony", tmp="/var/lib/colony/colonies/web/tmp")
    >>> [type(op).__name__ for op in plan_view(view)][:4]
    ['Detach', 'Tmpfs', 'Detach', 'Sysfs']
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath

# Where a colony sees its repository's objects (read-only).
OBJECTS = "/run/colony/objects"
# Host directories a colony gets its own of: the state directory must not lie below them.
PRIVATE_DIRS = ("/tmp", "/var/tmp", "/dev/shm", "/run", "/proc", "/sys")


@dataclass(frozen=True)
class Detach:
    """Lazily unmount everything mounted at or below ``path`` (in this namespace only). The
    sources of later binds were copied before (see :class:`Bind`), so nothing needs to stay."""

    path: str


@dataclass(frozen=True)
class Tmpfs:
    path: str
    mode: int = 0o755
    size: str = "1m"


@dataclass(frozen=True)
class Sysfs:
    path: str = "/sys"


@dataclass(frozen=True)
class Proc:
    path: str = "/proc"


@dataclass(frozen=True)
class Mqueue:
    path: str = "/dev/mqueue"


@dataclass(frozen=True)
class Bind:
    """Bind ``source`` at ``target``: a detached copy of ``source``'s mounts, taken before any
    detach or cover (a final symlink refused, not followed), attached in this step.

    ``target`` is created when missing (a directory, or an empty file for a file source), which
    is safe only inside a tmpfs this plan made.
    """

    source: str
    target: str
    readonly: bool = False


MountOp = Detach | Tmpfs | Sysfs | Proc | Mqueue | Bind


@dataclass(frozen=True)
class View:
    """What a colony sees: host paths that are its own, and what the host granted it."""

    state_dir: str
    tmp: str  # host dir mounted on /tmp and /var/tmp
    shm: str | None = None  # host dir mounted on /dev/shm
    own: tuple[str, ...] = ()  # workspace, data dir, home: bound back, writable
    objects: str | None = None  # the repository's object directory, read-only at OBJECTS
    passwd: str | None = None  # generated /etc/passwd
    group: str | None = None  # generated /etc/group
    sockets: tuple[str, ...] = ()  # host sockets under /run the host granted
    resolv_conf: tuple[str, str] | None = None  # (generated file, where resolv.conf leads)
    ca_bundle: str | None = None  # host CAs + the colony's secrets CA (issue 17), read-only
    system_bundle: str | None = None  # the host's CA file, shown as ca_bundle (issue 17)


CA_BUNDLE = "/run/colony/ca-bundle.pem"  # where a colony with secrets finds its CA bundle


def below(path: str, root: str) -> bool:
    """Whether ``path`` is ``root`` or inside it (lexically)."""
    p, r = PurePosixPath(path), PurePosixPath(root)
    return p == r or r in p.parents


def check_state_dir(state_dir: str) -> str | None:
    """Why ``state_dir`` cannot hold colonies with a private view, or None if it can.

    The view replaces /tmp, /run and the like; a state directory below one of them would be
    covered before the colony's own files could be bound back.
    """
    for private in PRIVATE_DIRS:
        if below(state_dir, private):
            return f"{state_dir} is below {private}, which every colony gets its own of"
    return None


def plan_view(view: View) -> list[MountOp]:
    """The mount operations that build ``view``, in the order they must run."""
    ops: list[MountOp] = [Detach("/run"), Tmpfs("/run", 0o755, "1m")]
    ops += [Detach("/sys"), Sysfs("/sys")]
    own = tuple(path for path in view.own if below(path, view.state_dir))
    ops += [Detach(view.state_dir), Tmpfs(view.state_dir, 0o755, "64k")]
    if view.objects:
        ops.append(Bind(view.objects, OBJECTS, readonly=True))
    for path in view.sockets:
        if below(path, "/run"):
            ops.append(Bind(path, path))
    if view.resolv_conf:
        ops.append(Bind(*view.resolv_conf, readonly=True))
    if view.ca_bundle:
        ops.append(Bind(view.ca_bundle, CA_BUNDLE, readonly=True))
        if view.system_bundle:  # clients that read the system's file and no variable
            ops.append(Bind(view.ca_bundle, view.system_bundle, readonly=True))
    if view.passwd:
        ops.append(Bind(view.passwd, "/etc/passwd", readonly=True))
    if view.group:
        ops.append(Bind(view.group, "/etc/group", readonly=True))
    # Writable binds last: nothing after them resolves a path through a colony's directory.
    ops += [Bind(path, path) for path in own]
    ops += [Bind(view.tmp, "/tmp"), Bind(view.tmp, "/var/tmp")]
    if view.shm:
        ops.append(Bind(view.shm, "/dev/shm"))
    ops += [Mqueue(), Proc()]
    return ops


__all__ = [
    "CA_BUNDLE",
    "OBJECTS",
    "Bind",
    "Detach",
    "MountOp",
    "Mqueue",
    "Proc",
    "Sysfs",
    "Tmpfs",
    "View",
    "check_state_dir",
    "plan_view",
]
