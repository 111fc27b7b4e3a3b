"""Reading the values of colony.toml and CLI flags, with the key path in every error.

Pure. The scalar forms (``parse_*``, ``is_*``) return the parsed value, or None/False when
the input is not of that form. The readers (``string``, ``integer``, ``table``, …) take a value
and an ``At`` (where it sits) and return it parsed, or raise a one-line ConfigError:
``colony.toml: services.web.port: expected an integer 1-65535, got 'abc'``.

Example:
    >>> at = At("colony.toml", "", [])
    >>> integer("an integer 1-65535", 1, 65535)(70000, at / "web" / "port")
    Traceback (most recent call last):
    colony.errors.ConfigError: colony.toml: web.port: expected an integer 1-65535, got 70000
"""

from __future__ import annotations

import difflib
import ipaddress
import json
import math
import re
import reprlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import PurePosixPath
from types import MappingProxyType
from typing import Any, NoReturn, TypeVar

from colony.core.hostname import normalize_pattern
from colony.core.model import check_name
from colony.errors import ConfigError

# Match these with fullmatch: '$' would also accept a trailing newline.
NAME_RE = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")  # as colony.core.model
SIZE_RE = re.compile(r"([0-9]{1,20}(?:\.[0-9]{1,20})?) *(?:([kmgtp])(?:i?b)?|b)?", re.I | re.A)
UNITS = {"": 1, "k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40, "p": 2**50}
MAX_SIZE = 2**62
NUMBER_RE = re.compile(r"[0-9]{1,12}(\.[0-9]{1,12})?")
INT_RE = re.compile(r"[0-9]{1,12}")
PORT_RE = re.compile(r"[0-9]{1,5}")
BRACKETED_RE = re.compile(r"\[([^\]]+)\](?::(.*))?")
CIDR_PORT_RE = re.compile(r"([^/]+/[0-9]{1,3}):(.*)")
BARE_KEY_RE = re.compile(r"[A-Za-z0-9_-]{1,40}")
NAME_WHAT = "lowercase letters, digits and '-' (1-63, not starting or ending with '-')"

T = TypeVar("T")
Reader = Callable[[Any, "At"], T]

_REPR = reprlib.Repr()
_REPR.maxstring = _REPR.maxother = _REPR.maxlong = 40
_REPR.maxlevel = 2
_REPR.maxlist = _REPR.maxtuple = _REPR.maxdict = _REPR.maxset = 4


def show(value: object) -> str:
    """A short, one-line repr of ``value`` for error messages.

    Example:
        >>> show("x" * 300)
        "'xxxxxxxxxxxxxxxxx...xxxxxxxxxxxxxxxxxx'"
    """
    try:
        text = _REPR.repr(value)
    except ValueError:  # an int too long for repr(); see sys.set_int_max_str_digits
        text = ""
    if text and len(text) <= 80:
        return text
    if isinstance(value, Mapping):
        return f"a table of {len(value)} keys"
    if isinstance(value, list | tuple):
        return f"an array of {len(value)} items"
    if isinstance(value, int):
        return "an integer too long to show"
    return f"a {type(value).__name__} value"


def parse_size(value: object, minimum: int = 1) -> int | None:
    """Bytes from an int or a string such as '1024', '128k', '512M', '1.5G' (powers of 1024)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        number = Decimal(value) if abs(value) <= MAX_SIZE else None
    elif isinstance(value, str) and (m := SIZE_RE.fullmatch(value.strip())):
        number = Decimal(m[1]) * UNITS[(m[2] or "").lower()]
    else:
        return None
    if number is None or not minimum <= number <= MAX_SIZE:
        return None
    size = int(number)
    return size if size >= minimum else None


def parse_number(value: object, *, strings: bool = False) -> float | None:
    """A finite number from an int or float (not a bool), or from a decimal string if allowed."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return float(value) if abs(value) <= 2**53 else None
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if strings and isinstance(value, str) and NUMBER_RE.fullmatch(value.strip()):
        return float(value)
    return None


def parse_int(value: object, *, strings: bool = False) -> int | None:
    """An int (not a bool), or one written as a string of digits if allowed."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if strings and isinstance(value, str) and INT_RE.fullmatch(value.strip()):
        return int(value)
    return None


def parse_port(text: str) -> int | None:
    """A TCP/UDP port 1-65535 written as digits."""
    if not PORT_RE.fullmatch(text):
        return None
    port = int(text)
    return port if 1 <= port <= 65535 else None


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def is_egress_rule(entry: str) -> bool:
    """An allowlist entry: 'host', '*.host', 'host:port', an IP (v4, v6, '[v6]:port') or a
    CIDR (':port')."""
    if "/" in entry:
        network, port = entry, None
        if m := CIDR_PORT_RE.fullmatch(entry):
            network, port = m[1], m[2]
        if port is not None and parse_port(port) is None:
            return False
        try:
            ipaddress.ip_network(network, strict=True)
        except ValueError:
            return False
        return True
    if m := BRACKETED_RE.fullmatch(entry):
        host, port = m[1], m[2]
        v6 = _is_ip(host) and ":" in host
        return v6 and (port is None or parse_port(port) is not None)
    if entry.count(":") > 1:
        return _is_ip(entry)
    host, _, port = entry.partition(":")
    if ":" in entry and parse_port(port) is None:
        return False
    return _is_ip(host) or _is_name_pattern(host)


def _is_name_pattern(text: str) -> bool:
    """'host' or '*.host' (Unicode names too: they are kept in IDNA form)."""
    try:
        normalize_pattern(text)
    except ValueError:
        return False
    return True


def is_exposure(entry: str) -> bool:
    """An ``expose_to`` entry: 'colony:port' or 'colony:service'."""
    colony, sep, target = entry.partition(":")
    if not sep or not NAME_RE.fullmatch(colony):
        return False
    if target.isascii() and target.isdigit():
        return parse_port(target) is not None
    return bool(NAME_RE.fullmatch(target))


# Readers: a value and where it sits → the parsed value, or a one-line ConfigError.


def one_line(text: str) -> str:
    return " ".join(text.splitlines())


def _key(key: object) -> str:
    """A key as it appears in a path: bare if it can be, else quoted and shortened."""
    if not isinstance(key, str):
        return show(key)
    if BARE_KEY_RE.fullmatch(key):
        return key
    return json.dumps(key if len(key) <= 40 else key[:37] + "...")  # escapes line breaks


@dataclass(frozen=True)
class At:
    """Where a value sits: the source, its key path, and the warnings gathered so far."""

    source: str
    path: str
    warnings: list[str]

    def __truediv__(self, key: object) -> At:
        part = _key(key)
        return At(self.source, f"{self.path}.{part}" if self.path else part, self.warnings)

    def item(self, index: int) -> At:
        return At(self.source, f"{self.path}[{index}]", self.warnings)

    def error(self, message: str) -> ConfigError:
        head = ": ".join(p for p in (self.source, self.path) if p)
        return ConfigError(one_line(f"{head}: {message}"))

    def fail(self, what: str, *value: object) -> NoReturn:
        """Raise ``expected <what>, got <value>`` (``got nothing`` without a value)."""
        raise self.error(f"expected {what}, got {show(value[0]) if value else 'nothing'}")

    def warn(self, message: str) -> None:
        self.warnings.append(one_line(f"{self.source}: {self.path}: {message}"))


def close_key(key: object, known: Iterable[str]) -> str | None:
    """The known key ``key`` is most likely a typo of, if one is close enough.

    Example:
        >>> close_key("restrat", ["command", "restart"])
        'restart'
    """
    if not isinstance(key, str) or len(key) > 40:
        return None
    found = difflib.get_close_matches(key.lower(), list(known), n=1, cutoff=0.7)
    return found[0] if found else None


def unknown_key(key: object, known: Iterable[str]) -> str:
    """'unknown key, ignored', with "(did you mean 'restart'?)" when one is close (issue 12)."""
    near = close_key(key, known)
    return "unknown key, ignored" + (f" (did you mean {near!r}?)" if near else "")


def table(value: object, at: At, known: Iterable[str], what: str = "a table") -> Mapping[Any, Any]:
    """A mapping; each key not in ``known`` adds an 'unknown key, ignored' warning, naming the
    known key it is likely a typo of."""
    if not isinstance(value, Mapping):
        at.fail(what, value)
    known = tuple(known)
    for key in value:
        if key not in known:
            (at / key).warn(unknown_key(key, known))
    return value


def pick(mapping: Mapping[Any, Any], at: At, readers: Mapping[str, Reader[Any]]) -> dict[str, Any]:
    """Read the keys of ``mapping`` that ``readers`` knows, each by its reader."""
    return {key: read(mapping[key], at / key) for key, read in readers.items() if key in mapping}


def string(value: object, at: At) -> str:
    """A non-empty string without NUL (commands, paths)."""
    if not isinstance(value, str) or not value.strip() or "\0" in value:
        at.fail("a non-empty string", value)
    return value


def text(value: object, at: At) -> str:
    if not isinstance(value, str):
        at.fail("a string", value)
    return value


def string_list(item: Reader[str] = string) -> Reader[tuple[str, ...]]:
    """An array of items; a single string counts as a one-item array."""

    def read(value: object, at: At) -> tuple[str, ...]:
        if isinstance(value, str):
            return (item(value, at),)
        if not isinstance(value, list | tuple):
            at.fail("an array of strings", value)
        return tuple(item(v, at.item(i)) for i, v in enumerate(value))

    return read


def matching(what: str, ok: Callable[[str], object]) -> Reader[str]:
    """A string for which ``ok`` is true."""

    def read(value: object, at: At) -> str:
        if not isinstance(value, str) or not ok(value):
            at.fail(what, value)
        return value

    return read


def choice(options: tuple[str, ...]) -> Reader[Any]:
    """One of ``options``: ``expected 'a', 'b' or 'c', got 'd'``."""
    quoted = [repr(o) for o in options]
    return matching(f"{', '.join(quoted[:-1])} or {quoted[-1]}", lambda v: v in options)


def integer(what: str, low: int, high: int, *, strings: bool = False) -> Reader[int]:
    """An int ``low <= n <= high``; never a bool."""

    def read(value: object, at: At) -> int:
        parsed = parse_int(value, strings=strings)
        if parsed is None or not low <= parsed <= high:
            at.fail(what, value)
        return parsed

    return read


def number(what: str, low: float, high: float, *, strings: bool = False) -> Reader[float]:
    """A finite number ``low < n <= high``; never a bool."""

    def read(value: object, at: At) -> float:
        parsed = parse_number(value, strings=strings)
        if parsed is None or not low < parsed <= high:
            at.fail(what, value)
        return parsed

    return read


def size(minimum: int) -> Reader[int]:
    """Bytes, from an int or a string such as '512M' (see ``parse_size``)."""

    def read(value: object, at: At) -> int:
        parsed = parse_size(value, minimum)
        if parsed is None:
            at.fail("a size such as 512M or 2G", value)
        return parsed

    return read


def name(value: object, at: At) -> str:
    """A colony or service name, checked by ``model.check_name``."""
    if not isinstance(value, str):
        at.fail(NAME_WHAT, value)
    if NAME_RE.fullmatch(value):
        return value
    try:
        check_name(value, "name")
    except ConfigError as exc:
        raise at.error(str(exc).partition(": ")[2]) from None
    at.fail(NAME_WHAT, value)  # check_name's '$' lets a trailing newline through


def str_map(key_ok: Callable[[str], object], key_what: str) -> Reader[Mapping[str, str]]:
    """A table of strings (ints are converted; floats and bools are not: 3.10 → '3.1')."""

    def read(value: object, at: At) -> Mapping[str, str]:
        if not isinstance(value, Mapping):
            at.fail("a table of strings", value)
        out = {}
        for key, v in value.items():
            if not isinstance(key, str) or not key_ok(key):
                (at / key).fail(key_what, key)
            if isinstance(v, int) and not isinstance(v, bool) and abs(v) < 10**300:
                v = str(v)
            if not isinstance(v, str) or "\0" in v:
                (at / key).fail("a string", v)
            out[key] = v
        return MappingProxyType(out)

    return read


def relative_dir(value: object, at: At) -> str:
    """A directory inside the repository: relative, with no '..' component."""
    path = PurePosixPath(string(value, at))
    if path.is_absolute() or ".." in path.parts:
        at.fail("a directory relative to the repository, without '..'", value)
    return str(path)


def bad_setting(option: str, expected: str, value: object) -> ConfigError:
    """The one-line error of a daemon setting ``--option`` (env ``COLONY_OPTION``)."""
    env = "COLONY_" + option.lstrip("-").replace("-", "_").upper()
    return ConfigError(
        f"{option}: expected {expected}, got {show(value)}", hint=f"set {env} or {option}"
    )


def int_setting(option: str, value: object, low: int, high: int, expected: str) -> int:
    """A daemon setting that is a whole number from ``low`` to ``high``.

    Raises:
        ConfigError: from :func:`bad_setting`.
    """
    number = parse_int(value, strings=True)
    if number is None or not low <= number <= high:
        raise bad_setting(option, expected, value)
    return number
