"""A colony's directories on the host, and the passwd and group files of its view (issue 10).

Layout under the state directory (``colonies/<name>``):

=================================  =========  ===========================================
path                               owner      what
=================================  =========  ===========================================
``colonies/<name>/``               root 0711  holds the rest
``colonies/<name>/volume.img``     root 0600  the image of its disk (with a disk quota)
``colonies/<name>/volume/``        root 0711  its disk, mounted (else a plain directory)
``…/volume/workspace``             uid 0700   its repository and checkout (the overlay's
                                              mount point, issue 15)
``…/volume/upper``                 uid 0700   the overlay's upper layer: what the colony
                                              changed, its ``.git`` included
``…/volume/overlay-work``          root 0700  the overlay's work directory
``…/volume/data``                  uid 0700   ``COLONY_DATA_DIR`` and ``colony.db``
``…/volume/home``                  uid 0700   ``HOME``
``…/volume/tmp``                   uid 0700   its ``/tmp`` (and ``/var/tmp``)
``…/volume/shm``                   uid 0700   its ``/dev/shm``
``colonies/<name>/etc``            root 0755  ``passwd`` and ``group`` naming its user
``colonies/<name>/logs``           root 0700  log files (never shown to the colony)
``colonies/<name>/checkout``       root 0644  the key of the checkout below its workspace
=================================  =========  ===========================================

Everything a colony can write is on its volume, so its disk quota (the ``disk`` limit)
covers workspace, data, home and temporary files at once. A colony made before issue 11
keeps its old layout (``data``, ``home``, … directly in ``colonies/<name>``, its workspace
in ``workspaces/<name>``) and has no disk quota.

A workspace made since issue 15 is an overlay (:mod:`colony.host.overlay`): the shared
checkout of its base (:mod:`colony.vcs.checkouts`) below, read-only and shown as the colony's
own files, and ``upper`` above, on the colony's disk, so the quota counts what it writes.

Every directory a colony owns is made new, before any process of the colony runs, and
never chowned afterwards; the colony's owner gets rwx through an ACL (inherited by what the
colony creates inside).
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Sequence
from pathlib import Path

from colony import host
from colony.core.identity import render_acl, render_group, render_passwd
from colony.core.sandbox import Identity
from colony.daemon.paths import Paths
from colony.errors import HostError
from colony.host import overlay, volumes

UNMOUNT_WAIT = 2.0  # seconds a disk may stay busy after its workspace's overlay went
NO_DISK = (
    "this host needs loop devices and mkfs.ext4 for disk quotas; without them, set "
    'disk = "max" under [limits] in /etc/colony/policy.toml'
)


def make_root_dir(path: Path, mode: int) -> None:
    """A directory of root's that colonies may pass through (0711) or not (0700)."""
    path.mkdir(mode=mode, parents=True, exist_ok=True)
    path.chmod(mode)


