"""Redaction of secrets at the audit boundary: nothing that looks like a secret is recorded.

Pure functions over strings, argv lists, environments and JSON-able events. They err on the
side of redacting: a false positive costs a detail in the log, a false negative leaks a
secret into a file many people may read.

Example:
    >>> redact_argv(["curl", "-H", "Authorization: Bearer abcdef0123456789", "--password=x1"])
    ['curl', '-H', 'Authorization: Bearer [redacted]', '--password=[redacted]']
"""

from __future__ import annotations

import functools
import math
import re
from collections import Counter
from typing import Any

REDACTED = "[redacted]"

# Names of variables, flags and keys whose value is a secret.
_SECRET_WORDS = (
    r"passw(?:or)?d|passphrase|secret|token|credentials?|api[_-]?key|apikey|access[_-]?key"
    r"|private[_-]?key|auth(?:orization)?|cookie|session[_-]?(?:id|key)|signature|dsn"
)
_SECRET_NAME = re.compile(rf"(?i)(?:{_SECRET_WORDS})|(?:^|[_.-])(?:pass|pwd|key|keys)(?:$|[_.-])")
# Names that match the rule above but never hold secrets.
_HARMLESS_NAMES = frozenset({"PWD", "OLDPWD", "KEYMAP", "SSH_AUTH_SOCK", "XAUTHORITY"})

# `name=value` and `name: value` where the name is secret-like (env assignments in a command
# line, `--password=x`, query strings `?token=x`, `password: x`).
_ASSIGNMENT = re.compile(
    rf"(?i)(?P<name>[\w.-]*?(?:{_SECRET_WORDS}|pass\b|pwd\b|keys?\b)[\w.-]*)"
    r"(?P<sep>\s*[=:]\s*)(?P<value>\"[^\"]*\"|'[^']*'|[^\s&;,\"']+)"
)
_BEARER = re.compile(r"(?i)\b(?P<scheme>bearer|basic|token)(?P<sep>\s+)(?P<value>[\w.~+/=-]{8,})")
_URL_PASSWORD = re.compile(r"(?P<head>[a-zA-Z][\w+.-]*://[^/\s:@]*:)(?P<value>[^/\s@]+)(?=@)")
_KNOWN_TOKENS = re.compile(
    r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"  # AWS access key ids
    r"|\bgh[pousr]_[A-Za-z0-9]{30,}\b|\bgithub_pat_[A-Za-z0-9_]{20,}"  # GitHub
    r"|\bglpat-[A-Za-z0-9_-]{20,}"  # GitLab
    r"|\bxox[abposr]-[A-Za-z0-9-]{10,}"  # Slack
    r"|\bsk-(?:ant-)?[A-Za-z0-9_-]{20,}"  # OpenAI, Anthropic
    r"|\b[rs]k_(?:live|test)_[A-Za-z0-9]{16,}"  # Stripe
    r"|\bAIza[0-9A-Za-z_-]{35}"  # Google API keys
    r"|\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"  # JWTs
    r"|-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(?:-----END [A-Z ]*PRIVATE KEY-----|$)",
    re.DOTALL,
)
_CANDIDATE = re.compile(r"[A-Za-z0-9+/_=-]{24,}")
# Cheap first look: text without any of these holds nothing the patterns above could find.
_MAYBE = re.compile(r"(?i)[=:@]|bearer|basic|token|xox|-----BEGIN|[\w+/=-]{20,}")
_HEX = re.compile(r"[0-9a-fA-F]+")


@functools.lru_cache(maxsize=4096)
def secret_name(name: str) -> bool:
    """Whether a variable, flag or key called ``name`` holds a secret.

    Example:
        >>> secret_name("GITHUB_TOKEN"), secret_name("PATH"), secret_name("--db-password")
        (True, False, True)
    """
    if name.upper() in _HARMLESS_NAMES:
        return False
    return bool(_SECRET_NAME.search(name.lstrip("-")))


def entropy(text: str) -> float:
    """Shannon entropy of ``text`` in bits per character."""
    if not text:
        return 0.0
    counts = Counter(text)
    n = len(text)
    return -sum(c / n * math.log2(c / n) for c in counts.values())


def random_looking(token: str) -> bool:
    """Whether ``token`` looks like a generated secret rather than a word, path or id.

    Long hex strings count, except 40 digits (a git commit id, common in command lines);
    other strings need upper and lower case letters, a high entropy and what sets them apart
    from CamelCase names: two digits or more, or more than a third of their letters upper case.
    """
    if len(token) < 24:
        return False
    if _HEX.fullmatch(token):
        return len(token) >= 32 and len(token) != 40
    upper = sum(c.isupper() for c in token)
    lower = sum(c.islower() for c in token)
    digits = sum(c.isdigit() for c in token)
    if not upper or not lower or entropy(token) < 3.5:
        return False
    return digits >= 2 or upper / (upper + lower) > 0.33


def _value(match: re.Match[str]) -> str:
    return match.group(0).replace(match.group("value"), REDACTED)


def _assignment(match: re.Match[str]) -> str:
    if match.group("value").lower() in ("bearer", "basic", "token"):
        return match.group(0)  # `Authorization: Bearer x`: the token itself is redacted
    return f"{match.group('name')}{match.group('sep')}{REDACTED}"


def _candidate(match: re.Match[str]) -> str:
    return REDACTED if random_looking(match.group(0)) else match.group(0)


def redact_text(text: str) -> str:
    """``text`` with every secret-looking part replaced by ``[redacted]``.

    Example:
        >>> redact_text("https://bob:hunter2@example.com/?api_key=abc&page=2")
        'https://bob:[redacted]@example.com/?api_key=[redacted]&page=2'
    """
    if not _MAYBE.search(text):
        return text
    text = _KNOWN_TOKENS.sub(REDACTED, text)
    text = _URL_PASSWORD.sub(_value, text)
    text = _BEARER.sub(_value, text)
    text = _ASSIGNMENT.sub(_assignment, text)
    return _CANDIDATE.sub(_candidate, text)


def redact_argv(argv: list[str]) -> list[str]:
    """A command line with secret values redacted, including the value after a secret flag
    (``--token abc``) and ``NAME=value`` assignments."""
    out: list[str] = []
    hide_next = False
    for arg in argv:
        if hide_next:
            out.append(REDACTED)
            hide_next = False
            continue
        if arg.startswith("-") and "=" not in arg and secret_name(arg):
            hide_next = True
        out.append(redact_text(arg))
    return out


def redact_env(env: dict[str, str]) -> dict[str, str]:
    """An environment with the values of secret-named variables (and secret-looking values of
    any variable) redacted."""
    return {k: REDACTED if secret_name(k) else redact_text(v) for k, v in env.items()}


def redact_event(value: Any, key: str = "") -> Any:
    """A JSON-able value with every secret in it redacted, walking dicts and lists.

    Strings under a secret-named key are redacted whole; a list under ``argv`` is redacted as
    a command line; an object under ``env`` as an environment.
    """
    if isinstance(value, str):
        return REDACTED if key and secret_name(key) else redact_text(value)
    if isinstance(value, dict):
        if key == "env" and all(isinstance(v, str) for v in value.values()):
            return redact_env({str(k): v for k, v in value.items()})
        return {str(k): redact_event(v, str(k)) for k, v in value.items()}
    if isinstance(value, list):
        if key == "argv" and all(isinstance(a, str) for a in value):
            return redact_argv(value)
        return [redact_event(v, key) for v in value]
    return value
