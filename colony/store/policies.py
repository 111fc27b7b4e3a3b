"""Network policies set with ``colony policy``: stored so they outlive a daemon restart.

A stored policy overrides the ``[network]`` egress, allow and deny of the colony's
colony.toml until it is reset; it goes with the colony's row (ON DELETE CASCADE).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from colony.core.policy import Policy, parse_policy
from colony.store.db import transaction
from colony.store.queries import Store


@dataclass(frozen=True)
class StoredPolicy:
    policy: Policy
    by: str  # the user who set it
    at: float


class PolicyStore:
    """Reads and writes of the ``policies`` table, on the daemon's one writer connection.

    Example:
        >>> policies = PolicyStore(store)  # doctest: +SKIP
        >>> policies.save("web", Policy("deny"), by="alice", at=time.time())  # doctest: +SKIP
    """

    def __init__(self, store: Store) -> None:
        self.conn = store.conn

    def get(self, colony: str) -> StoredPolicy | None:
        row = self.conn.execute(
            "SELECT egress, allow, deny, by, at FROM policies WHERE colony = ?", (colony,)
        ).fetchone()
        if row is None:
            return None
        policy = parse_policy(row["egress"], json.loads(row["allow"]), json.loads(row["deny"]))
        return StoredPolicy(policy, row["by"], row["at"])

    def save(self, colony: str, policy: Policy, *, by: str, at: float) -> None:
        with transaction(self.conn):
            self.conn.execute(
                "INSERT INTO policies (colony, egress, allow, deny, by, at) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (colony) DO UPDATE SET "
                "egress = excluded.egress, allow = excluded.allow, deny = excluded.deny, "
                "by = excluded.by, at = excluded.at",
                (
                    colony,
                    policy.egress,
                    json.dumps(list(policy.allow)),
                    json.dumps(list(policy.deny)),
                    by,
                    at,
                ),
            )

    def delete(self, colony: str) -> bool:
        with transaction(self.conn):
            done = self.conn.execute("DELETE FROM policies WHERE colony = ?", (colony,))
        return done.rowcount > 0
