"""Preview routing: a ``Host`` header such as ``web.shop.localhost:7080`` → an upstream.

Pure: the proxy (``colony/daemon/proxy.py``) asks :func:`resolve` where a connection goes and
:func:`render_url` is what ``colony url`` prints.

Example:
    >>> table = RouteTable({"shop": {"web": 3000}})
    >>> resolve(table, "web.shop.localhost:7080")
    Upstream(colony='shop', port=3000, service='web')
    >>> resolve(table, "5173.shop.localhost")
    Upstream(colony='shop', port=5173, service=None)
    >>> render_url("web", "shop", 7080)
    'http://web.shop.localhost:7080/'
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

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
class RouteTable:
    """The services of each colony that has previews: colony -> {service: port}."""

    colonies: Mapping[str, Mapping[str, int]]


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
    """The upstream for ``host_header``: a service of the colony, or any port 1-65535.

    A service name wins over a port number, so a service called ``3000`` stays reachable.
    """
    parsed = parse_host(host_header, domain)
    if parsed is None:
        return None
    label, colony = parsed
    services = table.colonies.get(colony)
    if services is None:
        return None
    if label in services:
        return Upstream(colony, services[label], label)
    if _PORT_RE.fullmatch(label) and int(label) <= 65535:
        return Upstream(colony, int(label), None)
    return None


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
