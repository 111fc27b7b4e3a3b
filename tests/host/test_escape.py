"""No way out of a colony (SPEC §7, issue 10): each attack of the red-team report, played by
code inside a colony, at basic, moderate and strict, and shown to fail.

The payloads write their uid to a directory every colony can write (``exchange``); a
payload that Mycelium ran as root would leave a 0 there, and a root-owned canary would
change. Mycelium's own git in a colony runs as the colony, so at worst the colony's uid
shows up.
"""

from __future__ import annotations

import contextlib
import os
import pty
import shutil
import socket
import stat
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from colony.client import Client
from colony.contract_responses import Colony
from colony.errors import ColonyError
from tests.conftest import TEST_PREFIX, git, make_repo, scratch_dir
from tests.host.conftest import ROOT, Daemon, git_in, run_in, sh_in, wait_state

LEVELS = ["basic", "moderate", "strict"]


def spawn(client: Client, name: str, repo: Path, **kwargs: object) -> Colony:
    client.spawn(name, str(repo), **kwargs)  # type: ignore[arg-type]
    colony = wait_state(client, name, "running", "failed", timeout=60)
    assert colony.state == "running", colony
    return colony


def ok(client: Client, name: str, script: str) -> str:
    code, out, err = sh_in(client, name, script)
    assert code == 0, f"{script!r} exited {code}: {err}"
    return out


def payload(exchange: Path, tag: str) -> str:
    """A program that records who ran it, and as root would also plant a canary."""
    return textwrap.dedent(
        f"""\
        #!/bin/sh
        echo "{tag} $(id -u)" >> {exchange}/ran
        touch /etc/colony-pwned-{tag} 2>/dev/null
        [ {tag} = filter ] && exec cat
        exit 0
        """
    )


def ran_as(exchange: Path) -> list[str]:
    path = exchange / "ran"
    return path.read_text().split("\n") if path.exists() else []


@pytest.fixture
def canary(tmp_path: Path) -> Iterator[Path]:
    """A root-owned 0600 file a colony must never get, read or change."""
    path = Path("/root") / f".colony-canary-{tmp_path.name[-12:]}"
    path.write_text("root's secret\n")
    path.chmod(0o600)
    try:
        yield path
    finally:
        path.unlink(missing_ok=True)
        for tag in ("fsmonitor", "filter", "textconv", "hook"):
            Path(f"/etc/colony-pwned-{tag}").unlink(missing_ok=True)


def assert_untouched(canary: Path, exchange: Path, colony_uid: int) -> None:
    st = canary.stat()
    assert (st.st_uid, stat.S_IMODE(st.st_mode)) == (0, 0o600)
    assert canary.read_text() == "root's secret\n"
    for line in ran_as(exchange):
        if line:
            assert line.split()[1] == str(colony_uid), f"a payload ran as {line}"
    assert not list(Path("/etc").glob("colony-pwned-*"))


@pytest.mark.parametrize("level", LEVELS)
def test_root_never_runs_what_the_colony_configures_in_git(
    daemon: Daemon, tmp_path: Path, exchange: Path, canary: Path, level: str
) -> None:
    """When a colony points core.fsmonitor, a clean filter, a textconv driver and hooks of
    its own repository at a payload, swaps its .git for a directory of its own, and plants
    symlinks to a root-owned file, then diff, snapshot, undo, merge, the conflict watcher, rm
    and restore all work, no payload runs as root, and the root file stays root's."""
    client = daemon.client
    assert client is not None
    repo = make_repo(tmp_path / "repo", {"app.py": "a\n", "README": "r\n"})
    colony = spawn(client, "evil", repo, sandbox=level)
    uid = colony.containment.user.uid
    plant = "".join(
        f"printf '%s' '{payload(exchange, tag)}' > .git/{tag}.sh && chmod +x .git/{tag}.sh\n"
        for tag in ("fsmonitor", "filter", "textconv", "hook")
    )
    ok(
        client,
        "evil",
        plant
        + f"""
        set -e
        git config core.fsmonitor "$PWD/.git/fsmonitor.sh"
        git config filter.evil.clean "$PWD/.git/filter.sh"
        git config diff.evil.textconv "$PWD/.git/textconv.sh"
        git config core.hooksPath "$PWD/.git/hooks-evil"
        mkdir -p .git/hooks-evil
        for hook in post-checkout pre-commit post-merge reference-transaction; do
          cp .git/hook.sh .git/hooks-evil/$hook
        done
        printf '* filter=evil diff=evil\\n' > .gitattributes
        ln -s {canary} stolen
        echo 'changed' > app.py
        """,
    )
    client.snapshot("evil", "one")
    client.diff("evil")
    client.undo("evil", to=1)
    client.conflicts()
    merged = client.merge("evil")
    assert merged.merged
    assert {s["path"] for s in merged.sensitive} == {".gitattributes"}
    assert git(repo, "show", "main:app.py") == "changed\n"
    # The colony's own git ran its own filters: as the colony, never as root.
    assert_untouched(canary, exchange, uid)
    # Now a .git of its own making, with objects elsewhere and the same traps.
    ok(
        client,
        "evil",
        f"""
        set -e
        mv .git .git-real
        mkdir -p .git/objects/info .git/refs/heads
        cp -r .git-real/objects/. .git/objects/
        cp .git-real/HEAD .git-real/config .git/
        cp -r .git-real/refs/. .git/refs/
        ln -s {canary} .git/index
        echo more > app.py
        """,
    )
    with contextlib.suppress(ColonyError):  # its own git, its own trouble: as itself
        client.diff("evil")
    client.remove("evil", force=True)
    client.trash_restore("evil")
    wait_state(client, "evil", "running", "failed")
    client.remove("evil", force=True)
    assert_untouched(canary, exchange, uid)


