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

from colony.client.base import (
    DaemonUnavailable,
    Json,
    default_socket,
    default_state_dir,
    error_from_json,
)
from colony.client.mycelium import Client, ensure_daemon, stop_daemon
from colony.client.streams import EventStream, ExecSession, LogStream

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
