"""The error tree: one base class the user can act on, and a handful of subclasses.

Each edge maps these once: the CLI prints ``error:``/``hint:`` and exits 1, the API answers
``{"error": {"type", "message", "hint"}}`` with ``status``.
"""

from __future__ import annotations


class ColonyError(Exception):
    """An error the user can act on. str() is one line; hint says what to do next."""

    status = 500

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint

    def to_json(self) -> dict[str, object]:
        return {"type": type(self).__name__, "message": str(self), "hint": self.hint}


class NotFound(ColonyError):
    status = 404


class Conflict(ColonyError):
    """``files``: the files a refused merge would conflict in, for front ends that list them
    (Bloom's review page); the API answers them as ``error.files``."""

    status = 409

    def __init__(
        self, message: str, *, hint: str | None = None, files: list[str] | None = None
    ) -> None:
        super().__init__(message, hint=hint)
        self.files = files

    def to_json(self) -> dict[str, object]:
        found = super().to_json()
        return found if self.files is None else {**found, "files": list(self.files)}


class ConfigError(ColonyError):
    status = 400


class HostError(ColonyError):
    """A host command or syscall failed."""


class MissingProgram(HostError):
    """A program to start does not exist (a typo in ``colony exec``, a service's command):
    the caller's to fix, not the host's failure."""

    status = 404


class Unauthorized(ColonyError):
    """No valid token or session (Bloom's HTTP listener, issue 7)."""

    status = 401


class Forbidden(ColonyError):
    """Authenticated, but not allowed to do this."""

    status = 403


ERROR_TYPES: dict[str, type[ColonyError]] = {
    cls.__name__: cls
    for cls in (
        ColonyError,
        NotFound,
        Conflict,
        ConfigError,
        HostError,
        MissingProgram,
        Unauthorized,
        Forbidden,
    )
}
