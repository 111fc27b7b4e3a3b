"""The one module that runs host commands and syscalls.

Everything that touches the machine (child processes, namespaces, sockets inside a namespace,
pidfds) goes through here, so errors are mapped to :class:`HostError` in one place.

Example:
    >>> run(["ip", "netns", "list"]).stdout
    ''
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import fcntl
import grp
import os
import resource
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from colony.core.mounts import MountOp
from colony.errors import HostError, MissingProgram
from colony.host.mounts import enter_view, template_for

CLONE_NEWNET = 0x40000000
PIPE = subprocess.PIPE
DEVNULL = subprocess.DEVNULL
Process = subprocess.Popen
TimeoutExpired = subprocess.TimeoutExpired
_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


def _cmd(argv: Sequence[str]) -> str:
    """The first words of a command, each on one line and short (a script stays readable)."""
    words = [" ".join(a.split())[:40] + ("…" if len(a) > 40 else "") for a in argv[:3]]
    return " ".join(words)


def _tail(text: str, lines: int = 3) -> str:
    rows = [r.strip() for r in text.strip().splitlines() if r.strip()]
    return " | ".join(rows[-lines:])


@dataclass(frozen=True)
class Completed:
    argv: list[str]
    returncode: int
    stdout: str
    stderr: str


@dataclass(frozen=True)
class Credentials:
    """Who a command runs as: a user's ids, and the home its configuration comes from."""

    uid: int
    gid: int
    groups: tuple[int, ...]
    home: str

    @classmethod
    def of_uid(cls, uid: int) -> Credentials:
        """The credentials of the local user ``uid`` (its groups from the group database)."""
        import pwd

        try:
            entry = pwd.getpwuid(uid)
        except KeyError:
            return cls(uid, uid, (uid,), "/")
        return cls(
            uid, entry.pw_gid, tuple(os.getgrouplist(entry.pw_name, entry.pw_gid)), entry.pw_dir
        )


def _drop(user: Credentials) -> None:
    # Between fork and exec: groups, then gid, then uid, real, effective and saved alike.
    os.setgroups(list(user.groups))
    os.setresgid(user.gid, user.gid, user.gid)
    os.setresuid(user.uid, user.uid, user.uid)


def run(
    argv: Sequence[str],
    *,
    input: str | None = None,
    check: bool = True,
    env: dict[str, str] | None = None,
    cwd: str | Path | None = None,
    timeout: float = 120,
    user: Credentials | None = None,
    stdin: IO[bytes] | None = None,
    umask: int = -1,
) -> Completed:
    """Run a command to completion and return its output.

    ``user``: run as that user (only when it is not the caller), with HOME set to its home.
    ``stdin``: a file to read instead of ``input``.
    ``umask``: the command's umask (-1 keeps the caller's).

    Raises:
        HostError: the command could not start, timed out, or (with ``check``) exited non-zero.
            The message names the command, the exit code and the tail of stderr.
    """
    argv = [str(a) for a in argv]
    switch = user is not None and user.uid != os.geteuid()
    if switch and user is not None:
        env = {**(os.environ if env is None else env), "HOME": user.home}
    try:
        proc = subprocess.run(
            argv,
            input=input,
            stdin=stdin,
            capture_output=True,
            text=True,
            env=env,
            cwd=cwd,
            timeout=timeout,
            check=False,
            preexec_fn=(lambda: _drop(user)) if switch and user is not None else None,
            umask=umask,
        )
    except FileNotFoundError as exc:
        raise HostError(f"'{argv[0]}' is not installed (ENOENT)") from exc
    except subprocess.TimeoutExpired as exc:
        raise HostError(f"'{_cmd(argv)}' timed out after {timeout:g}s") from exc
    except OSError as exc:
        name = errno.errorcode.get(exc.errno or 0, "?")
        raise HostError(f"'{_cmd(argv)}' failed: {exc.strerror} ({name})") from exc
    done = Completed(argv, proc.returncode, proc.stdout, proc.stderr)
    if check and proc.returncode != 0:
        detail = _tail(proc.stderr) or _tail(proc.stdout) or "no output"
        raise HostError(f"'{_cmd(argv)}' exited {proc.returncode}: {detail}")
    return done


