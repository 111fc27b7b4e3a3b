"""colony hosts against a real Mycelium, on a hosts file of the test (never /etc/hosts)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import make_repo
from tests.host.conftest import Daemon, wait_state

ROOT = Path(__file__).resolve().parents[2]
SYSTEM = "127.0.0.1 localhost\n# kept as it is\n"


@pytest.fixture
def hosts_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "hosts"
    path.write_text(SYSTEM)
    monkeypatch.setenv("COLONY_ETC_HOSTS", str(path))  # the daemon inherits it
    return path


@pytest.fixture
def d(hosts_file: Path, daemon: Daemon) -> Daemon:
    return daemon


def colony(d: Daemon, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLONY_SOCKET": str(d.socket), "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "colony", *args], capture_output=True, text=True, env=env, timeout=60
    )


def test_hosts_adds_and_removes_preview_names(d: Daemon, hosts_file: Path, tmp_path: Path) -> None:
    """When `colony hosts --add` runs, the hosts file gains the preview names of running
    services and keeps its own lines; `--remove` gives the file back as it was."""
    assert d.client is not None
    toml = '[services.web]\ncommand = "python3 -m http.server 3000 --bind 127.0.0.1"\nport = 3000\n'
    repo = make_repo(tmp_path / "repo", {"colony.toml": toml})
    d.client.spawn("names", str(repo))
    wait_state(d.client, "names", "running")
    shown = colony(d, "hosts")
    assert shown.returncode == 0, shown.stderr
    assert "missing  web.names.localhost" in shown.stdout
    added = colony(d, "hosts", "--add")
    assert added.returncode == 0, added.stderr
    text = hosts_file.read_text()
    assert text.startswith(SYSTEM)
    assert "127.0.0.1 web.names.localhost" in text
    removed = colony(d, "hosts", "--remove")
    assert removed.returncode == 0, removed.stderr
    assert hosts_file.read_text() == SYSTEM
