"""What a colony's parts see of its actor (issue 13): the services' supervisor and the
removal of its files are handed the actor that owns them, typed by this Protocol rather than
by :class:`~colony.daemon.actor.ColonyActor`, so they do not import the actor that imports
them."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from colony.core.config import Config, ServiceSpec
from colony.core.model import ColonyRecord, Slot
from colony.daemon.containment import Containment
from colony.daemon.logs import ColonyLog
from colony.daemon.messages import ColonyMessage
from colony.host import Placement
from colony.vcs import Workspace


class ColonyOwner(Protocol):
    """The actor of one colony, as its services and its removal use it."""

    cfg: Config
    slot: Slot
    contain: Containment
    log: ColonyLog

    @property
    def name(self) -> str: ...

    @property
    def rec(self) -> ColonyRecord: ...

    def tell(self, msg: ColonyMessage, user: str | None = None) -> None: ...

    def workspace(self) -> Path: ...

    def workspace_record(self) -> Workspace: ...

    async def process(
        self, leaf: str, argv: list[str], cwd: Path | None = None, *, tty: bool = False
    ) -> tuple[list[str], Placement]: ...

    def env(self, spec: ServiceSpec | None) -> dict[str, str]: ...

    def url(self, service: str) -> str: ...