# --- namespaces ---------------------------------------------------------------------------


def setns(fd: int, nstype: int = CLONE_NEWNET) -> None:
    """Move the calling thread into the namespace behind ``fd``."""
    if _libc.setns(fd, nstype) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


_ns_lock = threading.Lock()


def socket_in_netns(
    netns_path: str | Path,
    family: socket.AddressFamily = socket.AF_INET,
    kind: socket.SocketKind = socket.SOCK_STREAM,
    proto: int = 0,
) -> socket.socket:
    """Create a socket that lives in another network namespace.

    A socket stays in the namespace it was created in, so the daemon can reach a colony's own
    loopback (where dev servers bind 127.0.0.1) without any process inside the colony.
    Runs in a short-lived thread so the caller's thread never changes namespace.
    """
    out: list[socket.socket] = []
    fail: list[BaseException] = []

    def work() -> None:
        try:
            with open(netns_path, "rb") as target, open("/proc/thread-self/ns/net", "rb") as home:
                setns(target.fileno())
                try:
                    out.append(socket.socket(family, kind, proto))
                finally:
                    setns(home.fileno())
        except BaseException as exc:
            fail.append(exc)

    thread = threading.Thread(target=work, name="socket-in-netns")
    thread.start()
    thread.join()
    if fail:
        exc = fail[0]
        if isinstance(exc, OSError):
            name = errno.errorcode.get(exc.errno or 0, "?")
            raise HostError(
                f"cannot open a socket in {netns_path}: {exc.strerror} ({name})"
            ) from exc
        raise exc
    return out[0]


# --- processes ----------------------------------------------------------------------------


@dataclass
class Placement:
    """Where a spawned process goes before exec: a network namespace and cgroups, and who it
    runs as (``uid``/``gid``/``groups``; None keeps the daemon's)."""

    netns: str | None = None  # path such as /run/netns/colony-web
    cgroups: list[Path] = field(default_factory=list)  # cgroup dirs whose cgroup.procs to join
    no_new_privs: bool = False
    uid: int | None = None
    gid: int | None = None
    groups: tuple[int, ...] | None = None  # supplementary groups
    # Take a PTY as controlling terminal before exec; False when a wrapper inside a PID
    # namespace takes it (the terminal can be the controlling one of one session only).
    controlling_tty: bool = True
    # The colony's private view of the host (issue 10): mount operations performed in a new
    # mount namespace after joining the network namespace; None keeps the host's view.
    view: tuple[MountOp, ...] | None = None
    new_netns: bool = False  # an empty network namespace of its own instead of ``netns``
    umask: int = -1  # the process's umask; -1 keeps the daemon's


def _preexec(
    placement: Placement,
    netns_fd: int | None,
    pty_slave: int | None,
    cwd: str | None,
    report: int,
    template: int | None = None,
) -> None:
    # Runs in the child between fork and exec: no allocation-heavy work, no locks. What goes
    # wrong is written to ``report`` (closed on exec) so the parent can name it.
    try:
        _place(placement, netns_fd, pty_slave, template)
        # The working directory is entered last: inside the new mount namespace (a directory
        # entered before it would be unreachable there), and as the process's own user, so a
        # symlink a colony made never takes root anywhere.
        if cwd is not None:
            os.chdir(cwd)
    except OSError as exc:
        os.write(report, str(exc).encode(errors="replace")[:500])
        raise