@pytest.mark.parametrize("level", LEVELS)
def test_the_repository_is_read_only_to_colonies(
    daemon: Daemon,
    exchange: Path,
    canary: Path,
    level: str,
    request: pytest.FixtureRequest,
) -> None:
    """When a colony tries to plant a hook, a config or an object in the repository it came
    from (through its alternate, or the repository's own path), every write is refused, and
    the next spawn of that repository runs nothing of it."""
    client = daemon.client
    assert client is not None
    visible = scratch_dir(f"{TEST_PREFIX}repo")  # outside /tmp: the colony sees its path
    request.addfinalizer(lambda: shutil.rmtree(visible, ignore_errors=True))
    repo = make_repo(visible / "repo", {"README": "r\n"})
    colony = spawn(client, "a", repo, sandbox=level)
    common = repo / ".git"
    assert ok(client, "a", f"cat {common}/HEAD").strip() == "ref: refs/heads/main"
    hook = payload(exchange, "hook")
    for target in (
        "/run/colony/objects/info/alternates",
        "/run/colony/objects/ab/cdef",
        "/run/colony/objects/../hooks/post-checkout",
        f"{common}/hooks/post-checkout",
        f"{common}/config",
        f"{common}/objects/info/alternates",
    ):
        code, _, _ = sh_in(client, "a", f"printf '%s' '{hook}' > {target}")
        assert code != 0, f"the colony wrote {target}"
    assert not (common / "hooks" / "post-checkout").exists()
    assert "hook" not in (common / "config").read_text()
    spawn(client, "b", repo, sandbox=level)
    assert_untouched(canary, exchange, colony.containment.user.uid)
    # A commit in the colony stays in the colony: the repository has no new object.
    ok(client, "a", "echo x > x.txt && git add x.txt && git commit -qm mine")
    head = git_in(client, "a", "rev-parse", "HEAD").strip()
    assert os.system(f"git -C {repo} cat-file -e {head} 2>/dev/null") != 0


@pytest.mark.parametrize("level", LEVELS)
def test_colonies_have_identities_of_their_own(daemon: Daemon, tmp_path: Path, level: str) -> None:
    """When two colonies of a root-owned repository run, each has its own uid: A cannot read
    or write B's workspace and data dir, read B's environment or memory, or signal B's
    processes, even with kill -9 -1."""
    client = daemon.client
    assert client is not None
    toml = '[services.idle]\ncommand = "sleep 1000"\nenv = { TOKEN = "b-secret" }\n'
    repo = make_repo(tmp_path / "repo", {"colony.toml": toml})
    a = spawn(client, "ida", repo, sandbox=level)
    b = spawn(client, "idb", repo, sandbox=level)
    uid_a, uid_b = a.containment.user.uid, b.containment.user.uid
    assert uid_a != uid_b
    assert 0 not in (uid_a, uid_b)
    for path in (b.workspace, b.data_dir):
        st = os.stat(path)
        assert (st.st_uid, stat.S_IMODE(st.st_mode)) == (uid_b, 0o700)
    pid = b.services[0].pid
    script = (
        f"cat {b.workspace}/colony.toml; touch {b.workspace}/x {b.data_dir}/x; "
        f"cat /proc/{pid}/environ; head -c1 /proc/{pid}/mem; kill -0 {pid}"
    )
    for line in script.split("; "):
        code, out, _ = sh_in(client, "ida", line)
        assert code != 0, f"colony A could: {line}"
        assert "b-secret" not in out
    sh_in(client, "ida", "kill -9 -1")
    time.sleep(0.5)
    assert Path(f"/proc/{pid}").exists()
    assert client.colony("idb").services[0].pid == pid


