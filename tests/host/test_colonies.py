"""Colonies that run: real Mycelium, namespaces, worktrees, services and previews."""

from __future__ import annotations

import socket
import sqlite3
import subprocess
import textwrap
from pathlib import Path

import httpx
import pytest
from websockets.sync.client import connect as ws_connect

from colony import host
from colony.client import Client
from colony.contract_responses import Service
from colony.errors import ColonyError
from colony.isolation import firewall
from colony.isolation.firewall import host_table
from tests.conftest import git, make_repo
from tests.host.conftest import (
    Daemon,
    git_in,
    saved_workspace,
    sh_in,
    shell_transcript,
    wait_for,
    wait_state,
)

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "webapp" / "app.py"


def app_repo(tmp_path: Path, toml: str, name: str = "repo") -> Path:
    return make_repo(tmp_path / name, {"app.py": EXAMPLE.read_text(), "colony.toml": toml})


def web_toml(bind: str) -> str:
    return textwrap.dedent(f"""
        [services.web]
        command = "python3 app.py"
        port = 3000
        env = {{ BIND = "{bind}" }}
    """)


def preview(d: Daemon, host: str, path: str = "/") -> httpx.Response:
    return httpx.get(f"http://127.0.0.1:{d.proxy_port}{path}", headers={"Host": host}, timeout=10)


def ws_echo(d: Daemon, host: str, text: str) -> str:
    with (
        socket.create_connection(("127.0.0.1", d.proxy_port)) as sock,
        ws_connect(f"ws://{host}/", sock=sock, open_timeout=10) as ws,
    ):
        ws.send(text)
        reply = ws.recv(10)
    return reply if isinstance(reply, str) else reply.decode()


def netns_names() -> set[str]:
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    return {line.split()[0] for line in out.splitlines() if line.strip()}


def links() -> set[str]:
    out = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    return {line.split(": ")[1].split("@")[0] for line in out.splitlines()}


def owned(prefix: str) -> list[str]:
    """Kernel objects of one daemon's colonies: namespaces, links, cgroups, nft tables (not
    the daemon's own table, which lives as long as the daemon)."""
    found = [n for n in netns_names() if n.startswith(prefix)]
    found += [n for n in links() if n.startswith(prefix)]
    found += [str(p) for p in Path("/sys/fs/cgroup").glob(f"*/{prefix}/*") if p.is_dir()]
    found += [t for t in firewall.table_names() if t.startswith(prefix) and t != host_table(prefix)]
    return found


def test_four_colonies_share_port_3000(daemon: Daemon, tmp_path: Path) -> None:
    """When four colonies bind port 3000 (two on 127.0.0.1, two on 0.0.0.0), each preview URL
    reaches its own colony over HTTP and WebSocket, and the host's port 3000 stays free."""
    client = daemon.client
    assert client is not None
    local = app_repo(tmp_path, web_toml("127.0.0.1"), "local")
    anyaddr = app_repo(tmp_path, web_toml("0.0.0.0"), "any")
    names = {"lo-a": local, "lo-b": local, "any-a": anyaddr, "any-b": anyaddr}
    for name, repo in names.items():
        client.spawn(name, str(repo))
    for name in names:
        colony = wait_state(client, name, "running", "failed")
        assert colony.state == "running", colony
    for name in names:
        body = preview(daemon, f"web.{name}.localhost").text
        assert body.startswith(f"hello from colony {name} ")
        assert preview(daemon, f"3000.{name}.localhost").text.startswith(
            f"hello from colony {name}"
        )
        assert ws_echo(daemon, f"web.{name}.localhost", "ping") == f"{name}: ping"
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", 3000)) != 0, "host port 3000 must stay free"
    addresses = {client.colony(n).address for n in names}
    assert len(addresses) == 4


