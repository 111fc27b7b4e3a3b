"""Files and directories Mycelium makes for a colony, made so that a colony can never steer
them (issue 10).

Mycelium is root and a colony is hostile: nothing here follows a symlink, nothing changes
the owner of an existing tree, and every directory it hands over is new (made before any
process of the colony ran) or checked to be the one it made.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from pathlib import Path

from colony.errors import HostError

ACL_ACCESS = "system.posix_acl_access"
ACL_DEFAULT = "system.posix_acl_default"


def _fail(what: str, path: str | Path, exc: OSError) -> HostError:
    name = errno.errorcode.get(exc.errno or 0, "?")
    return HostError(f"cannot {what} {path}: {exc.strerror} ({name})")


def make_owned_dir(
    path: str | Path, uid: int, gid: int, mode: int = 0o700, acl: bytes | None = None
) -> bool:
    """Make directory ``path`` (its parent must exist) owned by ``uid``:``gid`` with ``mode``
    and, where the file system has ACLs, ``acl`` as its access and default ACL.

    An existing directory is left as it is if it is a real directory owned by ``uid``; it
    is never chowned (its contents may be the colony's). Returns True if it was made.

    Raises:
        HostError: it exists as something else, or cannot be made.
    """
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        st = os.lstat(path)
        if not stat.S_ISDIR(st.st_mode) or st.st_uid != uid:
            raise HostError(
                f"cannot use {path}: expected a directory owned by uid {uid}, found "
                f"{'a directory' if stat.S_ISDIR(st.st_mode) else 'something else'} of uid "
                f"{st.st_uid}",
                hint="move it away; Mycelium makes it anew",
            ) from None
        return False
    except OSError as exc:
        raise _fail("create", path, exc) from exc
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    try:
        os.fchown(fd, uid, gid)
        os.fchmod(fd, mode)
        if acl is not None:
            for name in (ACL_ACCESS, ACL_DEFAULT):
                try:
                    os.setxattr(fd, name, acl)
                except OSError as exc:
                    if exc.errno not in (errno.ENOTSUP, errno.EOPNOTSUPP):
                        raise
    except OSError as exc:
        raise _fail("set up", path, exc) from exc
    finally:
        os.close(fd)
    return True


def make_owned_file(
    path: str | Path, uid: int, gid: int, mode: int = 0o600, text: str = ""
) -> None:
    """Create file ``path`` holding ``text``, owned by ``uid``:``gid``; an existing one is kept.

    Raises:
        HostError: it cannot be created.
    """
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
    except FileExistsError:
        return
    except OSError as exc:
        raise _fail("create", path, exc) from exc
    try:
        os.write(fd, text.encode())
        os.fchown(fd, uid, gid)
        os.fchmod(fd, mode)
    finally:
        os.close(fd)


def replace_file(path: str | Path, text: str, mode: int = 0o644) -> None:
    """Write ``text`` to ``path`` atomically (a new file renamed over it), root's own.

    Only for paths in directories root alone can write.
    """
    tmp = f"{path}.new"
    try:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)  # a leftover of a crash
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except OSError as exc:
        raise _fail("write", path, exc) from exc


def path_chain(path: str | Path) -> list[tuple[str, int, int, int]]:
    """(path, mode, uid, gid) of ``path`` and each of its parents, from ``/`` down; entries
    that do not exist are left out."""
    out: list[tuple[str, int, int, int]] = []
    target = Path(path).absolute()
    for item in (*reversed(target.parents), target):
        try:
            st = os.stat(item)
        except OSError:
            continue
        out.append((str(item), st.st_mode, st.st_uid, st.st_gid))
    return out
