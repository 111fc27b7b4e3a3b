"""Workspaces as overlays of one shared checkout per (repository, base commit) (issue 15):
real mounts, real colony uids, the colony's own git."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from colony.client import Client
from tests.conftest import git, make_repo
from tests.host.conftest import Daemon, git_in, sh_in, wait_state

FILES = {"README": "r\n", "src/app.py": "v1\n", "src/lib/util.py": "u\n", "old.txt": "o\n"}


def mount_type(path: str) -> list[str]:
    """The file system types mounted exactly at ``path`` (in the host's namespace)."""
    found = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        left, _, right = line.partition(" - ")
        if left.split(" ")[4] == path:
            found.append(right.split(" ")[0])
    return found


def checkouts(daemon: Daemon) -> list[str]:
    root = daemon.state_dir / "checkouts"
    return sorted(os.listdir(root)) if root.is_dir() else []


@pytest.mark.parametrize("level", ["none", "basic", "moderate", "strict"])
def test_the_workspace_is_a_git_checkout_of_its_own_at_every_level(
    daemon: Daemon, tmp_path: Path, level: str
) -> None:
    """At every sandbox level the workspace shows the base's files as the colony's own, git
    says it is clean, and edits, deletions, new files and a commit work and stay the
    colony's: the shared checkout below is never written."""
    client = daemon.client
    assert client is not None
    repo = make_repo(tmp_path / "repo", FILES)
    client.spawn("ov", str(repo), sandbox=level)
    colony = wait_state(client, "ov", "running")
    assert mount_type(colony.workspace) == ["overlay"]
    assert git_in(client, "ov", "status", "--porcelain") == ""
    assert git_in(client, "ov", "branch", "--show-current").strip() == "colony/ov"
    code, out, err = sh_in(client, "ov", "stat -c %u src/lib/util.py; id -u; cat src/app.py")
    assert code == 0, err
    file_uid, own_uid, text = out.split()
    assert file_uid == own_uid != "0"
    assert text == "v1"
    script = "echo v2 > src/app.py && rm old.txt && echo n > src/lib/new.py"
    assert sh_in(client, "ov", script)[0] == 0
    status = git_in(client, "ov", "status", "--porcelain")
    assert sorted(status.splitlines()) == [" D old.txt", " M src/app.py", "?? src/lib/new.py"]
    git_in(client, "ov", "add", "-A")
    git_in(client, "ov", "commit", "-q", "-m", "work")
    assert git_in(client, "ov", "status", "--porcelain") == ""
    assert "src/app.py" in client.diff("ov").diff
    [key] = checkouts(daemon)
    lower = daemon.state_dir / "checkouts" / key / "own" / "tree"
    assert (lower / "src/app.py").read_text() == "v1\n"
    assert (lower / "old.txt").exists()
    client.remove("ov", force=True)
    assert mount_type(colony.workspace) == []


def test_colonies_share_one_checkout_and_see_nothing_of_each_other(
    daemon: Daemon, tmp_path: Path
) -> None:
    """Two colonies of one base share one checkout, made once; what one writes the other
    never sees, and neither can reach the checkout (root's, 0700) by its path."""
    client = daemon.client
    assert client is not None
    repo = make_repo(tmp_path / "repo", FILES)
    for name, level in (("a", "basic"), ("b", "none")):
        client.spawn(name, str(repo), sandbox=level)
    for name in ("a", "b"):
        wait_state(client, name, "running")
    [key] = checkouts(daemon)
    made = daemon.state_dir / "checkouts" / key
    assert made.stat().st_uid == 0
    assert made.stat().st_mode & 0o777 == 0o700
    assert sh_in(client, "a", "echo mine > src/app.py && echo x > only-a")[0] == 0
    code, out, _ = sh_in(client, "b", "cat src/app.py; ls")
    assert code == 0
    assert out.splitlines()[0] == "v1"
    assert "only-a" not in out
    # b runs on the host's file system (level none): the checkout is closed to it.
    assert sh_in(client, "b", f"ls {made}/own/tree")[0] != 0
    assert sh_in(client, "b", f"echo x > {made}/own/tree/README")[0] != 0
    other = client.colony("a").workspace
    assert sh_in(client, "b", f"cat {other}/only-a")[0] != 0
    assert (made / "own/tree/src/app.py").read_text() == "v1\n"


def test_the_overlay_survives_kill9_and_a_reboot_and_gc_removes_unused_checkouts(
    daemon: Daemon, tmp_path: Path
) -> None:
    """kill -9 of Mycelium keeps the workspace mounted (not twice after the restart); a
    workspace unmounted behind its back (a reboot) is mounted again at its next start, its
    work intact, even when gc removed the checkout meanwhile; rm unmounts it, gc removes
    checkouts no colony uses."""
    client = daemon.client
    assert client is not None
    repo = make_repo(tmp_path / "repo", FILES)
    client.spawn("k", str(repo))
    colony = wait_state(client, "k", "running")
    workspace = colony.workspace
    assert sh_in(client, "k", "echo draft > draft.txt")[0] == 0
    daemon.kill9()
    client = daemon.start()
    wait_state(client, "k", "running")
    assert mount_type(workspace) == ["overlay"]
    assert sh_in(client, "k", "cat draft.txt")[1] == "draft\n"
    client.stop("k")
    wait_state(client, "k", "stopped")
    subprocess.run(["umount", workspace], check=True)
    git(repo, "commit", "-q", "--allow-empty", "-m", "next")
    client.spawn("other", str(repo))  # another base: another checkout
    wait_state(client, "other", "running")
    assert len(checkouts(daemon)) == 2
    client.remove("other", force=True)
    removed = client.gc()
    assert [e.kind for e in removed.removed] == ["checkout"]
    assert len(checkouts(daemon)) == 1  # k's stays: it is k's, even unmounted
    client.start("k")
    wait_state(client, "k", "running")
    assert mount_type(workspace) == ["overlay"]
    assert sh_in(client, "k", "cat draft.txt")[1] == "draft\n"
    assert "draft.txt" in git_in(client, "k", "status", "--porcelain")
    client.remove("k", force=True)
    assert mount_type(workspace) == []
    client.gc()
    assert checkouts(daemon) == []


def test_a_restored_colony_gets_its_checkout_made_again(daemon: Daemon, tmp_path: Path) -> None:
    """A colony removed, its checkout collected, then restored from the trash: the checkout
    is made again and its uncommitted work is on top, as it was."""
    client: Client | None = daemon.client
    assert client is not None
    repo = make_repo(tmp_path / "repo", FILES)
    client.spawn("t", str(repo))
    wait_state(client, "t", "running")
    assert sh_in(client, "t", "echo w > src/app.py && rm old.txt")[0] == 0
    client.remove("t", force=True)
    client.gc()
    assert checkouts(daemon) == []
    client.trash_restore("t")
    wait_state(client, "t", "running")
    assert sh_in(client, "t", "cat src/app.py; ls")[1].split() == ["w", "README", "src"]
    status = git_in(client, "t", "status", "--porcelain")
    assert sorted(status.splitlines()) == [" D old.txt", " M src/app.py"]
