"""Suite-wide fixtures and the end-of-run leak check.

Every kernel object a test makes carries the prefix ``ct-``. When the run ends, any
namespace, veth, cgroup, nft table, process or mounted colony disk of that prefix still
present fails the run.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import uuid
import zlib
from pathlib import Path

import pytest

from colony.isolation import firewall

# Another checkout running the suite at the same time sets its own (e.g. "cu-"), so the two
# runs never see each other's objects as leaks.
TEST_PREFIX = os.environ.get("COLONY_TEST_PREFIX", "ct-")
# Second octet of the test pools (10.<net>.<n>.0/24), likewise per checkout.
TEST_NET = int(os.environ.get("COLONY_TEST_NET", "213"))
# State directories of test daemons: not below /tmp, which every colony gets its own of.
SCRATCH = Path(os.environ.get("COLONY_TEST_SCRATCH", "/var/lib/colony-test"))
UIDS_LOCKS = Path("/run/colony-uids")


def scratch_dir(tag: str) -> Path:
    """A new directory below :data:`SCRATCH` that colony users may pass through."""
    SCRATCH.mkdir(mode=0o711, parents=True, exist_ok=True)
    SCRATCH.chmod(0o711)
    path = Path(tempfile.mkdtemp(prefix=f"{tag}-", dir=SCRATCH))
    path.chmod(0o711)
    return path


def uid_base_for(prefix: str) -> int:
    """A colony uid range of its own for the test daemon of ``prefix``."""
    return 1_900_000_000 + 65_536 * (1 + zlib.crc32(prefix.encode()) % 2000)


CGROUP_ROOT = Path("/sys/fs/cgroup")


def new_prefix() -> str:
    return TEST_PREFIX + uuid.uuid4().hex[:8]


def _out(argv: list[str]) -> str:
    try:
        return subprocess.run(argv, capture_output=True, text=True, check=False).stdout
    except FileNotFoundError:
        return ""


def leftovers() -> list[str]:
    """Everything with the test prefix that is still on the machine."""
    found = []
    for line in _out(["ip", "netns", "list"]).splitlines():
        if line.startswith(TEST_PREFIX):
            found.append(f"netns {line.split()[0]}")
    for line in _out(["ip", "-o", "link", "show"]).splitlines():
        name = line.split(": ")[1].split("@")[0] if ": " in line else ""
        if name.startswith(TEST_PREFIX):
            found.append(f"link {name}")
    found += [f"nft table inet {n}" for n in firewall.table_names() if n.startswith(TEST_PREFIX)]
    if CGROUP_ROOT.is_dir():
        for hierarchy in [CGROUP_ROOT, *CGROUP_ROOT.iterdir()]:
            if hierarchy.is_dir():
                try:
                    entries = list(hierarchy.iterdir())
                except OSError:
                    continue
                found += [f"cgroup {p}" for p in entries if p.name.startswith(TEST_PREFIX)]
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cgroups = (proc / "cgroup").read_text()
        except OSError:
            continue
        if f"/{TEST_PREFIX}" in cgroups:
            found.append(f"process {proc.name} in {cgroups.split(':')[-1].strip()}")
    if SCRATCH.is_dir():
        found += [f"state dir {p}" for p in SCRATCH.iterdir() if p.name.startswith(TEST_PREFIX)]
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        point = line.split(" ")[4]
        if point.startswith(f"{SCRATCH}/{TEST_PREFIX}"):
            found.append(f"mount {point}")
    return sorted(set(found))


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if os.geteuid() != 0 or os.environ.get("PYTEST_XDIST_WORKER"):
        return
    left = leftovers()
    if left:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        lines = "\n  ".join(left)
        message = f"LEAK CHECK FAILED: the run left these behind:\n  {lines}"
        if reporter is not None:
            reporter.write_line(message, red=True, bold=True)
        else:
            print(message)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def passable(path: Path) -> None:
    """Let every user pass through ``path`` and its parents (pytest makes them 0700): colony
    processes run as an unprivileged user and must reach the workspace and data dir."""
    for folder in (path, *path.parents):
        mode = folder.stat().st_mode
        if mode & 0o001:
            break
        folder.chmod((mode & 0o7777) | 0o711)


def git(repo: Path, *args: str) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "Colony Test",
        "GIT_AUTHOR_EMAIL": "test@colony.invalid",
        "GIT_COMMITTER_NAME": "Colony Test",
        "GIT_COMMITTER_EMAIL": "test@colony.invalid",
        # Workspaces belong to the colony's unprivileged user (issue 3); tests run git as root.
        "GIT_CONFIG_COUNT": "1",
        "GIT_CONFIG_KEY_0": "safe.directory",
        "GIT_CONFIG_VALUE_0": "*",
    }
    return subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True, env=env
    ).stdout


def make_repo(path: Path, files: dict[str, str]) -> Path:
    """A git repository at ``path`` with ``files`` committed on branch main."""
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q", "-b", "main")
    for name, text in files.items():
        target = path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "initial")
    return path
