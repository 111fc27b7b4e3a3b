"""Containment (SPEC §7, issue 3): cgroup limits, privilege drop and sandbox levels, for real.

Each test runs a real Mycelium (the ``daemon`` fixture) as root; colony processes run as an
unprivileged user. Users the tests need are made with useradd and removed afterwards. The
memory hog and the fork bomb are small (128M, pids=64, cpu=0.5) and end with their colony.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import httpx
import pytest

from colony.client import Client
from colony.contract_responses import Colony
from colony.errors import ColonyError
from colony.isolation.cgroups import load_layout
from tests.conftest import TEST_PREFIX, git, make_repo, scratch_dir
from tests.host.conftest import Daemon, shell_transcript, wait_state

ROOT_DIR = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT_DIR / "examples" / "webapp" / "app.py"
HOG = "a = []\nwhile True:\n    a.append(b'x' * (1 << 20))\n"


def client_of(d: Daemon) -> Client:
    assert d.client is not None
    return d.client


def run(client: Client, name: str, argv: list[str], timeout: float = 60) -> tuple[int, str, str]:
    """Run ``argv`` in colony ``name``: (exit code, stdout, stderr)."""
    out, err = b"", b""
    with client.exec_session(name, argv) as session:
        while (chunk := session.recv(timeout)) is not None:
            if chunk[0] == "stdout":
                out += chunk[1]
            else:
                err += chunk[1]
        code = session.exit_code
    assert code is not None
    return code, out.decode(errors="replace"), err.decode(errors="replace")


def sh(client: Client, name: str, script: str) -> tuple[int, str, str]:
    return run(client, name, ["sh", "-c", script])


def spawn(client: Client, name: str, repo: Path, **kwargs: object) -> Colony:
    client.spawn(name, str(repo), **kwargs)  # type: ignore[arg-type]
    colony = wait_state(client, name, "running", "failed", timeout=60)
    assert colony.state == "running", colony
    return colony


def cgroup_file(prefix: str, colony: str, controller: str, name: str) -> Path:
    mount = load_layout().by_controller[controller]
    return Path(mount.path, prefix, colony, name)


def next_event(events, kind: str, timeout: float = 15) -> dict:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        event = events.recv(max(0.0, deadline - time.monotonic()))
        if event and event.get("type") == "resource" and event.get("kind") == kind:
            return event
    raise AssertionError(f"no resource event of kind {kind!r} within {timeout}s")


# --- 1. memory -------------------------------------------------------------------------


def test_memory_hog_is_oom_killed_inside_its_cgroup(daemon: Daemon, tmp_path: Path) -> None:
    """When a process of a colony with memory=128M allocates without end, the OOM killer ends
    it inside the colony's cgroup; the colony's service, a second colony and the daemon keep
    running, and an OOM event is published and noted in the colony's log."""
    client = client_of(daemon)
    limited = make_repo(
        tmp_path / "limited",
        {
            "colony.toml": '[limits]\nmemory = "128M"\nswap = 0\n'
            '[services.idle]\ncommand = "sleep 1000"\n',
            "hog.py": HOG,
        },
    )
    calm = make_repo(
        tmp_path / "calm", {"colony.toml": '[services.idle]\ncommand = "sleep 1000"\n'}
    )
    hog_colony = spawn(client, "hog", limited)
    calm_colony = spawn(client, "calm", calm)
    limit = cgroup_file(daemon.prefix, "hog", "memory", "memory.limit_in_bytes")
    if limit.exists():  # v1; v2 has memory.max
        assert int(limit.read_text()) == 128 << 20
    with client.events("hog") as events:
        code, _, _ = run(client, "hog", ["timeout", "60", "python3", "hog.py"])
        event = next_event(events, "oom")
    assert code in (137, -9), "the hog is killed with SIGKILL"
    assert event["colony"] == "hog"
    assert "128M" in event["detail"]
    assert client.health()["ok"]
    assert daemon.proc is not None
    assert daemon.proc.poll() is None
    for name, before in (("hog", hog_colony), ("calm", calm_colony)):
        after = client.colony(name)
        assert after.state == "running"
        assert after.services[0].pid == before.services[0].pid
        assert Path(f"/proc/{after.services[0].pid}").exists()
    assert client.colony_usage("hog").oom_kills >= 1
    lines = [e["line"] for e in client.logs("hog", lines=100)]
    assert any("resource oom: OOM kill" in line for line in lines)


# --- 2. pids ---------------------------------------------------------------------------


