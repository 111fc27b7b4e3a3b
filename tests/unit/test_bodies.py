"""Request bodies, written once in colony.contract (issue 13): what the API decodes, the
one-line errors of a bad body, the schemas /openapi.json shows."""

from __future__ import annotations

import pytest

from colony.contract import (
    AgentRun,
    BroodSpawn,
    Merge,
    Spawn,
    Undo,
    decode,
    json_schema,
    to_json,
)
from colony.errors import ConfigError


def test_a_body_takes_defaults_for_missing_and_null_fields() -> None:
    assert decode(Merge, {"into": "main", "message": None}) == Merge(into="main")


def test_unknown_fields_are_ignored() -> None:
    assert decode(Undo, {"to": 2, "later": True}) == Undo(to=2)


def test_what_the_client_sends_decodes_to_itself() -> None:
    body = BroodSpawn(repo="/r", objective="fix", count=3, env={"K": "v"})
    assert decode(BroodSpawn, to_json(body)) == body


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"repo": "/r"}, "request body: name: required"),
        ({"name": "web", "repo": 5}, "request body: repo: expected str, got 5"),
        (
            {"name": "web", "repo": "/r", "sockets": "/run/x"},
            "request body: sockets: expected list, got '/run/x'",
        ),
    ],
)
def test_a_bad_field_is_named_with_its_value_and_what_was_expected(
    body: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigError) as exc:
        decode(Spawn, body)
    assert str(exc.value) == message


def test_env_must_be_an_object_of_strings() -> None:
    with pytest.raises(ConfigError, match=r"^request body: env: expected an object of strings$"):
        decode(AgentRun, {"env": {"K": 1}})


def test_a_body_that_is_no_object_is_refused() -> None:
    with pytest.raises(ConfigError, match="expected a JSON object"):
        decode(Merge, [1])


def test_the_schema_says_types_defaults_and_what_is_required() -> None:
    schema = json_schema(Spawn)
    assert schema["required"] == ["name", "repo"]
    assert schema["properties"]["name"] == {"type": "string"}
    assert schema["properties"]["rev"] == {"type": "string", "nullable": True}
    agent = json_schema(AgentRun)["properties"]
    assert agent["env"] == {"type": "object", "additionalProperties": {"type": "string"}}
    assert agent["task"] == {"type": "string", "default": ""}
