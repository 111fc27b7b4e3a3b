"""Supervision of one colony's services: start, follow, wait until ready, restart, stop.

The colony's actor owns a :class:`ServiceSupervisor` and forwards its service messages
(``exited``, ``restart_service``) to it, so these methods run one at a time like every other
request of the actor. What to do after an exit is decided by :mod:`colony.core.supervise`.
"""

from __future__ import annotations

import asyncio
import functools
import signal
import time
from dataclasses import replace
from typing import TYPE_CHECKING

from colony import contract_responses as answers
from colony import host
from colony.core import lifecycle, supervise
from colony.core.bus_events import HealthEvent, ServiceEvent
from colony.core.config import ServiceSpec
from colony.core.model import ServiceRecord, ServiceState, State
from colony.core.notices import exit_text
from colony.daemon import runner
from colony.daemon.acting import acting_user
from colony.daemon.messages import Exited, RestartService
from colony.daemon.ports import listening_ports
from colony.errors import ColonyError

if TYPE_CHECKING:
    from collections.abc import Callable

    from colony.daemon.events import EventBus
    from colony.daemon.owner import ColonyOwner
    from colony.daemon.paths import Paths
    from colony.isolation import Isolation
    from colony.store.queries import Store


class ServiceSupervisor:
    """The services of ``actor``'s colony: their records, processes and restart timers."""

    def __init__(
        self,
        actor: ColonyOwner,
        *,
        store: Store,
        iso: Isolation,
        bus: EventBus,
        paths: Paths,
        clock: Callable[[], float],
    ) -> None:
        self.actor = actor
        self.store = store
        self.iso = iso
        self.bus = bus
        self.paths = paths
        self.clock = clock
        stored = {s.name: s for s in store.services(actor.name)}
        self.records = {
            s.name: stored.get(s.name, ServiceRecord(s.name)) for s in actor.cfg.services
        }
        self.running: dict[str, runner.Running] = {}
        self.timers: dict[str, asyncio.TimerHandle] = {}

    # --- start ------------------------------------------------------------------------

    async def start_all(self) -> None:
        for spec in self.actor.cfg.services:
            await self.start(spec)
        await asyncio.gather(*(self.wait_ready(spec) for spec in self.actor.cfg.services))

    async def start(self, spec: ServiceSpec) -> None:
        actor = self.actor
        cwd = actor.workspace() / (spec.working_dir or "")
        if not cwd.is_dir():
            raise ColonyError(
                f"service '{spec.name}': working_dir '{spec.working_dir}' is not a directory "
                "of the workspace"
            )
        leaf = f"svc-{spec.name}"
        argv, placement = await actor.process(leaf, ["/bin/sh", "-c", spec.command], cwd)
        running = runner.start(
            argv,
            cwd=cwd,
            env=actor.env(spec),
            placement=placement,
            log_path=self.paths.log(actor.name, spec.name),
            header=f"$ {spec.command}",
        )
        self.follow(spec.name, running)
        svc = self.records.get(spec.name, ServiceRecord(spec.name))
        self.set(supervise.on_started(svc, running.pid, running.started, self.clock()))

    def follow(self, service: str, running: runner.Running) -> None:
        self.running[service] = running

        def exited(fut: asyncio.Future[int | None]) -> None:
            self.actor.tell(Exited(service, running.pid, fut.result()))

        running.exited.add_done_callback(exited)

    async def wait_ready(self, spec: ServiceSpec) -> None:
        actor = self.actor
        running = self.running[spec.name]
        if spec.port is not None:
            deadline = time.monotonic() + spec.ready_timeout
            port = actor.contain.port(spec) or spec.port
            while not await runner.port_open(actor.contain.netns_path, port):
                if running.exited.done():
                    break
                if time.monotonic() > deadline:
                    raise ColonyError(
                        f"service '{spec.name}' did not answer on port {spec.port} within "
                        f"{spec.ready_timeout:g}s{self._listens_instead(spec, running.pid)}"
                    )
                await asyncio.wait([running.exited], timeout=0.05)
        if running.exited.done():
            code = running.exited.result()
            detail = runner.tail_of(self.paths.log(actor.name, spec.name)) or "no output"
            how = exit_text(code).replace("exit ", "exited ", 1)  # 'killed by SIGKILL'
            raise ColonyError(f"service '{spec.name}' {how} while starting: {detail}")
        self.set(supervise.on_ready(self.records[spec.name], self.clock()))

    def _listens_instead(self, spec: ServiceSpec, pid: int) -> str:
        """'; it listens on 8000 (…)' when the service's namespace has other listeners: a
        service on the wrong port names the port it chose (issue 12)."""
        if self.actor.contain.netns_path is None:  # level none: those would be the host's
            return ""
        ports = sorted(listening_ports(pid) - {spec.port})
        if not ports:
            return ""
        shown = ", ".join(str(p) for p in ports[:5])
        return f"; it listens on {shown} (set port in [services.{spec.name}] to match)"

    # --- exits and restarts -----------------------------------------------------------

    async def on_exited(self, service: str, pid: int, code: int | None) -> None:
        actor = self.actor
        svc = self.records.get(service)
        if svc is None or svc.pid != pid:
            return  # an exit we already accounted for (stop, restart)
        self.running.pop(service, None)
        spec = actor.cfg.service(service)
        if actor.rec.state is not State.RUNNING or spec is None:
            self.set(replace(svc, state=ServiceState.EXITED, pid=None, exit_code=code))
            return
        svc, actions = supervise.on_exit(svc, code, spec, self.clock())
        self.set(svc)
        for action in actions:
            if isinstance(action, supervise.Notify):
                actor.log.note(service, action.message)
            else:
                loop = asyncio.get_running_loop()
                self.timers[service] = loop.call_later(
                    action.delay, functools.partial(actor.tell, RestartService(service))
                )

    async def restart(self, service: str) -> None:
        actor = self.actor
        self.timers.pop(service, None)
        spec = actor.cfg.service(service)
        svc = self.records.get(service)
        if spec is None or svc is None or svc.state is not ServiceState.BACKOFF:
            return
        if actor.rec.state is not State.RUNNING:
            return
        await asyncio.to_thread(self.iso.kill, actor.slot, f"svc-{service}")
        try:
            await self.start(spec)
        except ColonyError as exc:
            actor.log.note(service, f"{service}: restart failed: {exc}")
            self.set(replace(svc, state=ServiceState.FATAL))
            return
        self.set(supervise.on_ready(self.records[service], self.clock()))

    # --- stop and adoption ------------------------------------------------------------

    async def end(self, graceful: bool) -> None:
        """End every process of the colony: services first (gracefully if asked), then the
        rest of its cgroup."""
        actor = self.actor
        for handle in self.timers.values():
            handle.cancel()
        self.timers.clear()
        running = dict(self.running)
        for name, proc in running.items():
            self.set(supervise.on_stop(self.records[name], self.clock()))
            if not proc.exited.done():  # a pid already reaped may be someone else's by now
                host.kill(proc.pid, signal.SIGTERM if graceful else signal.SIGKILL, group=True)
        if running and graceful:
            grace = max(actor.cfg.service(n).stop_timeout for n in running)  # type: ignore[union-attr]
            await asyncio.wait([p.exited for p in running.values()], timeout=grace)
        if actor.rec.isolated:
            await asyncio.to_thread(self.iso.kill, actor.slot)
        if running:
            await asyncio.wait([p.exited for p in running.values()], timeout=2)
        self.running.clear()
        now = self.clock()
        for svc in list(self.records.values()):
            if svc.state is not ServiceState.STOPPED:
                self.set(replace(svc, state=ServiceState.STOPPED, pid=None, at=now))

    def adopt(self) -> None:
        """After a daemon restart: follow the services that still run, note the rest."""
        for name, svc in self.records.items():
            self._adopt(name, svc)

    def _adopt(self, name: str, svc: ServiceRecord) -> None:
        if svc.state is ServiceState.BACKOFF:
            self.actor.tell(RestartService(name))
            return
        if svc.pid is None or svc.state not in (ServiceState.STARTING, ServiceState.RUNNING):
            return
        running = runner.adopt(svc.pid, svc.started)
        if running is None:
            self.actor.tell(Exited(name, svc.pid, None))
        else:
            self.follow(name, running)

    # --- records and views ------------------------------------------------------------

    def degraded(self) -> tuple[str, ...]:
        """The services that gave up while the colony runs (issue 12)."""
        states = {name: r.state for name, r in self.records.items()}
        return lifecycle.plan_degraded(self.actor.rec.state, states)

    def set(self, svc: ServiceRecord) -> None:
        colony = self.actor.name
        before = self.degraded()
        self.records[svc.name] = svc
        self.store.save_service(colony, svc)
        self.bus.publish(
            ServiceEvent(
                colony=colony,
                service=svc.name,
                state=str(svc.state),
                pid=svc.pid,
                at=svc.at,
                exit_code=svc.exit_code,
                user=acting_user.get(),
            )
        )
        after = self.degraded()
        if after != before:
            self._publish_health(after, self.clock())

    def _publish_health(self, degraded: tuple[str, ...], at: float) -> None:
        """A running colony became degraded, or recovered (issue 12)."""
        actor = self.actor
        state = "degraded" if degraded else "running"
        self.bus.publish(
            HealthEvent(
                colony=actor.name, state=state, degraded=degraded, at=at, user=acting_user.get()
            )
        )
        gave_up = ", ".join(degraded)
        actor.log.note("colony", f"degraded: {gave_up} gave up" if degraded else "recovered")

    def answer(self, spec: ServiceSpec) -> answers.Service:
        """The service as the API answers."""
        svc = self.records.get(spec.name, ServiceRecord(spec.name))
        return answers.Service(
            name=spec.name,
            port=spec.port,
            host_port=self.actor.contain.host_ports.get(spec.name),
            state=str(svc.state),
            pid=svc.pid,
            restarts=svc.restarts,
            exit_code=svc.exit_code,
            url=self.actor.url(spec.name) if spec.port else None,
        )