def test_colony_toml_cannot_loosen_the_host(daemon: Daemon, tmp_path: Path) -> None:
    """When colony.toml asks to run as a real user, at level none, with egress allowed over
    the host's policy or higher limits, it is ignored with a warning: the colony runs at
    basic, as its own uid."""
    client = daemon.client
    assert client is not None
    toml = '[sandbox]\nlevel = "none"\nuser = "nobody"\n'
    repo = make_repo(tmp_path / "repo", {"colony.toml": toml})
    colony = spawn(client, "loose", repo)
    assert colony.sandbox == "basic"
    assert colony.containment.user.name == "colony-loose"
    assert colony.netns is not None
    lines = [e["line"] for e in client.logs("loose")]
    assert any("sandbox.level: 'none' would loosen" in line for line in lines)
    assert any("sandbox.user: 'nobody' would loosen" in line for line in lines)
    assert ok(client, "loose", "id -un").strip() == "colony-loose"


@pytest.mark.parametrize("level", LEVELS)
def test_the_host_does_not_show_through(daemon: Daemon, tmp_path: Path, level: str) -> None:
    """When a colony looks around, it sees its own interfaces in /sys, no cgroups, no host
    sockets under /run, its own /tmp, no state directory but its own files, no daemon PATH,
    and processes of its own only."""
    client = daemon.client
    assert client is not None
    repo = make_repo(tmp_path / "repo", {"README": "r\n"})
    spawn(client, "other", repo, sandbox=level)
    colony = spawn(client, "look", repo, sandbox=level)
    state = daemon.state_dir
    host_socket = Path(f"/run/colony-test-{daemon.prefix}.sock")
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(host_socket))
    listener.listen()
    host_tmp = Path(f"/tmp/colony-host-file-{daemon.prefix}")
    host_tmp.write_text("host\n")
    host_tmp.chmod(0o644)
    try:
        nets = ok(client, "look", "ls /sys/class/net").split()
        assert sorted(nets) == ["eth0", "lo"]
        assert ok(client, "look", "ls -A /sys/fs/cgroup").split() == []
        assert ok(client, "look", f"ls -A {state}").split() == ["colonies"]
        assert ok(client, "look", f"ls -A {state}/colonies").split() == ["look"]
        assert ok(client, "look", f"ls -A {state}/colonies/look").split() == ["volume"]
        mine = ok(client, "look", f"ls -A {state}/colonies/look/volume").split()
        assert mine == ["data", "home", "workspace"]
        # Only its own directories show in its mount table; the other colony's are not there,
        # nor the state directory's own mount (detached whole, issue 15).
        table = ok(client, "look", "cat /proc/self/mountinfo")
        points = {row.split(" ")[4] for row in table.splitlines()}
        for name in mine:
            assert f"{state}/colonies/look/volume/{name}" in points
        assert "/colonies/other/" not in table
        assert str(state) in points  # the cover, a tmpfs
        assert sum(1 for row in table.splitlines() if row.split(" ")[4] == str(state)) == 1
        code, _, _ = sh_in(client, "look", f"cat {state}/mycelium.db {state}/audit.db")
        assert code != 0
        code, _, _ = sh_in(client, "look", f"ls {state}/colonies/look/logs")
        assert code != 0
        code, _, _ = sh_in(client, "look", f"test -e {host_socket}")
        assert code != 0
        code, _, _ = sh_in(client, "look", f"test -e {host_tmp}")
        assert code != 0
        path = ok(client, "look", "echo $PATH").strip()
        assert path == "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
        assert ok(client, "look", "ps -e -o user= | sort -u").split() == ["colony-look"]
        assert ok(client, "look", "id -un").strip() == "colony-look"
        ok(client, "look", "echo mine > /tmp/t && test -w /dev/shm && cat /tmp/t")
        assert (state / "colonies" / "look" / "volume" / "tmp" / "t").read_text() == "mine\n"
        # Files of the state directory are root's alone.
        for name in ("mycelium.db", "audit.db"):
            assert stat.S_IMODE((state / name).stat().st_mode) == 0o600
        assert colony.containment.user.uid != 0
    finally:
        listener.close()
        host_socket.unlink(missing_ok=True)
        host_tmp.unlink(missing_ok=True)


