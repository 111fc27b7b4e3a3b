"""CLI usage errors that need no daemon, and the client's mapping of API errors.

The one stand-in here is a tiny Starlette app on a temp Unix socket that answers canned error
bodies; it checks the client's error mapping only, never Mycelium's behaviour.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from click.testing import CliRunner
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from colony.cli import main
from colony.client import Client, DaemonUnavailable
from colony.errors import ColonyError, ConfigError, Conflict, NotFound
from tests.conftest import TEST_PREFIX


def _error(kind: str, message: str, hint: str | None, status: int) -> JSONResponse:
    return JSONResponse({"error": {"type": kind, "message": message, "hint": hint}}, status)


async def _health(request: Request) -> JSONResponse:
    return JSONResponse({"ok": True, "version": "stand-in", "pid": os.getpid()})


async def _show(request: Request) -> JSONResponse:
    name = request.path_params["name"]
    return _error("NotFound", f"colony '{name}' not found", "list colonies with 'colony ls'", 404)


async def _spawn(request: Request) -> JSONResponse:
    return _error("ConfigError", "colony.toml: services.web.port: expected an integer", None, 400)


async def _remove(request: Request) -> JSONResponse:
    return _error("Conflict", "colony 'web' is running", "pass --force", 409)


async def _gc(request: Request) -> PlainTextResponse:
    return PlainTextResponse("Internal Server Error", 500)


async def _urls(request: Request) -> JSONResponse:
    return _error("Mystery", "something odd", None, 500)


async def _exec(ws: WebSocket) -> None:
    await ws.accept()
    await ws.receive_json()
    error = {"type": "HostError", "message": "cannot enter netns", "hint": "run 'colony gc'"}
    await ws.send_json({"type": "error", "error": error})
    await ws.close()


STAND_IN = Starlette(
    routes=[
        Route("/health", _health),
        Route("/colonies", _spawn, methods=["POST"]),
        Route("/colonies/{name}", _show),
        Route("/colonies/{name}", _remove, methods=["DELETE"]),
        Route("/colonies/{name}/urls", _urls),
        Route("/gc", _gc, methods=["POST"]),
        WebSocketRoute("/colonies/{name}/exec", _exec),
    ]
)


@pytest.fixture
def short_dir() -> Iterator[Path]:
    """A directory whose paths fit a Unix socket address (108 bytes)."""
    with tempfile.TemporaryDirectory(prefix="ct-cli-") as path:
        yield Path(path)


@pytest.fixture
def stand_in(short_dir: Path) -> Iterator[Path]:
    """The stand-in app served by uvicorn on a temp Unix socket; yields the socket path."""
    path = short_dir / "api.sock"
    config = uvicorn.Config(
        STAND_IN, uds=str(path), ws="websockets-sansio", lifespan="off", log_level="error"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            assert thread.is_alive(), "the stand-in server exited"
            assert time.monotonic() < deadline, "the stand-in server did not start"
            time.sleep(0.02)
        yield path
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.fixture
def client(stand_in: Path) -> Iterator[Client]:
    with Client(stand_in, timeout=5) as c:
        yield c


def run(*args: str, socket_path: Path | None = None) -> tuple[int, str, str]:
    env = {"COLONY_SOCKET": str(socket_path)} if socket_path else {}
    result = CliRunner().invoke(main, list(args), env=env)
    return result.exit_code, result.stdout, result.stderr


# --- the client's error mapping -----------------------------------------------------------


def test_not_found(client: Client) -> None:
    """When the API answers 404 NotFound, the client raises NotFound with message and hint."""
    with pytest.raises(NotFound, match="colony 'nope' not found") as caught:
        client.colony("nope")
    assert caught.value.hint == "list colonies with 'colony ls'"


def test_config_error(client: Client) -> None:
    """When the API answers 400 ConfigError, the client raises ConfigError without a hint."""
    with pytest.raises(ConfigError, match=r"services\.web\.port") as caught:
        client.spawn("web", "/tmp")
    assert caught.value.hint is None


def test_conflict(client: Client) -> None:
    """When the API answers 409 Conflict, the client raises Conflict."""
    with pytest.raises(Conflict, match="is running"):
        client.remove("web")


def test_unknown_error_type(client: Client) -> None:
    """When the API names an error type the client does not know, it raises ColonyError."""
    with pytest.raises(ColonyError, match="something odd") as caught:
        client.urls("web")
    assert type(caught.value) is ColonyError


def test_error_without_json(client: Client) -> None:
    """When the API answers an error that is not JSON, the message names status and request."""
    with pytest.raises(ColonyError, match="Mycelium answered 500 to POST /gc"):
        client.gc()


def test_exec_error(client: Client) -> None:
    """When exec cannot start, the error sent on the WebSocket is raised as its class."""
    with (
        client.exec_session("web", ["true"]) as session,
        pytest.raises(ColonyError, match="cannot enter netns") as caught,
    ):
        session.recv(timeout=5)
    assert type(caught.value).__name__ == "HostError"
    assert caught.value.hint == "run 'colony gc'"


def test_no_socket(short_dir: Path) -> None:
    """When no socket file exists, the client says Mycelium is not running and how to start it."""
    with Client(short_dir / "none.sock") as client, pytest.raises(DaemonUnavailable) as caught:
        client.health()
    assert "not running" in str(caught.value)
    assert caught.value.hint == "start it with 'colony daemon start'"


def test_stale_socket(short_dir: Path) -> None:
    """When the socket file exists but nothing listens, the daemon counts as not running."""
    path = short_dir / "stale.sock"
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(path))
    with Client(path) as client, pytest.raises(DaemonUnavailable):
        client.health()


def test_no_socket_websocket(short_dir: Path) -> None:
    """When no daemon runs, subscribing to events fails the same way."""
    with Client(short_dir / "none.sock") as client, pytest.raises(DaemonUnavailable):
        client.events()


# --- the CLI's one error path -------------------------------------------------------------


def test_cli_prints_error_and_hint(stand_in: Path) -> None:
    """When the API answers an error, the CLI prints error: and hint: and exits 1."""
    code, out, err = run("show", "nope", socket_path=stand_in)
    assert (code, out) == (1, "")
    assert err == "error: colony 'nope' not found\nhint: list colonies with 'colony ls'\n"


def test_cli_exec_error(stand_in: Path) -> None:
    """When exec cannot start, the CLI prints the API's error and exits 1."""
    code, _, err = run("exec", "web", "--", "true", socket_path=stand_in)
    assert code == 1
    assert err.startswith("error: cannot enter netns\n")