def _place(
    placement: Placement, netns_fd: int | None, pty_slave: int | None, template: int | None = None
) -> None:
    if _colony_nofile is not None:
        hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        resource.setrlimit(resource.RLIMIT_NOFILE, (_colony_nofile, hard))
    for cg in placement.cgroups:
        fd = os.open(os.path.join(cg, "cgroup.procs"), os.O_WRONLY)
        try:
            os.write(fd, b"0")
        finally:
            os.close(fd)
    if netns_fd is not None:
        setns(netns_fd)
    elif placement.new_netns and _libc.unshare(CLONE_NEWNET) != 0:
        raise OSError(ctypes.get_errno(), "cannot unshare the network namespace")
    if placement.view is not None:
        enter_view(placement.view, template)
    if pty_slave is not None and placement.controlling_tty:
        import fcntl
        import termios

        fcntl.ioctl(pty_slave, termios.TIOCSCTTY, 0)
    if placement.no_new_privs and _libc.prctl(38, 1, 0, 0, 0) != 0:  # PR_SET_NO_NEW_PRIVS
        raise OSError(ctypes.get_errno(), "cannot set no_new_privs")
    # Privileges go last: joining cgroups and the netns needs root. Groups, then gid, then
    # uid (after setuid nothing else could be changed); real, effective and saved ids alike,
    # so the process can never switch back.
    if placement.groups is not None:
        os.setgroups(list(placement.groups))
    if placement.gid is not None:
        os.setresgid(placement.gid, placement.gid, placement.gid)
    if placement.uid is not None:
        os.setresuid(placement.uid, placement.uid, placement.uid)


def start_helper(argv: Sequence[str], pass_fds: Sequence[int]) -> subprocess.Popen[bytes]:
    """Start one of Mycelium's own helper processes (a preview proxy worker), which gets the
    descriptors ``pass_fds`` and stays in the daemon's session: it goes with the daemon."""
    return subprocess.Popen(
        [str(a) for a in argv], pass_fds=tuple(pass_fds), stdin=subprocess.DEVNULL
    )


def spawn(
    argv: Sequence[str],
    *,
    cwd: str | Path | None = None,
    env: dict[str, str] | None = None,
    placement: Placement | None = None,
    stdin: int | IO[bytes] | None = subprocess.DEVNULL,
    stdout: int | IO[bytes] | None = None,
    stderr: int | IO[bytes] | None = subprocess.STDOUT,
    pty_slave: int | None = None,
) -> subprocess.Popen[bytes]:
    """Start a process in its own session, inside ``placement`` before it execs.

    The process joins its cgroups and namespace between fork and exec, so nothing of a colony
    ever runs outside it. It gets its own session so a signal to the daemon never reaches it,
    and it outlives the daemon.

    Raises:
        HostError: the program was not found or could not start.
    """
    placement = placement or Placement()
    argv = [str(a) for a in argv]
    netns_fd = os.open(placement.netns, os.O_RDONLY) if placement.netns else None
    if pty_slave is not None:
        stdin = stdout = stderr = pty_slave
    report_r, report_w = os.pipe()  # both close-on-exec: the child's side closes as it execs
    where = None if cwd is None else str(cwd)
    template = template_for(placement.view) if placement.view is not None else None
    try:
        return subprocess.Popen(
            argv,
            env=env,
            stdin=stdin,
            stdout=stdout,
            stderr=stderr,
            start_new_session=True,
            close_fds=True,
            umask=placement.umask,
            # The netns fd and the report pipe stay open through preexec_fn (fds close after
            # it) but never reach the colony's program.
            preexec_fn=lambda: _preexec(placement, netns_fd, pty_slave, where, report_w, template),
        )
    except FileNotFoundError as exc:
        raise MissingProgram(
            f"cannot start '{argv[0]}': not found",
            hint="check the program's name; colonies find programs on their PATH",
        ) from exc
    except OSError as exc:
        name = errno.errorcode.get(exc.errno or 0, "?")
        raise HostError(f"cannot start '{_cmd(argv)}': {exc.strerror} ({name})") from exc
    except subprocess.SubprocessError as exc:
        os.close(report_w)
        report_w = -1
        why = os.read(report_r, 1000).decode(errors="replace") or str(exc)
        raise HostError(f"cannot start '{_cmd(argv)}': {why}") from exc
    finally:
        if netns_fd is not None:
            os.close(netns_fd)
        for fd in (report_r, report_w):
            if fd >= 0:
                os.close(fd)


