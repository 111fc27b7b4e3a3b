"""What the API needs of the daemon, declared here as narrow Protocols (issue 13).

Each route module takes the ports it serves; :class:`ApiServices` is the bundle the app is
made from. The daemon's components satisfy these structurally: the composition root
(:mod:`colony.daemon.build`) builds them and mypy checks them where the daemon serves
:func:`colony.api.app.create_app`. Nothing here imports the daemon.

Example:
    >>> app = create_app(services, on_stop=stop, info={})  # services: any ApiServices
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Container, Iterable, Iterator
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol

from colony.api.access import Directory
from colony.api.secrets import Secrets
from colony.api.shares import Sharing
from colony.core.agents.session import SessionRecord
from colony.core.audit import Entry, Verdict
from colony.core.audit_events import Query
from colony.core.doctor import Check
from colony.core.execs import ExecRequest
from colony.core.policy import Policy
from colony.core.review import FileConflict

Json = dict[str, Any]


class Colonies(Protocol):
    """The registry of colonies and their lifecycle."""

    def colonies(self) -> list[Json]: ...
    def colony(self, name: str) -> Json: ...
    def actor(self, name: str) -> object:
        """The colony's actor, opaque here: raises NotFound for an unknown colony."""
        ...

    async def spawn(
        self,
        name: str,
        repo: str,
        *,
        rev: str | None,
        config: str | None,
        limits: dict[str, str] | None,
        sandbox: str | None,
        user: str | None,
        sockets: list[str] | None,
        secrets: dict[str, Any] | None,
        owner: str,
        owner_uid: int | None,
    ) -> Json: ...
    async def request(self, name: str, kind: str, user: str | None = None) -> Json: ...
    async def remove(self, name: str, force: bool, user: str | None = None) -> Json: ...
    async def remove_many(
        self,
        names: Iterable[str],
        force: bool,
        user: str | None = None,
        check: Callable[[str], None] | None = None,
    ) -> list[Json]: ...
    def urls(self, name: str) -> dict[str, str]: ...
    async def gc(self, user: str | None = None) -> list[dict[str, str]]: ...


class Logs(Protocol):
    """The colonies' log lines."""

    def lines(self, name: str, source: str | None, count: int) -> list[Json]: ...
    def follow(self, name: str, source: str | None) -> AsyncIterator[Json]: ...


class Events(Protocol):
    """The daemon's event bus, as JSON."""

    def subscribe(
        self, maxsize: int | None = None
    ) -> AbstractAsyncContextManager[asyncio.Queue[Json]]: ...


Send = Callable[[bytes], Awaitable[None]]


class ExecSession(Protocol):
    """One command running inside a colony, with its streams."""

    def write(self, data: bytes) -> None: ...
    def resize(self, cols: int, rows: int) -> None: ...
    def close_stdin(self) -> None: ...
    async def pump(self, send: Send) -> int: ...
    async def close(self) -> None: ...


class Execs(Protocol):
    """Exec sessions in colonies, audited from start to end (issue 5)."""

    async def open(self, colony: str, request: ExecRequest, user: str) -> ExecSession:
        """A started session; raises ColonyError (nothing left running) when it cannot."""
        ...


class Usage(Protocol):
    """Resource usage of colonies (issue 3)."""

    def names(self) -> list[str]:
        """Every colony, oldest first."""
        ...

    async def sample(self, name: str) -> Json:
        """One colony's usage; raises NotFound for an unknown colony."""
        ...

    async def samples(self, names: Iterable[str], *, isolated: bool = False) -> dict[str, Json]:
        """The usage of those of ``names`` that exist (with ``isolated``: and are isolated)."""
        ...


class Hosts(Protocol):
    """Preview names in the hosts file."""

    def names(self) -> list[str]: ...
    def status(self, wanted: list[str]) -> Json: ...
    def write(self, names: list[str]) -> Json: ...


class Doctor(Protocol):
    async def checks(self, info: dict[str, Any]) -> list[Check]: ...


class Network(Protocol):
    """Network policies and connection records (issue 4)."""

    def view(self, name: str, limit: int = 50) -> Json: ...
    async def set_policy(self, name: str, policy: Policy | None, *, by: str) -> list[str]: ...
    async def change_policy(
        self,
        name: str,
        *,
        allow: Iterable[object] = (),
        deny: Iterable[object] = (),
        remove: Iterable[object] = (),
        by: str,
    ) -> list[str]: ...
    def blocked(self, name: str) -> list[Json]: ...
    def render(self, name: str) -> str: ...


class AuditBatches(Protocol):
    def batches(self, q: Query, size: int = 1000) -> Iterator[list[Entry]]: ...


