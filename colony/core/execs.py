"""What a client asks to run inside a colony: the first message of an exec session."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from colony.errors import ConfigError


@dataclass
class ExecRequest:
    argv: list[str] | None
    env: dict[str, str] = field(default_factory=dict)
    tty: bool = False
    cols: int = 80
    rows: int = 24

    @classmethod
    def from_json(cls, data: Any) -> ExecRequest:
        if not isinstance(data, dict):
            raise ConfigError("exec: expected a JSON object to start the session")
        argv = data.get("argv")
        if argv is not None and (
            not isinstance(argv, list) or not argv or not all(isinstance(a, str) for a in argv)
        ):
            raise ConfigError(f"exec: argv: expected a non-empty list of strings, got {argv!r}")
        env = data.get("env") or {}
        if not isinstance(env, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in env.items()
        ):
            raise ConfigError("exec: env: expected an object of strings")
        return cls(
            argv,
            env,
            bool(data.get("tty")),
            _size(data, "cols", 80),
            _size(data, "rows", 24),
        )


def _size(data: dict[str, Any], key: str, default: int) -> int:
    """A terminal dimension: what TIOCSWINSZ takes (an unsigned short), not zero."""
    value = data.get(key) or default
    if not isinstance(value, int) or isinstance(value, bool) or not 0 < value < 65536:
        raise ConfigError(f"exec: {key}: expected an integer 1-65535, got {value!r}")
    return value
