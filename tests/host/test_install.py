"""`make install` (issue 14): Colony for every user of the machine, on Debian's own python3,
and what a user who may not use it, or finds no Mycelium, is told. Played as real users."""

from __future__ import annotations

import os
import pwd
from pathlib import Path

from tests.conftest import passable
from tests.host.conftest import Daemon, Installed, run_as


def test_the_installed_colony_runs_for_any_user_on_debians_python(
    installed: Installed, unix_user: pwd.struct_passwd
) -> None:
    """When a user who is not root runs the installed `colony`, it works: the virtualenv's
    interpreter is Debian's, not one under root's home."""
    assert installed.colony.is_symlink()
    assert os.readlink(installed.colony) == str(installed.prefix / "bin" / "colony")
    python = (installed.prefix / "bin" / "python").resolve()
    assert str(python).startswith("/usr/"), python
    done = run_as(unix_user.pw_name, str(installed.colony), "--help")
    assert done.returncode == 0, done.stderr
    assert "Run many AI coding agents side by side" in done.stdout


def test_a_user_outside_the_group_is_told_which_group_to_join(
    installed: Installed, unix_user: pwd.struct_passwd, daemon: Daemon
) -> None:
    """When a user outside the group colony runs a command, it fails with one line naming
    the socket and the group, and the command that lets them in."""
    done = run_as(
        unix_user.pw_name, str(installed.colony), "ls", env={"COLONY_SOCKET": str(daemon.socket)}
    )
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.splitlines() == [
        f"error: no permission to use Mycelium's socket {daemon.socket}: only root and the "
        "group colony may",
        "hint: join the group colony: 'sudo usermod -aG colony $USER', then log in again",
    ]


def test_a_user_finding_no_mycelium_is_told_how_it_starts_and_starts_none(
    installed: Installed, unix_user: pwd.struct_passwd, tmp_path: Path
) -> None:
    """When Mycelium is not running, a user's command says so and how an admin starts it,
    and does not try to start one of its own."""
    passable(tmp_path)
    state = tmp_path / "state"
    env = {"COLONY_STATE_DIR": str(state)}
    done = run_as(unix_user.pw_name, str(installed.colony), "ls", env=env)
    assert done.returncode == 1
    assert done.stderr.splitlines()[0] == (
        f"error: Mycelium is not running (nothing answers on {state}/mycelium.sock)"
    )
    assert "sudo systemctl start mycelium" in done.stderr
    assert not state.exists()
