"""A colony's disk (issue 11): everything it can write is on a size-limited file system of its
own, so filling it stops the colony, never the host. Played from inside the colony."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from colony.contract_responses import Colony
from tests.conftest import make_repo
from tests.host.conftest import Daemon, saved_workspace, sh_in, wait_state

MiB = 1024**2


def spawn(daemon: Daemon, repo: Path, name: str, **kw: object) -> Colony:
    assert daemon.client is not None
    daemon.client.spawn(name, str(repo), **kw)  # type: ignore[arg-type]
    colony = wait_state(daemon.client, name, "running", "failed")
    assert colony.state == "running", colony.reason
    return colony


def free(path: Path) -> int:
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


@pytest.mark.parametrize("level", ["basic", "strict"])
def test_filling_its_disk_gives_the_colony_enospc_and_not_the_host(
    daemon: Daemon, tmp_path: Path, level: str
) -> None:
    """When a colony with a 64M disk writes 200 MB into its workspace, home and /tmp, every
    write stops with 'No space left on device', the host's disk loses at most the quota, and
    the colony's files written before are intact."""
    repo = make_repo(tmp_path / "repo", {"app.py": "print('hi')\n"})
    colony = spawn(daemon, repo, "filler", limits={"disk": "64M"}, sandbox=level)
    disk = colony.containment.disk
    assert 50 * MiB < disk.size <= 64 * MiB
    before = free(daemon.state_dir)
    client = daemon.client
    assert client is not None
    assert sh_in(client, "filler", "echo keep > kept.txt")[0] == 0
    for target in ("big.bin", "$HOME/big.bin", "/tmp/big.bin"):
        code, _, err = sh_in(client, "filler", f"dd if=/dev/zero of={target} bs=1M count=200")
        assert code != 0
        assert "No space left on device" in err, err
        sh_in(client, "filler", f"rm -f {target}")
    assert before - free(daemon.state_dir) < 70 * MiB
    assert Path(colony.workspace, "kept.txt").read_text() == "keep\n"
    code, out, _ = sh_in(client, "filler", "df -k --output=size . | tail -1")
    assert code == 0
    assert int(out) * 1024 <= 64 * MiB


def test_the_disk_image_is_out_of_reach_and_a_removed_colony_keeps_it(
    daemon: Daemon, tmp_path: Path
) -> None:
    """When a colony looks for its disk's image it cannot read or write it; when it is
    removed, its work is kept in that image in the trash, and restoring mounts it again."""
    repo = make_repo(tmp_path / "repo", {"app.py": "v1\n"})
    colony = spawn(daemon, repo, "keeper", sandbox="none")  # the host's view: paths are real
    client = daemon.client
    assert client is not None
    image = Path(colony.workspace).parents[1] / "volume.img"
    assert image.is_file()
    assert image.stat().st_mode & 0o777 == 0o600
    code, _, err = sh_in(client, "keeper", f"head -c 1 {image}; echo x >> {image}")
    assert code != 0
    assert "Permission denied" in err
    assert colony.containment.disk.size > 10 * 1024 * MiB  # the default: 20G
    assert sh_in(client, "keeper", "echo work > notes.txt")[0] == 0

    removed = client.remove("keeper", force=True)
    assert removed.saved.endswith("/volume.img")
    saved = Path(removed.saved)
    assert saved.is_file()
    assert str(saved.parent) not in Path("/proc/self/mountinfo").read_text()
    # What a user can do by hand: mount the image read-only and take the work out.
    with saved_workspace(str(saved), tmp_path / "view") as kept:
        assert (kept / "notes.txt").read_text() == "work\n"

    client.trash_restore("keeper")
    back = wait_state(client, "keeper", "running", "failed")
    assert back.state == "running", back.reason
    assert Path(back.workspace, "notes.txt").read_text() == "work\n"
    assert back.containment.disk is not None


def test_a_host_without_a_disk_limit_gives_a_plain_directory(
    daemon: Daemon, tmp_path: Path
) -> None:
    """When the host's policy lifts the disk limit ("max"), the colony's files are on the
    host's disk and nothing is mounted; rm and restore work the same."""
    policy = tmp_path / "policy.toml"
    policy.write_text('[limits]\ndisk = "max"\n')
    daemon.stop()
    daemon.extra = [*daemon.extra, "--policy", str(policy)]
    daemon.start()
    repo = make_repo(tmp_path / "repo", {"app.py": "v1\n"})
    colony = spawn(daemon, repo, "plain")
    assert colony.containment.disk is None
    assert colony.limits.disk is None
    volume = Path(colony.workspace).parent
    assert volume.is_dir()
    assert not os.path.ismount(volume)
    client = daemon.client
    assert client is not None
    assert sh_in(client, "plain", "echo work > notes.txt")[0] == 0
    removed = client.remove("plain", force=True)
    assert Path(removed.saved, "notes.txt").read_text() == "work\n"
    client.trash_restore("plain")
    back = wait_state(client, "plain", "running", "failed")
    assert Path(back.workspace, "notes.txt").read_text() == "work\n"
