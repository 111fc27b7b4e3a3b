"""Live resource usage of colonies, and ``resource`` events when a limit bites (SPEC §7).

Once a second the monitor reads colonies' cgroup accounting (CPU time, memory, pids, I/O
bytes, OOM kills, limit hits): every colony while there are at most :data:`BUDGET`, else the
:data:`BUDGET` sampled longest ago, so its cost stays flat however many colonies there are
(issue 15: reading 100 colonies' files every second took a fifth of a core; with 1,000 a
colony is read every 20 s, and an OOM kill is reported that much later). It keeps the latest
sample on the colony's actor (``usage`` in its JSON, ``GET /usage``), and turns counters
that grew into events on the bus, ``{"type": "resource", colony, user, kind: "oom"|"limit",
detail, at}``, with a note in the colony's log. What counts as an event is decided by
:func:`colony.core.resources.plan_events`.

Example:
    >>> monitor = ResourceMonitor(iso, bus, clock, lambda: myc.actors.values())
    >>> start_task(monitor.run())
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from colony import contract_responses as answers
from colony.core.bus_events import ResourceEvent
from colony.core.resources import cpu_percent, due, plan_events
from colony.daemon.actor import ColonyActor, limits_answer
from colony.daemon.events import EventBus
from colony.errors import ColonyError
from colony.isolation import Isolation

log = logging.getLogger("colony.resources")
INTERVAL = 1.0
BUDGET = 50  # colonies read per interval


@dataclass
class _Track:
    usage: dict[str, int]
    mono: float
    last_limit: dict[str, float] = field(default_factory=dict)


class ResourceMonitor:
    """Samples every colony's usage; publishes OOM kills and limit hits."""

    def __init__(
        self,
        iso: Isolation,
        bus: EventBus,
        clock: Callable[[], float],
        actors: Callable[[], Iterable[ColonyActor]],
        interval: float = INTERVAL,
        budget: int = BUDGET,
    ) -> None:
        self.iso = iso
        self.budget = budget
        self.bus = bus
        self.clock = clock
        self.actors = actors
        self.interval = interval
        self.started = clock()
        self.tracks: dict[str, _Track] = {}

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.poll()
            except Exception:  # a bug here must not take the daemon down; say so and go on
                log.exception("resource monitor: poll failed")

    def _read(self, actors: list[ColonyActor]) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for actor in actors:
            try:
                out[actor.name] = self.iso.usage(actor.slot)
            except (ColonyError, OSError):
                continue  # removed meanwhile
        return out

    async def poll(self) -> None:
        """One round: sample, update each actor's ``usage``, publish events."""
        actors = [a for a in self.actors() if a.rec.isolated and not a.done]
        last = {a.name: t.mono if (t := self.tracks.get(a.name)) else None for a in actors}
        names = set(due(last, self.budget))
        due_now = [a for a in actors if a.name in names]
        read = await asyncio.to_thread(self._read, due_now)
        mono, now = time.monotonic(), self.clock()
        for actor in due_now:
            cur = read.get(actor.name)
            if cur is None:
                continue
            track = self.tracks.get(actor.name)
            if track is None:
                # A colony made by this daemon counts from zero (an OOM kill in its first
                # second is still reported); one adopted after a restart from its first sample.
                base = {} if actor.rec.created >= self.started else dict(cur)
                track = _Track(base, mono)
            prev = track.usage if actor.name in self.tracks else None
            cpu = cpu_percent(prev, cur, mono - track.mono)
            events, track.last_limit = plan_events(
                track.usage, cur, _limits(actor), track.last_limit, now
            )
            for kind, detail in events:
                self._publish(actor, kind, detail, now)
            self.tracks[actor.name] = _Track(dict(cur), mono, track.last_limit)
            actor.usage = sample_of(actor, cur, cpu, now)
        live = {a.name for a in actors}
        for gone in set(self.tracks) - live:
            del self.tracks[gone]

    def _publish(self, actor: ColonyActor, kind: str, detail: str, at: float) -> None:
        self.bus.publish(
            ResourceEvent(colony=actor.name, user=actor.rec.owner, kind=kind, detail=detail, at=at)
        )
        actor.log.note("colony", f"resource {kind}: {detail}")

    async def sample(self, actor: ColonyActor) -> answers.Sample:
        """The colony's latest sample; read now (without CPU %) if there is none yet."""
        if actor.usage is not None and actor.rec.isolated:
            return actor.usage
        if not actor.rec.isolated:
            return sample_of(actor, None, None, self.clock())
        cur = await asyncio.to_thread(self._read, [actor])
        return sample_of(actor, cur.get(actor.name), None, self.clock())


def _limits(actor: ColonyActor) -> dict[str, int | float | None]:
    limits = actor.cfg.limits
    return {
        "cpu": limits.cpu,
        "memory": limits.memory,
        "swap": limits.swap,
        "pids": limits.pids,
        "io_weight": limits.io_weight,
        "disk": limits.disk,
    }


def sample_of(
    actor: ColonyActor, usage: dict[str, int] | None, cpu: float | None, at: float
) -> answers.Sample:
    """One colony's usage as the API shows it; numbers are None where unknown."""
    usage = usage or {}
    ident = actor.contain.identity
    return answers.Sample(
        colony=actor.name,
        state=str(actor.rec.state),
        level=actor.contain.level,
        user=ident.user if ident else None,
        at=at,
        cpu_percent=cpu,
        cpu_usec=usage.get("cpu_usec"),
        memory=usage.get("memory"),
        pids=usage.get("pids"),
        io_read=usage.get("io_read"),
        io_write=usage.get("io_write"),
        oom_kills=usage.get("oom_kills"),
        memory_hits=usage.get("memory_hits"),
        pids_hits=usage.get("pids_hits"),
        limits=limits_answer(actor.cfg),
    )


class Usage:
    """The usage of colonies by name, as the API asks for it (issue 13)."""

    def __init__(
        self,
        monitor: ResourceMonitor,
        actors: Callable[[], dict[str, ColonyActor]],
        actor: Callable[[str], ColonyActor],
    ) -> None:
        self.monitor = monitor
        self.actors = actors
        self.actor = actor  # raises NotFound

    def names(self) -> list[str]:
        """Every colony, oldest first."""
        return [a.name for a in sorted(self.actors().values(), key=lambda a: a.rec.created)]

    async def sample(self, name: str) -> dict[str, Any]:
        found: dict[str, Any] = answers.dump(await self.monitor.sample(self.actor(name)))
        return found

    async def samples(
        self, names: Iterable[str], *, isolated: bool = False
    ) -> dict[str, dict[str, Any]]:
        """The usage of those of ``names`` that exist (with ``isolated``: and are isolated)."""
        known = self.actors()
        found = [known[n] for n in names if n in known]
        actors = [a for a in found if a.rec.isolated or not isolated]
        got = await asyncio.gather(*(self.monitor.sample(a) for a in actors))
        return {a.name: answers.dump(s) for a, s in zip(actors, got, strict=True)}