def test_commit_in_colony_reaches_repo_only_by_merge(daemon: Daemon, tmp_path: Path) -> None:
    """When a commit is made inside a colony, it is on the colony's own branch colony/<name>;
    the repository sees nothing of it until 'colony merge' brings it in."""
    client = daemon.client
    assert client is not None
    repo = make_repo(tmp_path / "repo", {"README": "hi\n"})
    client.spawn("wt", str(repo))
    colony = wait_state(client, "wt", "running")
    assert colony.branch == "colony/wt"
    assert git_in(client, "wt", "rev-parse", "--abbrev-ref", "HEAD").strip() == "colony/wt"
    assert git_in(client, "wt", "branch", "--list", "main").strip() == "main"
    sh_in(client, "wt", "echo 'from the colony' > new.txt && git add new.txt")
    git_in(client, "wt", "commit", "-q", "-m", "made in colony")
    assert "made in colony" in git_in(client, "wt", "log", "--format=%s")
    assert "made in colony" not in git(repo, "log", "--all", "--format=%s")
    client.merge("wt")
    assert git(repo, "show", "main:new.txt") == "from the colony\n"
    assert "made in colony" in git(repo, "log", "--format=%s", "main")


def test_exec_runs_inside_the_colony(daemon: Daemon, tmp_path: Path) -> None:
    """When a command is run with exec, it sees the colony's network, workspace and env,
    and its exit code comes back."""
    client = daemon.client
    assert client is not None
    repo = make_repo(tmp_path / "repo", {"README": "hi\n"})
    client.spawn("ex", str(repo))
    colony = wait_state(client, "ex", "running")
    script = "ip -o -4 addr show dev eth0; pwd; echo $COLONY_NAME $FOO; echo oops >&2; exit 7"
    out, err = b"", b""
    with client.exec_session("ex", ["sh", "-c", script], env={"FOO": "bar"}) as run:
        while (chunk := run.recv(20)) is not None:
            if chunk[0] == "stdout":
                out += chunk[1]
            else:
                err += chunk[1]
        assert run.exit_code == 7
    text = out.decode()
    assert colony.address in text
    assert colony.workspace in text
    assert "ex bar" in text
    assert err == b"oops\n"


def test_crashing_service_backs_off_then_gives_up(daemon: Daemon, tmp_path: Path) -> None:
    """When a service keeps crashing, it is restarted with backoff and given up on after its
    configured retries; the colony's logs tell so."""
    client = daemon.client
    assert client is not None
    toml = textwrap.dedent("""
        [services.crash]
        command = "echo started; sleep 0.2; exit 3"
        restart = "on-failure"
        retries = 2
        backoff = 0.1
    """)
    repo = make_repo(tmp_path / "repo", {"colony.toml": toml})
    client.spawn("crashy", str(repo))
    wait_state(client, "crashy", "running")

    def fatal() -> Service | None:
        svc = client.colony("crashy").services[0]
        return svc if svc.state == "fatal" else None

    svc = wait_for(fatal, what="service to be given up")
    assert svc.restarts == 2
    assert svc.exit_code == 3
    lines = [e["line"] for e in client.logs("crashy", lines=500)]
    assert sum(1 for line in lines if line == "started") == 3
    assert any("gave up after 2 restarts" in line for line in lines)
    assert any("restart 1 in 0.1s" in line for line in lines)
    assert any("restart 2 in 0.2s" in line for line in lines)


