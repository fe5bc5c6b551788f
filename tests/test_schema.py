"""The shipped JSON Schema agrees with the file format: what one accepts, the other accepts."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from strategies import documents

from jaxl_designer.core.examples import EXAMPLES, acme
from jaxl_designer.core.fileformat import FlowFileError, from_document
from jaxl_designer.core.flow import FIELDS, FORMAT, KINDS, Flow
from jaxl_designer.core.schema import flow_schema

VALIDATOR = jsonschema.Draft202012Validator(flow_schema())


def test_the_schema_is_a_valid_draft_2020_12_schema() -> None:
    schema = flow_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["properties"]["format"] == {"const": FORMAT}


def test_the_schema_knows_every_kind_and_field() -> None:
    schema = flow_schema()
    assert schema["$defs"]["node"]["properties"]["kind"]["enum"] == list(KINDS)
    for kind, fields in FIELDS.items():
        assert set(schema["$defs"][kind]["properties"]) == {"kind", "edges", *fields}


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_example_documents_are_valid(name: str) -> None:
    flow = EXAMPLES[name]()
    flow.layout = {node: [index * 120.5, -40] for index, node in enumerate(flow.nodes)}
    flow.recovery = {"action": "hangup", "prompt": ["Sorry."]}
    VALIDATOR.validate(json.loads(json.dumps(flow.to_document())))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents())
def test_documents_the_file_format_accepts_are_valid(document: dict[str, Any]) -> None:
    from_document(document)
    assert [error.message for error in VALIDATOR.iter_errors(document)] == []


def test_a_set_node_and_a_transfer_with_a_way_out_are_valid() -> None:
    flow = Flow("agents")
    flow.set("pick", {"agent_phone": "+91{from_number}", "note": ""}, then="go")
    flow.transfer("go", phone="{agent_phone}", invalid="sorry")
    flow.hangup("sorry", "Sorry.")
    document = json.loads(json.dumps(flow.to_document()))
    assert document["nodes"]["pick"]["values"] == {"agent_phone": "+91{from_number}", "note": ""}
    assert document["nodes"]["go"]["edges"] == {"invalid": "sorry"}
    from_document(document)
    assert [error.message for error in VALIDATOR.iter_errors(document)] == []


def _acme(change: Any) -> dict[str, Any]:
    document = acme().to_document()
    change(document)
    return document


_REJECTED = {
    "wrong version": lambda d: d.update(version=2),
    "version true": lambda d: d.update(version=True),
    "unknown top-level field": lambda d: d.update(colour="red"),
    "no nodes": lambda d: d.pop("nodes"),
    "unknown kind": lambda d: d["nodes"]["sales"].update(kind="queue"),
    "missing kind": lambda d: d["nodes"]["sales"].pop("kind"),
    "collect without var": lambda d: d["nodes"]["order"].pop("var"),
    "field of another kind": lambda d: d["nodes"]["sales"].update(prompt=["Hi"]),
    "prompt a string": lambda d: d["nodes"]["main"].update(prompt="Hello"),
    "max_invalid zero": lambda d: d["nodes"]["main"].update(max_invalid=0),
    "teams as text": lambda d: d["nodes"]["sales"].update(teams="101"),
    "edge to a number": lambda d: d["nodes"]["main"]["edges"].update({"1": 5}),
    "rule without test": lambda d: d["nodes"].update(
        route={"kind": "branch", "rules": [{"outcome": "x"}]}
    ),
    "empty node id": lambda d: d["nodes"].update({"": {"kind": "hangup"}}),
    "layout point of three": lambda d: d.update(layout={"main": [1, 2, 3]}),
    "recovery extra field": lambda d: d.update(
        recovery={"action": "hangup", "prompt": [], "after": 3}
    ),
    "set values a list": lambda d: d["nodes"].update(pick={"kind": "set", "values": ["x"]}),
    "set value a number": lambda d: d["nodes"].update(pick={"kind": "set", "values": {"x": 1}}),
    "set with a prompt": lambda d: d["nodes"].update(
        pick={"kind": "set", "values": {}, "prompt": ["Hi"]}
    ),
}


@pytest.mark.parametrize("name", sorted(_REJECTED))
def test_documents_the_file_format_rejects_are_invalid(name: str) -> None:
    document = _acme(_REJECTED[name])
    with pytest.raises(FlowFileError):
        from_document(document)
    assert not VALIDATOR.is_valid(document)
