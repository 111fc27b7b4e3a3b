"""Agent sessions: start an agent inside a colony, follow its output, stop and continue it.

An agent is a colony process like a service: it joins the colony's namespace and cgroup
(leaf ``agent-<id>``), runs in the workspace with the colony's environment, and writes its
output to a file (``<state>/colonies/<name>/agents/<id>.log``), so it keeps running while
Mycelium is down and is adopted again. Mycelium tails that file, parses each line with the
agent's format (:mod:`colony.core.agents`), stores the events, and publishes them on the bus
as ``{"type": "agent", "colony", "session", "kind", ...}``. Each turn is bracketed by
snapshots of the workspace (before the agent starts, after it ends), so a turn can be undone.

Example:
    >>> rec = await agents.run("web", "add a /health route", user="ann")
    >>> (await agents.wait(rec.id)).status
    'completed'
"""

from __future__ import annotations

import asyncio
import errno
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, TypedDict

from colony import host
from colony.core.agents import AgentPlan, interrupt_steps, plan_resume, plan_run
from colony.core.agents.events import clip
from colony.core.agents.presets import not_installed
from colony.core.agents.session import SessionRecord, plan_status
from colony.core.bus_events import AgentEnded, AgentOutput, AgentStarted
from colony.core.model import State
from colony.core.notices import exit_text
from colony.core.review import turn_message
from colony.daemon import runner
from colony.daemon.agent_tail import Tail
from colony.errors import ColonyError, ConfigError, Conflict, HostError, NotFound
from colony.store.sessions import Sessions

if TYPE_CHECKING:
    from colony.daemon.actor import ColonyActor
    from colony.daemon.events import EventBus
    from colony.daemon.kit import TaskStarter
    from colony.daemon.logs import LogBook
    from colony.daemon.mycelium import Mycelium
    from colony.daemon.paths import Paths
    from colony.isolation import Isolation
    from colony.store.queries import Store

log = logging.getLogger("colony.agents")


class _About(TypedDict):
    colony: str
    session: int
    user: str
    at: float


POLL = 0.1  # seconds between looks at a running agent's output
QUEUE_POLL = 0.2  # seconds between looks at a colony whose agent waits for it to run


@dataclass
class _Live:
    rec: SessionRecord
    running: runner.Running
    tail: Tail
    seq: int
    ended: asyncio.Future[SessionRecord]
    stop_requested: bool = False


MISSING = (errno.ENOENT, errno.EACCES)  # exec errors of a program that is not there


def leaf(ident: int) -> str:
    return f"agent-{ident}"


def turn_snapshot(actor: ColonyActor, session: int, when: str, task: str = "") -> str | None:
    """Record the workspace as the snapshot of the ``start`` or ``end`` of agent session
    ``session`` (blocking: one git process, as the colony). Never raises: an agent runs
    whether or not its snapshot could be taken; a failure is noted in the colony's log."""
    try:
        rec = actor.rec
        if actor.done or not rec.workspace or not rec.base or not Path(rec.workspace).is_dir():
            raise Conflict("the colony has no workspace")
        ws = actor.workspace_record()
        message = turn_message(actor.name, session, when, task)
        vcs = actor.kit.open_vcs(ws.repo)
        return vcs.snapshot(ws, message, inside=actor.contain.inside(ws.path))
    except Exception as exc:
        word = "before" if when == "start" else "after"
        actor.log.note("colony", f"cannot take the snapshot {word} agent session {session}: {exc}")
        return None


class AgentSecrets(Protocol):
    async def __call__(
        self, colony: str, agent: str, env: dict[str, str], *, by: str
    ) -> dict[str, str]: ...


