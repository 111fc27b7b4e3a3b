"""LinuxIsolation against the real kernel: netns, veth, nftables, cgroups.

Every test uses its own prefix ``ct-<8 hex>`` and pool ``10.213.<n>.0/24``; the fixture removes
whatever carries the prefix and checks that nothing is left. Traffic only goes to loopback or
to addresses inside namespaces made here.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from ipaddress import IPv4Network
from pathlib import Path
from typing import Any

import pytest

from colony import host
from colony.core.model import Slot
from colony.core.policy import AddressSets, Rules
from colony.errors import HostError
from colony.isolation import Observed, firewall, netns
from colony.isolation.cgroups import Limits, load_layout
from colony.isolation.layout import Layout, detect, unified_mount
from colony.isolation.linux import LinuxIsolation
from colony.isolation.marks import render_mark
from tests.conftest import TEST_NET, TEST_PREFIX

pytestmark = [
    pytest.mark.host,
    pytest.mark.skipif(
        os.geteuid() != 0, reason="needs root: creates network namespaces, cgroups, nft tables"
    ),
]

PR_SET_CHILD_SUBREAPER = 36
SERVER = (
    "import socket, sys\n"
    "s = socket.socket()\n"
    "s.bind((sys.argv[1], 3000))\n"
    "s.listen()\n"
    "print('ready', flush=True)\n"
    "c, _ = s.accept()\n"
    "c.sendall(sys.argv[2].encode())\n"
    "c.close()\n"
)


@dataclass
class Env:
    iso: LinuxIsolation
    prefix: str
    pool: IPv4Network
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def slot(self, name: str, index: int) -> Slot:
        return Slot(self.prefix, name, index, self.pool)

    def spawn(self, slot: Slot, leaf: str, argv: list[str]) -> subprocess.Popen[bytes]:
        proc = host.spawn(argv, placement=self.iso.placement(slot, leaf), stdout=subprocess.PIPE)
        self.procs.append(proc)
        return proc


def _unreachable(pool: IPv4Network) -> str:
    return host.run(["ip", "route", "show", "type", "unreachable", str(pool)]).stdout.strip()


def _leftovers(env: Env) -> list[str]:
    seen = env.iso.observe(env.prefix)
    found = [f"{k}: {sorted(v)}" for k, v in vars(seen).items() if v]
    found += [d for d in env.iso.cgroups.dirs(env.prefix) if Path(d).exists()]
    if _unreachable(env.pool):
        found.append(f"unreachable route {env.pool}")
    return found


def _layout(kind: str) -> Layout:
    """The detected layout, or a variant that exercises another kill path on this machine."""
    if kind == "detected":
        return load_layout()
    if kind == "no-freezer":  # v1 kill without the freezer: repeated kill until empty
        layout = load_layout()
        if layout.tracking.version != 1:
            pytest.skip("processes are tracked in cgroup v2 here")
        by = {c: m for c, m in layout.by_controller.items() if c != "freezer"}
        mounts = tuple(m for m in layout.mounts if "freezer" not in m.controllers)
        return Layout(layout.tracking, by, mounts)
    mountinfo = Path("/proc/self/mountinfo").read_text()
    point = unified_mount(mountinfo)
    if point is None:
        pytest.skip("no cgroup2 hierarchy is mounted")
    return detect(f"1 1 0:1 / {point} rw - cgroup2 cgroup2 rw\n")


def _remove_all(iso: LinuxIsolation, prefix: str) -> None:
    """Remove every object with ``prefix``: the backend's own as gc does, and those a test
    made by hand (without the backend's mark) directly."""
    seen = iso.observe(prefix)
    for kind, names in seen.by_kind():
        for name in names:
            if iso.remove_orphan(prefix, kind, name):
                continue
            if kind == "cgroup":
                iso.cgroups.remove(f"{prefix}/{name}")
            elif kind == "table":
                firewall.delete_table(f"{prefix}-{name}")
            elif kind == "netns":
                netns.delete_netns(f"{prefix}-{name}")
            else:
                netns.delete_link(name)
    for veth in seen.veths:
        netns.wait_link_gone(veth)


@pytest.fixture
def env(request: pytest.FixtureRequest) -> Iterator[Env]:
    hexid = uuid.uuid4().hex[:8]
    prefix = f"{TEST_PREFIX}{hexid}"
    pool = IPv4Network(f"10.{TEST_NET}.{int(hexid[:2], 16)}.0/24")
    layout = _layout(getattr(request, "param", "detected"))
    env = Env(LinuxIsolation(layout, mark=render_mark(prefix, "/state")), prefix, pool)
    try:
        env.iso.prepare(prefix, pool)
        yield env
    finally:
        for proc in env.procs:
            proc.kill()
            proc.wait(timeout=10)
            if proc.stdout:
                proc.stdout.close()
        _remove_all(env.iso, prefix)
        env.iso.unprepare(prefix, pool)
        assert _leftovers(env) == []


def _ip_json(*args: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = json.loads(host.run(["ip", "-j", *args]).stdout or "[]")
    return out


def _wait_for(predicate: Callable[[], object], what: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def _serve(env: Env, slot: Slot, address: str) -> subprocess.Popen[bytes]:
    proc = env.spawn(slot, "svc-web", [sys.executable, "-c", SERVER, address, slot.name])
    assert proc.stdout is not None
    assert proc.stdout.readline() == b"ready\n"
    return proc


def _recv(sock: socket.socket, address: str) -> bytes:
    with sock:
        sock.settimeout(10)
        sock.connect((address, 3000))
        return sock.recv(100)


def test_create_builds_network_table_and_cgroups(env: Env) -> None:
    """When a colony is created, its netns, veth, addresses, route, table and cgroups exist."""
    slot = env.slot("web", 1)
    env.iso.create(slot)

    assert env.iso.netns_exists(slot)
    (lo,) = _ip_json("-n", slot.netns, "link", "show", "lo")
    assert "UP" in lo["flags"]
    (eth0,) = _ip_json("-n", slot.netns, "addr", "show", "eth0")
    assert "UP" in eth0["flags"]
    assert [(a["local"], a["prefixlen"]) for a in eth0["addr_info"] if a["family"] == "inet"] == [
        (slot.colony_ip, 30)
    ]
    (route,) = _ip_json("-n", slot.netns, "route", "show", "default")
    assert (route["gateway"], route["dev"]) == (slot.host_ip, "eth0")

    (veth,) = _ip_json("addr", "show", "dev", slot.veth)
    assert "UP" in veth["flags"]
    assert [a["local"] for a in veth["addr_info"] if a["family"] == "inet"] == [slot.host_ip]
    assert netns.link_alias(slot.veth) == f"{slot.netns} {env.iso.mark}"
    assert netns.lo_alias(slot.netns) == env.iso.mark

    assert firewall.list_tables(env.prefix) == [slot.table]
    rules = host.run(["nft", "list", "table", "inet", slot.table]).stdout
    masquerade = f'ip saddr {slot.colony_ip} ip daddr != {env.pool} oifname != "{slot.veth}"'
    assert f"{masquerade} masquerade" in rules  # never toward other colonies (issue 4)
    assert all(Path(d).is_dir() for d in env.iso.cgroups.dirs(slot.cgroup))
    assert env.iso.observe(env.prefix) == Observed(
        netns=frozenset({"web"}),
        veths=frozenset({slot.veth}),
        cgroups=frozenset({"web"}),
        tables=frozenset({"web"}),
    )


RULES = Rules(
    egress="allowlist",
    allow=AddressSets(v4=("10.1.2.0/23",), v4_ports=(("151.101.0.223", 443),)),
    deny=AddressSets(v4=("169.254.169.254",), v4_ports=(("10.9.0.0/16", 22),)),
    exposed=(("colonyh4", 5432),),
)


def _listed(table: str) -> str:
    return host.run(["nft", "list", "table", "inet", table]).stdout


def test_a_table_made_over_netlink_is_the_table_nft_makes(env: Env) -> None:
    """When a colony's table is made (written by nft in the colony's empty namespace, then
    copied to the host over netlink: issue 15), it lists exactly as the table ``nft -f`` makes
    from the same text, locked or with a policy, and the colony's namespace keeps no table."""
    slot = env.slot("web", 1)
    env.iso.create(slot)
    copied = _listed(slot.table)
    inside = host.run(["nsenter", f"--net={slot.netns_path}", "nft", "list", "ruleset"]).stdout
    assert inside.strip() == ""
    firewall.delete_table(slot.table)
    firewall.apply(firewall.render_colony_table(slot, mark=env.iso.mark))
    assert _listed(slot.table) == copied

    firewall.delete_table(slot.table)
    env.iso.set_network(slot, RULES, remake=True)  # the table is gone: made anew, with RULES
    copied = _listed(slot.table)
    assert "151.101.0.223 . 443" in copied
    firewall.delete_table(slot.table)
    firewall.apply(firewall.render_colony_table(slot, RULES, env.iso.mark))
    assert _listed(slot.table) == copied


def test_process_is_placed_and_sees_only_its_colony(env: Env) -> None:
    """When a process is spawned with a placement, it is in procs() and sees lo and eth0 only."""
    slot = env.slot("web", 1)
    env.iso.create(slot)
    proc = env.spawn(slot, "exec-1", ["sh", "-c", "ip -o addr; echo end; exec sleep 300"])
    assert proc.stdout is not None
    lines = []
    while (line := proc.stdout.readline().decode()) not in ("end\n", ""):
        lines.append(line)
    _wait_for(lambda: proc.pid in env.iso.procs(slot, "exec-1"), "pid in leaf")
    assert proc.pid in env.iso.procs(slot)
    names = {line.split()[1] for line in lines}
    inet = {line.split()[3] for line in lines if line.split()[2] == "inet"}
    assert names == {"lo", "eth0"}
    assert inet == {"127.0.0.1/8", f"{slot.colony_ip}/30"}


def test_two_colonies_bind_the_same_loopback_port(env: Env) -> None:
    """When two colonies bind 127.0.0.1:3000 at once, each answers on its own loopback."""
    web, api = env.slot("web", 1), env.slot("api", 2)
    env.iso.create(web)
    env.iso.create(api)
    _serve(env, web, "127.0.0.1")
    _serve(env, api, "127.0.0.1")
    assert _recv(host.socket_in_netns(web.netns_path), "127.0.0.1") == b"web"
    assert _recv(host.socket_in_netns(api.netns_path), "127.0.0.1") == b"api"


def test_host_reaches_a_server_on_the_colony_address(env: Env) -> None:
    """When a colony serves on 0.0.0.0:3000, the host netns reaches it on colony_ip."""
    slot = env.slot("web", 1)
    env.iso.create(slot)
    _serve(env, slot, "0.0.0.0")
    assert _recv(socket.socket(), slot.colony_ip) == b"web"


def _session(pid: int) -> int:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat[stat.rindex(")") + 2 :].split()[3])


@pytest.fixture
def subreaper() -> Iterator[None]:
    """Make this process adopt its descendants' orphans, so the test reaps them itself."""
    libc = ctypes.CDLL(None, use_errno=True)
    assert libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    try:
        yield
    finally:
        libc.prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0)


@pytest.mark.parametrize("env", ["detected", "unified", "no-freezer"], indirect=True)
@pytest.mark.usefixtures("subreaper")
def test_kill_leaves_no_detached_grandchild(env: Env) -> None:
    """When a service double-forked a detached grandchild, kill() leaves procs() empty."""
    slot = env.slot("web", 1)
    env.iso.create(slot)
    proc = env.spawn(slot, "svc-web", ["sh", "-c", "(setsid sleep 300 &); sleep 300"])
    _wait_for(lambda: len(env.iso.procs(slot)) == 3, "sh, its sleep and the detached sleep")
    pids = env.iso.procs(slot)
    # setsid runs a moment after its fork shows up in the cgroup: wait for the new session.
    _wait_for(
        lambda: len({_session(pid) for pid in pids if host.alive(pid)}) == 2,
        "the grandchild in a session of its own",
    )

    env.iso.kill(slot)

    assert env.iso.procs(slot) == []
    assert not any(host.alive(pid) for pid in pids)
    assert proc.wait(timeout=10) == -signal.SIGKILL
    for pid in pids:  # orphans reparented to this process (the subreaper): reap them
        if pid != proc.pid:
            with contextlib.suppress(ChildProcessError):  # reparented elsewhere and reaped
                os.waitpid(pid, 0)


@pytest.mark.parametrize("env", ["detected", "unified"], indirect=True)
def test_kill_of_one_leaf_spares_the_others(env: Env) -> None:
    """When one leaf is killed and removed, the other leaf's process keeps running."""
    slot = env.slot("web", 1)
    env.iso.create(slot)
    victim = env.spawn(slot, "exec-1", ["sleep", "300"])
    other = env.spawn(slot, "svc-web", ["sleep", "300"])
    _wait_for(lambda: len(env.iso.procs(slot)) == 2, "two sleeps")

    env.iso.remove_leaf(slot, "exec-1")

    assert victim.wait(timeout=10) == -signal.SIGKILL
    assert env.iso.procs(slot) == [other.pid]
    assert not any(Path(d).exists() for d in env.iso.cgroups.dirs(f"{slot.cgroup}/exec-1"))


def test_kill_with_sigterm_signals_once(env: Env) -> None:
    """When kill() sends SIGTERM, every process gets it once and may exit by itself."""
    slot = env.slot("web", 1)
    env.iso.create(slot)
    proc = env.spawn(slot, "svc-web", ["sleep", "300"])
    _wait_for(lambda: env.iso.procs(slot) == [proc.pid], "sleep in cgroup")
    env.iso.kill(slot, sig=signal.SIGTERM)
    assert proc.wait(timeout=10) == -signal.SIGTERM


@pytest.mark.parametrize("env", ["detected", "unified"], indirect=True)
def test_destroy_is_idempotent(env: Env) -> None:
    """When destroy runs twice, the second is a no-op and nothing of the colony is left."""
    slot = env.slot("web", 1)
    env.iso.create(slot)
    proc = env.spawn(slot, "svc-web", ["sleep", "300"])
    _wait_for(lambda: env.iso.procs(slot) == [proc.pid], "sleep in cgroup")

    env.iso.destroy(slot)
    env.iso.destroy(slot)

    assert proc.wait(timeout=10) == -signal.SIGKILL
    assert not env.iso.netns_exists(slot)
    assert not netns.link_exists(slot.veth)
    assert env.iso.observe(env.prefix) == Observed()


def test_recreate_right_after_destroy_reuses_the_slot(env: Env) -> None:
    """When a colony is destroyed and created again at once, the veth name is free again."""
    slot = env.slot("web", 1)
    for _ in range(3):
        env.iso.create(slot)
        env.iso.destroy(slot)
    assert env.iso.observe(env.prefix) == Observed()


def test_taken_netns_name_fails_and_keeps_the_existing_one(env: Env) -> None:
    """When the netns name is taken, create names the step and leaves only that netns."""
    slot = env.slot("web", 1)
    host.run(["ip", "netns", "add", slot.netns])

    with pytest.raises(HostError) as err:
        env.iso.create(slot)

    assert str(err.value).startswith(f"cannot create netns '{slot.netns}': 'ip netns add'")
    assert "File exists" in str(err.value)
    assert err.value.hint is not None
    assert "colony gc" in err.value.hint
    assert netns.exists(slot.netns)
    assert env.iso.observe(env.prefix) == Observed(netns=frozenset({"web"}))


def test_failure_after_the_netns_undoes_what_create_made(env: Env) -> None:
    """When the cgroup step fails, create removes its netns and veth and keeps the cgroup."""
    slot = env.slot("web", 1)
    existing = env.iso.cgroups.dirs(slot.cgroup)[0]
    host.make_dir(existing)

    with pytest.raises(HostError, match=f"cannot create cgroup '{slot.cgroup}'"):
        env.iso.create(slot)

    assert Path(existing).is_dir()
    assert env.iso.observe(env.prefix) == Observed(cgroups=frozenset({"web"}))


@pytest.mark.parametrize("env", ["detected", "unified"], indirect=True)
def test_observe_and_remove_orphans_without_a_store(env: Env) -> None:
    """When a new backend observes a prefix, it finds every object and removes each one."""
    web, api = env.slot("web", 1), env.slot("api", 2)
    env.iso.create(web)
    env.iso.create(api)
    proc = env.spawn(web, "svc-web", ["sleep", "300"])
    _wait_for(lambda: env.iso.procs(web) == [proc.pid], "sleep in cgroup")

    # a new backend of the same daemon: no state carried over but the mark
    fresh = LinuxIsolation(env.iso.cgroups.layout, mark=env.iso.mark)
    seen = fresh.observe(env.prefix)
    assert seen == Observed(
        netns=frozenset({"web", "api"}),
        veths=frozenset({web.veth, api.veth}),
        cgroups=frozenset({"web", "api"}),
        tables=frozenset({"web", "api"}),
    )
    for name in seen.cgroups:
        assert fresh.remove_orphan(env.prefix, "cgroup", name)
    assert proc.wait(timeout=10) == -signal.SIGKILL
    for name in seen.tables:
        assert fresh.remove_orphan(env.prefix, "table", name)
    for veth in seen.veths:  # a veth whose netns is gone too: delete it directly
        assert fresh.remove_orphan(env.prefix, "veth", veth)
    for name in seen.netns:
        assert fresh.remove_orphan(env.prefix, "netns", name)
    assert fresh.observe(env.prefix) == Observed()


def test_gc_leaves_what_it_did_not_make(env: Env) -> None:
    """When objects carry the prefix but not this daemon's mark (made by hand, or by another
    Mycelium with the same prefix and another state dir), remove_orphan leaves each alone;
    the same kinds made by this daemon go."""
    prefix = env.prefix
    host.run(["ip", "netns", "add", f"{prefix}-out"])
    host.run(["nft", "add", "table", "inet", f"{prefix}-out"])
    host.make_dir(env.iso.cgroups.dirs(f"{prefix}/out")[0])
    stray = env.slot("out", 9)
    host.run(["ip", "link", "add", stray.veth, "type", "veth", "peer", "name", f"{prefix}x9"])
    other = LinuxIsolation(env.iso.cgroups.layout, mark=render_mark(prefix, "/elsewhere"))
    theirs, ours = env.slot("theirs", 1), env.slot("ours", 2)
    other.create(theirs)
    env.iso.create(ours)

    for kind, name in (
        ("netns", "out"),
        ("table", "out"),
        ("cgroup", "out"),
        ("veth", stray.veth),
        ("netns", "theirs"),
        ("table", "theirs"),
        ("cgroup", "theirs"),
        ("veth", theirs.veth),
    ):
        assert not env.iso.remove_orphan(prefix, kind, name), (kind, name)
    for kind, name in (("cgroup", "ours"), ("table", "ours"), ("netns", "ours")):
        assert env.iso.remove_orphan(prefix, kind, name), (kind, name)
    netns.wait_link_gone(ours.veth)
    assert env.iso.observe(prefix) == Observed(
        netns=frozenset({"out", "theirs"}),
        veths=frozenset({stray.veth, theirs.veth}),
        cgroups=frozenset({"out", "theirs"}),
        tables=frozenset({"out", "theirs"}),
    )
    other.destroy(theirs)


def test_limits_and_usage(env: Env) -> None:
    """When limits are set, the control files carry them and usage counts the processes."""
    slot = env.slot("web", 1)
    env.iso.create(slot)
    env.iso.set_limits(slot, Limits(cpus=0.5, memory=256 << 20, pids=100))
    proc = env.spawn(slot, "svc-web", ["sleep", "300"])
    _wait_for(lambda: env.iso.procs(slot) == [proc.pid], "sleep in cgroup")

    layout = env.iso.cgroups.layout
    for ctrl, name, value in (
        ("pids", "pids.max", "100"),
        (
            "memory",
            "memory.max" if layout.version("memory") == 2 else "memory.limit_in_bytes",
            str(256 << 20),
        ),
    ):
        mount = layout.by_controller[ctrl]
        assert Path(f"{mount.path}/{slot.cgroup}/{name}").read_text().strip() == value
    usage = env.iso.usage(slot)
    assert usage["pids"] == 1
    assert usage["memory"] > 0
    assert usage["cpu_usec"] >= 0


def test_prepare_and_unprepare_manage_the_pool_route(env: Env) -> None:
    """When the daemon prepares, the pool is unreachable and its own nft table guards the
    pool's addresses; when it unprepares, the route and the table go."""
    assert f"unreachable {env.pool}" in _unreachable(env.pool)
    assert firewall.table_comment(firewall.host_table(env.prefix)) == "colony host v1"
    assert all(Path(d).is_dir() for d in env.iso.cgroups.dirs(env.prefix))
    # 'ip route get' only asks the routing table: nothing is sent.
    got = host.run(["ip", "route", "get", str(env.pool.network_address + 200)], check=False)
    assert got.returncode != 0
    assert "No route to host" in got.stderr

    env.iso.unprepare(env.prefix, env.pool)

    assert _unreachable(env.pool) == ""
    assert not any(Path(d).exists() for d in env.iso.cgroups.dirs(env.prefix))
    assert firewall.table_comment(firewall.host_table(env.prefix)) is None


PEER_SERVER = (
    "import socket\n"
    "s = socket.socket()\n"
    "s.bind(('0.0.0.0', 3000))\n"
    "s.listen()\n"
    "print('ready', flush=True)\n"
    "c, peer = s.accept()\n"
    "c.sendall(peer[0].encode())\n"
    "c.close()\n"
)
CLIENT = (
    "import socket, sys\n"
    "c = socket.create_connection((sys.argv[1], 3000), timeout=10)\n"
    "print(c.recv(100).decode(), flush=True)\n"
)


def test_egress_is_masqueraded(env: Env) -> None:
    """When a colony connects beyond its veth, the far side sees the host's address (NAT)."""
    slot = env.slot("web", 1)
    env.iso.create(slot)
    env.iso.set_network(slot, Rules(egress="allow"))  # a new table is locked (issue 4)
    # A stand-in for "the outside": a namespace of this test behind its own veth, outside the
    # pool, with no route back to the colony's address: only a masqueraded connection works.
    outside = Slot(
        env.prefix, "outside", 62, IPv4Network(f"198.19.{env.pool.network_address.packed[2]}.0/24")
    )
    host.run(["ip", "netns", "add", outside.netns])
    host.run(["ip", "-batch", "-"], input=netns.render_host_batch(outside))
    no_route = f"addr add {outside.colony_ip}/30 dev eth0\nlink set dev eth0 up\n"
    host.run(["ip", "-n", outside.netns, "-batch", "-"], input=no_route)
    server = host.spawn(
        [sys.executable, "-c", PEER_SERVER],
        placement=host.Placement(netns=outside.netns_path),
        stdout=subprocess.PIPE,
    )
    env.procs.append(server)
    assert server.stdout is not None
    assert server.stdout.readline() == b"ready\n"

    client = env.spawn(slot, "exec-1", [sys.executable, "-c", CLIENT, outside.colony_ip])
    out, _ = client.communicate(timeout=30)

    assert out.decode().strip() == outside.host_ip
