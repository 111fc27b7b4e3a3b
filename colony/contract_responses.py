"""The JSON the API answers with, as typed objects shared by the daemon and the client (issue 13).

One frozen dataclass per answer (as mypy sees it: :class:`Answer`), beside the request
bodies of :mod:`colony.contract`. The daemon builds one and sends :func:`dump` of it; the
client reads an answer with :func:`load`, so the CLI and Stem read attributes that mypy
checks; ``/openapi.json`` shows :func:`schemas` of them. Both ends use the same
classes, so they cannot drift.

:func:`load` ignores nothing it does not know: keys this client has no field for (a newer
Mycelium's) are kept in ``extra`` and :func:`dump` writes them back, so ``--json`` prints
what Mycelium sent. A missing key is a one-line ColonyError naming it.

Pure, and light to import (a quick command such as ``colony ls`` loads it, issue 15): the
standard library and Colony's errors only.

Example:
    >>> t = load(Transition, {"state": "running", "at": 2.5, "step": None, "reason": None})
    >>> t.state, t.at
    ('running', 2.5)
    >>> dump(t)
    {'state': 'running', 'at': 2.5, 'step': None, 'reason': None}
    >>> load(Transition, {"state": "running"}, "GET /colonies/web")
    Traceback (most recent call last):
    colony.errors.ColonyError: Mycelium's answer to GET /colonies/web: at: missing
"""

# Annotations stay real types here (no ``from __future__ import annotations``): the fields
# are read from them without evaluating strings, which keeps it quick.

import types
from collections.abc import Callable, Mapping
from typing import (
    Any,
    ClassVar,
    TypeVar,
    Union,
    dataclass_transform,
    get_args,
    get_origin,
)

from colony.errors import ColonyError

T = TypeVar("T")
A = TypeVar("A", bound="Answer")
OMIT = {"omit": True}  # field metadata: dump() leaves the field out while it is None
UNLESS_FAILED = {"omit_if": "error"}  # field metadata: dump() leaves it out beside an error
SKEW_HINT = "Mycelium and this client may be of different versions; upgrade the older one"


class _Missing:
    """No default (what ``dataclasses.MISSING`` is to a dataclass)."""

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()


class _Spec:
    """What :func:`field` declares: a default or a factory, and metadata."""

    __slots__ = ("default", "default_factory", "metadata")

    def __init__(self, default: Any, default_factory: Any, metadata: Mapping[str, Any]) -> None:
        self.default, self.default_factory, self.metadata = default, default_factory, metadata


def field(
    *,
    default: Any = MISSING,
    default_factory: Callable[[], Any] | Any = MISSING,
    metadata: Mapping[str, Any] | None = None,
) -> Any:
    """A field's default (or factory) and metadata, as ``dataclasses.field`` declares them;
    its own, so that loading this module loads neither dataclasses nor inspect (issue 15)."""
    return _Spec(default, default_factory, metadata or {})


class Field:
    """One field of an answer: its name, type, default (or ``factory`` making it;
    :data:`MISSING`: none) and metadata (:data:`OMIT`, :data:`UNLESS_FAILED`)."""

    __slots__ = ("default", "factory", "metadata", "name", "required", "type")

    def __init__(self, name: str, kind: Any, default: Any, factory: Any, metadata: Any) -> None:
        self.name, self.type, self.metadata = name, kind, metadata
        self.default, self.factory = default, factory
        self.required = default is MISSING and factory is MISSING


