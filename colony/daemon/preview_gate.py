"""The preview proxy's gate (issue 14): who may open a colony's previews, by the mode of
:mod:`colony.core.preview_auth`. The proxy asks it once per connection, with the request
head and the uid the kernel says owns the client's socket."""

from __future__ import annotations

import os
import pwd
import time
from collections.abc import Callable
from pathlib import Path

from colony.core.access import Action, allows, role_of
from colony.core.http1 import Head, render_error_page
from colony.core.preview_auth import (
    LINK_TTL,
    cookie_token,
    denial,
    is_human,
    mint,
    render_redirect,
    take_param,
    verify,
    with_token,
)
from colony.core.routes import Upstream
from colony.daemon.access import Access

KEY_BYTES = 32


def load_key(path: Path) -> bytes:
    """The daemon's signing key for preview links, made (0600, root's) on first use; kept so
    that links outlive a restart."""
    try:
        key = path.read_bytes()
        if len(key) == KEY_BYTES:
            return key
    except FileNotFoundError:
        pass
    key = os.urandom(KEY_BYTES)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(key)
    return key


def humans() -> int:
    """How many people's accounts this machine has (the default mode depends on it)."""
    return sum(is_human(p.pw_uid, p.pw_shell) for p in pwd.getpwall())


def _name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


class PreviewGate:
    """Answers whether a preview request may pass: None, or the whole response to send
    instead (a redirect that sets the cookie, or a page saying how to get access)."""

    def __init__(
        self, mode: str, key: bytes, access: Access, clock: Callable[[], float] = time.time
    ) -> None:
        self.mode = mode
        self.key = key
        self.access = access
        self.clock = clock

    def _may(self, user: str, uid: int | None, colony: str) -> bool:
        owner = self.access.owner(colony)
        if owner is None:
            return False
        caller = self.access.caller(user, uid)
        return allows(role_of(caller, owner, self.access.shares(colony)), Action.PREVIEW)

    def check(self, up: Upstream, head: Head, peer_uid: int | None) -> bytes | None:
        if self.mode == "off":
            return None
        local = None if peer_uid is None else _name(peer_uid)
        if local is not None and self._may(local, peer_uid, up.colony):
            return None
        if self.mode == "users":
            now = self.clock()
            target, token = take_param(head.start[1])
            if token is not None:
                who = verify(self.key, token, up.colony, now)
                if who is not None and self._may(who, None, up.colony):
                    return render_redirect(target, token)
            cookie = cookie_token(head.values("cookie"))
            who = None if cookie is None else verify(self.key, cookie, up.colony, now)
            if who is not None and self._may(who, None, up.colony):
                return None
        message = denial(up.colony, self.access.owner(up.colony), local, self.mode)
        return render_error_page(403, message)

    def link(self, url: str, user: str, colony: str) -> str:
        """``url`` as ``user``'s first-visit link when the mode asks for one."""
        if self.mode != "users":
            return url
        return with_token(url, mint(self.key, user, colony, int(self.clock() + LINK_TTL)))


__all__ = ["PreviewGate", "humans", "load_key"]
