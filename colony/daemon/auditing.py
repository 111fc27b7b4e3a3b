"""Wiring of the audit log into Mycelium: the store, the writer, the file watch, the push."""

from __future__ import annotations

from collections.abc import Callable

from colony.core.filerate import FileRate
from colony.daemon.audit import Auditor
from colony.daemon.audit_push import Pusher
from colony.daemon.events import EventBus
from colony.daemon.files import FileWatch
from colony.daemon.kit import TaskStarter
from colony.daemon.mycelium import Mycelium
from colony.daemon.paths import Paths
from colony.store.audit import AuditStore, load_key


async def start_audit(
    myc: Mycelium,
    *,
    paths: Paths,
    bus: EventBus,
    clock: Callable[[], float],
    start_task: TaskStarter,
    push: str | None,
    retention: float | None,
    watch_limit: int,
    file_rate: FileRate,
) -> Auditor:
    """Start recording every event of ``bus``; returns once the subscription is live.

    Args:
        push: VictoriaLogs' jsonline URL (from :func:`~colony.core.audit_events.push_url`).
        retention: seconds to keep entries; None keeps them all.
        watch_limit: inotify watches per colony (issue 11).
        file_rate: changed paths listed per colony (issue 11).
    """
    store = AuditStore(paths.audit_db, load_key(paths.audit_key))
    auditor = Auditor(store, bus, clock, retention=retention)
    start_task(auditor.run())
    await auditor.started.wait()
    if push is not None:
        pusher = Pusher(push, auditor)
        auditor.keep_after = pusher.keep_after
        start_task(pusher.run())
    start_task(auditor.prune_loop())

    def colonies() -> dict[str, tuple[str | None, str]]:
        return {n: (a.rec.workspace, str(a.rec.state)) for n, a in myc.actors.items()}

    def note(name: str, line: str) -> None:
        actor = myc.actors.get(name)
        if actor is not None:
            actor.log.note("colony", line)

    watch = FileWatch(bus, colonies, clock, watch_limit=watch_limit, rate=file_rate, note=note)
    start_task(watch.run())
    return auditor