@dataclass_transform(kw_only_default=True, frozen_default=True, field_specifiers=(field,))
class Answer:
    """The base of every answer: a frozen, keyword-only dataclass as mypy sees it (PEP 681),
    declared as one (annotations, :func:`field`). Its methods are written once, here:
    ``dataclasses.dataclass`` compiles several per class when the module loads, over a
    millisecond each, and ``colony ls`` loads this module (issue 15).

    ``extra``: the keys of the JSON it was read from that this client does not know, kept for
    ``--json``; not a field, not compared.
    """

    FIELDS: ClassVar[tuple[Field, ...]] = ()
    NAMES: ClassVar[frozenset[str]] = frozenset()
    extra: dict[str, Any]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        own = []
        # inspect.get_annotations does this, for a class, but loading inspect costs more.
        for name, hint in cls.__dict__.get("__annotations__", {}).items():  # noqa: RUF063
            origin: object = get_origin(hint)
            if origin is ClassVar:
                continue
            value = cls.__dict__.get(name, MISSING)
            if isinstance(value, _Spec):
                own.append(Field(name, hint, value.default, value.default_factory, value.metadata))
            else:
                own.append(Field(name, hint, value, MISSING, {}))
            if name in cls.__dict__:
                delattr(cls, name)  # a default lives in FIELDS, not on the class
        inherited = [f for f in cls.FIELDS if f.name not in {o.name for o in own}]
        cls.FIELDS = (*inherited, *own)
        cls.NAMES = frozenset(f.name for f in cls.FIELDS)

    def __init__(self, **values: Any) -> None:
        unknown = values.keys() - self.NAMES
        if unknown:
            raise TypeError(f"{type(self).__name__}: unknown fields {sorted(unknown)}")
        for f in self.FIELDS:
            if f.name in values:
                value = values[f.name]
            elif f.default is not MISSING:
                value = f.default
            elif f.factory is not MISSING:
                value = f.factory()
            else:
                raise TypeError(f"{type(self).__name__}: missing field {f.name!r}")
            object.__setattr__(self, f.name, value)
        object.__setattr__(self, "extra", {})

    def __setattr__(self, name: str, value: Any) -> None:
        import dataclasses

        raise dataclasses.FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        import dataclasses

        raise dataclasses.FrozenInstanceError(f"cannot delete field {name!r}")

    def _values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, f.name) for f in self.FIELDS)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        assert isinstance(other, Answer)
        return self._values() == other._values()

    def __hash__(self) -> int:
        return hash(self._values())

    def __repr__(self) -> str:
        shown = ", ".join(f"{f.name}={getattr(self, f.name)!r}" for f in self.FIELDS)
        return f"{type(self).__name__}({shown})"


def replace(answer: A, **changes: Any) -> A:
    """``answer`` with ``changes`` (and the unknown keys it was read with)."""
    values = {f.name: getattr(answer, f.name) for f in answer.FIELDS}
    made = type(answer)(**{**values, **changes})
    object.__setattr__(made, "extra", answer.extra)
    return made


# --- colonies -----------------------------------------------------------------------------


class Transition(Answer):
    """A state a colony entered, at unix time ``at``."""

    state: str
    at: float
    step: str | None = None
    reason: str | None = None


class Service(Answer):
    """One service of a colony."""

    name: str
    port: int | None
    host_port: int | None  # sandbox level none: the host's port it got (issue 3)
    state: str
    pid: int | None
    restarts: int
    exit_code: int | None
    url: str | None


class RunsAs(Answer):
    """The user a colony's processes run as, and why that one."""

    name: str
    uid: int
    gid: int
    why: str


class Disk(Answer):
    """A colony's own disk, in bytes."""

    size: int
    used: int


class Containment(Answer):
    """How a colony is contained (issue 3)."""

    level: str
    description: str
    user: RunsAs | None
    user_error: str | None
    unapplied_limits: list[str]
    disk: Disk | None


class Limits(Answer):
    """A colony's resource limits; a limit not set is left out (unlimited)."""

    cpu: float | None = field(default=None, metadata=OMIT)  # cores
    memory: int | None = field(default=None, metadata=OMIT)  # bytes
    swap: int | None = field(default=None, metadata=OMIT)  # bytes; 0: swap off
    pids: int | None = field(default=None, metadata=OMIT)
    io_weight: int | None = field(default=None, metadata=OMIT)
    disk: int | None = field(default=None, metadata=OMIT)  # bytes (issue 11)


