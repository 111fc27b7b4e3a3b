"""Who a colony is shared with (issue 14): one row per user and colony, with the role given.

Shares go with the colony's row (ON DELETE CASCADE): a colony restored from the trash is its
owner's alone again.
"""

from __future__ import annotations

from colony.core.access import Role
from colony.store.db import transaction
from colony.store.queries import Store


class Shares:
    """Reads and writes of the ``shares`` table, on the daemon's one writer connection.

    Example:
        >>> shares = Shares(store)  # doctest: +SKIP
        >>> shares.give("web", "bob", Role.VIEWER, by="alice", at=time.time())  # doctest: +SKIP
        >>> shares.of("web")  # doctest: +SKIP
        {'bob': <Role.VIEWER: 1>}
    """

    def __init__(self, store: Store) -> None:
        self.conn = store.conn

    def of(self, colony: str) -> dict[str, Role]:
        rows = self.conn.execute(
            "SELECT user, role FROM shares WHERE colony = ? ORDER BY user", (colony,)
        ).fetchall()
        return {row["user"]: Role[row["role"].upper()] for row in rows}

    def all(self) -> dict[str, dict[str, Role]]:
        """Every colony's shares: colony → user → role."""
        found: dict[str, dict[str, Role]] = {}
        for row in self.conn.execute("SELECT colony, user, role FROM shares ORDER BY colony, user"):
            found.setdefault(row["colony"], {})[row["user"]] = Role[row["role"].upper()]
        return found

    def give(self, colony: str, user: str, role: Role, *, by: str, at: float) -> None:
        with transaction(self.conn):
            self.conn.execute(
                "INSERT INTO shares (colony, user, role, by, at) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (colony, user) DO UPDATE SET role = excluded.role, "
                "by = excluded.by, at = excluded.at",
                (colony, user, str(role), by, at),
            )

    def take(self, colony: str, user: str) -> bool:
        """End ``user``'s share of ``colony``; False if there was none."""
        with transaction(self.conn):
            cur = self.conn.execute(
                "DELETE FROM shares WHERE colony = ? AND user = ?", (colony, user)
            )
        return cur.rowcount > 0


__all__ = ["Shares"]
