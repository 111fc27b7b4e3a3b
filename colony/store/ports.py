"""Host ports of colonies at sandbox level ``none`` (SPEC §7): service → port on the host.

Such a colony shares the host's network, so each service port of colony.toml is remapped to
a free host port; the mapping is stored so services adopted after a daemon restart, and the
preview proxy, keep using it. It goes with the colony's row (ON DELETE CASCADE).
"""

from __future__ import annotations

from collections.abc import Mapping

from colony.store.db import transaction
from colony.store.queries import Store


class PortStore:
    """Reads and writes of the ``host_ports`` table, on the daemon's one writer connection.

    Example:
        >>> ports = PortStore(store)  # doctest: +SKIP
        >>> ports.save("web", {"api": 41234})  # doctest: +SKIP
    """

    def __init__(self, store: Store) -> None:
        self.conn = store.conn

    def get(self, colony: str) -> dict[str, int]:
        rows = self.conn.execute(
            "SELECT service, port FROM host_ports WHERE colony = ? ORDER BY service", (colony,)
        ).fetchall()
        return {r["service"]: r["port"] for r in rows}

    def used(self) -> frozenset[int]:
        """Every host port given to any colony."""
        return frozenset(r[0] for r in self.conn.execute("SELECT port FROM host_ports"))

    def save(self, colony: str, ports: Mapping[str, int]) -> None:
        """Replace the colony's mapping with ``ports``."""
        with transaction(self.conn):
            self.conn.execute("DELETE FROM host_ports WHERE colony = ?", (colony,))
            self.conn.executemany(
                "INSERT INTO host_ports (colony, service, port) VALUES (?, ?, ?)",
                [(colony, service, port) for service, port in ports.items()],
            )