class Sample(Answer):
    """``GET /colonies/{name}/usage``: a colony's latest resource usage (issue 3); a number
    is None where it is not known (``cpu_percent`` until two samples exist)."""

    colony: str
    state: str
    level: str
    user: str | None
    at: float
    cpu_percent: float | None
    cpu_usec: int | None
    memory: int | None
    pids: int | None
    io_read: int | None
    io_write: int | None
    oom_kills: int | None
    memory_hits: int | None
    pids_hits: int | None
    limits: Limits


class Usage(Answer):
    """``GET /usage``: every colony's latest sample (``colony top``)."""

    usage: list[Sample]


class SecretInfo(Answer):
    """A colony's secret as shown (issue 17): never its value."""

    key: str
    hosts: list[str]
    header: str | None  # None: any header carrying the placeholder


class Colony(Answer):
    """``GET /colonies/{name}``: one colony in full. A spawn's answer adds ``warnings``; a
    stop, start or restart that had nothing to do adds ``already`` (the state it is in)."""

    name: str
    state: str
    degraded: list[str]  # services that gave up (issue 12)
    step: str | None
    reason: str | None
    owner: str | None
    created: float
    updated: float
    repo: str
    rev: str | None
    vcs: str | None
    branch: str | None
    base: str | None
    workspace: str | None
    data_dir: str
    db: str
    address: str | None
    netns: str | None
    sandbox: str
    containment: Containment
    usage: Sample | None  # the resource monitor's latest sample
    limits: Limits
    services: list[Service]
    transitions: list[Transition]
    secrets: list[SecretInfo] | None = field(default=None, metadata=OMIT)  # issue 17
    warnings: list[str] | None = field(default=None, metadata=OMIT)
    already: str | None = field(default=None, metadata=OMIT)


class Colonies(Answer):
    """``GET /colonies``."""

    colonies: list[Colony]


class Removed(Answer):
    """``DELETE /colonies/{name}``: where the removed colony's work went (issue 6)."""

    removed: str
    saved: str | None  # the ref that keeps the workspace's commits and uncommitted files
    branch: str | None
    trash: str | None
    snapshot: str | None
    trash_id: int | None = field(default=None, metadata=OMIT)  # absent: not recorded


class Failure(Answer):
    """An error as the API writes it."""

    type: str
    message: str
    hint: str | None = None


class RemoveResult(Answer):
    """One colony of ``POST /colonies/remove``: what :class:`Removed` says, or ``error``."""

    name: str
    removed: str | None = field(default=None, metadata=UNLESS_FAILED)
    saved: str | None = field(default=None, metadata=UNLESS_FAILED)
    branch: str | None = field(default=None, metadata=UNLESS_FAILED)
    trash: str | None = field(default=None, metadata=UNLESS_FAILED)
    snapshot: str | None = field(default=None, metadata=UNLESS_FAILED)
    trash_id: int | None = field(default=None, metadata=OMIT)
    error: Failure | None = field(default=None, metadata=OMIT)


class RemoveResults(Answer):
    """``POST /colonies/remove``: one result per name, in their order."""

    results: list[RemoveResult]


class BroodRemoved(Answer):
    """``DELETE /broods/{brood}``: its colonies removed as ``POST /colonies/remove`` does,
    then the brood (``removed`` false: some colony could not be, the brood stays)."""

    brood: str
    removed: bool
    results: list[RemoveResult]


class Urls(Answer):
    """``GET /colonies/{name}/urls``: each service's preview URL."""

    urls: dict[str, str | None]


class Orphan(Answer):
    """A kernel object or workspace that belonged to no colony."""

    kind: str
    name: str


class Collected(Answer):
    """``POST /gc``."""

    removed: list[Orphan]


# --- agents (issue 6) ----------------------------------------------------------------------


class AgentEvent(Answer):
    """One thing an agent did or said, in its session's order."""

    seq: int
    at: float
    kind: str
    text: str
    tool: str | None
    data: dict[str, Any]