def test_fork_bomb_is_contained_by_pids_limit(daemon: Daemon, tmp_path: Path) -> None:
    """When a colony with pids=64 runs a fork bomb, its cgroup never holds more than 64
    processes, a pids limit event is published, and the host can still fork."""
    client = client_of(daemon)
    toml = textwrap.dedent("""
        [limits]
        pids = 64
        cpu = 0.5

        [services.bomb]
        command = "f() { f & f & sleep 20; }; f"
        restart = "never"
    """)
    repo = make_repo(tmp_path / "repo", {"colony.toml": toml})
    with client.events("bomb") as events:
        spawn(client, "bomb", repo)
        event = next_event(events, "limit", timeout=30)
    assert "pids limit of 64 reached" in event["detail"]
    current = cgroup_file(daemon.prefix, "bomb", "pids", "pids.current")
    peak = cgroup_file(daemon.prefix, "bomb", "pids", "pids.peak")
    assert int(current.read_text()) <= 64
    if peak.exists():  # a review git Mycelium moves into the colony is not a fork: pids.max
        assert int(peak.read_text()) <= 64 + 1  # does not stop it, and the peak counts it
    assert subprocess.run(["true"], check=False).returncode == 0, "the host can still fork"
    assert client.health()["ok"]
    client.remove("bomb", force=True)


# --- 3. cpu ----------------------------------------------------------------------------


def cpu_stat(prefix: str, colony: str) -> tuple[int, int]:
    """(CPU time used in µs, CFS periods elapsed) from the colony cgroup's own accounting."""
    stat = dict(
        line.split()
        for line in cgroup_file(prefix, colony, "cpu", "cpu.stat").read_text().splitlines()
    )
    if "usage_usec" in stat:  # v2
        return int(stat["usage_usec"]), int(stat["nr_periods"])
    usage = cgroup_file(prefix, colony, "cpuacct", "cpuacct.usage").read_text()
    return int(usage) // 1000, int(stat["nr_periods"])


def test_cpu_limit_holds_burners_near_half_a_core(daemon: Daemon, tmp_path: Path) -> None:
    """When two colonies with cpu=0.5 each run a CPU burner, each uses about half a core by
    its cgroup's own accounting (CPU time per elapsed CFS period) and gets throttled."""
    client = client_of(daemon)
    toml = (
        "[limits]\ncpu = 0.5\n[services.burn]\ncommand = \"exec python3 -c 'while True: pass'\"\n"
    )
    repo = make_repo(tmp_path / "repo", {"colony.toml": toml})
    names = ("burn-a", "burn-b")
    for name in names:
        spawn(client, name, repo)
    time.sleep(1)
    before = {n: cpu_stat(daemon.prefix, n) for n in names}
    time.sleep(3)
    for name in names:
        used, periods = (
            a - b for a, b in zip(cpu_stat(daemon.prefix, name), before[name], strict=True)
        )
        assert periods >= 10, f"{name}: only {periods} CFS periods elapsed"
        share = used / (periods * 100_000)  # 100 ms period
        assert 0.3 <= share <= 0.6, f"{name}: {share:.2f} of a core"
        sample = client.colony_usage(name)
        assert sample.cpu_percent is not None
        assert 20 <= sample.cpu_percent <= 70, sample
    throttled = cgroup_file(daemon.prefix, names[0], "cpu", "cpu.stat").read_text()
    assert "nr_throttled 0\n" not in throttled


# --- 4. moderate -----------------------------------------------------------------------


def test_moderate_hides_and_protects_other_colonies_processes(
    daemon: Daemon, tmp_path: Path
) -> None:
    """When colonies run at level moderate, ps in colony A shows none of B's processes and a
    kill of B's pid from A fails; at level basic too, as every colony has its own uid and a
    /proc that shows only its own processes (issue 10)."""
    client = client_of(daemon)
    repo = make_repo(
        tmp_path / "repo", {"colony.toml": '[services.idle]\ncommand = "sleep 1000"\n'}
    )
    spawn(client, "mod-a", repo, sandbox="moderate")
    b = spawn(client, "mod-b", repo, sandbox="moderate")
    spawn(client, "plain", repo)
    procs = cgroup_file(daemon.prefix, "mod-b", "pids", "svc-idle/cgroup.procs")
    b_pids = [int(p) for p in procs.read_text().split()]
    assert b_pids, "colony B has processes"
    code, out, _ = run(client, "mod-a", ["ps", "-e", "-o", "pid=,comm="])
    assert code == 0
    seen = {int(line.split()[0]) for line in out.splitlines() if line.strip()}
    assert not seen & set(b_pids), f"A sees B's pids {seen & set(b_pids)}"
    assert "python" not in out, "A must not see Mycelium either"
    target = max(b_pids)
    code, _, _ = sh(client, "mod-a", f"kill -9 {target}")
    assert code != 0
    assert Path(f"/proc/{target}").exists()
    assert client.colony("mod-b").services[0].pid == b.services[0].pid
    code, _, _ = sh(client, "plain", f"kill -0 {target}")
    assert code != 0, "another uid: not even a PID namespace is needed"
    code, out, _ = run(client, "plain", ["ps", "-e", "-o", "pid="])
    assert code == 0
    assert not {int(p) for p in out.split()} & set(b_pids)
    assert Path(f"/proc/{target}").exists()  # the control: it runs, the host sees it


