"""The quick commands stay quick (issue 15): `colony ls`, `url`, `show` and `logs` (without
-f) load neither the other commands nor the heavy libraries, nor click (colony.cli.quick
answers them), and `colony ls` and `url` to a pipe not even rich. Each runs in a fresh
interpreter against a stand-in for Mycelium on a Unix socket, and the modules it loaded are
checked (no timing asserts)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.answers import colony_json

# Modules a quick command must not load: streams' and WebSockets' libraries, the daemon's and
# the API's, the TUI's and the web UI's, the host edge, and every other command's module.
HEAVY = (
    "httpx",
    "httpcore",
    "websockets",
    "starlette",
    "uvicorn",
    "textual",
    "jinja2",
    "pydantic",
    "colony.host",
    "colony.daemon",
    "colony.api",
    "colony.tui",
    "colony.web",
    "colony.store",
    "colony.contract",
    "colony.cli.agent",
    "colony.cli.audit",
    "colony.cli.brood",
    "colony.cli.daemon",
    "colony.cli.dashboard",
    "colony.cli.net",
    "colony.cli.progress",
    "colony.cli.review",
    "colony.cli.top",
    "colony.cli.app",
    "colony.cli.colonies",
    "colony.client.mycelium",
    "colony.core.model",
    "click",
    "rich.console",
    "dataclasses",
    "inspect",
)
# What `colony ls` and `url` to a pipe do not load besides: they write without rich.
PLAIN = ("rich",)

COLONY = colony_json(created=1.0, transitions=[])

# A stand-in for Mycelium: answers every request on the socket with the JSON of its path,
# then runs the command as the console script does and prints the heavy modules it loaded.
SCRIPT = """
import json, socket, sys, threading
answers = json.loads(sys.argv[2])
server = socket.socket(socket.AF_UNIX)
server.bind(sys.argv[1])
server.listen()

def serve():
    while True:
        conn, _ = server.accept()
        data = b""
        while True:
            while b"\\r\\n\\r\\n" not in data:
                chunk = conn.recv(65536)
                if not chunk:
                    break
                data += chunk
            if b"\\r\\n\\r\\n" not in data:
                break
            head, _, data = data.partition(b"\\r\\n\\r\\n")
            path = head.split(b" ")[1].decode().split("?")[0]
            body = json.dumps(answers.get(path, {})).encode()
            conn.sendall(b"HTTP/1.1 200 OK\\r\\ncontent-type: application/json\\r\\n"
                         b"content-length: %d\\r\\n\\r\\n" % len(body) + body)
        conn.close()

threading.Thread(target=serve, daemon=True).start()
before = set(sys.modules)
sys.argv = ["colony", "--socket", sys.argv[1], *sys.argv[3:]]
from colony.cli import main
try:
    main()
except SystemExit as exit:
    code = exit.code
heavy = sorted(m for m in set(sys.modules) - before
               if any(m == h or m.startswith(h + ".") for h in HEAVY))
print(json.dumps({"code": code, "heavy": heavy}), file=sys.stderr)
"""


@pytest.mark.parametrize(
    "argv", [["ls"], ["ls", "--json"], ["show", "web"], ["url", "web"]], ids=" ".join
)
def test_a_quick_command_loads_nothing_heavy(tmp_path: Path, argv: list[str]) -> None:
    """When `colony ls`, `show` or `url` runs, it answers (exit 0, its output) and has
    loaded none of :data:`HEAVY` (`ls` and `url` none of :data:`PLAIN` either)."""
    heavy = HEAVY + (PLAIN if argv[0] in ("ls", "url") else ())
    stdout, loaded = run_colony(tmp_path, argv, heavy)
    assert "web" in stdout
    assert loaded == [], f"colony {' '.join(argv)} loaded {loaded}"


@pytest.mark.parametrize(
    "argv",
    [["logs", "web"], ["logs", "web", "-n", "5", "--service", "web", "--json"]],
    ids=" ".join,
)
def test_logs_without_follow_loads_nothing_heavy(tmp_path: Path, argv: list[str]) -> None:
    """When `colony logs NAME` prints past lines and ends, it reads them on the bare socket:
    it prints them and has loaded none of :data:`HEAVY` (a followed log streams with httpx)."""
    stdout, loaded = run_colony(tmp_path, argv, HEAVY)
    assert "hello" in stdout
    assert loaded == [], f"colony {' '.join(argv)} loaded {loaded}"


def run_colony(tmp_path: Path, argv: list[str], heavy: tuple[str, ...]) -> tuple[str, list[str]]:
    """Run `colony ARGV` against the stand-in: its stdout and which of ``heavy`` it loaded."""
    answers = {
        "/health": {"pid": 1},
        "/colonies": {"colonies": [COLONY]},
        "/colonies/web": COLONY,
        "/colonies/web/urls": {"urls": {"web": "http://web.web.localhost:7777"}},
        "/colonies/web/logs": {"t": 1.0, "source": "web", "line": "hello"},
    }
    code = f"HEAVY = {heavy!r}\n{SCRIPT}"
    done = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "s.sock"), json.dumps(answers), *argv],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    report = json.loads(done.stderr.strip().splitlines()[-1])
    assert report["code"] in (0, None), done.stderr
    return done.stdout, report["heavy"]


def test_every_command_is_listed_and_a_typo_gets_its_suggestion() -> None:
    """When commands load lazily, `colony --help` still lists each one (in COMMANDS' order,
    nothing missing, nothing extra), and a mistyped one still gets click's suggestion."""
    from click.testing import CliRunner

    from colony.cli import main
    from colony.cli.app import COMMANDS

    shown = CliRunner().invoke(main, ["--help"]).output
    listed = shown.split("Commands:\n", 1)[1].splitlines()
    names = [line.split()[0] for line in listed if line[:3].startswith("  ") and line[2:3] != " "]
    typo = CliRunner().invoke(main, ["lss"])
    assert names == list(COMMANDS)
    assert typo.exit_code == 2
    assert "No such command 'lss'. Did you mean 'ls'?" in typo.output
