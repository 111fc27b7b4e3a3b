"""Request bodies over the served API (issue 13): /openapi.json shows each operation's body
as colony.contract defines it, and a bad body is a one-line 400 naming the field."""

from __future__ import annotations

import httpx

from colony import contract
from colony.api.app import BODIES
from tests.api.conftest import Api


def _http(api: Api) -> httpx.Client:
    return httpx.Client(transport=httpx.HTTPTransport(uds=str(api.socket)), base_url="http://c")


def test_openapi_shows_the_request_bodies(api: Api) -> None:
    with _http(api) as http:
        spec = http.get("/openapi.json").json()
    for (path, method), body in BODIES.items():
        content = spec["paths"][path][method]["requestBody"]["content"]
        assert content["application/json"]["schema"] == contract.json_schema(body), path


def test_a_bad_body_is_a_one_line_400(api: Api) -> None:
    with _http(api) as http:
        answer = http.post("/colonies", json={"name": "web", "repo": 7})
    assert answer.status_code == 400
    assert answer.json()["error"]["message"] == "request body: repo: expected str, got 7"