def test_a_granted_socket_is_reachable(daemon: Daemon, tmp_path: Path) -> None:
    """When the spawn grants a host socket under /run (--socket), the colony can connect to it
    and to no other."""
    client = daemon.client
    assert client is not None
    granted = Path(f"/run/colony-test-{daemon.prefix}-db.sock")
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(granted))
    granted.chmod(0o666)
    listener.listen()
    try:
        repo = make_repo(tmp_path / "repo", {"README": "r\n"})
        spawn(client, "db", repo, sockets=[str(granted)])
        probe = f"import socket; s = socket.socket(socket.AF_UNIX); s.connect('{granted}')"
        code, _, err = run_in(client, "db", ["python3", "-c", probe])
        assert code == 0, err
    finally:
        listener.close()
        granted.unlink(missing_ok=True)


@pytest.mark.parametrize("level", LEVELS)
def test_git_works_in_a_colony_of_a_closed_repository(
    daemon: Daemon, tmp_path: Path, level: str
) -> None:
    """When the repository sits in a 0700 directory of root's, git status, add, commit, log,
    diff, merge and rebase work inside the colony, and colony merge brings the work back."""
    client = daemon.client
    assert client is not None
    closed = tmp_path / "closed"
    closed.mkdir(mode=0o700)
    repo = make_repo(closed / "repo", {"app.py": "a\n"})
    spawn(client, "g", repo, sandbox=level)
    git(repo, "commit", "-q", "--allow-empty", "-m", "moved on")
    client.restart("g")
    wait_state(client, "g", "running")
    ok(
        client,
        "g",
        """
        set -e
        git status --short
        echo b > app.py && git add app.py && git commit -qm change
        git log --oneline | head -3
        git diff HEAD~1 --stat
        git merge -q --no-edit main
        git rebase -q main
        """,
    )
    assert "change" in git_in(client, "g", "log", "--format=%s")
    client.merge("g")
    assert git(repo, "show", "main:app.py") == "b\n"


def test_a_colonys_escape_sequences_never_reach_the_users_terminal(
    daemon: Daemon, tmp_path: Path
) -> None:
    """When a colony puts terminal escape sequences (a window title, a clear screen) in a file
    and changes a CI workflow, `colony diff` on a terminal shows the sequences as text, and
    diff and merge warn about the workflow on stderr."""
    client = daemon.client
    assert client is not None
    repo = make_repo(tmp_path / "repo", {"app.py": "v1\n"})
    spawn_it = client.spawn("inky", str(repo))
    assert spawn_it.name == "inky"
    wait_state(client, "inky", "running")
    ok(
        client,
        "inky",
        "printf 'x\\033]0;owned\\007\\033[2J\\n' > app.py && mkdir -p .github/workflows && "
        "echo 'on: push' > .github/workflows/ci.yml",
    )
    env = {**os.environ, "COLONY_SOCKET": str(daemon.socket), "PYTHONPATH": str(ROOT)}
    main, tty = pty.openpty()
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "colony", "diff", "inky"],
            stdout=tty,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            timeout=60,
        )
        os.close(tty)
        shown = b""
        with contextlib.suppress(OSError):
            while chunk := os.read(main, 65536):
                shown += chunk
    finally:
        os.close(main)
    assert proc.returncode == 0, proc.stderr
    assert b"\x1b" not in shown
    assert b"\x07" not in shown
    assert b"+x\\x1b]0;owned\\x07\\x1b[2J" in shown
    assert ".github/workflows/ci.yml: CI workflows" in proc.stderr
    merged = subprocess.run(
        [sys.executable, "-m", "colony", "merge", "inky"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert merged.returncode == 0, merged.stderr
    assert "warning: this work changes files that configure tools or CI" in merged.stderr
