"""Secrets of a colony (issue 17), as data: what is stored, what the colony sees, and how the
egress gate puts the real value in a request. Pure, no I/O.

A colony never holds a secret's value. Its environment carries a *placeholder*
(``colony-secret-<random>``, one per colony and key); the egress gate, on a connection to
one of the secret's hosts, terminates TLS and replaces the placeholder in the secret's
header (any header when none is named) with the value. The placeholder sent anywhere else
is refused as a possible leak (:func:`find_placeholder`).

Example:
    >>> spec = check_secret("ANTHROPIC_API_KEY", "sk-1", ["api.anthropic.com"], "x-api-key")
    >>> spec.hosts, spec.header
    (('api.anthropic.com',), 'x-api-key')
    >>> head = b"GET / HTTP/1.1\\r\\nx-api-key: colony-secret-ab\\r\\n\\r\\n"
    >>> inject(head, [("colony-secret-ab", "sk-1", "x-api-key")])
    b'GET / HTTP/1.1\\r\\nx-api-key: sk-1\\r\\n\\r\\n'
"""

from __future__ import annotations

import re
import secrets as _random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

from colony.core.hostname import normalize_name
from colony.core.values import show
from colony.errors import ConfigError

PREFIX = "colony-secret-"
KEY_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")  # an environment variable name
HEADER_RE = re.compile(r"[!#$%&'*+\-.^_`|~0-9a-zA-Z]+")  # an HTTP header name (a token)
VALUE_MAX = 16 * 1024
PLACEHOLDER_RE = re.compile(rb"colony-secret-[0-9a-f]{32}")
# Where an agent preset reads its key (issue 17): set by `colony secret` when stored.
PRESET_KEYS = {
    "claude": ("ANTHROPIC_API_KEY", ("api.anthropic.com",), "x-api-key"),
    "codex": ("OPENAI_API_KEY", ("api.openai.com",), "Authorization"),
    "gemini": ("GEMINI_API_KEY", ("generativelanguage.googleapis.com",), "x-goog-api-key"),
}


@dataclass(frozen=True)
class Secret:
    """One secret of a colony: its value (never shown), the hosts it is for, the header it
    goes in (None: any header carrying the placeholder) and the colony's placeholder."""

    key: str
    value: str
    hosts: tuple[str, ...]
    header: str | None
    placeholder: str

    def public(self) -> dict[str, object]:
        """What may be shown: never the value nor the placeholder's use elsewhere."""
        return {"key": self.key, "hosts": list(self.hosts), "header": self.header}


def new_placeholder() -> str:
    return PREFIX + _random.token_hex(16)


def check_key(key: object) -> str:
    if not isinstance(key, str) or not KEY_RE.fullmatch(key):
        raise ConfigError(
            f"secret key: expected an environment variable name such as ANTHROPIC_API_KEY, "
            f"got {show(key)}"
        )
    return key


def check_hosts(hosts: object) -> tuple[str, ...]:
    """Host names (no wildcard, no port, no address): lowercased, IDNA, unique."""
    if isinstance(hosts, str):
        hosts = [h for h in hosts.split(",") if h.strip()]
    if not isinstance(hosts, list | tuple) or not hosts:
        raise ConfigError(
            f"secret hosts: expected one or more host names such as api.example.com, "
            f"got {show(hosts)}"
        )
    out: list[str] = []
    for host in hosts:
        try:
            name = normalize_name(host.strip() if isinstance(host, str) else host)
        except (ConfigError, ValueError):
            name = ""
        if not name or "." not in name or name.replace(".", "").isdigit():
            raise ConfigError(
                f"secret hosts: expected a host name such as api.example.com, got {show(host)}"
            )
        out.append(name)
    return tuple(dict.fromkeys(out))


def check_header(header: object) -> str | None:
    if header is None or header == "":
        return None
    if not isinstance(header, str) or not HEADER_RE.fullmatch(header):
        raise ConfigError(
            f"secret header: expected an HTTP header name such as Authorization or x-api-key, "
            f"got {show(header)}"
        )
    return header