class Session(Answer):
    """An agent session; ``GET /colonies/{name}/agents/{session}`` adds its last ``events``."""

    id: int
    colony: str
    agent: str  # a preset's name, or "command"
    task: str
    argv: list[str]
    status: str
    user: str
    started: float
    ended: float | None
    duration: float | None
    exit_code: int | None
    pid: int | None  # while it runs
    session_id: str | None  # the agent's own, which continuing it takes
    model: str | None
    cost: float | None  # USD, as the agent reports it
    tokens_in: int | None
    tokens_out: int | None
    result: str | None
    is_error: bool
    parent: int | None  # the session this one continues
    brood: str | None
    events: list[AgentEvent] | None = field(default=None, metadata=OMIT)


class Sessions(Answer):
    """``GET /agents``, ``GET /colonies/{name}/agents``."""

    sessions: list[Session]


# --- review and the trash (issue 6) -------------------------------------------------------

Sensitive = dict[str, str]  # a changed path that configures tools, hooks or CI: {path, why}


class DiffStat(Answer):
    files: int
    added: int
    deleted: int
    lines: int
    paths: list[str]


class Diff(Answer):
    """``GET /colonies/{name}/workspace/diff``: its changes against its base."""

    colony: str
    base: str | None
    branch: str | None
    diff: str
    stat: DiffStat
    sensitive: list[Sensitive]


class Merged(Answer):
    """``POST /colonies/{name}/workspace/merge``; ``merged`` false: nothing to merge."""

    merged: bool
    commit: str | None
    previous: str | None
    fast_forward: bool | None = field(default=None, metadata=OMIT)
    committed_work: bool | None = field(default=None, metadata=OMIT)
    sensitive: list[Sensitive]
    colony: str
    into: str
    squash: bool


class Snapshot(Answer):
    """A snapshot of a colony's files, numbered from 1; ``POST .../snapshots`` adds
    ``colony``."""

    number: int
    ref: str
    commit: str
    message: str
    at: float
    session: int | None  # the agent session whose turn took it
    turn: str | None  # "start" or "end" of that turn
    colony: str | None = field(default=None, metadata=OMIT)


class Snapshots(Answer):
    """``GET /colonies/{name}/workspace/snapshots``, oldest first."""

    snapshots: list[Snapshot]


class Undone(Answer):
    """``POST /colonies/{name}/workspace/undo``: the snapshot restored, and the one that
    recorded what it replaced."""

    colony: str
    restored: Snapshot
    saved: Snapshot | None


class Conflict(Answer):
    """A file changed in two or more colonies of one repository."""

    repo: str
    path: str
    colonies: list[str]


class Conflicts(Answer):
    """``GET /conflicts``."""

    conflicts: list[Conflict]


class TrashEntry(Answer):
    """A removed colony that can be restored."""

    id: int
    name: str
    removed: float
    owner: str
    repo: str
    vcs: str | None
    branch: str | None
    base: str | None
    saved: str | None  # the ref of its uncommitted work at removal
    snapshot: str | None  # the ref of its final snapshot
    dir: str | None  # its data dir and logs


class TrashList(Answer):
    """``GET /trash``; ``strays``: directories in the trash of no entry (admins only)."""

    trash: list[TrashEntry]
    strays: list[str]


class PurgedEntry(Answer):
    id: int | None  # None: a stray directory
    name: str
    deleted_refs: list[str]
    dir: str | None


class Purged(Answer):
    """``DELETE /trash``, ``DELETE /trash/{which}``."""

    purged: list[PurgedEntry]


# --- broods (issue 6) ----------------------------------------------------------------------


class Member(Answer):
    """A colony of a brood, with how it ranks (1: best)."""

    brood: str
    colony: str
    position: int  # the order it was spawned in
    state: str
    reason: str | None
    session: int | None
    check_code: int | None  # exit code of [check]; None without one
    check_output: str | None
    diff_files: int | None
    diff_lines: int | None
    rank: int
    status: str | None  # its agent session's
    check: bool | None
    duration: float | None
    cost: float | None
    exists: bool  # false once it went to the trash


