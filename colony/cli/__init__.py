"""The ``colony`` command: tables and progress for humans, ``--json`` for scripts.

Each command parses its arguments, calls :mod:`colony.client` and renders the answer with a
pure ``format_*`` function (:mod:`colony.cli.format`, and :mod:`colony.present` for the views
Stem shares) that returns a :class:`rich.text.Text`.
The group, shared options and the one error path live in :mod:`colony.cli.app`; each other
module registers its commands on :data:`main` when imported. The group imports a command's
module only when that command runs (``app.COMMANDS`` names each command's module, in the
order of ``--help``), so a quick command such as ``colony ls`` loads little (issue 15); the
console script's ``main()`` answers ``ls``, ``show`` and ``url`` without even click
(:mod:`colony.cli.quick`) when they go plainly.

Example:
    colony spawn web && colony ls
"""

import sys
from typing import Any


class Main:
    """``colony``: the click group :data:`colony.cli.app.main`, loaded when first used.

    Called as the console script calls it (``main()``, the command line in ``sys.argv``), it
    first lets :func:`colony.cli.quick.run` answer a quick command without loading click;
    everything else (``main.main(args)`` as click's test runner calls it, its attributes)
    is the group's own.
    """

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if not args and not kwargs:
            from colony.cli.quick import run

            code = run(sys.argv[1:])
            if code is not None:
                sys.exit(code)
        return self.group(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.group, name)

    @property
    def group(self) -> Any:
        from colony.cli.app import main as group

        return group


main = Main()

# What this package exports besides ``main``, and the module each comes from: imported when
# first asked for, so that starting ``colony`` loads only the command it runs (issue 15).
_EXPORTS = {
    "EMPTY": "colony.present",
    "default_colony_name": "colony.cli.format",
    "exit_status": "colony.client.terminal",
    "format_age": "colony.present",
    "format_already": "colony.cli.format",
    "format_colony": "colony.present",
    "format_duration": "colony.present",
    "format_gc": "colony.cli.format",
    "format_log_line": "colony.present",
    "format_removed": "colony.cli.format",
    "format_service_event": "colony.cli.format",
    "format_settled": "colony.cli.format",
    "format_table": "colony.present",
    "format_transition": "colony.cli.format",
    "format_urls": "colony.cli.format",
    "parse_pairs": "colony.cli.format",
    "parse_value": "colony.cli.format",
}


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'colony.cli' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(_EXPORTS[name]), name)


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
