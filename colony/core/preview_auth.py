"""Who may open a colony's previews (issue 14): the modes, the proof a request carries, and
the answers of the proxy's gate. Pure.

On a machine with several users, a preview is not open to every local process. Modes
(``--preview-auth``):

- ``off``: anyone who reaches the proxy (it listens on loopback only);
- ``local``: a local process of a user who may see the colony; the kernel says whose socket
  is on the other end, so nothing has to be carried;
- ``users``: that, or a cookie of a first-visit link (``colony url`` prints it): a link
  ``…/?colony_token=T`` is answered with a redirect to the same URL without the token and
  the cookie ``colony_preview=T``, host-only (one preview's name), HttpOnly. For a browser
  that reaches the proxy through a tunnel or a process of another user.

A token names its user and one colony and is signed with the daemon's key (HMAC-SHA256): a
colony that sees its own preview's cookie can open nothing but itself with it.

Example:
    >>> token = mint(b"k" * 32, "alice", "web", expires=100)
    >>> verify(b"k" * 32, token, "web", now=50)
    'alice'
    >>> verify(b"k" * 32, token, "api", now=50) is None
    True
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from colony.errors import ConfigError

MODES = ("off", "local", "users")
COOKIE = "colony_preview"
PARAM = "colony_token"
LINK_TTL = 30 * 86400  # seconds a first-visit link (and its cookie) stays valid


def is_human(uid: int, shell: str, uid_min: int = 1000) -> bool:
    """Whether a passwd entry is a person's account: a regular uid and a login shell."""
    return uid_min <= uid < 60000 and not shell.endswith(("/nologin", "/false"))


def default_mode(humans: int) -> str:
    """``users`` on a machine with more than one human account, else ``off``."""
    return "users" if humans > 1 else "off"


def parse_mode(text: str) -> str:
    """The mode named ``text``.

    Raises:
        ConfigError: names the value and the modes there are.
    """
    if text not in MODES:
        raise ConfigError(f"--preview-auth: {text!r} is not a mode; expected off, local or users")
    return text


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(key: bytes, payload: bytes) -> str:
    return _b64(hmac.new(key, payload, hashlib.sha256).digest())


def mint(key: bytes, user: str, colony: str, expires: int) -> str:
    """A token that lets ``user`` open ``colony``'s previews until ``expires`` (unix time)."""
    payload = f"{user}\n{colony}\n{expires}".encode()
    return f"{_b64(payload)}.{_sign(key, payload)}"


def verify(key: bytes, token: str, colony: str, now: float) -> str | None:
    """The user ``token`` names if it is this daemon's, for ``colony``, unexpired; else None."""
    body, dot, sig = token.partition(".")
    if not dot or len(token) > 1000:
        return None
    try:
        payload = _unb64(body)
        user, for_colony, expires = payload.decode().split("\n")
        valid = hmac.compare_digest(sig, _sign(key, payload)) and for_colony == colony
        return user if valid and float(expires) > now else None
    except (ValueError, UnicodeDecodeError):
        return None


def take_param(target: str) -> tuple[str, str | None]:
    """``target`` without its ``colony_token`` query parameter, and that token (None when
    there is none)."""
    parts = urlsplit(target)
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    tokens = [v for k, v in pairs if k == PARAM]
    if not tokens:
        return target, None
    rest = urlencode([(k, v) for k, v in pairs if k != PARAM])
    return urlunsplit(("", "", parts.path or "/", rest, parts.fragment)), tokens[-1]


def cookie_token(cookie_headers: list[str]) -> str | None:
    """The value of the ``colony_preview`` cookie among ``Cookie`` headers."""
    for header in cookie_headers:
        for part in header.split(";"):
            name, eq, value = part.strip().partition("=")
            if eq and name == COOKIE:
                return value.strip('"')
    return None


def with_token(url: str, token: str) -> str:
    """``url`` as a first-visit link carrying ``token``."""
    parts = urlsplit(url)
    query = "&".join(filter(None, [parts.query, urlencode({PARAM: token})]))
    return urlunsplit((parts.scheme, parts.netloc, parts.path or "/", query, parts.fragment))


def render_redirect(location: str, token: str) -> bytes:
    """The answer to a first visit: the cookie, and the same URL without the token."""
    if any(c in location for c in "\r\n\0"):
        location = "/"
    return (
        f"HTTP/1.1 303 See Other\r\nLocation: {location}\r\n"
        f"Set-Cookie: {COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age={LINK_TTL}\r\n"
        "Content-Length: 0\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n"
    ).encode("latin-1")


def denial(colony: str, owner: str | None, who: str | None, mode: str) -> str:
    """What a refused visitor is told: whose preview it is and how to get access."""
    ask = f"ask {owner} or an admin" if owner else "ask its owner or an admin"
    how = f"{ask}: colony share {colony} --with {who or 'USER'}"
    if who is None:
        first = (
            f"the preview of colony '{colony}' needs proof that you may see it"
            if mode == "users"
            else f"the preview of colony '{colony}' opens only for local users who may see it"
        )
        link = "; open the link 'colony url' prints" if mode == "users" else ""
        return f"{first}{link} (or {how})"
    return f"{who} may not open the preview of colony '{colony}'; {how}"


__all__ = [
    "COOKIE",
    "LINK_TTL",
    "MODES",
    "PARAM",
    "cookie_token",
    "default_mode",
    "denial",
    "mint",
    "parse_mode",
    "render_redirect",
    "take_param",
    "verify",
    "with_token",
]