def check_value(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError("secret value: expected a non-empty value, got nothing")
    value = value.strip("\r\n")
    if any(c in value for c in "\r\n\0") or len(value) > VALUE_MAX:
        broken = " with a line break" if any(c in value for c in "\r\n\0") else ""
        raise ConfigError(
            f"secret value: expected one line of at most {VALUE_MAX} characters, got "
            f"{len(value)} characters{broken}"
        )
    return value


@dataclass(frozen=True)
class SecretSpec:
    """A secret as ``set`` asks for it, checked; the store adds the placeholder."""

    key: str
    value: str
    hosts: tuple[str, ...]
    header: str | None


def check_secret(key: object, value: object, hosts: object, header: object) -> SecretSpec:
    """Raises ConfigError (one line naming the field) on a bad key, value, host or header."""
    return SecretSpec(check_key(key), check_value(value), check_hosts(hosts), check_header(header))


class Declared(Protocol):
    """A secret colony.toml declares (:class:`colony.core.config.SecretDecl`)."""

    @property
    def key(self) -> str: ...
    @property
    def hosts(self) -> tuple[str, ...]: ...
    @property
    def header(self) -> str | None: ...


def plan_declared(declared: Iterable[Declared], values: Mapping[str, object]) -> list[SecretSpec]:
    """The secrets to store at spawn: each ``[secrets.KEY]`` the CLI sent a value for.

    Raises:
        ConfigError: a value for a key colony.toml does not declare, or a bad value.
    """
    decls = {d.key: d for d in declared}
    for key in values:
        if key not in decls:
            raise ConfigError(
                f"secrets: expected keys colony.toml declares as [secrets.KEY] "
                f"({', '.join(sorted(decls)) or 'none'}), got {show(key)}"
            )
    return [check_secret(k, values[k], d.hosts, d.header) for k, d in decls.items() if k in values]


Injection = tuple[str, str, str | None]  # (placeholder, value, header or None: any)


def for_host(secrets: Iterable[Secret], host: str) -> list[Injection]:
    """The secrets whose hosts include ``host``."""
    return [(s.placeholder, s.value, s.header) for s in secrets if host in s.hosts]


def inject(head: bytes, injections: Iterable[Injection]) -> bytes:
    """``head`` (a request head, CRLF CRLF included) with each placeholder replaced by its
    value in the header it is for; the request line and other headers stay as they are."""
    lines = head.split(b"\r\n")
    for i, line in enumerate(lines[1:], 1):
        name, sep, rest = line.partition(b":")
        if not sep:
            continue
        lower = name.strip().decode("latin-1").lower()
        for placeholder, value, header in injections:
            if header is not None and header.lower() != lower:
                continue
            rest = rest.replace(placeholder.encode(), value.encode())
        lines[i] = name + sep + rest
    return b"\r\n".join(lines)


def find_placeholder(data: bytes, placeholders: Iterable[str]) -> str | None:
    """The first of ``placeholders`` that ``data`` carries (a possible leak), or None."""
    for found in PLACEHOLDER_RE.finditer(data):
        text = found.group().decode()
        if text in placeholders:
            return text
    return None


def allowed_hosts(secrets: Iterable[Secret]) -> frozenset[str]:
    return frozenset(h for s in secrets for h in s.hosts)


def render_leak(colony: str, key: str, host: str, port: int) -> str:
    """The line of a request that carried a secret's placeholder where it does not go."""
    return (
        f"colony '{colony}': egress to {host}:{port} is refused: it carries the placeholder "
        f"of secret {key}, which is only for its hosts (a possible leak)"
    )


def placeholders_env(secrets: Iterable[Secret]) -> dict[str, str]:
    """The colony's environment entries: each key set to its placeholder."""
    return {s.key: s.placeholder for s in secrets}


def redact_values(text: str, values: Iterable[str]) -> str:
    for value in values:
        if value:
            text = text.replace(value, "[redacted]")
    return text


def public_list(secrets: Mapping[str, Secret]) -> list[dict[str, object]]:
    return [secrets[k].public() for k in sorted(secrets)]