class AgentService:
    """Every agent session of every colony."""

    def __init__(
        self,
        myc: Mycelium,
        *,
        store: Store,
        iso: Isolation,
        bus: EventBus,
        logs: LogBook,
        paths: Paths,
        clock: Callable[[], float],
        start_task: TaskStarter,
        on_end: Callable[[SessionRecord], None] = lambda rec: None,
        secrets: AgentSecrets | None = None,
    ) -> None:
        self.secrets = secrets  # issue 17: an agent's API key as the colony's secret
        self.myc = myc
        self.iso = iso
        self.bus = bus
        self.logs = logs
        self.paths = paths
        self.clock = clock
        self.start_task = start_task
        self.sessions = Sessions(store.conn)
        self.live: dict[int, _Live] = {}
        self.starting: set[str] = set()
        self.queued: dict[str, str] = {}  # colony → task waiting for it to run (Bloom, issue 18)
        self.on_end = on_end  # told of every session that ends (the broods wake)

    # --- queries --------------------------------------------------------------------------

    def running_in(self, colony: str) -> SessionRecord | None:
        return next((lv.rec for lv in self.live.values() if lv.rec.colony == colony), None)

    def sessions_of(self, colony: str | None) -> list[SessionRecord]:
        found = self.sessions.for_colony(colony)
        if colony is not None and not found and colony not in self.myc.actors:
            self.myc.actor(colony)  # NotFound; a removed colony's sessions are still listed
        return [self._current(r) for r in found]

    def get(self, colony: str, ident: int) -> SessionRecord:
        return self._current(self.sessions.get(colony, ident))

    def latest(self, colony: str) -> SessionRecord:
        found = self.sessions.for_colony(colony)
        if not found:
            raise NotFound(
                f"colony '{colony}' has no agent sessions",
                hint=f"start one with 'colony agent run {colony} \"task\"'",
            )
        return self._current(found[-1])

    def _current(self, rec: SessionRecord) -> SessionRecord:
        live = self.live.get(rec.id)
        return live.rec if live is not None else rec

    async def wait(self, ident: int) -> SessionRecord:
        live = self.live.get(ident)
        if live is not None:
            return await asyncio.shield(live.ended)
        rec = self.sessions.find(ident)
        assert rec is not None
        return rec

    # --- run, continue --------------------------------------------------------------------

    async def run(
        self,
        colony: str,
        task: str,
        *,
        preset: str | None = None,
        command: str | None = None,
        env: dict[str, str] | None = None,
        user: str = "unknown",
        brood: str | None = None,
    ) -> SessionRecord:
        """Start an agent on ``task`` in ``colony``; returns the new running session.

        Raises:
            ConfigError: unknown preset, bad template, empty task (nothing is started).
            Conflict: the colony is not running, or an agent already runs in it.
        """
        actor = self.myc.actor(colony)
        plan = plan_run(actor.cfg.agent, preset, command, task, actor.cfg.source)
        return await self._start(actor, plan, task, env, user, parent=None, brood=brood)

    async def resume(
        self,
        colony: str,
        ident: int | None,
        task: str,
        *,
        env: dict[str, str] | None = None,
        user: str = "unknown",
    ) -> SessionRecord:
        """Continue session ``ident`` (default: the colony's latest) with ``task``."""
        actor = self.myc.actor(colony)
        earlier = self.get(colony, ident) if ident is not None else self.latest(colony)
        if earlier.status == "running":
            raise Conflict(
                f"agent session {earlier.id} of colony '{colony}' is still running",
                hint=f"stop it first with 'colony agent stop {colony}'",
            )
        plan = plan_resume(earlier.agent, earlier.agent_session, task)
        return await self._start(
            actor, plan, task, env, user, parent=earlier.id, brood=earlier.brood
        )

    def run_when_running(
        self, colony: str, task: str, *, preset: str | None = None, user: str = "unknown"
    ) -> None:
        """Start an agent on ``task`` once the just-spawned ``colony`` runs (Bloom's "new
        colony" with a task, issue 18): spawn and agent in one step, in the daemon.

        The preset and task are checked now (nothing is queued on bad input); a colony that
        fails, stops or is removed before it runs drops its task, with a note in its log.

        Raises:
            ConfigError: unknown preset, empty or too long task.
        """
        actor = self.myc.actor(colony)
        plan_run(actor.cfg.agent, preset, None, task, actor.cfg.source)  # raises on bad input
        self.queued[colony] = task
        self.start_task(self._run_queued(colony, task, preset, user))

    async def _run_queued(self, colony: str, task: str, preset: str | None, user: str) -> None:
        try:
            while True:
                actor = self.myc.actors.get(colony)
                if actor is None or actor.done:
                    return
                state = actor.rec.state
                if state is State.RUNNING and actor.rec.workspace:
                    break
                if state in (State.FAILED, State.STOPPED, State.STOPPING):
                    actor.log.note("colony", f"its agent's task was dropped: the colony is {state}")
                    return
                await asyncio.sleep(QUEUE_POLL)
            try:
                await self.run(colony, task, preset=preset, user=user)
            except ColonyError as exc:
                actor.log.note("colony", f"its agent could not start: {exc}")
        except Exception:  # a bug here must not take the daemon down
            log.exception("colony %s: its queued agent task failed", colony)
        finally:
            self.queued.pop(colony, None)

    def _check_ready(self, actor: ColonyActor) -> None:
        name = actor.name
        if actor.rec.state is not State.RUNNING or not actor.rec.workspace:
            stopped = actor.rec.state is State.STOPPED
            hint = f"start it with 'colony start {name}'" if stopped else "wait until it runs"
            raise Conflict(
                f"colony '{name}' is {actor.rec.state}; agents run in running colonies", hint=hint
            )
        busy = self.running_in(name)
        if busy is not None or name in self.starting:
            which = f" session {busy.id}" if busy else ""
            raise Conflict(
                f"colony '{name}' already runs an agent{which}",
                hint=f"wait for it, or stop it with 'colony agent stop {name}'",
            )

    async def _start(
        self,
        actor: ColonyActor,
        plan: AgentPlan,
        task: str,
        env: dict[str, str] | None,
        user: str,
        *,
        parent: int | None,
        brood: str | None,
    ) -> SessionRecord:
        self._check_ready(actor)
        env = await self._secret_env(actor, plan.agent, env or {}, user)
        name = actor.name
        self.starting.add(name)
        try:
            now = self.clock()
            rec = self.sessions.insert(
                SessionRecord(
                    0,
                    name,
                    plan.agent,
                    plan.format,
                    task,
                    plan.argv,
                    "running",
                    user,
                    now,
                    "",
                    parent=parent,
                    brood=brood,
                )
            )
            path = self.paths.colony(name) / "agents" / f"{rec.id}.log"
            # A checkpoint of the workspace before the agent touches it (issue 12): `colony
            # undo NAME --session N` goes back to it. Its failure is noted, never fatal.
            await asyncio.to_thread(turn_snapshot, actor, rec.id, "start", task)
            try:
                running = await self._spawn(actor, rec.id, plan, env or {}, path)
            except ConfigError:  # the agent's program is not installed
                self.sessions.delete(rec.id)
                raise
            except ColonyError as exc:
                self.sessions.delete(rec.id)
                raise ColonyError(
                    f"colony '{name}': cannot start agent {plan.agent}: {exc}",
                    hint="install the agent's CLI, or set [agent] command in colony.toml",
                ) from exc
            except BaseException:
                self.sessions.delete(rec.id)
                raise
            rec = self.sessions.update(
                rec, log=str(path), pid=running.pid, pid_started=running.started
            )
        finally:
            self.starting.discard(name)
        live = self._watch(rec, running)
        self.bus.publish(
            AgentStarted(
                **self._about(rec),
                agent=rec.agent,
                task=clip(task, 500),
                parent=parent,
                brood=brood,
                pid=running.pid,
            )
        )
        actor.log.note(leaf(rec.id), f"{rec.agent} started: {clip(task, 200)}")
        return live.rec

    async def _secret_env(
        self, actor: ColonyActor, agent: str, env: dict[str, str], user: str
    ) -> dict[str, str]:
        """The agent's variables with its API key kept as the colony's secret (issue 17)
        when the colony's network is its own (the egress gate puts the value in); a colony
        on the host's network gets them as they are."""
        if self.secrets is None or not actor.contain.netns_path:
            return env
        return await self.secrets(actor.name, agent, env, by=user)

    async def _spawn(
        self, actor: ColonyActor, ident: int, plan: AgentPlan, extra: dict[str, str], path: Path
    ) -> runner.Running:
        """Start the agent's process.

        Raises:
            ConfigError: its program is on none of the colony's PATH directories.
            HostError: it could not start for another reason.
        """
        # The one place an agent process starts: contained like every colony process (its
        # namespace, cgroup leaf, user and sandbox), in the workspace, with the colony's env.
        argv, placement = await actor.process(leaf(ident), list(plan.argv))
        env = actor.env_for_exec(extra)
        try:
            return runner.start(
                argv, cwd=Path(actor.rec.workspace or "."), env=env, placement=placement,
                log_path=path,
            )  # fmt: skip
        except HostError as exc:
            # execvp says EACCES, not ENOENT, when a PATH directory is not the colony's to
            # search (issue 12): either way the program is not there for the colony.
            program = plan.argv[0]
            cause = exc.__cause__
            direct = argv[0] == program and "/" not in program  # not a wrapper's failure
            if direct and isinstance(cause, OSError) and cause.errno in MISSING:
                raise not_installed(plan.agent, program, env.get("PATH", "")) from exc
            raise

    def _watch(self, rec: SessionRecord, running: runner.Running) -> _Live:
        ended: asyncio.Future[SessionRecord] = asyncio.get_running_loop().create_future()
        seq = self.sessions.last_seq(rec.id)
        live = _Live(rec, running, Tail.resume(rec), seq, ended)
        self.live[rec.id] = live
        self.start_task(self._follow(live))
        return live

    # --- following ------------------------------------------------------------------------

    async def _follow(self, live: _Live) -> None:
        try:
            while True:
                exited = live.running.exited.done()
                self._ingest(live, live.tail.read())
                if live.tail.size > self.logs.cap.size:  # issue 11: capped like every log
                    await asyncio.to_thread(live.tail.rotate, self.logs.cap)
                if exited:
                    break
                await asyncio.wait([live.running.exited], timeout=POLL)
            self._ingest(live, live.tail.rest(), final=True)
            await self._end(live)
        except Exception:  # a bug here must not take the daemon down
            log.exception("agent session %s: following it failed", live.rec.id)
            live.rec = self.sessions.update(live.rec, status="failed", ended=self.clock())
            self.live.pop(live.rec.id, None)
            if not live.ended.done():
                live.ended.set_result(live.rec)

    def _ingest(self, live: _Live, lines: list[str], *, final: bool = False) -> None:
        """Parse new output lines; store and publish their events."""
        if not lines and not final:
            return
        events = live.tail.parse(lines, final=final)
        changes = live.tail.changes()
        now = self.clock()
        live.rec = self.sessions.add_events(live.rec, live.seq + 1, now, events, **changes)
        for event in events:
            live.seq += 1
            self.bus.publish(
                AgentOutput(
                    **self._about(live.rec),
                    kind=event.kind,
                    seq=live.seq,
                    text=event.text,
                    tool=event.tool,
                    data=event.data,
                )
            )
            if event.kind in ("text", "tool_call", "result", "error"):
                self._note(
                    live.rec,
                    f"{event.kind}: {clip(event.text.splitlines()[0] if event.text else '', 200)}",
                )

    async def _end(self, live: _Live) -> None:
        rec = live.rec
        code = live.running.exited.result() if live.running.exited.done() else None
        actor = self.myc.actors.get(rec.colony)
        gone = (
            actor is None
            or actor.done
            or actor.rec.state in (State.STOPPING, State.STOPPED, State.FAILED)
        )
        status = plan_status(
            stop_requested=live.stop_requested,
            colony_gone=gone,
            code=code,
            is_error=live.tail.summary.is_error,
            saw_result=live.tail.summary.result is not None,
        )
        if actor is not None and not actor.done and actor.rec.isolated:
            try:  # whatever the agent left running in its leaf ends with it
                await asyncio.to_thread(self.iso.kill, actor.slot, leaf(rec.id))
                await asyncio.to_thread(self.iso.remove_leaf, actor.slot, leaf(rec.id))
            except ColonyError as exc:
                log.warning("agent session %s: cannot clean its cgroup: %s", rec.id, exc)
        if actor is not None and not gone:  # the checkpoint of what the turn left, before
            await asyncio.to_thread(turn_snapshot, actor, rec.id, "end")  # it is seen ended
        rec = self.sessions.update(rec, status=status, ended=self.clock(), exit_code=code)
        live.rec = rec
        self.live.pop(rec.id, None)
        self.bus.publish(
            AgentEnded(
                **self._about(rec),
                status=status,
                exit_code=code,
                duration=rec.duration,
                cost=rec.cost,
                tokens_in=rec.tokens_in,
                tokens_out=rec.tokens_out,
                session_id=rec.agent_session,
            )
        )
        self._note(rec, f"{status} ({exit_text(code)})")
        live.ended.set_result(rec)
        try:
            self.on_end(rec)
        except Exception:
            log.exception("agent session %s: an end hook failed", rec.id)

    def _about(self, rec: SessionRecord) -> _About:
        """The fields every agent event of ``rec`` starts with."""
        return {"colony": rec.colony, "session": rec.id, "user": rec.user, "at": self.clock()}

    def _note(self, rec: SessionRecord, line: str) -> None:
        actor = self.myc.actors.get(rec.colony)
        if actor is not None and not actor.done:
            actor.log.note(leaf(rec.id), line)

    # --- stop, adopt ----------------------------------------------------------------------

    async def stop(self, colony: str, ident: int | None = None) -> SessionRecord:
        """Interrupt a running session with its agent's signal sequence; returns it ended."""
        self.myc.actor(colony)
        rec = self.get(colony, ident) if ident is not None else self.running_in(colony)
        if rec is None:
            raise Conflict(
                f"colony '{colony}' runs no agent",
                hint=f"list its sessions with 'colony agent ls {colony}'",
            )
        live = self.live.get(rec.id)
        if live is None:
            raise Conflict(
                f"agent session {rec.id} of colony '{colony}' is not running (it is {rec.status})"
            )
        live.stop_requested = True
        for sig, wait in interrupt_steps(rec.agent):
            if live.running.exited.done():  # its pid may be someone else's by now
                break
            host.kill(live.running.pid, sig, group=True)
            if wait:
                await asyncio.wait([live.running.exited], timeout=wait)
            if live.running.exited.done():
                break
        if not live.running.exited.done():
            actor = self.myc.actors.get(colony)
            if actor is not None and actor.rec.isolated:
                await asyncio.to_thread(self.iso.kill, actor.slot, leaf(rec.id))
        return await asyncio.wait_for(asyncio.shield(live.ended), 30)

    async def adopt(self) -> None:
        """After a restart: follow sessions that still run, finish those that ended."""
        for rec in self.sessions.running():
            running = None
            if rec.pid is not None:
                running = runner.adopt(rec.pid, rec.pid_started)
            if running is None:
                gone: asyncio.Future[int | None] = asyncio.get_running_loop().create_future()
                gone.set_result(None)
                running = runner.Running(rec.pid or 0, rec.pid_started, None, gone)
            self._watch(rec, running)

    async def stop_all(self, colony: str) -> None:
        """Interrupt the colony's agent, if one runs (before a merge, undo or removal)."""
        if self.running_in(colony) is not None:
            await self.stop(colony)