class Brood(Answer):
    """``GET /broods/{brood}``: one objective, many colonies; members best first."""

    name: str
    objective: str
    repo: str
    base: str  # the commit every member starts from
    count: int
    max_parallel: int
    state: str  # running | done | picked
    owner: str
    created: float
    target: str | None  # the branch a pick merges into
    agent: str | None
    command: str | None
    picked: str | None
    members: list[Member]


class Broods(Answer):
    """``GET /broods``."""

    broods: list[Brood]


class Picked(Answer):
    """``POST /broods/{brood}/pick``: the member merged, the others moved to the trash."""

    brood: str
    picked: str
    merge: Merged
    trashed: list[str]


# --- network (issue 4) ---------------------------------------------------------------------


class Policy(Answer):
    """A colony's egress policy: allow, deny, or allowlist with entries."""

    egress: str
    allow: list[str]
    deny: list[str]


class Destination(Answer):
    """Where a colony connected to, and how often each way."""

    dest: str | None
    port: int | None
    proto: str
    accepted: int
    denied: int
    last: float


class NetRecord(Answer):
    """A connection the colony's firewall logged."""

    type: str  # "net", as on /events
    colony: str
    user: str
    dest: str | None
    port: int | None
    proto: str
    verdict: str  # accept | deny
    at: float
    host: str | None = field(default=None, metadata=OMIT)  # the egress gate's: the name asked
    reason: str | None = field(default=None, metadata=OMIT)  # the line a refused colony is told


class DnsQuery(Answer):
    """A DNS question the colony asked Mycelium's stub (issue 16): ``answer`` the addresses
    given (verdict accept), or why it was refused (deny: NXDOMAIN)."""

    type: str  # "dns", as on /events
    colony: str
    user: str
    name: str
    qtype: str
    verdict: str  # accept | deny
    answer: list[str]
    reason: str
    count: int  # the questions alike it stands for
    at: float


class DnsName(Answer):
    """A name (and type) the colony asked the stub, how often, and what it was told last."""

    name: str
    qtype: str
    verdict: str
    count: int
    last: float
    answer: list[str]


class Dns(Answer):
    """The DNS questions of a colony: counters, the names asked most, the last questions."""

    answered: int
    refused: int
    names: list[DnsName]
    queries: list[DnsQuery]


class BlockedName(Answer):
    """A name the egress gate (``via`` gate, with its port) or the DNS stub (``via`` dns, no
    port) refused lately, with the allow entry that admits it (``fix``) or the deny entry
    that refuses it (``denied_by``)."""

    host: str
    port: int | None
    count: int
    last: float
    reason: str
    via: str  # gate | dns
    fix: str | None
    denied_by: str | None


class Blocked(Answer):
    """``colony net NAME --blocked --json``: the names refused lately (of :class:`Network`)."""

    colony: str
    blocked: list[BlockedName]


class Network(Answer):
    """``GET /colonies/{name}/network``: its policy, where it comes from, the names it
    resolved, its counters and last connections, its DNS questions and the names refused
    lately; a policy change (PUT, PATCH, DELETE) adds ``warnings``."""

    colony: str
    attached: bool  # false: no kernel objects now (applied when it next starts)
    policy: Policy | None
    source: str  # "colony.toml" or "override"
    set_by: str | None
    set_at: float | None
    resolved: dict[str, list[str]]
    learned: dict[str, list[str]]  # per wildcard entry: addresses the stub answered (issue 16)
    stub: str | None  # its resolver: Mycelium's DNS stub, while attached
    resolvers: list[str]  # what Mycelium's own lookups use
    expose_to: list[str]
    exposed_to: list[str]
    accepted: int
    denied: int
    destinations: list[Destination]
    records: list[NetRecord]
    dns: Dns
    blocked: list[BlockedName]  # at most ``limit``, latest first
    warnings: list[str] | None = field(default=None, metadata=OMIT)


class Firewall(Answer):
    """``GET /colonies/{name}/firewall``: the nft text of its table."""

    colony: str
    text: str


# --- the audit log (issue 5) ---------------------------------------------------------------


