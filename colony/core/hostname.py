"""Host names as a colony sends them (DNS questions, HTTP ``Host``, TLS SNI) and as policies
name them (``pypi.org``, ``*.pythonhosted.org``): normalised, checked, matched.

Pure. Everything here comes from a hostile sender, so a name is refused unless it is a plain
DNS name: ASCII letters, digits, ``-`` and ``_`` (``_dmarc``, SRV labels) in labels of 1-63,
253 characters in all, no empty label, a last label that is not all digits (that is an
address), and ``xn--`` labels that decode as IDNA. Case and one trailing dot are dropped;
Unicode names are encoded to their ASCII (IDNA) form.

Example:
    >>> normalize_name("Files.PythonHosted.org.")
    'files.pythonhosted.org'
    >>> matches("*.pythonhosted.org", "files.pythonhosted.org")
    True
"""

from __future__ import annotations

import re

MAX_NAME = 253
LABEL_RE = re.compile(r"[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?", re.A)
WILDCARD = "*."


def _idna_label(label: str) -> str:
    """The ASCII form of one label; ValueError if it has none."""
    if label.isascii():
        return label
    try:
        return label.encode("idna").decode("ascii")
    except UnicodeError:
        raise ValueError(f"expected a host name, got {label!r} (not IDNA)") from None


def normalize_name(name: object) -> str:
    """``name`` lower-cased, without its trailing dot, in ASCII form.

    Raises:
        ValueError: not a plain DNS name (says what was expected and what was given).
    """
    bad = ValueError(f"expected a host name, got {name!r}")
    if not isinstance(name, str) or not name or len(name) > 4 * MAX_NAME:
        raise bad
    text = name[:-1] if name.endswith(".") else name
    if not text:
        raise bad
    try:
        labels = [_idna_label(label).lower() for label in text.split(".")]
    except ValueError:
        raise bad from None
    out = ".".join(labels)
    if len(out) > MAX_NAME or not all(LABEL_RE.fullmatch(label) for label in labels):
        raise bad
    if labels[-1].isdigit():  # 10.0.0.1 is an address, and 1.2.3.999 is no name
        raise bad
    for label in labels:
        if label.startswith("xn--"):
            try:
                label.encode("ascii").decode("idna")
            except UnicodeError:
                raise bad from None
    return out


def normalize_pattern(pattern: str) -> str:
    """A policy's name: ``host`` or ``*.host`` (every name below host, not host itself).

    Raises:
        ValueError: neither.
    """
    if pattern.startswith(WILDCARD):
        try:
            base = normalize_name(pattern[len(WILDCARD) :])
        except ValueError:
            raise ValueError(f"expected a host name or '*.' and one, got {pattern!r}") from None
        return WILDCARD + base
    try:
        return normalize_name(pattern)
    except ValueError:
        raise ValueError(f"expected a host name or '*.' and one, got {pattern!r}") from None


def is_wildcard(pattern: str) -> bool:
    return pattern.startswith(WILDCARD)


def matches(pattern: str, name: str) -> bool:
    """Whether normalised ``name`` is ``pattern`` (both normalised) or, for ``*.host``, below
    host at any depth."""
    if pattern.startswith(WILDCARD):
        return name.endswith(pattern[1:])  # ".host": a label boundary, never host itself
    return name == pattern


__all__ = ["is_wildcard", "matches", "normalize_name", "normalize_pattern"]
