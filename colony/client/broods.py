"""Client methods for broods: one objective, many colonies, pick the best (issue 6)."""

from __future__ import annotations

from pathlib import Path

from colony.client.base import ClientBase, seg
from colony.contract_responses import Brood, BroodRemoved, Broods, Picked


class BroodsMixin(ClientBase):
    def brood_spawn(
        self,
        objective: str,
        count: int,
        repo: str | Path,
        *,
        agent: str | None = None,
        command: str | None = None,
        max_parallel: int | None = None,
        rev: str | None = None,
        config: str | Path | None = None,
        name: str | None = None,
        env: dict[str, str] | None = None,
    ) -> Brood:
        from colony.contract import BroodSpawn, to_json

        body = BroodSpawn(
            repo=str(Path(repo).absolute()),
            objective=objective,
            count=count,
            agent=agent,
            command=command,
            max_parallel=max_parallel,
            rev=rev,
            config=None if config is None else str(Path(config).absolute()),
            name=name,
            env=env or {},
        )
        return self._answer(Brood, "POST", "/broods", body=to_json(body))

    def broods(self) -> Broods:
        return self._answer(Broods, "GET", "/broods")

    def brood(self, name: str) -> Brood:
        return self._answer(Brood, "GET", f"/broods/{seg(name)}")

    def brood_remove(self, name: str, force: bool = False) -> BroodRemoved:
        """Its colonies removed as :meth:`remove_many` does, then the brood."""
        params = {"force": "true"} if force else None
        path = f"/broods/{seg(name)}"
        return self._answer(BroodRemoved, "DELETE", path, params=params, wait=None)

    def brood_pick(
        self,
        name: str,
        colony: str | None = None,
        *,
        squash: bool = False,
        into: str | None = None,
        force: bool = False,
    ) -> Picked:
        from colony.contract import Pick, to_json

        body = to_json(Pick(colony, squash, into, force))
        return self._answer(Picked, "POST", f"/broods/{seg(name)}/pick", body=body)
