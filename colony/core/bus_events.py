"""The events of the daemon's bus, one frozen dataclass per type, and their JSON.

Pure. Every publisher builds one of these (mypy checks its fields); the bus turns it into
JSON with :func:`render_event`, the one place that does, before any subscriber (the /events
stream, the audit log, Bloom, Stem, the daemon's own watchers) sees it. The JSON is
``{"type": TYPE, <fields in declared order>}``, tuples as lists; a field with ``OMIT``
metadata is left out while it holds its default (``user`` when no user asked), one with
``SPREAD`` metadata contributes its value's ``to_json()`` keys in its place.

Example:
    >>> render_event(RemovedEvent(colony="web", at=5.0, user="alice"))
    {'type': 'removed', 'colony': 'web', 'at': 5.0, 'user': 'alice'}
    >>> render_event(RemovedEvent(colony="web", at=5.0))
    {'type': 'removed', 'colony': 'web', 'at': 5.0}
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from types import MappingProxyType
from typing import Any, ClassVar, Protocol

from colony.core.model import Transition
from colony.core.policy import Policy
from colony.core.routes import RequestBatch, RequestRecord

OMIT: Mapping[str, object] = MappingProxyType({"omit": True})
SPREAD: Mapping[str, object] = MappingProxyType({"spread": True})


class _Jsonable(Protocol):
    def to_json(self) -> dict[str, object]: ...


@dataclass(frozen=True, kw_only=True)
class BusEvent:
    """Base of every bus event; ``TYPE`` is its JSON ``type``."""

    TYPE: ClassVar[str]


def _json(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return [_json(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _json(v) for k, v in value.items()}
    return value


def render_event(event: BusEvent) -> dict[str, Any]:
    """The JSON of ``event``, as every subscriber of the bus receives it."""
    out: dict[str, Any] = {"type": event.TYPE}
    for f in fields(event):
        value = getattr(event, f.name)
        if f.metadata.get("omit") and value is f.default:
            continue
        if f.metadata.get("spread"):
            spread: _Jsonable | None = value
            out.update(_json(spread.to_json()) if spread is not None else {})
            continue
        out[f.name] = _json(value)
    return out


# --- colonies and their services --------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class StateEvent(BusEvent):
    """A colony entered a lifecycle state."""

    TYPE = "state"
    colony: str
    transition: Transition = field(metadata=SPREAD)
    user: str | None = field(default=None, metadata=OMIT)


@dataclass(frozen=True, kw_only=True)
class ServiceEvent(BusEvent):
    """A service of a colony changed state."""

    TYPE = "service"
    colony: str
    service: str
    state: str
    pid: int | None
    at: float
    exit_code: int | None
    user: str | None = field(default=None, metadata=OMIT)


@dataclass(frozen=True, kw_only=True)
class HealthEvent(BusEvent):
    """A running colony became degraded, or recovered (issue 12)."""

    TYPE = "health"
    colony: str
    state: str
    degraded: tuple[str, ...]
    at: float
    user: str | None = field(default=None, metadata=OMIT)


@dataclass(frozen=True, kw_only=True)
class RemovedEvent(BusEvent):
    TYPE = "removed"
    colony: str
    at: float
    user: str | None = field(default=None, metadata=OMIT)


@dataclass(frozen=True, kw_only=True)
class GcEvent(BusEvent):
    """What a gc removed: ``{"kind", "name"}`` each."""

    TYPE = "gc"
    removed: tuple[Mapping[str, str], ...]
    at: float
    user: str | None = field(default=None, metadata=OMIT)


@dataclass(frozen=True, kw_only=True)
class ResourceEvent(BusEvent):
    """An OOM kill or a limit reached (``kind``: ``oom`` | ``limit``); ``user``: the owner,
    absent where the file watcher reports its own limit."""

    TYPE = "resource"
    colony: str
    user: str | None = field(default=None, metadata=OMIT)
    kind: str
    detail: str
    at: float


@dataclass(frozen=True, kw_only=True)
class MergeEvent(BusEvent):
    TYPE = "merge"
    colony: str
    into: str
    user: str
    commit: str
    squash: bool
    at: float


@dataclass(frozen=True, kw_only=True)
class ConflictEvent(BusEvent):
    """Colonies of one repository changed the same path."""

    TYPE = "conflict"
    path: str
    colonies: tuple[str, ...]
    repo: str
    at: float


@dataclass(frozen=True, kw_only=True)
class FilesEvent(BusEvent):
    """Files changed in a workspace; ``more``: how many more the rate limit held back;
    ``overflow``: inotify lost events."""

    TYPE = "files"
    colony: str
    paths: tuple[str, ...]
    count: int
    at: float
    more: int | None = field(default=None, metadata=OMIT)
    overflow: bool = field(default=False, metadata=OMIT)


# --- agents and broods --------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class AgentEvent(BusEvent):
    """One event of an agent session; its subclasses say which."""

    TYPE = "agent"
    colony: str
    session: int
    kind: str
    user: str
    at: float


@dataclass(frozen=True, kw_only=True)
class AgentStarted(AgentEvent):
    kind: str = "started"
    agent: str
    task: str
    parent: int | None
    brood: str | None
    pid: int


@dataclass(frozen=True, kw_only=True)
class AgentOutput(AgentEvent):
    """What the agent did or said (``kind``: text, tool_call, result, …)."""

    seq: int
    text: str
    tool: str | None
    data: Mapping[str, Any]


@dataclass(frozen=True, kw_only=True)
class AgentEnded(AgentEvent):
    kind: str = "ended"
    status: str
    exit_code: int | None
    duration: float | None
    cost: float | None
    tokens_in: int | None
    tokens_out: int | None
    session_id: str | None


@dataclass(frozen=True, kw_only=True)
class BroodEvent(BusEvent):
    """One event of a brood; its subclasses say which."""

    TYPE = "brood"
    brood: str
    kind: str
    at: float


@dataclass(frozen=True, kw_only=True)
class BroodSpawned(BroodEvent):
    kind: str = "spawned"
    count: int
    max_parallel: int
    user: str


@dataclass(frozen=True, kw_only=True)
class BroodDone(BroodEvent):
    kind: str = "done"


@dataclass(frozen=True, kw_only=True)
class BroodMember(BroodEvent):
    kind: str = "member"
    colony: str
    state: str
    reason: str | None
    check_code: int | None


@dataclass(frozen=True, kw_only=True)
class BroodPicked(BroodEvent):
    kind: str = "picked"
    colony: str
    trashed: tuple[str, ...]
    user: str


@dataclass(frozen=True, kw_only=True)
class BroodRemoved(BroodEvent):
    """The brood and its colonies are gone (its colonies' work to the trash, issue 15)."""

    kind: str = "removed"
    removed: tuple[str, ...]
    user: str


# --- exec sessions, the network, preview requests ----------------------------------------


@dataclass(frozen=True, kw_only=True)
class ExecEvent(BusEvent):
    """An exec session started; argv and env already redacted."""

    TYPE = "exec"
    colony: str
    user: str
    argv: tuple[str, ...]
    env: Mapping[str, str]
    cwd: str | None
    tty: bool
    at: float


@dataclass(frozen=True, kw_only=True)
class ExecEndEvent(BusEvent):
    TYPE = "exec_end"
    colony: str
    user: str
    argv: tuple[str, ...]
    code: int | None
    duration: float
    at: float


@dataclass(frozen=True, kw_only=True)
class PolicyEvent(BusEvent):
    """A colony's egress policy was set (``reset``: back to colony.toml's); ``policy``: the
    one in effect now, spread as ``egress``, ``allow``, ``deny``; ``change``: what an
    amendment did (``allowed example.com:443``, issue 16), None when the policy was stated
    whole."""

    TYPE = "policy"
    colony: str
    user: str
    at: float
    reset: bool
    policy: Policy | None = field(metadata=SPREAD)
    change: str | None = field(default=None, metadata=OMIT)


@dataclass(frozen=True, kw_only=True)
class SecretEvent(BusEvent):
    """``user`` set (``hosts`` given) or removed (``hosts`` None) the secret ``variable`` of
    ``colony`` (issue 17); never its value."""

    TYPE = "secret"
    colony: str
    user: str
    variable: str
    hosts: list[str] | None
    at: float


@dataclass(frozen=True, kw_only=True)
class ShareEvent(BusEvent):
    """``user`` shared ``colony`` with ``to`` as ``role`` (issue 14); ``role`` None: ended."""

    TYPE = "share"
    colony: str
    user: str
    to: str
    role: str | None
    at: float


@dataclass(frozen=True, kw_only=True)
class NetEvent(BusEvent):
    """A connection the colony's firewall logged (``verdict``: accept | deny); or one the
    egress gate judged (issue 16): ``host`` the name it asked for, ``reason`` the line a
    refused colony is told."""

    TYPE = "net"
    colony: str
    user: str
    dest: str | None
    port: int | None
    proto: str
    verdict: str
    at: float
    host: str | None = field(default=None, metadata=OMIT)
    reason: str | None = field(default=None, metadata=OMIT)


@dataclass(frozen=True, kw_only=True)
class DnsEvent(BusEvent):
    """A DNS question a colony asked Mycelium's stub (``verdict``: accept, with ``answer``
    the addresses given; deny: NXDOMAIN). ``count``: how many questions alike (name, type,
    verdict) it stands for since the last such event."""

    TYPE = "dns"
    colony: str
    user: str
    name: str
    qtype: str
    verdict: str
    answer: tuple[str, ...] = ()
    reason: str = ""
    count: int = 1
    at: float


@dataclass(frozen=True, kw_only=True)
class RequestEvent(BusEvent):
    """Requests through the preview proxy: one (``status`` None: no response), or since issue
    15 a batch of one client user's requests to one preview within a second or so: ``count``
    of them, ``paths`` their distinct ``METHOD path`` (the first ones; ``more_paths`` others),
    ``statuses`` how many got each status, ``bytes`` and ``duration`` summed; ``method``,
    ``path`` and ``status`` are the first request's. ``client`` is the local user who sent
    them, when the proxy knows."""

    TYPE = "request"
    colony: str
    service: str | None
    port: int
    method: str
    host: str
    path: str
    status: int | None
    bytes: int
    duration: float
    at: float
    count: int = field(default=1, metadata=OMIT)
    paths: tuple[str, ...] = field(default=(), metadata=OMIT)
    more_paths: int = field(default=0, metadata=OMIT)
    statuses: Mapping[str, int] | None = field(default=None, metadata=OMIT)
    client: str | None = field(default=None, metadata=OMIT)

    @classmethod
    def of(cls, rec: RequestRecord, at: float) -> RequestEvent:
        """The event of one preview request (the proxy's ``on_request`` record)."""
        return cls(
            colony=rec.colony,
            service=rec.service,
            port=rec.port,
            method=rec.method,
            host=rec.host,
            path=rec.path,
            status=rec.status,
            bytes=rec.bytes_out,
            duration=rec.duration_s,
            at=at,
        )

    @classmethod
    def of_batch(cls, batch: RequestBatch, at: float, client: str | None) -> RequestEvent:
        """The event of a batch of requests (:class:`~colony.core.routes.RequestTally`)."""
        one = cls.of(batch.first, at)
        if batch.count == 1:
            return replace(one, client=client)
        return replace(
            one,
            bytes=batch.bytes_out,
            duration=batch.duration_s,
            count=batch.count,
            paths=tuple(batch.paths),
            more_paths=batch.more_paths,
            statuses=dict(batch.statuses),
            client=client,
        )
