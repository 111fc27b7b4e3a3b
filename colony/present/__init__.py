"""Presentation shared by the front ends: pure functions from the API's JSON to Text.

The CLI (:mod:`colony.cli`) and Stem (:mod:`colony.tui`) show a colony, its services and its
log lines the same way because both call these. Nothing here touches the client, the clock,
the terminal or the daemon: ``now`` and ``tz`` are arguments, so each function is one call and
one assert (tests/unit/test_cli_format.py). Front-end specific wording (progress lines, the
CLI's confirmations) stays with its front end.
"""

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
