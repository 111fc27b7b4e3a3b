"""The WebSocket routes through the real client (issue 13): /events carries what happens to
a colony as it happens, and exec runs a command in a colony with its output and exit code."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from websockets.exceptions import ConnectionClosed

from colony.client import EventStream
from colony.errors import ConfigError, NotFound
from tests.api.conftest import Api, make_repo, settle


def next_event(events: EventStream, kind: str, **match: object) -> dict[str, object]:
    while True:
        event = events.recv(timeout=10)
        assert event is not None, f"no {kind} event {match}"
        if event["type"] == kind and all(event.get(k) == v for k, v in match.items()):
            return event


def test_events_follow_a_colony_and_its_filter(api: Api, tmp_path: Path) -> None:
    """When a client subscribes before a spawn, the colony's states arrive in order; a stream
    filtered to another colony gets none of them."""
    repo = make_repo(tmp_path / "repo", {"README": "x\n"})
    with api.client() as client, client.events() as events, client.events("other") as other:
        client.spawn("ev", repo)
        states = [next_event(events, "state", colony="ev")["state"] for _ in range(3)]
        client.stop("ev")
        stopping = next_event(events, "state", colony="ev", state="stopped")
        assert other.recv(timeout=0.2) is None
    assert states == ["spawning", "starting", "running"]
    assert stopping["colony"] == "ev"


def test_exec_runs_a_command_in_the_colony(api: Api, tmp_path: Path) -> None:
    """When a command runs through exec, its stdin, stdout, stderr and exit code travel over
    the WebSocket, it runs in the colony's workspace, and its start and end are on /events."""
    repo = make_repo(tmp_path / "repo", {"README": "x\n"})
    script = "read line; echo got $line; pwd; echo oops >&2; exit 3"
    with api.client() as client:
        client.spawn("box", repo)
        workspace = settle(client, "box", "running").workspace
        out: dict[str, bytes] = {"stdout": b"", "stderr": b""}
        with client.events("box") as events:
            with client.exec_session("box", ["sh", "-c", script]) as run:
                run.send_stdin(b"ping\n")
                run.close_stdin()
                while (chunk := run.recv(10)) is not None:
                    out[chunk[0]] += chunk[1]
            started = next_event(events, "exec")
            ended = next_event(events, "exec_end")
    assert run.exit_code == 3
    assert out["stdout"].decode().splitlines() == ["got ping", workspace]
    assert out["stderr"] == b"oops\n"
    assert started["argv"] == ["sh", "-c", script]
    assert ended["code"] == 3


def test_malformed_stream_messages_are_one_line(api: Api, tmp_path: Path) -> None:
    """When exec's start message is not JSON or asks for a terminal size no terminal has, the
    answer is a one-line error (these were tracebacks that dropped the connection); when a
    filter sent on /events is not JSON, the stream closes with the reason."""
    repo = make_repo(tmp_path / "repo", {"README": "x\n"})
    with api.client() as client:
        client.spawn("box", repo)
        settle(client, "box", "running")
        with (
            client.exec_session("box", ["true"], cols=70000) as run,
            pytest.raises(
                ConfigError, match=r"^exec: cols: expected an integer 1-65535, got 70000$"
            ),
        ):
            run.recv(10)
        with client._connect("/colonies/box/exec") as raw:
            raw.send("not json")
            answer = json.loads(raw.recv(10))
        with client._connect("/events") as events:
            events.send("not json")
            with pytest.raises(ConnectionClosed) as closed:
                events.recv(10)
    assert answer["error"]["message"] == "exec: expected a JSON object to start the session"
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1003
    assert closed.value.rcvd.reason == 'events: expected a JSON object such as {"colony": "web"}'


def test_exec_in_an_unknown_colony_is_404(api: Api) -> None:
    with (
        api.client() as client,
        client.exec_session("nobody", ["true"]) as run,
        pytest.raises(NotFound, match="nobody"),
    ):
        run.recv(10)