def test_stop_leaves_no_process_even_double_forked(daemon: Daemon, tmp_path: Path) -> None:
    """When a service double-forks a detached grandchild, stopping the colony still leaves no
    process of it; start brings the service back."""
    client = daemon.client
    assert client is not None
    toml = textwrap.dedent("""
        [services.forker]
        command = "setsid sh -c 'sleep 1000 & echo $! > grandchild.pid' & exec sleep 1000"
    """)
    repo = make_repo(tmp_path / "repo", {"colony.toml": toml})
    client.spawn("forky", str(repo))
    colony = wait_state(client, "forky", "running")
    pidfile = Path(colony.workspace) / "grandchild.pid"
    grandchild = int(
        wait_for(lambda: pidfile.exists() and pidfile.read_text().strip(), what="grandchild pid")
    )
    service_pid = colony.services[0].pid
    assert Path(f"/proc/{grandchild}").exists()
    client.stop("forky")
    stopped = wait_state(client, "forky", "stopped")
    assert stopped.services[0].state == "stopped"
    for pid in (grandchild, service_pid):
        assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text()
    cgroup_procs = list(Path("/sys/fs/cgroup").glob(f"*/{daemon.prefix}/forky/**/cgroup.procs"))
    assert cgroup_procs
    # Empty, once a git that Mycelium may have been running in the colony to review it (the
    # grandchild's pid file is a change of its files) has ended: it runs in the colony's cgroup.
    wait_for(
        lambda: all(not p.read_text().strip() for p in cgroup_procs if p.exists()),
        what="the stopped colony's cgroups to be empty",
    )
    client.start("forky")
    assert wait_state(client, "forky", "running", "failed").state == "running"


@pytest.mark.parametrize(
    ("case", "toml", "step", "reason"),
    [
        (
            "setup",
            '[setup]\ncommands = ["echo preparing", "echo broken >&2; exit 4"]\n',
            "provisioning",
            "setup command 'echo broken >&2; exit 4' exited 4: broken",
        ),
        (
            "service",
            '[services.web]\ncommand = "no-such-program-xyz"\nport = 3000\n',
            "starting",
            "service 'web' exited 127 while starting",
        ),
        (
            "workdir",
            '[services.web]\ncommand = "sleep 100"\nworking_dir = "missing"\n',
            "starting",
            "working_dir 'missing' is not a directory",
        ),
    ],
)
def test_failed_spawn_leaves_nothing(
    daemon: Daemon, tmp_path: Path, case: str, toml: str, step: str, reason: str
) -> None:
    """When a spawn fails at a step, it reports the step and the reason, and leaves no
    namespace, veth, cgroup, table, worktree or branch behind."""
    client = daemon.client
    assert client is not None
    repo = make_repo(tmp_path / "repo", {"colony.toml": toml})
    client.spawn(f"bad-{case}", str(repo))
    colony = wait_state(client, f"bad-{case}", "failed")
    assert colony.step == step
    assert reason in colony.reason
    assert owned(daemon.prefix) == []
    assert "colony/" not in git(repo, "branch", "--list")
    assert git(repo, "worktree", "list").count("\n") == 1
    # Its name is free again once it is removed and purged from the trash (issue 12).
    (repo / "colony.toml").write_text("")
    git(repo, "commit", "-qam", "fixed")
    client.remove(f"bad-{case}")
    client.trash_purge(f"bad-{case}")
    client.spawn(f"bad-{case}", str(repo))
    assert wait_state(client, f"bad-{case}", "running", "failed").state == "running"


def test_taken_namespace_name_fails_and_is_left_alone(daemon: Daemon, tmp_path: Path) -> None:
    """When the colony's namespace name is already taken, the spawn fails at spawning, the
    existing namespace is left as it was and nothing of the colony remains."""
    client = daemon.client
    assert client is not None
    repo = make_repo(tmp_path / "repo", {"README": "x\n"})
    taken = f"{daemon.prefix}-taken"
    subprocess.run(["ip", "netns", "add", taken], check=True)
    try:
        client.spawn("taken", str(repo))
        colony = wait_state(client, "taken", "failed")
        assert colony.step == "spawning"
        assert "File exists" in colony.reason or "exists" in colony.reason
        assert taken in netns_names()
        assert [o for o in owned(daemon.prefix) if o != taken] == []
        assert "colony/taken" not in git(repo, "branch", "--list")
        client.remove("taken")
        assert taken in netns_names()
    finally:
        subprocess.run(["ip", "netns", "del", taken], check=False)


