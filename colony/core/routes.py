"""Preview routing: a ``Host`` header such as ``web.shop.localhost:7080`` → an upstream.

Pure: the proxy (``colony/daemon/proxy.py``) asks :func:`resolve` where a connection goes,
:func:`explain_miss` why one goes nowhere, and :func:`render_url` is what ``colony url`` prints.
What went through is a :class:`RequestRecord` per request, gathered (issue 15) by a
:class:`RequestTally` into one :class:`RequestBatch` per client user and preview, which the
audit log keeps instead of one entry per request.

Only what a colony declares is reachable (issue 11): its services, by name or by port, and
the ports of ``[previews] ports``. At sandbox level ``none`` a colony shares the host's
loopback, so only its services are, each on the host port it was given.

Example:
    >>> table = RouteTable({"shop": plan_previews({"web": 3000}, {"web": 3000}, [5173])})
    >>> resolve(table, "web.shop.localhost:7080")
    Upstream(colony='shop', port=3000, service='web')
    >>> resolve(table, "5173.shop.localhost")
    Upstream(colony='shop', port=5173, service=None)
    >>> resolve(table, "22.shop.localhost") is None
    True
    >>> render_url("web", "shop", 7080)
    'http://web.shop.localhost:7080/'
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import astuple, dataclass, field
from typing import Any

_LABEL_RE = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")
_PORT_RE = re.compile(r"[1-9][0-9]{0,4}")  # no leading zeros: one URL per port
_DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True)
class Upstream:
    """Where a preview request goes: a port on the colony's own loopback."""

    colony: str
    port: int
    service: str | None  # None when the URL names a bare port


@dataclass(frozen=True)
class Previews:
    """What one colony lets the proxy reach: the port behind each service name and each port
    label (a declared port; at level none, the host port its service was given)."""

    services: Mapping[str, int]
    ports: Mapping[int, int]
    shared: bool = False  # level none: the host's loopback, services only


@dataclass(frozen=True)
class RouteTable:
    """The previews of each colony: colony -> :class:`Previews`."""

    colonies: Mapping[str, Previews]


def plan_previews(
    declared: Mapping[str, int],
    upstream: Mapping[str, int],
    extra: Iterable[int] = (),
    *,
    shared: bool = False,
) -> Previews:
    """A colony's previews from its services' declared ports, the ports they listen on
    (``upstream``: the same, or host ports at level none) and ``[previews] ports``.

    A service without an upstream port (level none, host port not given yet) is left out;
    ``extra`` is ignored when ``shared``: on the host's loopback it would name host ports.

    Example:
        >>> plan_previews({"web": 3000}, {"web": 41234}, [5173], shared=True)
        Previews(services={'web': 41234}, ports={3000: 41234}, shared=True)
    """
    services = {name: upstream[name] for name in declared if name in upstream}
    ports = {} if shared else {port: port for port in extra}
    ports.update({declared[name]: port for name, port in services.items()})
    return Previews(services, ports, shared)


@dataclass(frozen=True)
class RequestRecord:
    """One request that went through the preview proxy to a colony (for the audit log).

    ``status`` is None when no response status was seen (the connection ended first);
    ``bytes_out`` counts the response bytes sent to the client, head included.
    """

    colony: str
    service: str | None
    port: int
    method: str
    path: str
    host: str
    status: int | None
    bytes_out: int
    duration_s: float
    uid: int | None = None  # the local user whose client sent it, when known


PATHS_SHOWN = 20  # distinct "METHOD path" of one batch kept in its audit record


@dataclass
class RequestBatch:
    """The requests of one client user to one preview over a while (issue 15: one audit
    record per batch instead of one per request): how many, what, with which statuses."""

    first: RequestRecord
    count: int = 0
    bytes_out: int = 0
    duration_s: float = 0.0
    statuses: Counter[str] = field(default_factory=Counter)
    paths: list[str] = field(default_factory=list)  # distinct "METHOD path", the first ones
    more_paths: int = 0  # distinct ones beyond PATHS_SHOWN are only counted

    def add(self, rec: RequestRecord) -> None:
        self.count += 1
        self.bytes_out += rec.bytes_out
        self.duration_s += rec.duration_s
        self.statuses["none" if rec.status is None else str(rec.status)] += 1
        what = f"{rec.method} {rec.path[:200]}"
        if what not in self.paths:
            if len(self.paths) < PATHS_SHOWN:
                self.paths.append(what)
            else:
                self.more_paths += 1

    def to_json(self) -> dict[str, object]:
        """As a preview worker sends it to the daemon."""
        return {
            "first": list(astuple(self.first)),
            "count": self.count,
            "bytes": self.bytes_out,
            "duration": self.duration_s,
            "statuses": dict(self.statuses),
            "paths": self.paths,
            "more_paths": self.more_paths,
        }

    @classmethod
    def of_json(cls, data: Any) -> RequestBatch:
        """A batch a worker sent (checked: a worker parses hostile HTTP).

        Raises:
            ValueError: not a batch.
        """
        try:
            f = data["first"]
            first = RequestRecord(
                str(f[0]), None if f[1] is None else str(f[1]), int(f[2]), str(f[3]),
                str(f[4]), str(f[5]), None if f[6] is None else int(f[6]), int(f[7]),
                float(f[8]), None if f[9] is None else int(f[9]),
            )  # fmt: skip
            statuses = Counter({str(k): int(v) for k, v in dict(data["statuses"]).items()})
            paths = [str(p) for p in data["paths"]][:PATHS_SHOWN]
            return cls(
                first, int(data["count"]), int(data["bytes"]), float(data["duration"]),
                statuses, paths, int(data["more_paths"]),
            )  # fmt: skip
        except (KeyError, IndexError, TypeError, ValueError) as exc:
            raise ValueError(f"not a request batch: {exc!r}") from None


