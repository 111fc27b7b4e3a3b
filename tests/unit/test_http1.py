"""HTTP/1.1 framing for the preview proxy: heads, body framing, chunk sizes, error pages."""

from __future__ import annotations

import pytest

from colony.core.http1 import (
    CHUNKED,
    UNTIL_CLOSE,
    Follower,
    Head,
    Malformed,
    TooLarge,
    one_host,
    parse_chunk_size,
    parse_head,
    render_error_page,
    request_framing,
    response_framing,
)


def request(*headers: str, start: str = "POST /a?b=1 HTTP/1.1") -> bytes:
    return "\r\n".join([start, *headers, "", ""]).encode("latin-1")


def test_parse_request_head_lowercases_names_and_strips_values():
    head = parse_head(request("Host: web.shop.localhost", "X-A:\t one "), request=True)
    assert head.start == ["POST", "/a?b=1", "HTTP/1.1"]
    assert head.headers == [("host", "web.shop.localhost"), ("x-a", "one")]
    assert one_host(head) == "web.shop.localhost"


@pytest.mark.parametrize(
    "raw",
    [
        request("Host: a", start="GET / HTTP/2"),
        request("Host: a", start="G(T / HTTP/1.1"),
        request("Host : a"),
        request("Host: a", " folded"),
        request("Host: a\0"),
    ],
)
def test_parse_request_head_refuses(raw):
    with pytest.raises(Malformed):
        parse_head(raw, request=True)


def test_parse_response_head():
    head = parse_head(b"HTTP/1.1 204 No Content\r\nServer: x\r\n\r\n", request=False)
    assert head.start[1] == "204"
    with pytest.raises(Malformed, match="bad status line"):
        parse_head(b"HTTP/1.1 20 OK\r\n\r\n", request=False)


@pytest.mark.parametrize("hosts", [(), ("Host: a", "Host: b"), ("Host: ",)])
def test_one_host_wants_exactly_one(hosts):
    with pytest.raises(Malformed, match="exactly one Host"):
        one_host(parse_head(request(*hosts), request=True))


@pytest.mark.parametrize(
    ("headers", "framing"),
    [
        ((), 0),
        (("Content-Length: 12",), 12),
        (("Content-Length: 12, 12",), 12),
        (("Transfer-Encoding: gzip, chunked",), CHUNKED),
    ],
)
def test_request_framing(headers, framing):
    assert request_framing(parse_head(request(*headers), request=True)) == framing


@pytest.mark.parametrize(
    "headers",
    [
        ("Content-Length: 1", "Transfer-Encoding: chunked"),  # smuggling
        ("Transfer-Encoding: chunked, gzip",),
        ("Content-Length: 1", "Content-Length: 2"),
        ("Content-Length: -1",),
    ],
)
def test_request_framing_refuses_ambiguity(headers):
    with pytest.raises(Malformed):
        request_framing(parse_head(request(*headers), request=True))


@pytest.mark.parametrize(
    ("headers", "status", "method", "framing"),
    [
        ("Content-Length: 5", 200, "HEAD", 0),
        ("Content-Length: 5", 304, "GET", 0),
        ("Content-Length: 5", 200, "GET", 5),
        ("Transfer-Encoding: chunked", 200, "GET", CHUNKED),
        ("Transfer-Encoding: gzip", 200, "GET", UNTIL_CLOSE),
        ("Content-Length: x", 200, "GET", UNTIL_CLOSE),
        ("Server: x", 200, "GET", UNTIL_CLOSE),
    ],
)
def test_response_framing(headers, status, method, framing):
    head = parse_head(f"HTTP/1.1 {status} X\r\n{headers}\r\n\r\n".encode(), request=False)
    assert response_framing(head, status, method) == framing


def test_parse_chunk_size():
    assert parse_chunk_size(b"1aF;name=value\r\n") == 0x1AF
    assert parse_chunk_size(b"0\r\n") == 0
    for bad in (b"\r\n", b"-1\r\n", b"0x10\r\n", b"1" * 17 + b"\r\n"):
        with pytest.raises(Malformed, match="bad chunk size"):
            parse_chunk_size(bad)


def test_render_error_page_escapes_and_closes():
    page = render_error_page(404, "no colony preview at <x>")
    head, body = page.split(b"\r\n\r\n", 1)
    assert head.startswith(b"HTTP/1.1 404 Not Found\r\n")
    assert b"Connection: close" in head
    assert f"Content-Length: {len(body)}".encode() in head
    assert b"&lt;x&gt;" in body


def _follow(data: list[bytes], framing=request_framing, request: bool = True) -> list[object]:
    follower = Follower(framing, request=request)
    out: list[object] = []
    for piece in data:
        out += follower.feed(piece)
    return out


def test_follower_passes_the_same_bytes_and_marks_each_message():
    """Issue 15: whatever pieces the bytes come in, the follower returns them unchanged,
    each head parsed, and None where each message ends (length, chunked, none)."""
    chunked = (
        b"POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"3;x=y\r\nabc\r\n0\r\nTrailer: t\r\n\r\n"
    )
    stream = request("Host: a", "Content-Length: 5") + b"hello" + chunked + request("Host: a")
    for size in (1, 2, 7, len(stream)):
        items = _follow([stream[i : i + size] for i in range(0, len(stream), size)])
        heads = [i for i in items if isinstance(i, Head)]
        assert [h.start[1] for h in heads] == ["/a?b=1", "/c", "/a?b=1"]
        assert items.count(None) == 3
        passed = b"".join(i.raw if isinstance(i, Head) else i for i in items if i is not None)
        assert passed == stream


def test_follower_refuses_bad_requests_but_passes_bad_responses():
    """A request it cannot follow stops it with the reason; a response passes untouched."""
    follower = Follower(request_framing, request=True)
    good = request("Host: a")
    items = follower.feed(good + b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: x\r\n\r\n")
    assert items == [parse_head(good, request=True), None]
    assert isinstance(follower.error, Malformed)
    assert follower.error.status == 400
    assert follower.feed(b"more") == []
    huge = Follower(request_framing, request=True)
    huge.feed(b"GET / HTTP/1.1\r\nX: " + b"x" * 70_000)
    assert isinstance(huge.error, TooLarge)
    assert huge.error.status == 431
    responses = Follower(lambda h: response_framing(h, 200, "GET"), request=False)
    assert responses.feed(b"HTTP/1.1 200 OK\r\nBad Line\r\n\r\nrest") == [
        b"HTTP/1.1 200 OK\r\nBad Line\r\n\r\nrest"
    ]
    assert responses.raw


def test_follower_holds_after_a_request_that_may_switch():
    """With ``hold`` set, what follows the message waits until release(): then it is more
    HTTP, or raw bytes when the request switched."""

    def framing(head: Head) -> int:
        follower.hold = True  # as the proxy's framing does for an Upgrade
        return request_framing(head)

    follower = Follower(framing, request=True)
    upgrade = request("Host: a", "Upgrade: websocket")
    items = follower.feed(upgrade + b"\x81\x05hello")
    assert items == [parse_head(upgrade, request=True), None]
    assert follower.holding == 7
    assert follower.release(raw=True) == [b"\x81\x05hello"]
    assert follower.feed(b"more") == [b"more"]


def test_follower_on_end_counts_each_message():
    ends: list[int] = []
    follower = Follower(
        lambda h: response_framing(h, int(h.start[1]), "GET"),
        request=False,
        on_end=lambda: ends.append(follower.size),
    )
    one = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    follower.feed(one + one[:10])
    follower.feed(one[10:])
    assert ends == [len(one), len(one)]
