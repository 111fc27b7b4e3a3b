"""One actor per colony: a mailbox, and the colony's lifecycle.

Requests arrive as messages and are handled one at a time, so a colony never sees two
lifecycle operations at once. Long steps (setup, build, waiting for ports) run as the
colony's *job* task so a stop can interrupt them. Its services are supervised by
:mod:`colony.daemon.services`; :mod:`colony.daemon.removal` takes its files away on ``rm``.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar, assert_never, cast

from colony import contract_responses as answers
from colony import host
from colony.core import lifecycle
from colony.core.bus_events import RemovedEvent, StateEvent
from colony.core.config import Config, ServiceSpec
from colony.core.env import plan_env
from colony.core.model import ColonyRecord, ServiceRecord, Slot, State, Transition
from colony.core.routes import render_url
from colony.core.secrets import placeholders_env
from colony.daemon import removal, runner
from colony.daemon.acting import acting_user
from colony.daemon.containment import Containment
from colony.daemon.kit import ActorKit
from colony.daemon.messages import (
    Adopt,
    Ask,
    ColonyMessage,
    Exited,
    Remove,
    Restart,
    RestartService,
    Spawn,
    Start,
    Stop,
    check_message,
)
from colony.daemon.secret_ca import BUNDLE_IN_VIEW, ca_env
from colony.daemon.services import ServiceSupervisor
from colony.errors import ColonyError
from colony.host import Placement
from colony.vcs import Workspace

log = logging.getLogger("colony.actor")

R = TypeVar("R")


@dataclass
class Envelope:
    """A message in the mailbox, who sent it (for the events it causes) and where its reply
    goes (None: nobody waits for one)."""

    message: ColonyMessage
    user: str | None
    reply: asyncio.Future[Any] | None


class ColonyActor:
    """Owns one colony. Talk to it with :meth:`ask` (await the result) or :meth:`tell`,
    passing one of the messages of :mod:`colony.daemon.messages`."""

    def __init__(self, kit: ActorKit, rec: ColonyRecord, cfg: Config) -> None:
        self.kit = kit
        self._rec = rec
        self.cfg = cfg
        self.slot = Slot(kit.env.prefix, rec.name, rec.index, kit.env.pool)
        # issue 3: user, limits, sandbox
        self.contain = Containment(
            rec, cfg, self.slot, iso=kit.iso, store=kit.store, paths=kit.paths, env=kit.env
        )
        self.usage: answers.Sample | None = None  # latest sample of the resource monitor
        self.mailbox: asyncio.Queue[Envelope] = asyncio.Queue()
        self.supervisor = ServiceSupervisor(  # records, processes and restart timers
            self, store=kit.store, iso=kit.iso, bus=kit.bus, paths=kit.paths, clock=kit.clock
        )
        self.job: asyncio.Task[None] | None = None
        self.log = kit.logs.open(rec.name, kit.paths.logs(rec.name))
        self.done = False

    @property
    def name(self) -> str:
        return self.rec.name

    @property
    def rec(self) -> ColonyRecord:
        return self._rec

    @rec.setter
    def rec(self, rec: ColonyRecord) -> None:
        self._rec = rec
        self.contain.rec = rec  # its view takes the workspace and objects from the record

    @property
    def services(self) -> dict[str, ServiceRecord]:
        return self.supervisor.records

    # --- mailbox ------------------------------------------------------------------------

    async def ask(self, msg: Ask[R], user: str | None = None) -> R:
        """Send ``msg`` and await its reply; ``user`` (who asked) goes on the events it causes.
        A :class:`TypeError` at once if ``msg`` is no colony message."""
        reply: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        await self.mailbox.put(Envelope(check_message(msg), user, reply))
        return cast(R, await reply)

    def tell(self, msg: ColonyMessage, user: str | None = None) -> None:
        """Send ``msg`` without waiting for it to be handled."""
        self.mailbox.put_nowait(Envelope(check_message(msg), user, None))

    async def run(self) -> None:
        """Handle messages until the colony is removed. An unexpected error propagates so the
        daemon's supervisor can log it and restart this actor from the store."""
        while not self.done:
            msg = await self.mailbox.get()
            acting_user.set(msg.user)
            try:
                result = await self._handle(msg.message)
            except ColonyError as exc:
                if msg.reply is not None and not msg.reply.done():
                    msg.reply.set_exception(exc)
                continue
            except Exception as exc:
                if msg.reply is not None and not msg.reply.done():
                    msg.reply.set_exception(ColonyError(f"internal error: {exc!r}"))
                raise
            if msg.reply is not None and not msg.reply.done():
                msg.reply.set_result(result)
        for pending in self._drain():
            pending.set_exception(ColonyError(f"colony '{self.name}' was removed"))

    def _drain(self) -> list[asyncio.Future[Any]]:
        out = []
        while not self.mailbox.empty():
            msg = self.mailbox.get_nowait()
            if msg.reply is not None and not msg.reply.done():
                out.append(msg.reply)
        return out

    async def _handle(self, msg: ColonyMessage) -> object:
        """The handler of each message; mypy checks every message has one."""
        match msg:
            case Spawn():
                await self._on_spawn()
                return None
            case Start():
                return await self._on_start()
            case Stop():
                return await self._on_stop()
            case Restart():
                await self._on_restart()
                return None
            case Remove(force=force):
                return await self._on_remove(force)
            case Exited(service=service, pid=pid, code=code):
                await self._on_exited(service, pid, code)
                return None
            case RestartService(service=service):
                await self._on_restart_service(service)
                return None
            case Adopt():
                await self._on_adopt()
                return None
            case _:
                assert_never(msg)

    # --- requests ---------------------------------------------------------------------

    async def _on_spawn(self) -> None:
        self._begin(first=True)

    async def _on_start(self) -> bool:
        """Start the colony; False when it already runs (nothing to do)."""
        if not lifecycle.check_start(self.name, self.rec.state):
            return False
        self._begin(first=self.rec.workspace is None)
        return True

    async def _on_stop(self) -> bool:
        """Stop the colony; False when it is already stopped or failed (nothing to do)."""
        await self._cancel_job()
        if not lifecycle.check_stop(self.name, self.rec.state):
            return False
        await self._stop()
        return True

    async def _on_restart(self) -> None:
        await self._on_stop()
        self._begin(first=self.rec.workspace is None)

    async def _on_remove(self, force: bool = False) -> dict[str, Any]:
        lifecycle.check_remove(self.name, self.rec.state, force)
        await self._cancel_job()
        if self.rec.state not in (State.STOPPED, State.FAILED):
            await self._stop()
        final = await removal.final_snapshot(self, self.kit.open_vcs)
        await self._destroy()  # every process gone before its files move
        kept = await asyncio.to_thread(
            removal.keep_workspace, self, self.kit.paths.colony(self.name)
        )
        await self._detach_network()
        trash = await asyncio.to_thread(
            removal.move_to_trash, self, self.kit.paths, self.kit.clock()
        )
        saved = removal.saved_at(trash, kept) if kept and trash else None
        result = {"removed": self.name, "saved": saved, "branch": self.rec.branch,
                  "trash": trash, "snapshot": final}  # fmt: skip
        self.kit.on_removed(self.rec, result)  # issue 6: the trash records how to restore
        self.kit.store.delete(self.name)
        self.kit.logs.close(self.name)
        self.kit.bus.publish(
            RemovedEvent(colony=self.name, at=self.kit.clock(), user=acting_user.get())
        )
        self.done = True
        return result

    async def _on_exited(self, service: str, pid: int, code: int | None) -> None:
        await self.supervisor.on_exited(service, pid, code)

    async def _on_restart_service(self, service: str) -> None:
        await self.supervisor.restart(service)

    # --- spawn / start pipeline ---------------------------------------------------------

    def _begin(self, first: bool) -> None:
        """Run the spawn pipeline; ``first`` when the colony has no workspace yet (a new colony,
        or one whose first spawn failed and was rolled back)."""
        self.job = self.kit.start_task(self._pipeline(first))

    async def _cancel_job(self) -> None:
        job, self.job = self.job, None
        if job is not None and not job.done():
            job.cancel()
            await asyncio.gather(job, return_exceptions=True)

    async def _pipeline(self, first: bool) -> None:
        step = State.SPAWNING
        try:
            if first:
                await self._create()
            else:
                self._transition(State.SPAWNING)
                await self._ensure_isolation()
            if lifecycle.needs_setup(self.rec.provisioned):
                if self.cfg.setup:
                    step = State.PROVISIONING
                    self._transition(step)
                    await self._run_steps("setup", self.cfg.setup)
                self.rec = self.kit.store.update(self.rec, provisioned=True)
            if self.cfg.build:
                step = State.BUILDING
                self._transition(step)
                await self._run_steps("build", self.cfg.build)
            step = State.STARTING
            self._transition(step)
            await self.supervisor.start_all()
            self._transition(State.RUNNING)
        except asyncio.CancelledError:
            raise
        except ColonyError as exc:
            await self._fail(step, str(exc), rollback=first)
        except Exception as exc:
            log.exception("colony %s: %s failed", self.name, step)
            await self._fail(step, f"internal error: {exc!r}", rollback=first)

    async def _create(self) -> None:
        """Make the kernel objects and the colony's directories at once, then its workspace:
        a repository of its own, made by the colony itself (issue 10). A failure leaves what
        was made for :meth:`_fail` to roll back."""
        repo = Path(self.rec.repo)
        vcs = self.kit.open_vcs(repo)
        base, objects = self.rec.base, self.rec.objects
        if base is None or objects is None:  # a restart after a rolled back first spawn
            planned, base = await asyncio.to_thread(vcs.plan, repo, self.name, self.rec.rev)
            objects = str(planned.objects)
        path = self.kit.paths.workspace(self.name)
        self.rec = self.kit.store.update(self.rec, base=base, objects=objects, workspace=str(path))
        seen = self.contain.objects_seen(Path(objects))

        def checkout() -> Workspace:
            # A new, empty workspace: the colony's first checkout runs before any of its
            # configuration exists, so it needs no cgroup and runs while that is made.
            self.contain.prepare(path)
            index = None
            # Issue 15: an overlay of the base's shared checkout, where it can be made.
            if self.contain.can_layer_for(vcs.open(repo)):
                self.contain.make_upper()
                assert base is not None
                lower = self.contain.mount_workspace(path, lambda: vcs.open(repo), base)
                index = lower.read_index()
            inside = self.contain.inside(path, fresh=True)
            return vcs.create(
                repo, self.name, path, self.rec.rev, inside=inside, objects=seen, base=base,
                index=index,
            )  # fmt: skip

        async def isolate() -> None:
            await asyncio.to_thread(self.contain.create)
            self.rec = self.kit.store.update(self.rec, isolated=True)
            await self._attach_network()

        made, isolated = await asyncio.gather(
            asyncio.to_thread(checkout), isolate(), return_exceptions=True
        )
        for result in (made, isolated):
            if isinstance(result, BaseException):
                raise result
        assert not isinstance(made, BaseException)
        ws = made
        self.rec = self.kit.store.update(
            self.rec,
            vcs=ws.kind,
            branch=ws.branch,
            base=ws.base or base,
            workspace_created=True,
        )
        await asyncio.to_thread(self.contain.assign_ports)

    async def _ensure_isolation(self) -> None:
        """Before a start: kernel objects, directories (a restored colony lacks its /tmp),
        and the colony's copies of the repository's branches brought up to date."""
        if await asyncio.to_thread(self.contain.ensure):
            self.rec = self.kit.store.update(self.rec, isolated=True)
            await self._attach_network()
        await asyncio.to_thread(self.contain.prepare, self.workspace())
        await asyncio.to_thread(self._mount_workspace)
        await asyncio.to_thread(self.contain.assign_ports)
        if self.rec.base and Path(self.workspace()).is_dir():
            ws = self.workspace_record()
            vcs = self.kit.open_vcs(ws.repo)
            inside = self.contain.inside(ws.path)
            try:
                await asyncio.to_thread(lambda: vcs.refresh(ws, inside=inside))
            except ColonyError as exc:
                self.log.note("colony", f"cannot update its copies of the branches: {exc}")

    def _mount_workspace(self) -> None:
        """Mount the workspace's overlay if it is one and is not mounted (after a reboot, or
        a restore from the trash), its base's shared checkout made again if gc removed it."""
        path = self.workspace()
        if self.rec.base and self.contain.home.layered and not host.is_mount(path):
            repo = Path(self.rec.repo)
            self.contain.mount_workspace(path, lambda: self.kit.open_vcs(repo).open(repo),
                                         self.rec.base)  # fmt: skip

    async def _run_steps(self, source: str, commands: tuple[str, ...]) -> None:
        log_path = self.kit.paths.log(self.name, source)
        for command in commands:
            argv, placement = await self.process(source, ["/bin/sh", "-c", command])
            code = await runner.run_to_end(
                argv,
                cwd=self.workspace(),
                env=self.env(None),
                placement=placement,
                log_path=log_path,
                header=f"$ {command}",
            )
            if code != 0:
                detail = runner.tail_of(log_path) or "no output"
                raise ColonyError(f"{source} command '{command}' exited {code}: {detail}")

    # --- stop, fail, remove -------------------------------------------------------------

    async def _stop(self) -> None:
        self._transition(State.STOPPING)
        await self.supervisor.end(graceful=True)
        self._transition(State.STOPPED)

    async def _fail(self, step: State, reason: str, rollback: bool) -> None:
        await self.supervisor.end(graceful=False)
        if rollback:
            if self.rec.isolated:
                await asyncio.to_thread(self.kit.iso.destroy, self.slot)
                self.rec = self.kit.store.update(self.rec, isolated=False)
                await self._detach_network()
            if self.rec.workspace:
                await asyncio.to_thread(removal.discard_workspace, self, self.kit.open_vcs)
                self.rec = self.kit.store.update(
                    self.rec, workspace=None, branch=None, base=None, workspace_created=False
                )
            await asyncio.to_thread(self.contain.home.discard)
        self._transition(State.FAILED, step=str(step), reason=reason)

    async def _destroy(self) -> None:
        if self.rec.isolated:
            await asyncio.to_thread(self.kit.iso.destroy, self.slot)

    # --- adoption after a daemon restart or an actor crash ---------------------------------

    async def _on_adopt(self) -> None:
        state = self.rec.state
        if state is State.RUNNING:
            if self.contain.level != "none" and not await asyncio.to_thread(
                self.kit.iso.netns_exists, self.slot
            ):
                await self._fail(State.RUNNING, "its network namespace vanished", rollback=False)
                return
            self.supervisor.adopt()
        elif state in lifecycle.SPAWN_STEPS:
            reason = f"Mycelium restarted while the colony was {state}"
            await self._fail(state, reason, rollback=not self.rec.provisioned)
        elif state is State.STOPPING:
            await self.supervisor.end(graceful=False)
            self._transition(State.STOPPED)
        elif state is State.STOPPED and self.rec.isolated:
            await asyncio.to_thread(self.kit.iso.kill, self.slot)
        try:
            await self._attach_network()
        except ColonyError as exc:
            self.log.note("network", f"cannot load the network policy: {exc}")

    # --- network policy (issue 4) -----------------------------------------------------------

    async def _attach_network(self) -> None:
        """Load the colony's policy into its nft table; names that do not resolve are noted."""
        net = self.kit.net
        if self.cfg.sandbox.level == "none":  # the host's own network: nothing to police
            if self.cfg.network.egress != "allow" or self.cfg.network.expose_to:
                self.log.note("network", "warning: [network] is not enforced at sandbox none")
            return
        if net is None or not self.rec.isolated:
            return
        for warning in await net.attach(self.rec, self.slot, self.cfg):
            self.log.note("network", f"warning: {warning}")

    async def _detach_network(self) -> None:
        if self.kit.net is not None:
            await self.kit.net.detach(self.name)

    # --- state, views -------------------------------------------------------------------

    def _transition(self, state: State, step: str | None = None, reason: str | None = None) -> None:
        t = Transition(state, self.kit.clock(), step, reason)
        self.rec = self.kit.store.set_state(self.rec, t)
        self.kit.bus.publish(StateEvent(colony=self.name, transition=t, user=acting_user.get()))
        self.log.note("colony", f"{state}" + (f" at {step}: {reason}" if reason else ""))

    def workspace(self) -> Path:
        return Path(self.rec.workspace or self.kit.paths.workspace(self.name))

    def workspace_record(self) -> Workspace:
        rec = self.rec
        return Workspace(
            kind=rec.vcs or "git",
            repo=Path(rec.repo),
            path=self.workspace(),
            name=rec.name,
            branch=rec.branch or f"colony/{rec.name}",
            base=rec.base or "",
            objects=rec.objects or "",
        )

    async def process(
        self, leaf: str, argv: list[str], cwd: Path | None = None, *, tty: bool = False
    ) -> tuple[list[str], Placement]:
        """Argv and placement of a process of this colony in cgroup leaf ``leaf``: the one
        place every colony process (service, setup, build, exec, shell) is contained."""
        workspace = self.workspace()
        return await self.contain.process(leaf, argv, cwd or workspace, workspace, tty=tty)

    def env(self, spec: ServiceSpec | None) -> dict[str, str]:
        return plan_env(
            host_env=self.kit.env.host_env,
            own=self.contain.env(),
            name=self.name,
            data_dir=str(self.contain.home.data),
            db=str(self.contain.home.db),
            address=self.slot.colony_ip if self.contain.netns_path else None,
            ports=self.contain.service_ports(),
            service_port=self.contain.port(spec),
            extra={**self.secret_env(), **(dict(spec.env) if spec else {})},
        )

    def secrets_answer(self) -> list[answers.SecretInfo] | None:
        """The colony's secrets as ``colony show`` lists them (issue 17); None: it has none."""
        found = self.kit.secrets.of(self.name) if self.kit.secrets else {}
        return [
            answers.SecretInfo(key=s.key, hosts=list(s.hosts), header=s.header)
            for _, s in sorted(found.items())
        ] or None

    def secret_env(self) -> dict[str, str]:
        """Each secret's key set to the colony's placeholder (issue 17), never the value."""
        store, cas = self.kit.secrets, self.kit.cas
        secrets = {} if store is None else store.of(self.name)
        if not secrets:
            return {}
        env = placeholders_env(secrets.values())
        if cas is not None:
            bundle = cas.ensure(self.name)
            env.update(ca_env(BUNDLE_IN_VIEW if self.contain.has_view() else str(bundle)))
        return env

    def env_for_exec(self, extra: dict[str, str]) -> dict[str, str]:
        return {**self.env(None), **extra}

    def url(self, service: str) -> str:
        return render_url(service, self.name, self.kit.proxy_port(), self.kit.env.domain)

    def to_json(self) -> dict[str, Any]:
        """The colony as the API answers (:class:`colony.contract_responses.Colony`)."""
        found: dict[str, Any] = answers.dump(self.answer())
        return found

    def answer(self) -> answers.Colony:
        rec = self.rec
        placed = rec.isolated and self.contain.netns_path
        return answers.Colony(
            name=rec.name,
            state=str(rec.state),
            degraded=list(self.supervisor.degraded()),  # issue 12: fatal services
            step=rec.step,
            reason=rec.reason,
            owner=rec.owner,
            created=rec.created,
            updated=rec.updated,
            repo=rec.repo,
            rev=rec.rev,
            vcs=rec.vcs,
            branch=rec.branch,
            base=rec.base,
            workspace=rec.workspace,
            data_dir=str(self.contain.home.data),
            db=str(self.contain.home.db),
            address=self.slot.colony_ip if placed else None,
            netns=self.slot.netns if placed else None,
            sandbox=self.cfg.sandbox.level,
            containment=self.contain.answer(),
            usage=self.usage,
            limits=limits_answer(self.cfg),
            services=[self.supervisor.answer(s) for s in self.cfg.services],
            transitions=[
                answers.Transition(state=str(t.state), at=t.at, step=t.step, reason=t.reason)
                for t in self.kit.store.transitions(rec.name)
            ],
            secrets=self.secrets_answer(),
        )


def limits_answer(cfg: Config) -> answers.Limits:
    """The colony's limits as the API shows them: those set."""
    limits = cfg.limits
    if not limits:
        return answers.Limits()
    return answers.Limits(
        cpu=limits.cpu,
        memory=limits.memory,
        swap=limits.swap,
        pids=limits.pids,
        io_weight=limits.io_weight,
        disk=limits.disk,
    )
