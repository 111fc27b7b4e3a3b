"""The client's plain requests on a bare Unix socket (issue 15: colony/client/wire.py), against
a real server on a real socket that answers as scripted: bodies by length, in chunks or up
to the close; kept-alive connections reused; and each way of failing as one line."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from colony.client import Client, DaemonUnavailable
from colony.errors import ColonyError, NotFound

Answer = Callable[[bytes], bytes | None]  # the request head → the raw answer (None: close)


class Server:
    """A Unix-socket server answering each request with ``answer``; counts connections."""

    def __init__(self, path: Path, answer: Answer, close: bool) -> None:
        self.close_after = close
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.bind(str(path))
        self.sock.listen()
        self.answer = answer
        self.accepted = 0
        self.open: list[socket.socket] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            self.open.append(conn)
            threading.Thread(target=self._talk, args=(conn,), daemon=True).start()

    def _talk(self, conn: socket.socket) -> None:
        with contextlib.suppress(OSError), conn:  # closed by close()
            self._answer(conn)

    def _answer(self, conn: socket.socket) -> None:
        data = b""
        while True:
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                data += chunk
            head, _, data = data.partition(b"\r\n\r\n")
            answer = self.answer(head)
            if answer is None:
                return
            conn.sendall(answer)
            if self.close_after or b"connection: close" in answer.lower():
                return

    def close(self) -> None:
        self.sock.close()
        for conn in self.open:
            conn.close()


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[..., tuple[Server, Client]]]:
    """``serve(answer, close=False)``: a server answering with ``answer`` (closing each
    connection after its first answer with ``close``) and a client of it."""
    made: list[tuple[Server, Client]] = []

    def start(answer: Answer, close: bool = False) -> tuple[Server, Client]:
        server = Server(tmp_path / "s.sock", answer, close)
        made.append((server, Client(tmp_path / "s.sock", timeout=2)))
        return made[-1]

    yield start
    for server, client in made:
        client.close()
        server.close()


def sized(body: bytes, status: str = "200 OK", extra: str = "") -> bytes:
    head = f"HTTP/1.1 {status}\r\ncontent-length: {len(body)}\r\n{extra}\r\n"
    return head.encode() + body


def test_bodies_by_length_in_chunks_and_to_the_close(
    serve: Callable[..., tuple[Server, Client]],
) -> None:
    """When the answers come by length, in chunks (with a trailer) and up to the close, each
    is read whole; the kept-alive connection carries the first two, the third closes it and
    the next request opens a new one."""
    answers = {
        b"/a": sized(b'{"a": 1}'),
        b"/b": b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n"
        b'3\r\n{"b\r\n5;x=y\r\n": 2}\r\n0\r\nx-trailer: 1\r\n\r\n',
        b"/c": b'HTTP/1.1 200 OK\r\nconnection: close\r\n\r\n{"c": 3}',
    }
    server, client = serve(lambda head: answers.get(head.split(b" ")[1].split(b"?")[0]))
    got = [client._request("GET", p, params={"q": "x y"}) for p in ("/a", "/b", "/c", "/a")]
    assert got == [{"a": 1}, {"b": 2}, {"c": 3}, {"a": 1}]
    assert server.accepted == 2


def test_a_connection_the_server_closed_while_idle_is_not_reused(
    serve: Callable[..., tuple[Server, Client]],
) -> None:
    """When the server closes a kept-alive connection between two requests, the second one
    goes on a new connection and succeeds."""
    server, client = serve(lambda head: sized(b"{}"))
    assert client.health() == {}
    for conn in server.open:
        conn.shutdown(socket.SHUT_RDWR)
    assert client.health() == {}
    assert server.accepted == 2


def test_an_api_error_is_its_colony_error(serve: Callable[..., tuple[Server, Client]]) -> None:
    """When Mycelium answers with an error body, the matching ColonyError with its hint."""
    body = b'{"error": {"type": "NotFound", "message": "colony \'x\' not found", "hint": "h"}}'
    _, client = serve(lambda head: sized(body, "404 Not Found"))
    with pytest.raises(NotFound, match=r"^colony 'x' not found$") as caught:
        client.colony("x")
    assert caught.value.hint == "h"


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (lambda head: None, r"^lost the connection to Mycelium: Mycelium closed the connection"),
        (lambda head: b"SSH-2.0-x\r\n\r\n", r"^lost the connection to Mycelium during GET "),
        (
            lambda head: b"HTTP/1.1 200 OK\r\ncontent-length: 9\r\n\r\n{}",
            r"^lost the connection to Mycelium: Mycelium closed the connection in the middle",
        ),
        (lambda head: sized(b"not json"), r"^Mycelium answered GET /health with invalid JSON$"),
    ],
    ids=["closed", "not-http", "cut-short", "not-json"],
)
def test_a_broken_answer_is_one_line(
    serve: Callable[..., tuple[Server, Client]], answer: Answer, message: str
) -> None:
    """When the answer is missing, not HTTP, cut short or not JSON, one line says so."""
    _, client = serve(answer, close=True)
    with pytest.raises(ColonyError, match=message):
        client.health()


def test_no_answer_in_time_and_no_daemon_are_one_line(
    serve: Callable[..., tuple[Server, Client]], tmp_path: Path
) -> None:
    """When Mycelium does not answer within the timeout, or nothing listens on the socket,
    one line says which, with what to do."""
    _, client = serve(lambda head: b"")  # sends nothing, keeps the connection open
    with pytest.raises(ColonyError, match=r"^Mycelium did not answer GET /health in time$"):
        client.health()
    with (
        Client(tmp_path / "none.sock") as nobody,
        pytest.raises(DaemonUnavailable, match=r"^Mycelium is not running") as caught,
    ):
        nobody.health()
    assert "colony daemon start" in str(caught.value.hint)
