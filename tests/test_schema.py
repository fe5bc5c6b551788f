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


def test_a_lookup_and_allowed_hosts_are_valid() -> None:
    flow = Flow("orders")
    flow.collect("order", "Enter your order number.", "order", then="ask")
    flow.lookup(
        "ask",
        "https://orders.example.com/orders/{order}",
        method="POST",
        save={"status": "order.status"},
        headers={"Authorization": "Bearer ${ORDERS_TOKEN}"},
        body={"caller": "{from_number}", "tags": ["ivr", 1, None]},
        timeout=2.5,
        prompt="One moment.",
        ok="status",
        failed="sorry",
        timed_out="sorry",
    )
    flow.say("status", "Your order is {status}.", then="sorry")
    flow.hangup("sorry", "Goodbye.")
    flow.allowed_hosts = ["orders.example.com", "127.0.0.1:8765", "[::1]:80"]
    flow.environments = {"dev": {"allowed_hosts": ["localhost:8000"], "x": 1}}
    document = json.loads(json.dumps(flow.to_document()))
    assert document["nodes"]["ask"]["edges"] == {
        "ok": "status",
        "failed": "sorry",
        "timeout": "sorry",
    }
    from_document(document)
    assert [error.message for error in VALIDATOR.iter_errors(document)] == []
    bare = {"kind": "lookup", "url": "http://127.0.0.1:8765/x"}
    document["nodes"]["ask"] = bare
    from_document(document)
    assert VALIDATOR.is_valid(document), "GET and 2 seconds when absent"


def _acme(change: Any) -> dict[str, Any]:
    document = acme().to_document()
    change(document)
    return document


def _lookup(**fields: Any) -> dict[str, Any]:
    return {"kind": "lookup", "url": "https://api.example.com/orders/{order}", **fields}


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
    "lookup url a number": lambda d: d["nodes"].update(ask=_lookup(url=17)),
    "lookup method lowercase": lambda d: d["nodes"].update(ask=_lookup(method="get")),
    "lookup method HEAD": lambda d: d["nodes"].update(ask=_lookup(method="HEAD")),
    "lookup timeout zero": lambda d: d["nodes"].update(ask=_lookup(timeout=0)),
    "lookup timeout past 10": lambda d: d["nodes"].update(ask=_lookup(timeout=10.5)),
    "lookup timeout text": lambda d: d["nodes"].update(ask=_lookup(timeout="2")),
    "lookup timeout true": lambda d: d["nodes"].update(ask=_lookup(timeout=True)),
    "lookup header a number": lambda d: d["nodes"].update(ask=_lookup(headers={"X-Key": 1})),
    "lookup body text": lambda d: d["nodes"].update(ask=_lookup(body="{}")),
    "lookup save to no variable": lambda d: d["nodes"].update(ask=_lookup(save={"a b": "x"})),
    "lookup save path a number": lambda d: d["nodes"].update(ask=_lookup(save={"a": 1})),
    "lookup with values": lambda d: d["nodes"].update(ask=_lookup(values={})),
    "allowed_hosts a string": lambda d: d.update(allowed_hosts="api.example.com"),
    "allowed host a URL": lambda d: d.update(allowed_hosts=["https://api.example.com"]),
    "allowed host with a path": lambda d: d.update(allowed_hosts=["api.example.com/x"]),
    "environment allowed host a URL": lambda d: d.update(
        environments={"dev": {"allowed_hosts": ["http://localhost:8000"]}}
    ),
}


@pytest.mark.parametrize("name", sorted(_REJECTED))
def test_documents_the_file_format_rejects_are_invalid(name: str) -> None:
    document = _acme(_REJECTED[name])
    with pytest.raises(FlowFileError):
        from_document(document)
    assert not VALIDATOR.is_valid(document)
