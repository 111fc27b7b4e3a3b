"""Colony's block of preview names in the hosts file (``colony hosts``, SPEC §6)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from colony import host
from colony.core.hosts import managed_names, render_hosts

DEFAULT_PATH = "/etc/hosts"


class HostsFile:
    """The hosts file Mycelium writes preview names to; ``COLONY_ETC_HOSTS`` picks another.
    ``names`` gives the preview names the colonies have now."""

    def __init__(
        self, path: str | None = None, *, names: Callable[[], list[str]] = lambda: []
    ) -> None:
        self.path = Path(path or os.environ.get("COLONY_ETC_HOSTS") or DEFAULT_PATH)
        self.names = names

    def status(self, wanted: list[str]) -> dict[str, Any]:
        present = managed_names(self._read())
        return {
            "path": str(self.path),
            "present": present,
            "missing": sorted(set(wanted) - set(present)),
            "stale": sorted(set(present) - set(wanted)),
        }

    def write(self, names: list[str]) -> dict[str, Any]:
        """Make Colony's block hold exactly ``names`` (none: remove the block)."""
        text = self._read()
        new = render_hosts(text, names)
        if new != text:
            host.write_text(self.path, new)
        return self.status(names)

    def _read(self) -> str:
        return host.read_text(self.path) or ""
