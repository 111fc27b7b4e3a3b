"""LocalInside: an :class:`~colony.vcs.inside.Inside` runner without containment, for the
tests of the git layer. The command runs in ``workspace`` as ``uid`` (default: the caller),
with the same environment and hardening the daemon's runner gives it.

Example:
    >>> inside = LocalInside(tmp_path / "ws", uid=1_900_000_001)
    >>> inside(["git", "status"]).code
    0
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from colony import host
from colony.core.env import DEFAULT_PATH
from colony.host import Placement
from colony.vcs.inside import Ran, hardening_env


@dataclass
class LocalInside:
    workspace: Path
    uid: int | None = None
    calls: list[list[str]] = field(default_factory=list)

    def __call__(
        self,
        argv: Sequence[str],
        *,
        input: bytes | None = None,
        stdout: IO[bytes] | None = None,
        timeout: float = 120,
    ) -> Ran:
        self.calls.append(list(argv))
        uid = self.uid
        switch = uid is not None and uid != os.geteuid()
        placement = Placement(
            no_new_privs=True,
            uid=uid if switch else None,
            gid=uid if switch else None,
            groups=(uid,) if switch and uid is not None else None,
        )
        home = str(self.workspace.parent / f"{self.workspace.name}.home")
        env = {"PATH": DEFAULT_PATH, "HOME": home, "LANGUAGE": "C", **hardening_env()}
        proc = host.spawn(
            argv,
            cwd=self.workspace,
            env=env,
            placement=placement,
            stdin=host.PIPE if input is not None else host.DEVNULL,
            stdout=stdout if stdout is not None else host.PIPE,
            stderr=host.PIPE,
        )
        out, err = proc.communicate(input, timeout)
        return Ran(proc.returncode, out or b"", (err or b"").decode(errors="replace"))


__all__ = ["LocalInside"]
