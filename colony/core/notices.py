"""Warnings a spawn returns beside the new colony (issue 12): said once, where the user looks.

Pure: the caller gathers the facts (the config's warnings, the repository's uncommitted paths).

Example:
    >>> uncommitted_warning(["app.py"], "/src/shop")
    '/src/shop: 1 uncommitted file (app.py) is not in the colony: ...'
"""

from __future__ import annotations

from collections.abc import Sequence

SHOWN = 3  # paths named before "…"


def plural(count: int, word: str) -> str:
    """``1 file``, ``2 files``."""
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def exit_text(code: object) -> str:
    """How a process ended: ``exit 1``, or ``killed by SIGKILL`` for a signal's negative code
    (Python's returncode, which read as ``exit -9`` looked like the program's own; issue 12).

    Example:
        >>> exit_text(-9), exit_text(0)
        ('killed by SIGKILL', 'exit 0')
    """
    if isinstance(code, int) and not isinstance(code, bool) and code < 0:
        import signal  # only for a process a signal ended (issue 15: `colony ls`)

        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit {code}"


def uncommitted_warning(paths: Sequence[str], root: str, config: str = "colony.toml") -> str | None:
    """The warning for a spawn from a repository whose working tree has uncommitted changes:
    the colony gets the last commit's files, but ``config`` is read from the working tree."""
    if not paths:
        return None
    named = ", ".join(paths[:SHOWN]) + (", …" if len(paths) > SHOWN else "")
    verb = "is" if len(paths) == 1 else "are"
    return (
        f"{root}: {plural(len(paths), 'uncommitted file')} ({named}) {verb} not in the colony: "
        f"it starts from the last commit (only {config} is read from the working tree); "
        "commit them first to include them"
    )


__all__ = ["exit_text", "plural", "uncommitted_warning"]
