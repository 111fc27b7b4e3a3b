"""The multi-agent workflow (issue 6): agents, review, conflicts, trash and broods, wired.

``Workflow(myc)`` builds the services and registers the trash with colony removal;
``start()`` adopts agent sessions and broods that outlived a daemon restart and starts the
conflict watcher. The API reaches the services with :func:`workflow_of`.

Example:
    >>> workflow = Workflow(myc)
    >>> await workflow.start()
    >>> workflow_of(myc).agents is workflow.agents
    True
"""

from __future__ import annotations

import weakref

from colony.daemon.agents import AgentService
from colony.daemon.broods import BroodService
from colony.daemon.conflicts import ConflictWatch
from colony.daemon.mycelium import Mycelium
from colony.daemon.review import Review
from colony.daemon.trash import TrashBin
from colony.errors import ColonyError

_BY_MYCELIUM: weakref.WeakKeyDictionary[Mycelium, Workflow] = weakref.WeakKeyDictionary()


class Workflow:
    def __init__(self, myc: Mycelium) -> None:
        self.myc = myc
        self.agents = AgentService(myc)
        self.review = Review(myc, self.agents)
        self.conflicts = ConflictWatch(myc)
        self.trash = TrashBin(myc)
        self.broods = BroodService(myc, self.agents, self.review)
        myc.ctx.on_removed.append(self.trash.record)
        _BY_MYCELIUM[myc] = self

    async def start(self) -> None:
        await self.agents.adopt()  # before broods: their drivers look at live sessions
        await self.broods.adopt()
        self.myc.ctx.start_task(self.conflicts.run())


def workflow_of(myc: Mycelium) -> Workflow:
    found = _BY_MYCELIUM.get(myc)
    if found is None:
        raise ColonyError("agents, review and broods are not running in this Mycelium")
    return found
