"""Where the daemon keeps things under its state directory."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Paths:
    """Layout of the state directory.

    Example:
        >>> Paths(Path("/var/lib/colony")).logs("web")
        PosixPath('/var/lib/colony/colonies/web/logs')
    """

    root: Path

    @property
    def db(self) -> Path:
        return self.root / "mycelium.db"

    def colony(self, name: str) -> Path:
        return self.root / "colonies" / name

    def data(self, name: str) -> Path:
        return self.colony(name) / "data"

    def colony_db(self, name: str) -> Path:
        return self.data(name) / "colony.db"

    def logs(self, name: str) -> Path:
        return self.colony(name) / "logs"

    def log(self, name: str, source: str) -> Path:
        return self.logs(name) / f"{source}.log"

    def workspace(self, name: str) -> Path:
        return self.root / "workspaces" / name

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
