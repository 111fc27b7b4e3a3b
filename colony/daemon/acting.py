"""Who asked for what a colony's actor is doing now (issue 5).

Set from each message's "user" (None for the actor's own messages), inherited by the job a
message starts, put on the events.
"""

from __future__ import annotations

import contextvars

acting_user: contextvars.ContextVar[str | None] = contextvars.ContextVar("user", default=None)


def user_field() -> dict[str, str]:
    """``{"user": name}`` for an event, when a user asked for what it records."""
    user = acting_user.get()
    return {} if user is None else {"user": user}
