"""Presentation shared by the front ends: pure functions from the API's JSON to Text.

The CLI (:mod:`colony.cli`) and Stem (:mod:`colony.tui`) show a colony, its services and its
log lines the same way because both call these. Nothing here touches the client, the clock,
the terminal or the daemon: ``now`` and ``tz`` are arguments, so each function is one call and
one assert (tests/unit/test_cli_format.py). Front-end specific wording (progress lines, the
CLI's confirmations) stays with its front end.
"""

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from colony.present.colonies import (
        EMPTY,
        SERVICE_STYLES,
        STATE_STYLES,
        format_colony,
        format_colony_state,
        format_limits,
        format_sandbox,
        format_service_state,
        format_services,
        format_state,
        format_table,
        format_user,
    )
    from colony.present.logs import SOURCE_STYLES, format_log_line
    from colony.present.text import dash, format_age, format_clock, format_duration, grid, header

# Each export and its module, imported when first asked for: `colony ls` to a pipe loads
# colony.present.table and not rich (issue 15).
_EXPORTS = {
    "EMPTY": "colony.present.colonies",
    "SERVICE_STYLES": "colony.present.colonies",
    "STATE_STYLES": "colony.present.colonies",
    "format_colony": "colony.present.colonies",
    "format_colony_state": "colony.present.colonies",
    "format_limits": "colony.present.colonies",
    "format_sandbox": "colony.present.colonies",
    "format_service_state": "colony.present.colonies",
    "format_services": "colony.present.colonies",
    "format_state": "colony.present.colonies",
    "format_table": "colony.present.colonies",
    "format_user": "colony.present.colonies",
    "SOURCE_STYLES": "colony.present.logs",
    "format_log_line": "colony.present.logs",
    "dash": "colony.present.text",
    "format_age": "colony.present.text",
    "format_clock": "colony.present.text",
    "format_duration": "colony.present.text",
    "grid": "colony.present.text",
    "header": "colony.present.text",
}


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'colony.present' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(_EXPORTS[name]), name)


__all__ = [
    "EMPTY",
    "SERVICE_STYLES",
    "SOURCE_STYLES",
    "STATE_STYLES",
    "dash",
    "format_age",
    "format_clock",
    "format_colony",
    "format_colony_state",
    "format_duration",
    "format_limits",
    "format_log_line",
    "format_sandbox",
    "format_service_state",
    "format_services",
    "format_state",
    "format_table",
    "format_user",
    "grid",
    "header",
]
