"""Host-tier fixtures: a real Mycelium on a temp Unix socket with its own prefix and pool."""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import shutil
import signal
import subprocess
import sys
import time
import uuid
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from colony.client import Client
from colony.contract_responses import Colony
from colony.core.env import DEFAULT_PATH
from colony.errors import ColonyError
from tests.conftest import (
    TEST_NET,
    TEST_PREFIX,
    make_repo,
    new_prefix,
    passable,
    scratch_dir,
    uid_base_for,
)

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.host


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/host/" in str(item.fspath):
            item.add_marker(pytest.mark.host)
            if os.geteuid() != 0:
                item.add_marker(pytest.mark.skip(reason="needs root: real namespaces and cgroups"))


@dataclass
class Daemon:
    state_dir: Path
    socket: Path
    prefix: str
    pool: str
    log: Path
    proc: subprocess.Popen[bytes] | None = None
    client: Client | None = None
    http_port: str = "0"  # Bloom's listener: any free port, so test daemons never collide
    nofile: tuple[int, int] | None = None  # RLIMIT_NOFILE (soft, hard) to start it with
    extra: list[str] = field(default_factory=list)  # more `colony daemon run` options
    uid_base: int = 0  # 0: one derived from the prefix

    def start(self) -> Client:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        with self.log.open("ab") as log:
            limit = ["prlimit", "--nofile={}:{}".format(*self.nofile), "--"] if self.nofile else []
            self.proc = subprocess.Popen(
                [
                    *limit,
                    sys.executable,
                    "-m",
                    "colony",
                    "daemon",
                    "run",
                    "--state-dir",
                    str(self.state_dir),
                    "--socket",
                    str(self.socket),
                    "--proxy-port",
                    "0",
                    "--prefix",
                    self.prefix,
                    "--pool",
                    self.pool,
                    "--http-port",
                    self.http_port,
                    "--uid-base",
                    str(self.uid_base or uid_base_for(self.prefix)),
                    # Its default depends on the machine's accounts, which tests add.
                    *([] if "--preview-auth" in self.extra else ["--preview-auth", "off"]),
                    *self.extra,
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )
        client = Client(self.socket, timeout=30)
        deadline = time.monotonic() + 20
        while True:
            assert self.proc.poll() is None, f"Mycelium exited:\n{self.log.read_text()}"
            try:
                client.health()
                break
            except ColonyError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        self.client = client
        return client

    @property
    def proxy_port(self) -> int:
        assert self.client is not None
        return int(self.client.health()["proxy_port"])

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)
        if self.client is not None:
            self.client.close()
            self.client = None

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if self.client is not None:
            self.client.close()
            self.client = None

    def cleanup(self) -> None:
        """Remove every colony, then stop; the daemon removes its route and cgroup parents."""
        if self.proc is None or self.proc.poll() is not None:
            self.start()
        assert self.client is not None
        failed = []
        for colony in self.client.colonies().colonies:
            try:
                self.client.remove(colony.name, force=True)
            except ColonyError as exc:
                failed.append(f"{colony.name}: {exc}")
        self.client.gc()
        self.stop()
        # Removing is the product's own promise (nothing left behind): the test errors, and
        # says why, instead of only the leak check at the end naming what stayed.
        assert not failed, "cannot remove colonies: " + "; ".join(failed)


@contextlib.contextmanager
def running_daemon(
    tmp_path: Path, request: pytest.FixtureRequest, *extra: str, prefix: str | None = None
) -> Iterator[Daemon]:
    """A started Mycelium with its own prefix, pool and uid range (and ``extra`` options),
    its state dir in a scratch directory (not below /tmp, which every colony has its own of);
    every colony removed and the daemon stopped afterwards, its log printed if the test
    failed."""
    prefix = prefix or new_prefix()
    third = 1 + zlib.crc32(prefix.encode()) % 240
    passable(tmp_path)
    scratch = scratch_dir(prefix)
    d = Daemon(
        state_dir=scratch / "state",
        socket=scratch / "state" / "mycelium.sock",
        prefix=prefix,
        pool=f"10.{TEST_NET}.{third}.0/24",
        log=tmp_path / "mycelium.log",
        extra=list(extra),
    )
    try:
        d.start()
        yield d
    finally:
        failed = getattr(request.node, "rep_call", None)
        try:
            d.cleanup()
        except BaseException:
            print(f"--- Mycelium log ---\n{d.log.read_text()}")
            raise
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        if failed is not None and failed.failed:
            print(f"--- Mycelium log ---\n{d.log.read_text()}")


