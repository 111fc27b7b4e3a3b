"""The API's answers over the served API (issue 13): /openapi.json documents each answer as
colony.contract_responses defines it, and what Mycelium sends reads into those dataclasses
and writes back to the very same JSON (what `--json` prints)."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
from click.testing import CliRunner

from colony import contract_responses as answers
from colony.api.app import ANSWERS
from colony.cli import main
from tests.api.conftest import Api, make_repo, settle

WEB = '[services.web]\ncommand = "sleep 300"\n'


def _http(api: Api) -> httpx.Client:
    return httpx.Client(transport=httpx.HTTPTransport(uds=str(api.socket)), base_url="http://c")


def test_openapi_shows_the_answers(api: Api) -> None:
    with _http(api) as http:
        spec = http.get("/openapi.json").json()
    assert spec["components"]["schemas"] == answers.schemas()
    for (path, method), (status, answer) in ANSWERS.items():
        content = spec["paths"][path][method]["responses"][status]["content"]
        assert content["application/json"]["schema"] == answers.schema_of(answer), path


def test_what_mycelium_sends_reads_and_writes_back_the_same(api: Api, tmp_path: Path) -> None:
    """Each answer of a colony's life loads into its dataclass with no key left over, and
    dumps back to the JSON Mycelium sent, key for key and in order; `colony ls --json` and
    `colony show --json` print it as sent."""
    repo = make_repo(tmp_path / "repo", {"colony.toml": WEB})
    with api.client() as client, _http(api) as http:
        spawned = http.post("/colonies", json={"name": "web", "repo": str(repo)}).json()
        settle(client, "web", "running")
        listed = http.get("/colonies").json()
        shown = http.get("/colonies/web").json()
        urls = http.get("/colonies/web/urls").json()
        cli = CliRunner()
        ls = cli.invoke(main, ["--socket", str(api.socket), "ls", "--json"])
        show = cli.invoke(main, ["--socket", str(api.socket), "show", "web", "--json"])
        removed = http.delete("/colonies/web", params={"force": "true"}).json()
    for cls, sent in [
        (answers.Colony, spawned),
        (answers.Colonies, listed),
        (answers.Colony, shown),
        (answers.Urls, urls),
        (answers.Removed, removed),
    ]:
        typed = answers.load(cls, sent)
        assert typed.extra == {}, cls
        assert json.dumps(answers.dump(typed)) == json.dumps(sent), cls
    assert ls.exit_code == 0, ls.output
    assert show.exit_code == 0, show.output
    printed = json.loads(ls.output)["colonies"][0]
    assert printed["name"] == "web"
    assert list(printed) == list(listed["colonies"][0])  # the same keys, in the same order
    assert list(json.loads(show.output)) == list(shown)
