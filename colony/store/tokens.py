"""Bloom's login tokens, browser sessions and API tokens, stored hashed.

A token is ``<id>.<secret>``: the id finds the row, and only a hash of the secret is stored, so
the database never holds a usable token. Comparing hashes is constant-time.
"""

from __future__ import annotations

import hashlib
import secrets
import sqlite3
from dataclasses import dataclass
from typing import Literal

from colony.store.db import transaction

Kind = Literal["login", "session", "api"]


@dataclass(frozen=True)
class TokenRecord:
    id: str
    kind: Kind
    user: str
    uid: int | None
    created: float
    expires: float | None


def hash_secret(secret: str) -> str:
    # Secrets are 256 random bits: a plain hash is enough, no salt or stretching needed.
    return hashlib.sha256(secret.encode()).hexdigest()


def split_token(token: str) -> tuple[str, str] | None:
    """(id, secret) of a token, or None if it does not have that shape."""
    ident, dot, secret = token.partition(".")
    if not dot or not ident or not secret or len(token) > 200:
        return None
    return ident, secret


class Tokens:
    """Reads and writes of the ``tokens`` table on the daemon's writer connection.

    Example:
        >>> tokens = Tokens(store.conn)  # doctest: +SKIP
        >>> raw = tokens.create("login", "ann", 1000, now=0.0, expires=600.0)  # doctest: +SKIP
        >>> tokens.check(raw, "login", now=1.0).user  # doctest: +SKIP
        'ann'
    """

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def create(
        self, kind: Kind, user: str, uid: int | None, *, now: float, expires: float | None
    ) -> str:
        """Store a new token and return it; the only time its secret exists outside a hash."""
        ident = secrets.token_hex(8)
        secret = secrets.token_urlsafe(32)
        with transaction(self.conn):
            self.conn.execute(
                "INSERT INTO tokens (id, kind, user, uid, secret_hash, created, expires) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (ident, kind, user, uid, hash_secret(secret), now, expires),
            )
        return f"{ident}.{secret}"

    def check(self, token: str, kind: Kind | tuple[Kind, ...], *, now: float) -> TokenRecord | None:
        """The record of a valid, unexpired token of one of ``kind``, else None."""
        parts = split_token(token)
        if parts is None:
            return None
        kinds = (kind,) if isinstance(kind, str) else kind
        row = self.conn.execute("SELECT * FROM tokens WHERE id = ?", (parts[0],)).fetchone()
        if row is None or row["kind"] not in kinds:
            return None
        if not secrets.compare_digest(row["secret_hash"], hash_secret(parts[1])):
            return None
        if row["expires"] is not None and row["expires"] <= now:
            return None
        return TokenRecord(
            row["id"], row["kind"], row["user"], row["uid"], row["created"], row["expires"]
        )

    def consume(self, token: str, kind: Kind, *, now: float) -> TokenRecord | None:
        """Like :meth:`check`, and delete the token: it works once."""
        with transaction(self.conn):
            rec = self.check(token, kind, now=now)
            if rec is not None:
                self.conn.execute("DELETE FROM tokens WHERE id = ?", (rec.id,))
        return rec

    def delete(self, ident: str) -> None:
        with transaction(self.conn):
            self.conn.execute("DELETE FROM tokens WHERE id = ?", (ident,))

    def revoke(self, user: str) -> int:
        """Delete every token and session of ``user``; returns how many there were."""
        with transaction(self.conn):
            cur = self.conn.execute("DELETE FROM tokens WHERE user = ?", (user,))
        return cur.rowcount

    def purge(self, now: float) -> int:
        """Delete expired tokens."""
        with transaction(self.conn):
            cur = self.conn.execute(
                "DELETE FROM tokens WHERE expires IS NOT NULL AND expires <= ?", (now,)
            )
        return cur.rowcount
