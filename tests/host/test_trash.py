"""Snapshots, undo and the trash (issue 6, SPEC §4) on a real Mycelium and real git."""

from __future__ import annotations

from pathlib import Path

from colony.client import Client
from colony.contract_responses import Colony
from tests.conftest import git, make_repo
from tests.host.conftest import Daemon, git_in, sh_in, wait_state


def files(root: Path) -> dict[str, bytes]:
    """Every file below ``root`` except git's own, by relative path."""
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".git" not in p.relative_to(root).parts
    }


def spawn(client: Client, repo: Path, name: str) -> Colony:
    client.spawn(name, str(repo))
    colony = wait_state(client, name, "running", "failed")
    assert colony.state == "running", colony.reason
    return colony


def test_rm_then_trash_restore_gives_back_the_exact_files(daemon: Daemon, tmp_path: Path) -> None:
    """When a colony with committed and uncommitted work is removed and restored from the
    trash, its workspace has exactly the same files, its commits and its data dir."""
    client = daemon.client
    assert client is not None
    repo = make_repo(tmp_path / "repo", {"app.py": "v1\n", "gone.txt": "g\n", "keep.txt": "k\n"})
    colony = spawn(client, repo, "keeper")
    ws = Path(colony.workspace)
    script = (
        "echo committed > committed.txt && git add committed.txt && "
        "git commit -qm 'agent commit' && echo 'v2, not committed' > app.py && rm gone.txt && "
        "mkdir new && echo untracked > new/untracked.txt && "
        'python3 -c \'open("blob.bin", "wb").write(bytes(range(256)))\' && '
        'echo \'{"n": 1}\' > "$COLONY_DATA_DIR/state.json"'
    )
    assert sh_in(client, "keeper", script)[0] == 0
    expected = files(ws)

    removed = client.remove("keeper", force=True)
    assert removed.snapshot
    assert removed.saved
    assert not ws.exists()
    [entry] = client.trash().trash
    assert (entry.name, entry.branch) == ("keeper", "colony/keeper")

    client.trash_restore("keeper")
    back = wait_state(client, "keeper", "running", "failed")
    assert back.state == "running", back.reason
    assert files(Path(back.workspace)) == expected
    assert (Path(back.data_dir) / "state.json").read_text() == '{"n": 1}\n'
    assert "agent commit" in git_in(client, "keeper", "log", "--format=%s", "colony/keeper")
    assert "agent commit" not in git(repo, "log", "--all", "--format=%s")
    assert client.trash().trash == []


def test_undo_returns_the_workspace_to_a_snapshot(daemon: Daemon, tmp_path: Path) -> None:
    """When snapshots are taken and the workspace changes, undo --to N gives back snapshot N's
    files without moving the branch; what it replaced is itself a snapshot, so undo again
    restores it."""
    client = daemon.client
    assert client is not None
    repo = make_repo(tmp_path / "repo", {"a.txt": "base\n"})
    ws = Path(spawn(client, repo, "undo").workspace)
    head = git(ws, "rev-parse", "HEAD")
    (ws / "a.txt").write_text("one\n")
    first = client.snapshot("undo", "first")
    assert (first.number, first.message) == (1, "first")
    at_first = files(ws)
    (ws / "a.txt").write_text("two\n")
    (ws / "b.txt").write_text("b\n")
    assert client.snapshot("undo").number == 2
    (ws / "a.txt").write_text("three\n")
    (ws / "c.txt").write_text("c\n")
    latest = files(ws)

    result = client.undo("undo", to=1)
    assert result.restored.number == 1
    assert result.saved.number == 3
    assert files(ws) == at_first
    assert git(ws, "rev-parse", "HEAD") == head
    assert [s.number for s in client.snapshots("undo").snapshots] == [1, 2, 3]

    again = client.undo("undo")  # the latest snapshot: the state undo replaced
    assert again.restored.number == 3
    assert files(ws) == latest


def test_purge_deletes_the_entry_its_branch_and_refs(daemon: Daemon, tmp_path: Path) -> None:
    """When a trash entry is purged, its data, branch, saved work and snapshots are gone and
    the name can be used again."""
    client = daemon.client
    assert client is not None
    repo = make_repo(tmp_path / "repo", {"a.txt": "base\n"})
    ws = Path(spawn(client, repo, "old").workspace)
    (ws / "x.txt").write_text("x\n")
    removed = client.remove("old", force=True)
    assert Path(removed.trash).is_dir()
    [purged] = client.trash_purge("old").purged
    assert purged.deleted_refs == ["refs/colony/base/old"]
    assert not Path(removed.trash).exists()
    assert git(repo, "for-each-ref", "refs/colony/", "refs/heads/colony/") == ""
    spawn(client, repo, "old")  # the name is free again