class Audit(Protocol):
    """The audit log (issue 5)."""

    @property
    def store(self) -> AuditBatches: ...
    async def query(self, q: Query, limit: int | None) -> list[Entry]: ...
    def entries(self, q: Query, limit: int | None, follow: bool) -> AsyncIterator[Entry]: ...
    async def verify(self) -> Verdict: ...


class SessionEvents(Protocol):
    def events(self, session: int, after: int = 0, limit: int | None = None) -> list[Json]: ...


class Agents(Protocol):
    """Agent sessions (issue 6)."""

    @property
    def sessions(self) -> SessionEvents: ...
    @property
    def live(self) -> Container[int]: ...
    async def run(
        self,
        colony: str,
        task: str,
        *,
        preset: str | None,
        command: str | None,
        env: dict[str, str] | None,
        user: str,
    ) -> SessionRecord: ...
    async def resume(
        self, colony: str, ident: int | None, task: str, *, env: dict[str, str] | None, user: str
    ) -> SessionRecord: ...
    async def stop(self, colony: str, ident: int | None = None) -> SessionRecord: ...
    def run_when_running(
        self, colony: str, task: str, *, preset: str | None = None, user: str = "unknown"
    ) -> None:
        """Start an agent on ``task`` once the just-spawned ``colony`` runs (issue 18)."""

    @property
    def queued(self) -> Container[str]:
        """Colonies whose agent task waits for them to run."""

    def sessions_of(self, colony: str | None) -> list[SessionRecord]: ...
    def get(self, colony: str, ident: int) -> SessionRecord: ...
    async def wait(self, ident: int) -> SessionRecord: ...


class Broods(Protocol):
    """Broods (issue 6)."""

    async def spawn(
        self,
        objective: str,
        count: int,
        *,
        repo: str,
        agent: str | None,
        command: str | None,
        max_parallel: int | None,
        rev: str | None,
        config: str | None,
        name: str | None,
        env: dict[str, str] | None,
        user: str,
        user_uid: int | None,
    ) -> Json: ...
    def all(self) -> list[Json]: ...
    def show(self, name: str) -> Json: ...
    async def pick(
        self,
        name: str,
        colony: str | None = None,
        *,
        squash: bool,
        into: str | None,
        force: bool,
        user: str,
    ) -> Json: ...
    async def remove(
        self, name: str, *, force: bool, user: str, check: Callable[[str], None] | None = None
    ) -> Json: ...


class Review(Protocol):
    """Diff, merge, snapshots, undo (issue 6)."""

    async def diff(self, name: str, stat: bool = False) -> Json: ...
    async def work(self, name: str) -> Json:
        """``{colony, commits: [{commit, author, at, subject}], uncommitted: [path]}``."""
        ...

    async def merge(
        self,
        name: str,
        *,
        into: str | None,
        squash: bool,
        force: bool,
        message: str | None,
        user: str,
    ) -> Json: ...
    async def snapshots(self, name: str) -> list[Json]: ...
    async def snapshot(self, name: str, message: str | None = None) -> Json: ...
    async def undo(
        self, name: str, to: int | None, *, force: bool, session: int | None
    ) -> Json: ...


class Conflicts(Protocol):
    async def current(self) -> list[FileConflict]: ...


class Trash(Protocol):
    """Removed colonies that can be restored (issue 6)."""

    def entries(self, owner: str | None = None) -> list[Json]: ...
    def strays(self) -> list[str]: ...
    async def restore(self, which: str, owner: str | None = None) -> Json: ...
    async def purge(self, which: str | None, owner: str | None = None) -> list[Json]: ...


class Access(Directory, Sharing, Protocol):
    """Who callers are, who owns and shares what (issue 14)."""


class Gate(Protocol):
    def link(self, url: str, user: str, colony: str) -> str:
        """A preview URL as a user's first-visit link to a colony (issue 14)."""
        ...


class ApiServices(Protocol):
    """Everything the API is made from; read-only."""

    @property
    def colonies(self) -> Colonies: ...
    @property
    def logs(self) -> Logs: ...
    @property
    def bus(self) -> Events: ...
    @property
    def execs(self) -> Execs: ...
    @property
    def usage(self) -> Usage: ...
    @property
    def hosts(self) -> Hosts: ...
    @property
    def doctor(self) -> Doctor: ...
    @property
    def network(self) -> Network: ...
    @property
    def audit(self) -> Audit: ...
    @property
    def agents(self) -> Agents: ...
    @property
    def review(self) -> Review: ...
    @property
    def conflicts(self) -> Conflicts: ...
    @property
    def trash(self) -> Trash: ...
    @property
    def broods(self) -> Broods: ...
    @property
    def secrets(self) -> Secrets: ...
    @property
    def access(self) -> Access: ...
    @property
    def gate(self) -> Gate: ...
    @property
    def clock(self) -> Callable[[], float]: ...
    @property
    def proxy_port(self) -> int:
        """The preview proxy's port, once it listens."""
        ...
