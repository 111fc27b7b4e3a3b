"""Where the daemon keeps things under its state directory."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

ORPHAN = "-orphan-"  # in the names of what gc moves into the trash (TrashBin.strays)


@dataclass(frozen=True)
class Paths:
    """Layout of the state directory.

    Example:
        >>> Paths(Path("/var/lib/colony")).logs("web")
        PosixPath('/var/lib/colony/colonies/web/logs')
        >>> Paths(Path("/var/lib/colony")).workspace("web")
        PosixPath('/var/lib/colony/colonies/web/volume/workspace')
    """

    root: Path

    @property
    def db(self) -> Path:
        return self.root / "mycelium.db"

    @property
    def preview_key(self) -> Path:
        """The key that signs first-visit preview links (issue 14)."""
        return self.root / "preview.key"

    @property
    def secrets(self) -> Path:
        """Colonies' secrets (issue 17): root's, 0700, files 0600; no colony's view shows it."""
        return self.root / "secrets"

    def colony(self, name: str) -> Path:
        return self.root / "colonies" / name

    def volume(self, name: str) -> Path:
        """What the colony may write (workspace, data, home, tmp): its disk's mount point
        when the host gives colonies a disk quota, else a plain directory (issue 11)."""
        return self.colony(name) / "volume"

    def volume_image(self, name: str) -> Path:
        """The image file of the colony's disk (root's, 0600)."""
        return self.colony(name) / "volume.img"

    def data(self, name: str) -> Path:
        return self.volume(name) / "data"

    def colony_db(self, name: str) -> Path:
        return self.data(name) / "colony.db"

    def logs(self, name: str) -> Path:
        return self.colony(name) / "logs"

    def log(self, name: str, source: str) -> Path:
        return self.logs(name) / f"{source}.log"

    def workspace(self, name: str) -> Path:
        return self.volume(name) / "workspace"

    def legacy_workspace(self, name: str) -> Path:
        """Where a workspace made before issue 11 lives."""
        return self.root / "workspaces" / name

    @property
    def checkouts(self) -> Path:
        """The shared read-only checkouts workspaces are overlays of (issue 15)."""
        return self.root / "checkouts"

    @property
    def trash(self) -> Path:
        return self.root / "trash"

    @property
    def audit_db(self) -> Path:
        return self.root / "audit.db"

    @property
    def audit_key(self) -> Path:
        """HMAC key of the audit log's checkpoints (mode 0600)."""
        return self.root / "audit.key"