def pidfd_open(pid: int) -> int | None:
    """A pidfd for ``pid`` that becomes readable when it exits, or None if it is gone."""
    try:
        return os.pidfd_open(pid)
    except ProcessLookupError:
        return None


def start_time(pid: int) -> int | None:
    """The process's start time in clock ticks since boot (survives pid reuse checks)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # comm may contain spaces and parentheses: split after the last ')'.
    fields = stat[stat.rindex(")") + 2 :].split()
    return int(fields[19])


def alive(pid: int, started: int | None = None) -> bool:
    """Whether ``pid`` runs and, given ``started``, is still the same process (not a zombie)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    fields = stat[stat.rindex(")") + 2 :].split()
    if fields[0] == "Z":
        return False
    return started is None or int(fields[19]) == started


def kill(pid: int, sig: int = signal.SIGTERM, *, group: bool = False) -> None:
    """Send ``sig`` to ``pid`` (or its process group); a process already gone is fine."""
    try:
        if group:
            os.killpg(pid, sig)
        else:
            os.kill(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def reap(pid: int) -> int | None:
    """Collect the exit code of our own child ``pid`` if it has exited; None otherwise."""
    try:
        got, status = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return None
    if got == 0:
        return None
    return os.waitstatus_to_exitcode(status)


def read_text(path: str | Path) -> str | None:
    try:
        return Path(path).read_text()
    except OSError:
        return None


def write_text(path: str | Path, text: str) -> None:
    """Write a control file (cgroup, sysctl); errors name the path."""
    try:
        Path(path).write_text(text)
    except OSError as exc:
        name = errno.errorcode.get(exc.errno or 0, "?")
        raise HostError(
            f"cannot write {text.strip()!r} to {path}: {exc.strerror} ({name})"
        ) from exc


# --- directories under /sys, /proc and /run ------------------------------------------------


def exists(path: str | Path) -> bool:
    return os.path.exists(path)


def is_mount(path: str | Path) -> bool:
    """Whether ``path`` is a mount point (a named netns is a bind mount of an nsfs file)."""
    return os.path.ismount(path)


def list_dir(path: str | Path, *, dirs_only: bool = False) -> list[str]:
    """Names of the entries (or only the subdirectories) of a directory; [] if it is missing."""
    try:
        with os.scandir(path) as entries:
            return sorted(
                e.name for e in entries if not dirs_only or e.is_dir(follow_symlinks=False)
            )
    except (FileNotFoundError, NotADirectoryError):
        return []
    except OSError as exc:
        name = errno.errorcode.get(exc.errno or 0, "?")
        raise HostError(f"cannot list {path}: {exc.strerror} ({name})") from exc


def make_dir(path: str | Path, *, exist_ok: bool = False) -> bool:
    """Create one directory (e.g. a cgroup); False if it existed and ``exist_ok``.

    Raises:
        HostError: it could not be created, or it exists and not ``exist_ok``.
    """
    try:
        os.mkdir(path)
    except FileExistsError as exc:
        if exist_ok:
            return False
        raise HostError(f"cannot create {path}: it already exists (EEXIST)") from exc
    except OSError as exc:
        name = errno.errorcode.get(exc.errno or 0, "?")
        raise HostError(f"cannot create {path}: {exc.strerror} ({name})") from exc
    return True


def remove_dir(path: str | Path, busy_for: float = 0.0) -> bool:
    """Remove an empty directory (e.g. a cgroup); False if it was already gone.

    ``busy_for`` seconds, an EBUSY is tried again: a cgroup whose last processes were killed
    stays busy, with an empty ``cgroup.procs``, until their parents have reaped them.

    Raises:
        HostError: it exists but could not be removed (EBUSY: a cgroup still has processes).
    """
    deadline = time.monotonic() + busy_for
    pause = 0.001
    while True:
        try:
            os.rmdir(path)
        except FileNotFoundError:
            return False
        except OSError as exc:
            if exc.errno == errno.EBUSY and time.monotonic() < deadline:
                time.sleep(pause)
                pause = min(pause * 2, 0.05)
                continue
            name = errno.errorcode.get(exc.errno or 0, "?")
            raise HostError(f"cannot remove {path}: {exc.strerror} ({name})") from exc
        return True


def set_xattr(path: str | Path, name: str, value: str) -> None:
    """Set an extended attribute of ``path`` (not following a symlink); errors name it.

    Raises:
        HostError: the filesystem refused it (ENOTSUP: no such attributes there).
    """
    try:
        os.setxattr(path, name, value.encode(), follow_symlinks=False)
    except OSError as exc:
        code = errno.errorcode.get(exc.errno or 0, "?")
        raise HostError(f"cannot set {name} on {path}: {exc.strerror} ({code})") from exc


def get_xattr(path: str | Path, name: str) -> str | None:
    """An extended attribute of ``path``; None if it has none or is gone."""
    try:
        return os.getxattr(path, name, follow_symlinks=False).decode(errors="replace")
    except OSError:
        return None


def read_link(path: str | Path) -> str | None:
    """Where a symlink points (e.g. ``/proc/PID/fd/N``); None if it is gone or unreadable."""
    try:
        return os.readlink(path)
    except OSError:
        return None


def lock_file(path: str | Path) -> int | None:
    """Open ``path`` (made 0644 if missing) and take an exclusive lock on it, held until the
    descriptor is closed or the process ends; None if another process holds it.

    Raises:
        HostError: it cannot be opened.
    """
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
    except OSError as exc:
        code = errno.errorcode.get(exc.errno or 0, "?")
        raise HostError(f"cannot open {path}: {exc.strerror} ({code})") from exc
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def user_name(uid: int | None) -> str:
    """The name of local user ``uid``: its number when it has none, "unknown" for None."""
    if uid is None:
        return "unknown"
    import pwd

    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def group_id(name: str) -> int | None:
    """The gid of group ``name`` in the host's group database; None when there is none."""
    try:
        return grp.getgrnam(name).gr_gid
    except KeyError:
        return None


def is_root() -> bool:
    return os.geteuid() == 0


# The soft open-files limit processes started by :func:`spawn` get back (colony processes do
# not inherit the daemon's raised one); None: unchanged.
_colony_nofile: int | None = None


def raise_open_files() -> tuple[int, int]:
    """Raise this process's soft RLIMIT_NOFILE to its hard limit; (before, after).

    Every connection a listener holds is a descriptor; a soft limit of 1024 (systemd's
    default) let one local user exhaust the daemon (issue 11).
    """
    global _colony_nofile
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        except (OSError, ValueError) as exc:
            raise HostError(f"cannot raise the open files limit to {hard}: {exc}") from exc
        _colony_nofile = soft
        return soft, hard
    return soft, soft


# --- ports (containment, issue 3) -------------------------------------------------------


def free_port(avoid: frozenset[int] = frozenset()) -> int:
    """A TCP port nothing listens on in the host's network namespace, chosen by the kernel.

    Raises:
        HostError: no port could be found outside ``avoid``.
    """
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if port not in avoid:
            return port
    raise HostError("cannot find a free TCP port on the host")


def port_free(port: int) -> bool:
    """Whether ``port`` can be bound on the host's 127.0.0.1 and 0.0.0.0 right now."""
    for address in ("0.0.0.0", "127.0.0.1"):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((address, port))
            except OSError:
                return False
    return True


__all__ = [
    "Completed",
    "Placement",
    "alive",
    "exists",
    "free_port",
    "is_mount",
    "kill",
    "list_dir",
    "make_dir",
    "pidfd_open",
    "port_free",
    "reap",
    "remove_dir",
    "run",
    "socket_in_netns",
    "spawn",
    "start_time",
    "user_name",
    "write_text",
]

from colony.host.files import (  # noqa: E402  (the file helpers live beside)
    make_owned_dir,
    make_owned_file,
    path_chain,
    replace_file,
)

__all__ += ["make_owned_dir", "make_owned_file", "path_chain", "replace_file"]