class AuditEntry(Answer):
    """One entry of the audit log, in its hash chain."""

    seq: int
    at: float
    kind: str
    colony: str | None
    user: str | None
    msg: str
    data: dict[str, Any]  # the event, as its kind records it
    hash: str


class AuditEntries(Answer):
    """``GET /audit``, oldest first."""

    entries: list[AuditEntry]


class Verdict(Answer):
    """``GET /audit/verify``: whether the chain holds; ``first``: the first entry found
    wrong, ``head`` and ``cut`` the signed checkpoints it was checked against."""

    ok: bool
    checked: int
    first: int | None
    problem: str | None
    head: int | None
    cut: int | None


# --- the host: doctor, hosts file, sharing, Bloom's logins --------------------------------


class Check(Answer):
    """One item of the security checklist (``status``: ok, warn or fail)."""

    name: str
    status: str
    detail: str
    hint: str | None


class Checklist(Answer):
    """``GET /doctor``."""

    checks: list[Check]


class HostsStatus(Answer):
    """``GET /hosts``, ``POST /hosts``: Colony's preview names in the hosts file."""

    path: str
    present: list[str]
    missing: list[str]
    stale: list[str]


class Grant(Answer):
    """A user a colony is shared with, and the role given."""

    user: str
    role: str


class Shares(Answer):
    """``GET /colonies/{name}/shares`` (and a share's or unshare's answer)."""

    colony: str
    owner: str | None
    shares: list[Grant]


class Secrets(Answer):
    """``GET /colonies/{name}/secrets`` (issue 17): keys, hosts and headers, no values."""

    colony: str
    secrets: list[SecretInfo]


class SecretStored(Answer):
    """``PUT /colonies/{name}/secrets/{key}`` (issue 17): the secret as stored."""

    colony: str
    secret: SecretInfo


class SecretRemoved(Answer):
    """``DELETE /colonies/{name}/secrets/{key}`` (issue 17)."""

    colony: str
    removed: str


class Login(Answer):
    """``POST /auth/dashboard``: a one-time Bloom login URL for the caller."""

    url: str
    user: str
    expires: float


class ApiToken(Answer):
    """``POST /auth/token``: a token for ``Authorization: Bearer`` on the HTTP listener."""

    token: str
    user: str
    url: str | None  # Bloom's origin


class Revoked(Answer):
    """``POST /auth/revoke``: how many logins, sessions and tokens of the caller ended."""

    revoked: int
    user: str


# Every answer, for /openapi.json's components.
ANSWERS: tuple[type[Answer], ...] = (
    Transition,
    Service,
    SecretInfo,
    Secrets,
    SecretStored,
    SecretRemoved,
    RunsAs,
    Disk,
    Containment,
    Limits,
    Sample,
    Usage,
    Colony,
    Colonies,
    Removed,
    Failure,
    RemoveResult,
    RemoveResults,
    BroodRemoved,
    Urls,
    Orphan,
    Collected,
    AgentEvent,
    Session,
    Sessions,
    DiffStat,
    Diff,
    Merged,
    Snapshot,
    Snapshots,
    Undone,
    Conflict,
    Conflicts,
    TrashEntry,
    TrashList,
    PurgedEntry,
    Purged,
    Member,
    Brood,
    Broods,
    Picked,
    Policy,
    Destination,
    NetRecord,
    DnsQuery,
    DnsName,
    Dns,
    BlockedName,
    Blocked,
    Network,
    Firewall,
    AuditEntry,
    AuditEntries,
    Verdict,
    Check,
    Checklist,
    HostsStatus,
    Grant,
    Shares,
    Login,
    ApiToken,
    Revoked,
)


# --- reading and writing ------------------------------------------------------------------


class _Bad(Exception):
    """A value that does not fit: ``problem``, at ``path`` (``colonies[0].name``), which
    each enclosing value completes as the error passes through it."""

    def __init__(self, problem: str) -> None:
        super().__init__(problem)
        self.problem = problem
        self.path = ""

    def within(self, step: str) -> "_Bad":
        """This error one level up: ``step`` is a field's name or ``[i]``."""
        joined = "" if not self.path or self.path.startswith("[") else "."
        self.path = f"{step}{joined}{self.path}"
        return self

    def __str__(self) -> str:
        return f"{self.path}: {self.problem}" if self.path else self.problem