@pytest.fixture
def daemon(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Daemon]:
    with running_daemon(tmp_path, request) as d:
        yield d


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    rep = yield
    setattr(item, f"rep_{rep.when}", rep)
    return rep


def wait_state(client: Client, name: str, *states: str, timeout: float = 30) -> Colony:
    """Poll until colony ``name`` is in one of ``states``; fail with its record otherwise."""
    deadline = time.monotonic() + timeout
    while True:
        colony = client.colony(name)
        if colony.state in states:
            return colony
        if time.monotonic() > deadline:
            raise AssertionError(f"colony {name} never reached {states}: {colony}")
        time.sleep(0.05)


def wait_for(check, timeout: float = 30, what: str = "condition"):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


@pytest.fixture
def agents_bin(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The scripted agents (tests/agents) first on colonies' PATH as claude, codex, gemini,
    aider (``COLONY_PATH``, which the daemon gives colony processes)."""
    from tests.host.workflow_helpers import install_fake_agents, path_with

    scratch = scratch_dir(f"{TEST_PREFIX}agents")
    try:
        bin_dir = install_fake_agents(scratch / "fake")
        monkeypatch.setenv("PATH", path_with(bin_dir))
        monkeypatch.setenv("COLONY_PATH", f"{bin_dir}:{DEFAULT_PATH}")
        yield bin_dir
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


@pytest.fixture
def d(agents_bin: Path, daemon: Daemon) -> Daemon:
    """Mycelium started with the scripted agents first on its PATH."""
    return daemon


def shell_transcript(client: Client, name: str, typed: bytes) -> tuple[bytes, int | None]:
    """Open colony ``name``'s [terminal] command in a 100x30 PTY, type ``typed``, and return
    everything it printed and its exit code."""
    out = b""
    with client.exec_session(name, None, tty=True, cols=100, rows=30) as session:
        session.send_stdin(typed)
        while (chunk := session.recv(20)) is not None:
            out += chunk[1]
        return out, session.exit_code


def run_in(
    client: Client,
    name: str,
    argv: list[str],
    timeout: float = 60,
    env: dict[str, str] | None = None,
) -> tuple[int, str, str]:
    """Run ``argv`` inside colony ``name`` (as the colony, contained): code, stdout, stderr."""
    out, err = b"", b""
    with client.exec_session(name, argv, env=env or {}) as session:
        while (chunk := session.recv(timeout)) is not None:
            if chunk[0] == "stdout":
                out += chunk[1]
            else:
                err += chunk[1]
        code = session.exit_code
    assert code is not None
    return code, out.decode(errors="replace"), err.decode(errors="replace")


def sh_in(client: Client, name: str, script: str, timeout: float = 60) -> tuple[int, str, str]:
    """Run a shell script inside colony ``name``: code, stdout, stderr."""
    return run_in(client, name, ["sh", "-c", script], timeout)


def git_in(client: Client, name: str, *args: str) -> str:
    """``git ARGS`` inside colony ``name`` (the colony's own git, as an agent runs it)."""
    code, out, err = run_in(client, name, ["git", *args])
    assert code == 0, f"git {' '.join(args)} in {name} exited {code}: {err}"
    return out


@pytest.fixture
def exchange() -> Iterator[Path]:
    """A directory the test and every colony can read and write (0777, outside /tmp, which
    each colony has its own of): gates and counters of the scripted agents."""
    path = scratch_dir(f"{TEST_PREFIX}exchange")
    path.chmod(0o777)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@contextlib.contextmanager
def saved_workspace(saved: str, where: Path) -> Iterator[Path]:
    """The workspace ``colony rm`` kept at ``saved``: its directory, or, for a colony with a
    disk, the workspace inside the disk's image, mounted read-only at ``where`` meanwhile (as
    the README tells a user to do by hand). Of an overlay (issue 15), its upper layer: what
    the colony changed or made."""
    if not saved.endswith(".img"):
        yield Path(saved)
        return
    where.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-o", "loop,ro", saved, str(where)], check=True)
    try:
        yield where / "upper" if (where / "upper").is_dir() else where / "workspace"
    finally:
        subprocess.run(["umount", str(where)], check=True)


@dataclass(frozen=True)
class Installed:
    """Colony as `make install` leaves it, in a scratch prefix: what every user runs."""

    prefix: Path
    colony: Path  # the link in the scratch BINDIR


@pytest.fixture(scope="session")
def installed() -> Iterator[Installed]:
    """`make install` into a scratch prefix (no systemd unit); `make uninstall` afterwards,
    and the groups it made are removed again."""
    scratch = scratch_dir(new_prefix() + "-install")
    groups = [g for g in ("colony", "colony-admin") if not _group_exists(g)]
    where = {"PREFIX": str(scratch / "opt"), "BINDIR": str(scratch / "bin")}
    try:
        done = subprocess.run(
            ["make", "-s", "install", *(f"{k}={v}" for k, v in where.items())],
            cwd=ROOT, env={**os.environ, "SERVICE": "no"}, capture_output=True, text=True,
            check=False, timeout=600,
        )  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
        yield Installed(prefix=scratch / "opt", colony=scratch / "bin" / "colony")
        gone = subprocess.run(
            ["make", "-s", "uninstall", *(f"{k}={v}" for k, v in where.items())],
            cwd=ROOT, capture_output=True, text=True, check=False, timeout=60,
        )  # fmt: skip
        assert gone.returncode == 0, gone.stdout + gone.stderr
        assert not (scratch / "opt").exists()
        assert not (scratch / "bin" / "colony").is_symlink()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        for group in groups:
            subprocess.run(["groupdel", group], check=False, capture_output=True)


def _group_exists(name: str) -> bool:
    return subprocess.run(["getent", "group", name], capture_output=True).returncode == 0


@pytest.fixture
def unix_user() -> Iterator[pwd.struct_passwd]:
    """A real unprivileged user with a home directory; removed (with its home) afterwards."""
    name = f"ct{uuid.uuid4().hex[:8]}"
    subprocess.run(
        ["useradd", "--create-home", "--shell", "/bin/sh", name], check=True, capture_output=True
    )
    try:
        yield pwd.getpwnam(name)
    finally:
        Path(f"/etc/sudoers.d/{name}").unlink(missing_ok=True)
        subprocess.run(["userdel", "--remove", name], check=False, capture_output=True)


def run_as(
    user: str, *argv: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``argv`` run as ``user`` (runuser, a login-less clean environment plus ``env``)."""
    base = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": f"/home/{user}", "LANG": "C.UTF-8"}
    pairs = [f"{k}={v}" for k, v in {**base, **(env or {})}.items()]
    return subprocess.run(
        ["runuser", "-u", user, "--", "env", "-i", *pairs, *argv],
        capture_output=True, text=True, check=False, timeout=60, cwd="/",
    )  # fmt: skip


PREVIEW_WEB = '[services.web]\ncommand = "python3 -m http.server 3000"\nport = 3000\n'


@dataclass(frozen=True)
class User:
    """A real user of the machine in the group colony, running the installed command."""

    name: str
    uid: int
    colony: Path  # the installed command
    socket: Path

    def run(self, *argv: str) -> subprocess.CompletedProcess[str]:
        return run_as(self.name, str(self.colony), *argv, env={"COLONY_SOCKET": str(self.socket)})

    def ok(self, *argv: str) -> str:
        done = self.run(*argv)
        assert done.returncode == 0, f"{self.name}: colony {' '.join(argv)}: {done.stderr}"
        return done.stdout

    def names(self) -> list[str]:
        return [c["name"] for c in json.loads(self.ok("ls", "--json"))["colonies"]]


def make_people(installed: Installed, daemon: Daemon) -> dict[str, User]:
    """alice and bob: real users in the group colony, talking to ``daemon``."""
    found: dict[str, User] = {}
    try:
        for who in ("alice", "bob"):
            name = f"ct{who[:2]}{uuid.uuid4().hex[:6]}"
            subprocess.run(["useradd", "--create-home", "-G", "colony", name], check=True)
            found[who] = User(name, pwd.getpwnam(name).pw_uid, installed.colony, daemon.socket)
    except BaseException:
        remove_people(found)
        raise
    return found


def remove_people(people: dict[str, User]) -> None:
    for user in people.values():
        subprocess.run(["userdel", "--remove", user.name], check=False, capture_output=True)


def own_repo(user: User, where: Path) -> Path:
    """A repository of ``user``'s own (made by root, then given to them)."""
    repo = make_repo(where, {"colony.toml": PREVIEW_WEB, "app.py": "print('hi')\n"})
    subprocess.run(["chown", "-R", f"{user.name}:{user.name}", str(where)], check=True)
    return repo
