"""How front ends show a colony's state (issue 12), apart from the state machine
(:mod:`colony.core.lifecycle`) so that ``colony ls`` shows it without loading the model
(issue 15).

Example:
    >>> shown_state("running", ["web"])
    'degraded'
"""

from __future__ import annotations

from collections.abc import Sequence


def shown_state(state: str, degraded: Sequence[str] | None) -> str:
    """The state front ends show: ``degraded`` for a running colony with a service that gave
    up, else its state."""
    return "degraded" if state == "running" and degraded else state
