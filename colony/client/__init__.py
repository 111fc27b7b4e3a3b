"""Typed client of the Mycelium API over its Unix socket; the CLI and the TUI use it.

Every method returns the API's answer as the typed object of :mod:`colony.contract_responses`
(``health`` and the streams: their decoded JSON). API errors
(``{"error": {...}}``) become the matching :mod:`colony.errors` class, and a daemon that does
not answer becomes :class:`DaemonUnavailable`; both are mapped in one place
(:mod:`colony.client.base`). Each feature's methods live in their own module as a mixin;
:class:`Client` combines them.

Example:
    >>> with ensure_daemon(default_socket()) as client:
    ...     [c.name for c in client.colonies().colonies]
    ['shop']
"""

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from colony.client.base import (
        DaemonUnavailable,
        Json,
        default_socket,
        default_state_dir,
        error_from_json,
    )
    from colony.client.mycelium import Client, ensure_daemon, stop_daemon
    from colony.client.streams import EventStream, ExecSession, LogStream

# Each export and its module, imported when first asked for: the quick commands load only
# colony.client.wire and colony.client.base (issue 15).
_EXPORTS = {
    "DaemonUnavailable": "colony.client.base",
    "Json": "colony.client.base",
    "default_socket": "colony.client.base",
    "default_state_dir": "colony.client.base",
    "error_from_json": "colony.client.base",
    "Client": "colony.client.mycelium",
    "ensure_daemon": "colony.client.mycelium",
    "stop_daemon": "colony.client.mycelium",
    "EventStream": "colony.client.streams",
    "ExecSession": "colony.client.streams",
    "LogStream": "colony.client.streams",
}


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'colony.client' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(_EXPORTS[name]), name)


__all__ = [
    "Client",
    "DaemonUnavailable",
    "EventStream",
    "ExecSession",
    "Json",
    "LogStream",
    "default_socket",
    "default_state_dir",
    "ensure_daemon",
    "error_from_json",
    "stop_daemon",
]
