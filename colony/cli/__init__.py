"""The ``colony`` command: tables and progress for humans, ``--json`` for scripts.

Each command parses its arguments, calls :mod:`colony.client` and renders the answer with a
pure ``format_*`` function (:mod:`colony.cli.format`, and :mod:`colony.present` for the views
Stem shares) that returns a :class:`rich.text.Text`.
The group, shared options and the one error path live in :mod:`colony.cli.app`; each other
module registers its commands on :data:`main` when imported, so a new command module is one
more name on the import line below (and, for its place in ``--help``, one in ``app.ORDER``).

Example:
    colony spawn web && colony ls
"""

from colony.cli import (  # noqa: F401  (registers their commands)
    agent,  # issue 6: colony agent
    audit,  # issue 5: colony audit
    brood,  # issue 6: colony brood
    colonies,
    daemon,
    dashboard,
    doctor,
    hosts,
    net,  # issue 4: colony net, policy, debug render-firewall
    review,  # issue 6: colony diff, merge, conflicts, snapshot, undo, trash
    share,  # issue 14: colony share, unshare
    terminal,
    top,  # issue 3: colony top
)
from colony.cli.app import main
from colony.cli.format import (
    default_colony_name,
    format_already,
    format_gc,
    format_removed,
    format_service_event,
    format_settled,
    format_transition,
    format_urls,
    parse_pairs,
    parse_value,
)
from colony.client.terminal import exit_status
from colony.present import (
    EMPTY,
    format_age,
    format_colony,
    format_duration,
    format_log_line,
    format_table,
)

__all__ = [
    "EMPTY",
    "default_colony_name",
    "exit_status",
    "format_age",
    "format_already",
    "format_colony",
    "format_duration",
    "format_gc",
    "format_log_line",
    "format_removed",
    "format_service_event",
    "format_settled",
    "format_table",
    "format_transition",
    "format_urls",
    "main",
    "parse_pairs",
    "parse_value",
]
