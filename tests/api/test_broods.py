"""Broods through the real client (issue 13): one objective given to several colonies whose
scripted agents do it, ranked, and one member picked and merged while the others go to the
trash; on real git workspaces."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from colony.client import Client
from colony.core.broods import FINISHED
from colony.errors import ConfigError, Conflict, NotFound
from tests.api.conftest import Api, make_repo, settle

OBJECTIVE = "when -1: write app.py: print('first')\nwhen -2: write app.py: print('second')"


def finished(client: Client, name: str) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while True:
        brood = client.brood(name)
        if all(m.state in FINISHED for m in brood.members):
            return brood
        assert time.monotonic() < deadline, brood
        time.sleep(0.05)


def test_a_brood_runs_ranks_and_picks(git_api: Api, tmp_path: Path) -> None:
    """When a brood of two runs, both agents finish, the listing shows it; picking the second
    member merges its work into main and trashes the first; picking again is refused."""
    repo = make_repo(tmp_path / "repo", {"app.py": "print('hello')\n"})
    with git_api.client() as client:
        made = client.brood_spawn(OBJECTIVE, 2, repo, agent="claude", name="fix")
        brood = finished(client, "fix")
        listed = client.broods().broods
        with pytest.raises(ConfigError, match=r"^colony: 'fix-9' is not a member of brood 'fix'"):
            client.brood_pick("fix", "fix-9")
        picked = client.brood_pick("fix", "fix-2")
        with pytest.raises(Conflict, match=r"^brood 'fix' was already picked \(fix-2\)$"):
            client.brood_pick("fix")
        left = [c.name for c in client.colonies().colonies]
        trash = [e.name for e in client.trash().trash]
    assert sorted(m.colony for m in made.members) == ["fix-1", "fix-2"]
    assert {m.status for m in brood.members} == {"completed"}
    assert [b.name for b in listed] == ["fix"]
    assert (picked.picked, picked.trashed) == ("fix-2", ["fix-1"])
    shown = subprocess.run(
        ["git", "-C", str(repo), "show", "main:app.py"], capture_output=True, text=True
    )
    assert shown.stdout == "print('second')\n"
    assert left == ["fix-2"]
    assert trash == ["fix-1"]


def test_brood_mistakes_make_nothing(api: Api, tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", {"app.py": "print('hello')\n"})
    with api.client() as client:
        with pytest.raises(ConfigError, match=r"^--repo: .*nowhere: no such directory$"):
            client.brood_spawn("do it", 2, tmp_path / "nowhere", agent="claude")
        with pytest.raises(ConfigError) as count:
            client.brood_spawn("do it", 0, repo, agent="claude")
        with pytest.raises(ConfigError, match=r"^request body: count: expected int"):
            client._request("POST", "/broods", body={"repo": str(repo), "count": "two"})
        with pytest.raises(NotFound, match="nothing"):
            client.brood("nothing")
        with pytest.raises(NotFound, match="nothing"):
            client.brood_pick("nothing")
        assert client.broods().broods == []
        assert client.colonies().colonies == []
    assert "count" in str(count.value)


def test_a_brood_is_removed_with_its_colonies(git_api: Api, tmp_path: Path) -> None:
    """When a brood is removed (issue 15), its colonies go to the trash together and the
    brood is gone; a running one needs force (without it the brood stays, with the others
    removed, and the refusal names it); an unknown brood is a 404."""
    repo = make_repo(tmp_path / "repo", {"app.py": "print('hello')\n"})
    with git_api.client() as client:
        client.brood_spawn(OBJECTIVE, 3, repo, agent="claude", name="rmme")
        finished(client, "rmme")
        for name in ("rmme-1", "rmme-3"):  # rmme-2 runs on: no removal without force
            client.stop(name)
            settle(client, name, "stopped")
        refused = client.brood_remove("rmme")
        still = client.brood("rmme")
        removed = client.brood_remove("rmme", force=True)
        broods = client.broods().broods
        left = [c.name for c in client.colonies().colonies]
        trash = sorted(e.name for e in client.trash().trash)
        with pytest.raises(NotFound):
            client.brood_remove("rmme")
    assert refused.removed is False
    assert {r.name: r.error is not None for r in refused.results} == {
        "rmme-1": False,
        "rmme-2": True,
        "rmme-3": False,
    }
    assert still.name == "rmme"
    assert (removed.brood, removed.removed) == ("rmme", True)
    assert [r.name for r in removed.results] == ["rmme-2"]
    assert broods == []
    assert left == []
    assert trash == ["rmme-1", "rmme-2", "rmme-3"]