# --- usage errors (no daemon) -------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["spawn", "web", "--limit", "cpu"], "'cpu'"),
        (["spawn", "Web_1"], "'Web_1'"),
        (["spawn", "web", "--sandbox", "tight"], "'tight'"),
        (["exec", "--env", "NOPE", "web", "--", "true"], "'NOPE'"),
        (["exec", "web"], "COMMAND"),
        (["logs", "web", "-n", "-1"], "-1"),
        (["frobnicate"], "frobnicate"),
    ],
)
def test_usage_errors(args: list[str], named: str, short_dir: Path) -> None:
    """When arguments are wrong, click exits 2 naming the bad value, and no daemon is asked."""
    code, _, err = run(*args, socket_path=short_dir / "none.sock")
    assert code == 2
    assert named in err
    assert not (short_dir / "none.sock").exists()


@pytest.mark.parametrize(
    "command",
    [
        [],
        ["init"],
        ["spawn"],
        ["ls"],
        ["show"],
        ["stop"],
        ["start"],
        ["restart"],
        ["rm"],
        ["exec"],
        ["shell"],
        ["logs"],
        ["url"],
        ["gc"],
        ["daemon"],
        ["daemon", "start"],
        ["daemon", "stop"],
        ["daemon", "status"],
        ["daemon", "run"],
    ],
)
def test_help_has_example(command: list[str]) -> None:
    """When asked for --help, every command answers with an example and exits 0."""
    code, out, _ = run(*command, "--help")
    assert code == 0
    assert "Example:" in out


def test_daemon_status_not_running(short_dir: Path) -> None:
    """When no daemon runs, 'daemon status' says so and exits 3, like systemctl."""
    code, out, _ = run("daemon", "status", socket_path=short_dir / "none.sock")
    assert code == 3
    assert "Mycelium is not running" in out


