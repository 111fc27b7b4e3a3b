"""Sandbox levels and the colony's user, decided purely (colony/core/sandbox.py)."""

import stat

import pytest

from colony.core.sandbox import (
    DEFAULT_HIDE,
    Identity,
    Jail,
    check_user,
    colony_identity,
    find_unreachable,
    plan_hide,
    plan_identity_env,
    render_sandbox,
)
from colony.errors import ConfigError

ARGV = ["/bin/sh", "-c", "npm start"]


@pytest.mark.parametrize("level", ["none", "basic"])
def test_none_and_basic_run_the_command_as_it_is(level: str) -> None:
    """When the level is none or basic, the argv is unchanged (netns and cgroup are joined
    before exec, not by a wrapper)."""
    assert render_sandbox(Jail(level), ARGV, "/ws") == ARGV


def test_moderate_adds_pid_and_user_namespaces() -> None:
    """When the level is moderate, bwrap adds a PID and a user namespace with a fresh /proc
    and the whole filesystem as it is."""
    assert render_sandbox(Jail("moderate", bwrap="/usr/bin/bwrap"), ARGV, "/ws/app") == [
        "/usr/bin/bwrap",
        "--unshare-user",
        "--unshare-pid",
        "--dev-bind",
        "/",
        "/",
        "--proc",
        "/proc",
        "--chdir",
        "/ws/app",
        "--",
        *ARGV,
    ]


def test_strict_is_read_only_with_writable_places_and_hidden_secrets() -> None:
    """When the level is strict, / is read-only, /tmp is the colony's own, the workspace and
    data dir are writable, and secrets are covered: dirs by an empty read-only tmpfs, files
    by /dev/null."""
    jail = Jail(
        "strict",
        writable=("/ws", "/state/colonies/x/data"),
        tmp="/state/colonies/x/tmp",
        hidden=(("/home/a/.ssh", True), ("/home/a/.netrc", False)),
    )
    argv = render_sandbox(jail, ARGV, "/ws")
    assert " ".join(argv) == (
        "bwrap --unshare-user --unshare-pid --ro-bind / / --dev-bind /dev /dev "
        "--proc /proc --bind /state/colonies/x/tmp /tmp "
        "--bind /ws /ws --bind /state/colonies/x/data /state/colonies/x/data "
        "--tmpfs /home/a/.ssh --remount-ro /home/a/.ssh --ro-bind /dev/null /home/a/.netrc "
        "--chdir /ws -- /bin/sh -c npm start"
    )


def test_colony_identity_is_its_own_uid() -> None:
    """When a colony gets its identity, it is its own uid and gid, a name that exists only in
    the colony, and its private home."""
    ident = colony_identity("web", 1_900_000_003, "/st/colonies/web/home", "/bin/bash")
    assert (ident.user, ident.uid, ident.gid, ident.groups) == (
        "colony-web",
        1_900_000_003,
        1_900_000_003,
        (1_900_000_003,),
    )
    assert ident.home == "/st/colonies/web/home"


def test_only_the_host_lets_a_colony_run_as_a_real_user() -> None:
    """When --user names a real user, root may name anyone but root; others only themselves,
    unless the host policy allows the user."""
    check_user("agent", "root", ())
    check_user("alice", "alice", ())
    check_user("agent", "alice", ("agent",))
    with pytest.raises(ConfigError, match="unprivileged user, got 'root'"):
        check_user("root", "root", ())
    with pytest.raises(ConfigError, match="only root may run a colony as another user"):
        check_user("bob", "alice", ())


def test_identity_env_replaces_the_daemons() -> None:
    """When processes run as a user, HOME, USER, LOGNAME and SHELL are that user's; a
    no-login shell becomes /bin/sh; strict moves caches to the private /tmp."""
    ident = Identity("nobody", 65534, 65534, (65534,), "/st/x/home", "/usr/sbin/nologin", "")
    assert plan_identity_env(ident, "basic") == {
        "HOME": "/st/x/home",
        "USER": "nobody",
        "LOGNAME": "nobody",
        "SHELL": "/bin/sh",
    }
    assert plan_identity_env(ident, "strict")["XDG_CACHE_HOME"] == "/tmp/.cache"


def test_plan_hide_expands_defaults_and_extras_per_home() -> None:
    """When secrets are planned, each ~ entry is expanded in every home and absolute extras
    are kept, without duplicates."""
    paths = plan_hide(["/home/a", "/root"], ["~/.config/secret", "/etc/app-token", "~/.ssh"])
    assert paths[:2] == ["/home/a/.ssh", "/root/.ssh"]
    assert "/home/a/.config/secret" in paths
    assert "/root/.config/secret" in paths
    assert paths.count("/etc/app-token") == 1
    assert len(paths) == 2 * len(DEFAULT_HIDE) + 3
    for secret in ("/home/a/.aws", "/home/a/.gnupg", "/home/a/.config/gh", "/home/a/.netrc"):
        assert secret in paths
    for secret in ("/home/a/.docker", "/home/a/.kube", "/home/a/.config/gcloud"):
        assert secret in paths


def test_find_unreachable_names_the_closed_directory() -> None:
    """When a parent directory has no x bit for the user, it is named with its mode."""
    d = stat.S_IFDIR
    chain = [("/", d | 0o755, 0, 0), ("/tmp/p", d | 0o700, 0, 0), ("/tmp/p/s", d | 0o755, 0, 0)]
    assert find_unreachable(chain, 1000, [1000]) == "/tmp/p (mode 0700, owner uid 0)"
    assert find_unreachable(chain, 0, [0]) is None
    group = [("/", d | 0o755, 0, 0), ("/srv", d | 0o750, 0, 50)]
    assert find_unreachable(group, 1000, [1000, 50]) is None
    assert find_unreachable(group, 1000, [1000]) == "/srv (mode 0750, owner uid 0)"


def test_a_terminal_session_takes_its_tty_inside_the_pid_namespace() -> None:
    """When a PTY session runs at moderate or strict, setsid --ctty makes the terminal the
    controlling one inside the namespace (job control); basic leaves the argv alone."""
    argv = render_sandbox(Jail("moderate"), ["sh", "-i"], "/ws", tty=True)
    assert argv[-6:] == ["--", "setsid", "--ctty", "--wait", "sh", "-i"]
    assert render_sandbox(Jail("basic"), ["sh", "-i"], "/ws", tty=True) == ["sh", "-i"]