def test_daemon_kill9_adopts_running_colonies(daemon: Daemon, tmp_path: Path) -> None:
    """When Mycelium is killed with SIGKILL, services keep running; the restarted daemon adopts
    them (state, logs, previews) and gc removes the objects it made that belong to no colony,
    but never a namespace with its prefix that someone else made (issue 11)."""
    client = daemon.client
    assert client is not None
    repo = app_repo(tmp_path, web_toml("127.0.0.1"))
    client.spawn("survivor", str(repo))
    client.spawn("doomed", str(make_repo(tmp_path / "bare", {"README": "x\n"})))
    before = wait_state(client, "survivor", "running")
    wait_state(client, "doomed", "running")
    pid = before.services[0].pid
    assert preview(daemon, "web.survivor.localhost").status_code == 200
    daemon.kill9()
    assert Path(f"/proc/{pid}").exists(), "the service must outlive the daemon"
    # An orphan: colony 'doomed' lost its record, so its objects belong to no colony.
    with sqlite3.connect(daemon.state_dir / "mycelium.db") as db:
        db.execute("PRAGMA foreign_keys=ON")
        db.execute("DELETE FROM colonies WHERE name = 'doomed'")
    # Not an orphan: a namespace with the daemon's prefix that someone else made.
    foreign = f"{daemon.prefix}-out"
    subprocess.run(["ip", "netns", "add", foreign], check=True)
    try:
        client = daemon.start()
        after = wait_state(client, "survivor", "running")
        assert after.services[0].pid == pid
        assert after.services[0].state == "running"
        page = preview(daemon, "web.survivor.localhost").text
        assert page.startswith("hello from colony survivor")
        lines = [e["line"] for e in client.logs("survivor", service="web")]
        assert any('"GET / HTTP/1.1" 200' in line for line in lines)
        left = [o for o in owned(daemon.prefix) if "doomed" in o]
        assert left == [], "the restarted daemon cleans up its orphans"
        assert foreign in netns_names(), "and leaves alone what it did not make"
        assert client.gc().removed == []
        assert foreign in netns_names()
    finally:
        subprocess.run(["ip", "netns", "del", foreign], check=False)
    # Supervision works for adopted services: kill it and it comes back.
    subprocess.run(["kill", "-9", str(pid)], check=True)

    def restarted() -> bool:
        svc = client.colony("survivor").services[0]
        return svc.state == "running" and svc.pid != pid

    wait_for(restarted, what="adopted service restarted")


def test_remove_keeps_uncommitted_work(daemon: Daemon, tmp_path: Path) -> None:
    """When a colony with uncommitted work is removed, its whole workspace goes to the trash
    with the final snapshot, and a restore brings the uncommitted file back."""
    client = daemon.client
    assert client is not None
    repo = make_repo(tmp_path / "repo", {"README": "hi\n"})
    client.spawn("keep", str(repo))
    colony = wait_state(client, "keep", "running")
    sh_in(client, "keep", "echo 'unsaved idea' > draft.txt")
    with pytest.raises(ColonyError, match="stop it before removing"):
        client.remove("keep")
    result = client.remove("keep", force=True)
    assert result.branch == "colony/keep"
    assert result.snapshot
    with saved_workspace(result.saved, tmp_path / "saved") as saved:
        assert (saved / "draft.txt").read_text() == "unsaved idea\n"
    assert not Path(colony.workspace).exists()
    assert owned(daemon.prefix) == []
    client.trash_restore("keep")
    wait_state(client, "keep", "running")
    assert sh_in(client, "keep", "cat draft.txt")[1] == "unsaved idea\n"
    assert "draft.txt" in git_in(client, "keep", "status", "--porcelain")


