"""The API's answers as typed objects (issue 13): colony.contract_responses reads the JSON
Mycelium sends into dataclasses and writes them back unchanged."""

from __future__ import annotations

import copy
import dataclasses
import json

import pytest

from colony.contract_responses import (
    ANSWERS,
    AgentEvent,
    Colonies,
    Colony,
    RemoveResults,
    Session,
    Transition,
    dump,
    load,
    replace,
    schemas,
)
from colony.errors import ColonyError
from tests.answers import colony_json


def test_a_colony_reads_into_attributes() -> None:
    colony = load(Colony, colony_json())
    assert colony.name == "web"
    assert colony.services[0].port == 3000
    assert colony.transitions[1].state == "running"
    assert colony.containment.user is not None
    assert colony.containment.user.uid == 61000
    assert colony.warnings is None
    assert colony.already is None


def test_an_answer_dumps_back_to_the_same_json() -> None:
    """Key for key, in the same order: what ``--json`` prints does not change."""
    sent = {"colonies": [colony_json(), colony_json(name="api", services=[], usage=None)]}
    again = dump(load(Colonies, copy.deepcopy(sent)))
    assert json.dumps(again, indent=2) == json.dumps(sent, indent=2)


def test_the_keys_a_request_adds_come_back_only_when_sent() -> None:
    spawned = colony_json(warnings=["colony.toml: x: unknown key"])
    already = colony_json(already="running")
    assert dump(load(Colony, spawned)) == spawned
    assert dump(load(Colony, already)) == already
    assert load(Colony, already).already == "running"


def test_unknown_keys_are_tolerated_and_kept() -> None:
    """A newer Mycelium's keys: this client ignores them, and ``--json`` still shows them."""
    sent = colony_json(shiny={"new": 1})
    sent["services"][0]["weight"] = 3
    colony = load(Colony, sent)
    assert colony.extra == {"shiny": {"new": 1}}
    assert colony.services[0].extra == {"weight": 3}
    assert dump(colony) == sent


def test_a_missing_key_is_one_line_naming_it() -> None:
    sent = {"colonies": [colony_json()]}
    del sent["colonies"][0]["services"][0]["state"]
    with pytest.raises(ColonyError) as info:
        load(Colonies, sent, "GET /colonies")
    assert str(info.value) == (
        "Mycelium's answer to GET /colonies: colonies[0].services[0].state: missing"
    )
    assert info.value.hint is not None


def test_a_value_of_the_wrong_type_is_one_line_naming_it() -> None:
    with pytest.raises(ColonyError) as info:
        load(Colony, colony_json(created="yesterday"), "GET /colonies/web")
    assert str(info.value) == (
        "Mycelium's answer to GET /colonies/web: created: expected number, got 'yesterday'"
    )
    with pytest.raises(ColonyError, match=r"^Mycelium's answer to a request: expected an obj"):
        load(Colony, [])
    with pytest.raises(
        ColonyError, match=r": services\[0\]\.restarts: expected integer, got True$"
    ):
        load(
            Colony,
            colony_json(services=[{**colony_json()["services"][0], "restarts": True}]),
        )


def test_a_number_stays_as_it_was_sent() -> None:
    """JSON does not tell 3 from 3.0: a float field keeps an int as it came."""
    tr = load(Transition, {"state": "running", "at": 3, "step": None, "reason": None})
    assert tr.at == 3
    assert json.dumps(dump(tr)) == '{"state": "running", "at": 3, "step": null, "reason": null}'


def test_a_removal_with_an_error_reads_and_dumps_back() -> None:
    sent = {
        "results": [
            {
                "name": "a",
                "removed": "a",
                "saved": None,
                "branch": "colony/a",
                "trash": "/t/1",
                "snapshot": None,
            },
            {"name": "b", "error": {"type": "NotFound", "message": "no colony 'b'", "hint": None}},
        ]
    }
    results = load(RemoveResults, sent).results
    assert results[0].error is None
    assert results[1].error is not None
    assert results[1].error.type == "NotFound"
    assert dump(load(RemoveResults, sent)) == sent


def test_the_schemas_describe_every_answer() -> None:
    found = schemas()
    assert set(found) == {cls.__name__ for cls in ANSWERS}
    colony = found["Colony"]
    assert "extra" not in colony["properties"]
    assert "name" in colony["required"]
    assert "warnings" not in colony["required"]
    assert colony["properties"]["services"] == {
        "type": "array",
        "items": {"$ref": "#/components/schemas/Service"},
    }
    assert colony["properties"]["step"] == {"type": "string", "nullable": True}
    assert found["Containment"]["properties"]["user"] == {
        "allOf": [{"$ref": "#/components/schemas/RunsAs"}],
        "nullable": True,
    }


def test_a_session_as_the_api_writes_it_reads_back_whole() -> None:
    """The API writes a session from the same dataclass the client reads: every key the
    daemon's record gives is a field, and a session's events come along typed."""
    from colony.api.agents import session_json
    from colony.core.agents.session import SessionRecord

    rec = SessionRecord(
        id=3, colony="web", agent="claude", format="claude", task="t", argv=("claude",),
        status="completed", user="al", started=10.0, log="/l", ended=12.5, cost=0.5,
    )  # fmt: skip
    events = [{"seq": 1, "at": 11.0, "kind": "init", "text": "", "tool": None, "data": {}}]
    sent = session_json(rec, events)
    session = load(Session, sent)
    assert (session.duration, session.events) == (2.5, [AgentEvent(**events[0])])
    assert session.extra == {}
    assert dump(session) == sent
    assert "events" not in session_json(rec)


def test_an_answer_is_a_frozen_keyword_only_value() -> None:
    """Answers behave as frozen dataclasses: equal by their fields (not by the unknown keys
    they were read with), no assignment, no unknown or missing field; replace keeps extra."""
    one = Transition(state="running", at=1.0)
    other = load(Transition, {"state": "running", "at": 1.0, "new": 1})
    assert one == other
    assert one.step is None
    assert repr(one) == "Transition(state='running', at=1.0, step=None, reason=None)"
    with pytest.raises(dataclasses.FrozenInstanceError):
        one.state = "failed"  # type: ignore[misc]
    with pytest.raises(TypeError, match="unknown fields"):
        Transition(state="running", at=1.0, when=2)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="missing field 'at'"):
        Transition(state="running")  # type: ignore[call-arg]
    moved = replace(other, state="failed")
    assert (moved.state, moved.at, moved.extra) == ("failed", 1.0, {"new": 1})
    assert [f.name for f in Colony.FIELDS][:2] == ["name", "state"]