class RequestTally:
    """Preview requests gathered into batches until :meth:`drain` takes them (each second).

    Example:
        >>> tally = RequestTally()
        >>> tally.add(RequestRecord("shop", "web", 3000, "GET", "/", "web.shop.localhost",
        ...                         200, 5, 0.001))
        >>> [(b.first.colony, b.count, dict(b.statuses)) for b in tally.drain()]
        [('shop', 1, {'200': 1})]
    """

    def __init__(self) -> None:
        self._batches: dict[tuple[object, ...], RequestBatch] = {}

    def add(self, rec: RequestRecord) -> None:
        key = (rec.colony, rec.service, rec.port, rec.host.lower(), rec.uid)
        batch = self._batches.get(key)
        if batch is None:
            batch = self._batches[key] = RequestBatch(rec)
        batch.add(rec)

    def drain(self) -> list[RequestBatch]:
        batches, self._batches = list(self._batches.values()), {}
        return batches


def parse_host(host_header: str, domain: str = "localhost") -> tuple[str, str] | None:
    """Split ``<label>.<colony>.<domain>[:port]`` into ``(label, colony)``, else None.

    Case-insensitive; a trailing dot (``web.shop.localhost.``) is accepted.
    """
    host = host_header.strip(" \t").lower()  # optional whitespace around a header value
    name, sep, port = host.partition(":")
    if sep and not (port.isascii() and port.isdigit() and len(port) <= 5):
        return None
    name = name.removesuffix(".")
    suffix = "." + domain.strip(".").lower()
    if not name.endswith(suffix):
        return None
    labels = name[: -len(suffix)].split(".")
    if len(labels) != 2 or not all(_LABEL_RE.fullmatch(label) for label in labels):
        return None
    return labels[0], labels[1]


def resolve(table: RouteTable, host_header: str, domain: str = "localhost") -> Upstream | None:
    """The upstream for ``host_header``: a service of the colony, or a port it declares.

    A service name wins over a port number, so a service called ``3000`` stays reachable.
    """
    parsed = parse_host(host_header, domain)
    if parsed is None:
        return None
    label, colony = parsed
    previews = table.colonies.get(colony)
    if previews is None:
        return None
    if label in previews.services:
        return Upstream(colony, previews.services[label], label)
    port = _port(label)
    if port is not None and port in previews.ports:
        return Upstream(colony, previews.ports[port], None)
    return None


def _port(label: str) -> int | None:
    return int(label) if _PORT_RE.fullmatch(label) and int(label) <= 65535 else None


def explain_miss(table: RouteTable, host_header: str, domain: str = "localhost") -> str:
    """Why :func:`resolve` found nothing for ``host_header``: one line for the 404 page."""
    shown = host_header.strip()[:200]
    parsed = parse_host(host_header, domain)
    if parsed is None:
        return f"no colony preview at {shown}: expected <service>.<colony>.{domain}"
    label, colony = parsed
    previews = table.colonies.get(colony)
    if previews is None:
        return f"no colony preview at {shown}: there is no colony {colony!r} with previews"
    if _port(label) is None:
        return f"colony {colony!r} has no service {label!r} with a port"
    if previews.shared:
        return (
            f"colony {colony!r} runs at sandbox level none, on the host's own ports: only its "
            f"services are previewed, and port {label} is not one of theirs"
        )
    return (
        f"colony {colony!r} does not preview port {label}: declare it as a service's port or "
        "in [previews] ports of its colony.toml"
    )


def explain_unreachable(up: Upstream, state: str | None, listening: Iterable[int] = ()) -> str:
    """Why a preview's upstream did not answer, for the 502 page: the colony is not running
    (and how to start it), or its service listens on other ports (named), or on none yet.

    Example:
        >>> explain_unreachable(Upstream("shop", 3000, "web"), "stopped")
        "colony 'shop' is stopped, so service 'web' (port 3000) is not answering; start it ..."
    """
    what = f"service '{up.service}' (port {up.port})" if up.service else f"port {up.port}"
    if state is not None and state != "running":
        how = f"start it with 'colony start {up.colony}'"
        if state not in ("stopped", "failed"):
            how = f"wait until it runs ('colony show {up.colony}')"
        return f"colony '{up.colony}' is {state}, so {what} is not answering; {how}"
    ports = sorted(set(listening) - {up.port})
    if ports:
        shown = ", ".join(str(p) for p in ports[:5])
        return (
            f"colony '{up.colony}' {what} is not answering: nothing listens on port {up.port} "
            f"inside the colony; it listens on {shown} (set the service's port to match)"
        )
    return (
        f"colony '{up.colony}' {what} is not answering: nothing listens on 127.0.0.1:{up.port} "
        f"inside the colony; see 'colony logs {up.colony}'"
    )


def render_url(
    service_or_port: str | int,
    colony: str,
    proxy_port: int,
    domain: str = "localhost",
    scheme: str = "http",
) -> str:
    """The preview URL, leaving out the port when it is the scheme's default.

    Example:
        >>> render_url(5173, "shop", 443, scheme="https")
        'https://5173.shop.localhost/'
    """
    authority = f"{service_or_port}.{colony}.{domain.strip('.')}".lower()
    if _DEFAULT_PORTS.get(scheme) != proxy_port:
        authority += f":{proxy_port}"
    return f"{scheme}://{authority}/"