class ColonyHome:
    """The host paths of one colony's directories."""

    def __init__(self, paths: Paths, name: str) -> None:
        self.paths = paths
        self.root = paths.colony(name)
        self.volume = paths.volume(name)
        self.image = paths.volume_image(name)
        self.legacy = (self.root / "data").is_dir() and not self.volume.exists()
        own = self.root if self.legacy else self.volume
        self.data = own / "data"
        self.db = self.data / "colony.db"
        self.home = own / "home"
        self.tmp = own / "tmp"
        self.shm = own / "shm"
        self.upper = own / "upper"
        self.overlay_work = own / "overlay-work"
        self.checkout = self.root / "checkout"
        self.etc = self.root / "etc"
        self.passwd = self.etc / "passwd"
        self.group = self.etc / "group"
        self.resolv = self.etc / "resolv.conf"

    def make(self, uid: int, gid: int, workspace: Path, grant: Sequence[int] = ()) -> None:
        """Make every directory of the colony that is missing (blocking).

        ``grant``: uids (the colony's owner) that keep rwx on the workspace, data dir and home.
        """
        for parent in (self.paths.root, self.paths.root / "colonies", workspace.parent):
            make_root_dir(parent, 0o711)
        make_root_dir(self.root, 0o711)
        if not self.legacy:
            make_root_dir(self.volume, 0o711)
        for private in (self.root / "logs", self.root / "agents"):
            if private.is_dir():  # made 0755 by Colony before issue 10
                private.chmod(0o700)
        acl = render_acl(0o700, grant) if grant else None
        host.make_owned_dir(workspace, uid, gid, 0o700, acl)
        host.make_owned_dir(self.data, uid, gid, 0o700, acl)
        host.make_owned_file(self.db, uid, gid, 0o600)
        if host.make_owned_dir(self.home, uid, gid, 0o700, acl):
            # A prompt that names the colony (the workspace path is long and the same for all).
            name = self.root.name
            rc = f"PS1='({name}) \\W\\$ '\n"
            host.make_owned_file(self.home / ".bashrc", uid, gid, 0o644, rc)
        host.make_owned_dir(self.tmp, uid, gid, 0o700)
        host.make_owned_dir(self.shm, uid, gid, 0o700)

    # --- the workspace's overlay (issue 15) -----------------------------------------------

    def make_upper(self, uid: int, gid: int, grant: Sequence[int] = ()) -> None:
        """The overlay's upper layer (the colony's, as its workspace was) and work directory
        (root's); only on a new colony's volume, before any of its processes runs."""
        acl = render_acl(0o700, grant) if grant else None
        host.make_owned_dir(self.upper, uid, gid, 0o700, acl)
        make_root_dir(self.overlay_work, 0o700)

    def checkout_key(self) -> str | None:
        """The key of the shared checkout below the workspace (see :attr:`checkout`)."""
        text = host.read_text(self.checkout)
        return text.strip() or None if text else None

    @property
    def layered(self) -> bool:
        """Whether the workspace is an overlay (made since issue 15)."""
        return not self.legacy and self.upper.is_dir()

    def mount_workspace(self, lower: Path, owner: tuple[int, int], ids: tuple[int, int],
                        workspace: Path) -> bool:  # fmt: skip
        """Mount the workspace's overlay unless it is mounted: ``lower`` (its files of
        ``owner``, shown as ``ids``'s) below :attr:`upper`. False when it was mounted.

        Raises:
            HostError: the kernel refused.
        """
        if host.is_mount(workspace):
            return False
        overlay.mount_overlay(lower, owner, ids, self.upper, self.overlay_work, workspace)
        return True

    def unmount_workspace(self, workspace: Path) -> None:
        """Unmount the workspace's overlay (the upper keeps the colony's changes)."""
        if self.layered:
            volumes.unmount(workspace)

    # --- the disk -------------------------------------------------------------------------

    def mount(self, size: int | None) -> bool:
        """Give the colony its disk of ``size`` bytes (blocking): make the image the first
        time, mount it on :attr:`volume` when it is not mounted. False (a plain directory)
        when ``size`` is None or the colony has the old layout; a disk made earlier keeps
        its size.

        Raises:
            HostError: the image cannot be made or mounted (no loop device, say).
        """
        if self.legacy or host.is_mount(self.volume):
            return host.is_mount(self.volume)
        if not self.image.exists():
            if size is None:
                return False
            if self.volume.is_dir() and any(self.volume.iterdir()):
                return False  # made without a quota: its files stay where they are
            make_root_dir(self.root, 0o711)
            try:
                volumes.make_volume(self.image, size)
            except HostError as exc:
                raise HostError(f"cannot make the colony's disk: {exc}", hint=NO_DISK) from exc
        make_root_dir(self.volume, 0o711)
        try:
            volumes.mount_volume(self.image, self.volume)
        except HostError as exc:
            raise HostError(f"cannot mount the colony's disk: {exc}", hint=NO_DISK) from exc
        self.volume.chmod(0o711)
        with contextlib.suppress(OSError):
            (self.volume / "lost+found").rmdir()
        return True

    def usage(self) -> dict[str, int] | None:
        """Size and use of the colony's disk in bytes; None without one."""
        if not host.is_mount(self.volume):
            return None
        st = os.statvfs(self.volume)
        return {"size": st.f_blocks * st.f_frsize, "used": (st.f_blocks - st.f_bfree) * st.f_frsize}

    def unmount(self) -> None:
        """Unmount the colony's workspace and disk (its processes are gone); the image keeps
        its files, the upper layer the workspace's changes."""
        self.unmount_workspace(self.volume / "workspace")
        volumes.unmount(self.volume, busy_for=UNMOUNT_WAIT if self.layered else 0.0)

    def discard(self) -> None:
        """Remove what :meth:`make` made (a failed first spawn); the logs stay, to say why.

        ``shutil.rmtree`` walks with file descriptors and never follows a symlink.
        """
        layered = self.layered
        self.unmount_workspace(self.volume / "workspace")
        for path in (self.data, self.home, self.tmp, self.shm, self.etc, self.upper,
                     self.overlay_work):  # fmt: skip
            shutil.rmtree(path, ignore_errors=True)
        if not self.legacy:
            volumes.unmount(self.volume, busy_for=UNMOUNT_WAIT if layered else 0.0)
            with contextlib.suppress(OSError):
                self.image.unlink()
            shutil.rmtree(self.volume, ignore_errors=True)

    def write_identity(self, ident: Identity) -> None:
        """The passwd and group files the colony's view shows: the host's, plus its user."""
        make_root_dir(self.etc, 0o755)
        passwd = host.read_text("/etc/passwd") or ""
        group = host.read_text("/etc/group") or ""
        text = render_passwd(passwd, ident.user, ident.uid, ident.home, ident.shell)
        host.replace_file(self.passwd, text)
        host.replace_file(self.group, render_group(group, ident.user, ident.gid))

    def write_resolv(self, nameserver: str) -> Path:
        """The resolv.conf the colony's view shows: Mycelium's DNS stub only (issue 16)."""
        text = "# Mycelium's DNS stub: the colony's policy decides what it answers\n" + (
            f"nameserver {nameserver}\n"
        )
        if host.read_text(self.resolv) != text:
            make_root_dir(self.etc, 0o755)
            host.replace_file(self.resolv, text)
        return self.resolv


__all__ = ["ColonyHome", "make_root_dir"]