def load(cls: type[T], data: object, what: str = "a request") -> T:
    """``data`` (a decoded JSON answer) as ``cls``. Unknown keys go to ``extra``; a key whose
    field has a default may be missing.

    Raises:
        ColonyError: ``Mycelium's answer to WHAT: PATH: missing`` (or ``expected TYPE, got
            VALUE``): one line.
    """
    try:
        value: T = _reader(cls)(data)
    except _Bad as exc:
        raise ColonyError(f"Mycelium's answer to {what}: {exc}", hint=SKEW_HINT) from None
    return value


Reader = Callable[[Any], Any]
_READERS: dict[Any, Reader] = {}


def _reader(kind: Any) -> Reader:
    """The function that checks a JSON value as ``kind`` (and makes its answers), made once
    per type: reading 1,000 colonies stays quick."""
    found = _READERS.get(kind)
    if found is None:
        found = _READERS[kind] = _make_reader(kind)
    return found


def _make_reader(kind: Any) -> Reader:
    if kind is Any:
        return _same
    origin = get_origin(kind)
    if origin in (Union, types.UnionType):
        options = [a for a in get_args(kind) if a is not type(None)]
        inner = _reader(options[0] if len(options) == 1 else Any)
        return lambda value: None if value is None else inner(value)
    if isinstance(kind, type) and issubclass(kind, Answer):
        return _answer_reader(kind)
    if origin is list:
        return _list_reader(get_args(kind)[0])
    if origin is dict:
        return _dict_reader(get_args(kind)[1])
    return _scalar_reader(kind)


def _same(value: Any) -> Any:
    return value


def _answer_reader(cls: type[Answer]) -> Reader:
    plan: list[tuple[str, Reader, Field]] = []
    put = object.__setattr__

    def read(value: Any) -> Any:
        if not isinstance(value, dict):
            raise _Bad(f"expected an object, got {_short(value)}")
        if not plan:  # made on first use: answers refer to answers defined later
            plan.extend((f.name, _reader(f.type), f) for f in cls.FIELDS)
        made = object.__new__(cls)  # as cls(**values) would, without checking names again
        for name, inner, f in plan:
            if name in value:
                try:
                    put(made, name, inner(value[name]))
                except _Bad as exc:
                    raise exc.within(name) from None
            elif f.required:
                raise _Bad("missing").within(name)
            else:
                put(made, name, f.default if f.factory is MISSING else f.factory())
        names = cls.NAMES
        unknown = not value.keys() <= names
        put(made, "extra", {k: v for k, v in value.items() if k not in names} if unknown else {})
        return made

    return read


def _list_reader(item: Any) -> Reader:
    inner = _reader(item)

    def read(value: Any) -> Any:
        if not isinstance(value, list):
            raise _Bad(f"expected an array, got {_short(value)}")
        out = []
        for i, v in enumerate(value):
            try:
                out.append(inner(v))
            except _Bad as exc:
                raise exc.within(f"[{i}]") from None
        return out

    return read


def _dict_reader(item: Any) -> Reader:
    inner = _reader(item)

    def read(value: Any) -> Any:
        if not isinstance(value, dict):
            raise _Bad(f"expected an object, got {_short(value)}")
        if inner is _same:
            return value
        out = {}
        for k, v in value.items():
            try:
                out[k] = inner(v)
            except _Bad as exc:
                raise exc.within(str(k)) from None
        return out

    return read