def test_daemon_stop_not_running(short_dir: Path) -> None:
    """When no daemon runs, 'daemon stop' has nothing to do and exits 0."""
    code, out, _ = run("daemon", "stop", socket_path=short_dir / "none.sock")
    assert (code, out) == (0, "Mycelium is not running\n")


def test_init_refuses_overwrite(short_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """When colony.toml exists, init refuses in one line naming the file, and keeps it."""
    subprocess.run(["git", "init", "-q", str(short_dir)], check=True)
    (short_dir / "colony.toml").write_text("# mine\n")
    monkeypatch.chdir(short_dir)
    code, _, err = run("init")
    assert code == 1
    assert err.splitlines()[0] == f"error: {short_dir / 'colony.toml'} already exists"
    assert (short_dir / "colony.toml").read_text() == "# mine\n"


def test_init_writes_at_repo_root(short_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """When run in a subdirectory of a repository, init writes colony.toml at its root."""
    subprocess.run(["git", "init", "-q", str(short_dir)], check=True)
    (short_dir / "src").mkdir()
    monkeypatch.chdir(short_dir / "src")
    code, out, _ = run("init", "--name", "shop")
    assert (code, out) == (0, f"wrote {short_dir / 'colony.toml'}\n")
    assert 'name = "shop"' in (short_dir / "colony.toml").read_text()


def test_init_outside_repository(short_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """When not inside a repository, init says so and exits 1."""
    monkeypatch.chdir(short_dir)
    code, _, err = run("init")
    assert code == 1
    assert "not inside a git or jj repository" in err
    assert "hint: run 'git init' here first" in err  # issue 12: not 'colony init' again


def test_help_summaries_are_not_cut() -> None:
    """When `colony --help` lists the commands, no summary is cut short with '…' (issue 12)."""
    for group in ("", "agent", "brood", "daemon", "trash"):
        code, out, _ = run(*filter(None, [group]), "--help")
        assert code == 0
        listed = out.partition("Commands:")[2]
        assert listed
        assert "..." not in listed, group
    assert "Keep preview names in /etc/hosts for resolvers that do not know" in run("--help")[1]


def test_spawn_limit_help_lists_every_limit() -> None:
    """When asked for spawn --help, --limit lists all six limits (issue 12)."""
    _, out, _ = run("spawn", "--help")
    flat = " ".join(out.split())
    for key in ("cpu=", "memory=", "swap=", "pids=", "io_weight=", "disk="):
        assert key in flat


# --- through a real process ---------------------------------------------------------------


def colony(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "colony", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
        check=False,
    )


def test_process_help() -> None:
    """When run as 'python -m colony --help', it lists the commands and shell completion."""
    done = colony("--help")
    assert done.returncode == 0
    assert "spawn" in done.stdout
    assert "_COLONY_COMPLETE=bash_source colony" in done.stdout


def test_process_usage_error() -> None:
    """When a limit lacks '=', the process exits 2 naming it, without a traceback."""
    done = colony("spawn", "web", "--limit", "memory")
    assert done.returncode == 2
    assert "expected KEY=VALUE, got 'memory'" in done.stderr
    assert "Traceback" not in done.stderr


def test_process_daemon_status(short_dir: Path) -> None:
    """When no daemon answers on COLONY_SOCKET, 'daemon status' exits 3."""
    done = colony("daemon", "status", env={"COLONY_SOCKET": str(short_dir / "none.sock")})
    assert done.returncode == 3
    assert done.stderr == ""


def test_daemon_that_cannot_start(short_dir: Path) -> None:
    """When Mycelium exits while being started, the command says why and where its log is."""
    env = {
        "COLONY_STATE_DIR": str(short_dir / "state"),
        "COLONY_SOCKET": str(short_dir / "state" / "mycelium.sock"),
        "COLONY_PREFIX": f"{TEST_PREFIX}{uuid.uuid4().hex[:8]}",
        "COLONY_POOL": "not-a-network",
    }
    result = CliRunner().invoke(main, ["ls"], env=env)
    assert result.exit_code == 1
    first, hint = result.stderr.splitlines()[-2:]
    assert first.startswith("error: Mycelium exited with code 1 while starting: ")
    assert hint == f"hint: see its log: {short_dir / 'state' / 'mycelium.log'}"