def test_bad_requests_create_nothing(daemon: Daemon, tmp_path: Path) -> None:
    """When the name or the colony.toml is bad, the API answers with a one-line error naming
    the key, and nothing is created."""
    client: Client | None = daemon.client
    assert client is not None
    repo = make_repo(
        tmp_path / "repo", {"colony.toml": '[services.web]\ncommand = "x"\nport = "abc"\n'}
    )
    with pytest.raises(ColonyError) as bad_toml:
        client.spawn("fine", str(repo))
    assert str(bad_toml.value).startswith("colony.toml: services.web.port: expected an integer")
    for name in ("../x", "a;b", "x" * 300):
        with pytest.raises(ColonyError) as bad_name:
            client.spawn(name, str(repo))
        assert "\n" not in str(bad_name.value)
        assert len(str(bad_name.value)) < 200
    with pytest.raises(ColonyError, match="no such directory"):
        client.spawn("fine", str(tmp_path / "nowhere"))
    assert client.colonies().colonies == []
    assert owned(daemon.prefix) == []


def pypi_reachable() -> bool:
    try:
        with socket.create_connection(("pypi.org", 443), timeout=5):
            return True
    except OSError:
        return False


def test_setup_reaches_package_registry_through_nat(daemon: Daemon, tmp_path: Path) -> None:
    """When egress is allowed, a setup command inside the colony downloads from PyPI through
    the colony's NAT (its own address, DNS through Mycelium's stub)."""
    if not pypi_reachable():
        pytest.skip("this machine cannot reach pypi.org")
    client = daemon.client
    assert client is not None
    pip = (
        "python3 -m pip download --isolated --no-deps --no-cache-dir -q "
        '-d \\"$COLONY_DATA_DIR/wheels\\" six==1.16.0'
    )
    toml = f'[setup]\ncommands = ["{pip}"]\n'
    repo = make_repo(tmp_path / "repo", {"colony.toml": toml})
    client.spawn("pip", str(repo))
    colony = wait_state(client, "pip", "running", "failed", timeout=120)
    assert colony.state == "running", colony.reason
    wheels = list((Path(colony.data_dir) / "wheels").glob("six-1.16.0-*.whl"))
    assert len(wheels) == 1


def test_openapi_describes_the_api(daemon: Daemon) -> None:
    """When a client asks for /openapi.json, it gets the API's paths and operations."""
    transport = httpx.HTTPTransport(uds=str(daemon.socket))
    with httpx.Client(transport=transport, base_url="http://mycelium") as http:
        spec = http.get("/openapi.json").json()
    assert spec["info"]["title"] == "Mycelium"
    assert {"get", "post"} <= set(spec["paths"]["/colonies"])
    assert "delete" in spec["paths"]["/colonies/{name}"]
    assert "202" in spec["paths"]["/colonies"]["post"]["responses"]


def test_api_socket_is_root_only(daemon: Daemon) -> None:
    """When Mycelium listens, its socket is root's (0600), or root's and the group colony's
    (0660) where that group exists (issue 14): nobody else may talk to it."""
    st = daemon.socket.stat()
    assert st.st_uid == 0
    group = host.group_id("colony")
    if group is None:
        assert st.st_mode & 0o777 == 0o600
    else:
        assert (st.st_mode & 0o777, st.st_gid) == (0o660, group)


def test_shell_runs_in_a_pty(daemon: Daemon, tmp_path: Path) -> None:
    """When a shell is opened (the [terminal] command in a PTY), typed commands run inside the
    colony and their output comes back."""
    client = daemon.client
    assert client is not None
    repo = make_repo(tmp_path / "repo", {"colony.toml": '[terminal]\ncommand = "sh -i"\n'})
    client.spawn("tty", str(repo))
    wait_state(client, "tty", "running")
    out, code = shell_transcript(client, "tty", b"stty size; echo hi-$COLONY_NAME; exit 3\n")
    assert code == 3
    assert b"30 100" in out
    assert b"hi-tty" in out