def _scalar_reader(kind: type) -> Reader:
    if kind is float:  # JSON does not tell 2 from 2.0
        allowed: tuple[type, ...] = (int, float)
    else:
        allowed = (kind,)
    exact_bool = kind is bool
    name = _JSON_TYPES.get(kind, kind.__name__)

    def read(value: Any) -> Any:
        if not isinstance(value, allowed) or (isinstance(value, bool) and not exact_bool):
            raise _Bad(f"expected {name}, got {_short(value)}")
        return value

    return read


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def dump(value: Any) -> Any:
    """The JSON of an answer (or of a list or dict of them): its fields in their order, then
    the unknown keys it was read with; a field marked :data:`OMIT` only when it is not None,
    one marked :data:`UNLESS_FAILED` only when its answer has no ``error``."""
    if isinstance(value, Answer):
        out: dict[str, Any] = {}
        for f in value.FIELDS:
            item = getattr(value, f.name)
            if item is None and f.metadata.get("omit"):
                continue
            if (beside := f.metadata.get("omit_if")) and getattr(value, beside) is not None:
                continue
            out[f.name] = dump(item)
        out.update(value.extra)
        return out
    if isinstance(value, list):
        return [dump(v) for v in value]
    if isinstance(value, dict):
        return {k: dump(v) for k, v in value.items()}
    return value


# --- the OpenAPI document -----------------------------------------------------------------

_JSON_TYPES: dict[Any, str] = {
    str: "string",
    int: "integer",
    float: "number",
    bool: "boolean",
    dict: "object",
    list: "array",
}


def schema_of(kind: Any) -> dict[str, Any]:
    """The OpenAPI (3.0) schema of a type; an answer is a reference to its component."""
    if kind is Any:
        return {}
    origin = get_origin(kind)
    if origin in (Union, types.UnionType):
        options = [a for a in get_args(kind) if a is not type(None)]
        inner = schema_of(options[0]) if len(options) == 1 else {}
        if "$ref" in inner:  # 3.0: a reference takes no siblings
            return {"allOf": [inner], "nullable": True}
        return {**inner, "nullable": True}
    if isinstance(kind, type) and issubclass(kind, Answer):
        return {"$ref": f"#/components/schemas/{kind.__name__}"}
    if origin is list:
        return {"type": "array", "items": schema_of(get_args(kind)[0])}
    if origin is dict:
        return {"type": "object", "additionalProperties": schema_of(get_args(kind)[1])}
    return {"type": _JSON_TYPES[kind]} if kind in _JSON_TYPES else {}


def schemas() -> dict[str, dict[str, Any]]:
    """``components.schemas`` of /openapi.json: each answer by its class name."""
    out: dict[str, dict[str, Any]] = {}
    for cls in ANSWERS:
        props = {f.name: schema_of(f.type) for f in cls.FIELDS}
        required = [f.name for f in cls.FIELDS if f.required]
        schema: dict[str, Any] = {"type": "object", "properties": props}
        if required:
            schema["required"] = required
        if cls.__doc__:
            schema["description"] = cls.__doc__.strip()
        out[cls.__name__] = schema
    return out


__all__ = [
    "ANSWERS",
    "AgentEvent",
    "Answer",
    "ApiToken",
    "AuditEntries",
    "AuditEntry",
    "Blocked",
    "BlockedName",
    "Brood",
    "BroodRemoved",
    "Broods",
    "Check",
    "Checklist",
    "Collected",
    "Colonies",
    "Colony",
    "Conflict",
    "Conflicts",
    "Containment",
    "Destination",
    "Diff",
    "DiffStat",
    "Disk",
    "Dns",
    "DnsName",
    "DnsQuery",
    "Failure",
    "Field",
    "Firewall",
    "Grant",
    "HostsStatus",
    "Limits",
    "Login",
    "Member",
    "Merged",
    "NetRecord",
    "Network",
    "Orphan",
    "Picked",
    "Policy",
    "Purged",
    "PurgedEntry",
    "RemoveResult",
    "RemoveResults",
    "Removed",
    "Revoked",
    "RunsAs",
    "Sample",
    "Sensitive",
    "Service",
    "Session",
    "Sessions",
    "Shares",
    "Snapshot",
    "Snapshots",
    "Transition",
    "TrashEntry",
    "TrashList",
    "Undone",
    "Urls",
    "Usage",
    "Verdict",
    "dump",
    "load",
    "replace",
    "schema_of",
    "schemas",
]
