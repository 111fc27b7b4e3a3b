"""Who asked for what a colony's actor is doing now (issue 5).

Set from each message's "user" (None for the actor's own messages), inherited by the job a
message starts, put on the events.
"""

from __future__ import annotations

import contextvars

acting_user: contextvars.ContextVar[str | None] = contextvars.ContextVar("user", default=None)