# --- 5. strict -------------------------------------------------------------------------


def test_strict_hides_secrets_and_keeps_host_read_only(
    unix_user: pwd.struct_passwd, daemon: Daemon, tmp_path: Path
) -> None:
    """When a colony runs at level strict, a planted ~/.ssh/id_rsa cannot be read, rm -rf ~/*
    leaves the real home intact, and writes to the workspace and data dir land on the host."""
    client = client_of(daemon)
    home = Path(unix_user.pw_dir)
    (home / ".ssh").mkdir(mode=0o700)
    (home / ".ssh" / "id_rsa").write_text("-----BEGIN OPENSSH PRIVATE KEY----- secret\n")
    (home / "notes.txt").write_text("keep me\n")
    subprocess.run(["chown", "-R", f"{unix_user.pw_uid}:{unix_user.pw_gid}", str(home)], check=True)
    (home / ".ssh" / "id_rsa").chmod(0o600)
    toml = '[sandbox]\nlevel = "strict"\n'
    repo = make_repo(tmp_path / "repo", {"colony.toml": toml})
    colony = spawn(client, "locked", repo, user=unix_user.pw_name)
    assert colony.containment.user.name == unix_user.pw_name
    # Control: the key is readable by that user outside the sandbox.
    outside = subprocess.run(
        ["setpriv", f"--reuid={unix_user.pw_uid}", f"--regid={unix_user.pw_gid}",
         "--init-groups", "cat", str(home / ".ssh" / "id_rsa")],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert "secret" in outside.stdout
    code, out, _ = sh(client, "locked", "cat ~/.ssh/id_rsa")
    assert code != 0
    assert "secret" not in out
    sh(client, "locked", "rm -rf ~/* ~/.ssh; touch /usr/local/colony-was-here")
    assert (home / "notes.txt").read_text() == "keep me\n"
    assert (home / ".ssh" / "id_rsa").exists()
    assert not Path("/usr/local/colony-was-here").exists()
    code, out, err = sh(
        client, "locked", 'echo made > made.txt && echo data > "$COLONY_DATA_DIR/d.txt" && '
        "echo tmp > /tmp/t.txt && cat /tmp/t.txt && id -u",
    )  # fmt: skip
    assert code == 0, err
    assert out.split() == ["tmp", str(unix_user.pw_uid)]
    assert (Path(colony.workspace) / "made.txt").read_text() == "made\n"
    assert (Path(colony.data_dir) / "d.txt").read_text() == "data\n"
    assert (Path(colony.workspace) / "made.txt").stat().st_uid == unix_user.pw_uid
    client.remove("locked", force=True)


# --- 6. privilege drop -----------------------------------------------------------------


def test_colony_runs_as_its_user_and_cannot_gain_privileges(
    unix_user: pwd.struct_passwd, daemon: Daemon, tmp_path: Path
) -> None:
    """When a colony runs as a real unprivileged user, its processes have that uid, and
    neither sudo nor a setuid-root binary raises them (no_new_privs), though both work for
    that user outside the colony."""
    if shutil.which("sudo") is None:
        pytest.skip("sudo is not installed (apt-get install sudo)")
    client = client_of(daemon)
    user = unix_user
    Path(f"/etc/sudoers.d/{user.pw_name}").write_text(f"{user.pw_name} ALL=(ALL) NOPASSWD: ALL\n")
    Path(f"/etc/sudoers.d/{user.pw_name}").chmod(0o440)
    repo = make_repo(tmp_path / "repo", {"README": "x\n"})
    spawn(client, "dropped", repo, user=user.pw_name)
    # Not in the workspace: the colony's disk is mounted nosuid, which would stop it anyway.
    outside = scratch_dir(f"{TEST_PREFIX}suid")
    suid = outside / "suid-id"
    shutil.copy("/usr/bin/id", suid)
    os.chown(suid, 0, 0)
    suid.chmod(0o4755)
    as_user = ["setpriv", f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}", "--init-groups"]
    # Controls: outside a colony, this user becomes root through both.
    assert subprocess.run([*as_user, "sudo", "-n", "true"], check=False).returncode == 0
    raised = subprocess.run([*as_user, str(suid), "-u"], capture_output=True, text=True)
    assert raised.stdout.strip() == "0"
    try:
        script = f"id -u; grep NoNewPrivs /proc/self/status; {suid} -u"
        code, out, _ = sh(client, "dropped", script)
        assert code == 0
        assert out.split() == [str(user.pw_uid), "NoNewPrivs:", "1", str(user.pw_uid)]
        code, _, _ = sh(client, "dropped", "sudo -n true")
        assert code != 0
    finally:
        shutil.rmtree(outside)
    client.remove("dropped", force=True)


# --- 7. none ---------------------------------------------------------------------------


def test_level_none_remaps_ports_and_previews_follow(daemon: Daemon, tmp_path: Path) -> None:
    """When two colonies at level none both declare port 3000, each gets its own free host
    port (in PORT and COLONY_PORT_WEB), and both previews answer, each from its colony."""
    client = client_of(daemon)
    toml = '[services.web]\ncommand = "python3 app.py"\nport = 3000\n'
    repo = make_repo(tmp_path / "repo", {"app.py": EXAMPLE.read_text(), "colony.toml": toml})
    colonies = [spawn(client, name, repo, sandbox="none") for name in ("open-a", "open-b")]
    ports = [c.services[0].host_port for c in colonies]
    assert None not in ports
    assert len(set(ports)) == 2
    assert 3000 not in ports
    for colony in colonies:
        assert colony.netns is None
        assert colony.address is None
    for name, port in zip(("open-a", "open-b"), ports, strict=True):
        body = httpx.get(
            f"http://127.0.0.1:{daemon.proxy_port}/",
            headers={"Host": f"web.{name}.localhost"},
            timeout=10,
        ).text
        assert body.startswith(f"hello from colony {name} ")
        direct = httpx.get(f"http://127.0.0.1:{port}/", timeout=10).text
        assert direct.startswith(f"hello from colony {name} ")
    _, out, _ = sh(client, "open-a", "echo $COLONY_PORT_WEB")
    assert out.strip() == str(ports[0])


# --- 8. bad input ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ('[limits]\nmemory = "lots"\n', "colony.toml: limits.memory: expected"),
        ("[limits]\ncpu = -1\n", "colony.toml: limits.cpu: expected"),
        ('[sandbox]\nlevel = "max"\n', "colony.toml: sandbox.level: expected"),
    ],
)
def test_bad_containment_settings_create_nothing(
    daemon: Daemon, tmp_path: Path, toml: str, message: str
) -> None:
    """When limits, the sandbox level or the user are bad, in colony.toml or as flags, the
    answer is a one-line error naming the key and the value, and nothing is created."""
    client = client_of(daemon)
    repo = make_repo(tmp_path / "repo", {"colony.toml": toml})
    with pytest.raises(ColonyError) as bad:
        client.spawn("bad", str(repo))
    assert message in str(bad.value)
    assert "\n" not in str(bad.value)
    clean = make_repo(tmp_path / "clean", {"README": "x\n"})
    for kwargs, flag in (
        ({"limits": {"memory": "lots"}}, "--limit memory: expected"),
        ({"limits": {"cpu": -1}}, "--limit cpu: expected"),
        ({"sandbox": "max"}, "--sandbox: expected"),
        ({"user": "root"}, "--user: expected an unprivileged user, got 'root'"),
        ({"user": "no-such-user-x"}, "--user: expected an existing user"),
        ({"sockets": ["/etc/passwd"]}, "--socket: expected a path under /run/"),
    ):
        with pytest.raises(ColonyError, match=flag):
            client.spawn("bad", str(clean), **kwargs)  # type: ignore[arg-type]
    cli = subprocess.run(
        [sys.executable, "-m", "colony", "--socket", str(daemon.socket), "spawn", "bad",
         "--repo", str(clean), "--limit", "cpu=-1"],
        capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT_DIR)},
    )  # fmt: skip
    assert cli.returncode == 1
    assert cli.stderr.startswith("error: --limit cpu: expected")
    assert client.colonies().colonies == []
    assert (
        git(repo, "for-each-ref", "refs/colony") + git(clean, "for-each-ref", "refs/colony") == ""
    )
    assert not [p for p in Path("/sys/fs/cgroup").glob(f"*/{daemon.prefix}/*") if p.is_dir()]


def test_shell_at_strict_keeps_its_terminal_and_exit_code(daemon: Daemon, tmp_path: Path) -> None:
    """When a shell is opened at level strict, it has the PTY as its terminal inside the PID
    namespace: its size, its output and its exit code come back, with no job-control error."""
    client = client_of(daemon)
    toml = '[terminal]\ncommand = "sh -i"\n[sandbox]\nlevel = "strict"\n'
    spawn(client, "tty", make_repo(tmp_path / "repo", {"colony.toml": toml}))
    out, code = shell_transcript(client, "tty", b"stty size; echo hi-$COLONY_NAME; exit 3\n")
    assert code == 3
    assert b"30 100" in out
    assert b"hi-tty" in out
    assert b"Cannot set tty process group" not in out
