"""Flow JSON v1: exact round trips, atomic saves, diff-friendly text, one-line errors."""

from __future__ import annotations

import difflib
import json
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from strategies import documents

from jaxl_designer.core.examples import EXAMPLES, acme
from jaxl_designer.core.fileformat import FlowFileError, dumps, from_document, load, loads, save
from jaxl_designer.core.flow import Flow


def _acme_document() -> dict[str, Any]:
    return acme().to_document()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents())
def test_random_flows_round_trip_exactly(document: dict[str, Any]) -> None:
    flow = from_document(document)
    text = dumps(flow)
    again = loads(text)
    assert again == flow
    assert dumps(again) == text
    assert again.nodes == flow.nodes
    assert again.entry == flow.entry
    assert {n: again.edges(n) for n in again.nodes} == {n: flow.edges(n) for n in flow.nodes}


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_examples_round_trip_through_a_file(name: str, tmp_path: Path) -> None:
    flow = EXAMPLES[name]()
    path = save(flow, tmp_path / f"{name}.json")
    assert load(path) == flow
    assert path.read_text(encoding="utf-8") == dumps(flow)


def test_unicode_is_written_as_it_is() -> None:
    flow = EXAMPLES["language"]()
    text = dumps(flow)
    assert "हिंदी" in text and "\\u" not in text
    assert text.endswith("}\n")


def test_save_replaces_the_file(tmp_path: Path) -> None:
    path = tmp_path / "flow.json"
    path.write_text("old", encoding="utf-8")
    save(acme(), path)
    assert load(path) == acme()
    assert [p.name for p in tmp_path.iterdir()] == ["flow.json"]


def test_a_crash_while_saving_leaves_the_old_file_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "flow.json"
    save(acme(), path)
    before = path.read_bytes()
    changed = acme()
    changed.remove("sales")

    def crash(source: Any, target: Any) -> None:
        raise OSError("disk gone")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="disk gone"):
        save(changed, path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["flow.json"], "no temporary file is left"


def test_moving_a_node_changes_only_layout_lines() -> None:
    flow = acme()
    flow.layout = {node: [index * 100, 0] for index, node in enumerate(flow.nodes)}
    before = dumps(flow).splitlines()
    flow.layout["confirm"] = [350.5, 120]
    after = dumps(flow).splitlines()
    layout_start = before.index('  "layout": {')
    assert after.index('  "layout": {') == layout_start
    changes = [
        op for op in difflib.SequenceMatcher(a=before, b=after).get_opcodes() if op[0] != "equal"
    ]
    assert changes, "the move is saved"
    assert all(i1 > layout_start and j1 > layout_start for _, i1, _, j1, _ in changes)
    assert json.loads("\n".join(after))["layout"]["confirm"] == [350.5, 120]


def test_the_same_flow_built_in_another_order_gives_the_same_text() -> None:
    first = Flow("order")
    first.menu("main", "Press 1 or 2.", keys={"1": "a", "2": "b", "invalid": "main"})
    first.collect("a", "Number?", "n", then="b", invalid="a")
    first.hangup("b", "Bye.")
    first.layout = {"b": [2, 2], "a": [1, 1], "main": [0, 0]}

    second = Flow("order")
    second.add("main", "menu", prompt=["Press 1 or 2."])
    second.add("a", "collect", prompt=["Number?"], var="n", terminator="#")
    second.add("b", "hangup", prompt=["Bye."])
    second.connect("a", "invalid", "a")
    second.connect("main", "invalid", "main")
    second.connect("a", "ok", "b")
    second.connect("main", "2", "b")
    second.connect("main", "1", "a")
    second.layout = {"main": [0, 0], "a": [1, 1], "b": [2, 2]}
    assert dumps(second) == dumps(first)


def _text(document: Any) -> str:
    return json.dumps(document, indent=2)


def _with(change: Any) -> str:
    document = _acme_document()
    change(document)
    return _text(document)


def _set(path: str, value: Any) -> Any:
    *parents, last = path.split(".")

    def change(document: dict[str, Any]) -> None:
        for part in parents:
            document = document[part]
        document[last] = value

    return change


def _drop(path: str) -> Any:
    *parents, last = path.split(".")

    def change(document: dict[str, Any]) -> None:
        for part in parents:
            document = document[part]
        del document[last]

    return change


_BAD_TEXTS = {
    "truncated": (_text(_acme_document())[:200], "not valid JSON: "),
    "wrong version": (_with(_set("version", 2)), "version: version 2 is not supported"),
    "version true": (_with(_set("version", True)), "version: version True is not supported"),
    "not a flow": (_with(_set("format", "other")), "format: expected"),
    "unknown kind": (_with(_set("nodes.sales.kind", "queue")), "nodes.sales.kind: unknown kind"),
    "kind a list": (_with(_set("nodes.sales.kind", ["menu"])), "nodes.sales.kind: unknown kind"),
    "missing kind": (_with(_drop("nodes.sales.kind")), "nodes.sales: missing field 'kind'"),
    "missing var": (_with(_drop("nodes.order.var")), "nodes.order: missing field 'var'"),
    "missing nodes": (_with(_drop("nodes")), "<string>: missing field 'nodes'"),
    "prompt a string": (
        _with(_set("nodes.main.prompt", "Hello")),
        "nodes.main.prompt: expected a list of strings, found a string",
    ),
    "max_invalid zero": (_with(_set("nodes.main.max_invalid", 0)), "nodes.main.max_invalid:"),
    "length true": (_with(_set("nodes.order.length", True)), "nodes.order.length: expected"),
    "bad var": (_with(_set("nodes.order.var", "order number")), "nodes.order.var: expected"),
    "bad terminator": (_with(_set("nodes.order.terminator", "5")), "nodes.order.terminator:"),
    "teams not ids": (_with(_set("nodes.sales.teams", ["a"])), "nodes.sales.teams: expected"),
    "field of another kind": (
        _with(_set("nodes.sales.prompt", ["Hi"])),
        "nodes.sales.prompt: a transfer node has no such field",
    ),
    "edges a list": (_with(_set("nodes.main.edges", ["sales"])), "nodes.main.edges: expected"),
    "edge to a number": (_with(_set("nodes.main.edges.1", 5)), "nodes.main.edges.1: expected"),
    "node a string": (_with(_set("nodes.sales", "transfer")), "nodes.sales: expected an object"),
    "empty node id": (_with(_set("nodes.", {"kind": "hangup"})), "nodes: a node id is empty"),
    "name a number": (_with(_set("name", 7)), "name: expected a string, found a number"),
    "entry a list": (_with(_set("entry", ["main"])), "entry: expected a node id"),
    "unknown top-level field": (_with(_set("colour", "red")), "colour: unknown top-level field"),
    "layout a list": (_with(_set("layout", [])), "layout: expected an object"),
    "layout point of three": (_with(_set("layout", {"main": [1, 2, 3]})), "layout.main: expected"),
    "layout point text": (_with(_set("layout", {"main": ["1", 2]})), "layout.main: expected [x"),
    "recovery action": (
        _with(_set("recovery", {"action": "retry", "prompt": []})),
        "recovery.action: expected",
    ),
    "recovery extra field": (
        _with(_set("recovery", {"action": "hangup", "prompt": [], "after": 3})),
        "recovery.after: a recovery has no such field",
    ),
    "environment values": (_with(_set("environments", {"dev": 1})), "environments.dev:"),
    "rule without test": (
        _with(_set("nodes.sales", {"kind": "branch", "rules": [{"outcome": "x"}], "edges": {}})),
        "nodes.sales.rules[0].test: expected one of",
    ),
    "line break in an id": (
        _with(_set("nodes.a\nb", {"kind": 7})),
        "nodes.a\\nb.kind: unknown kind 7",
    ),
    "set values a list": (
        _with(_set("nodes.pick", {"kind": "set", "values": ["agent_phone"]})),
        "nodes.pick.values: expected an object of text values, found a list",
    ),
    "set value a number": (
        _with(_set("nodes.pick", {"kind": "set", "values": {"agent_phone": 918000}})),
        "nodes.pick.values.agent_phone: expected text, found a number",
    ),
    "set with a prompt": (
        _with(_set("nodes.pick", {"kind": "set", "values": {}, "prompt": ["Hi"]})),
        "nodes.pick.prompt: a set node has no such field",
    ),
    "top level a list": ("[]", "<string>: expected a JSON object at the top"),
    "duplicate key": (
        '{"format": "jaxl-designer/flow", "version": 1, "nodes": {"a": {}, "a": {}}}',
        "not valid JSON: duplicate key 'a'",
    ),
}


@pytest.mark.parametrize("name", sorted(_BAD_TEXTS))
def test_a_bad_file_is_one_line_naming_the_place(name: str) -> None:
    text, place = _BAD_TEXTS[name]
    with pytest.raises(FlowFileError) as caught:
        loads(text)
    message = str(caught.value)
    assert place in message
    assert message.startswith("<string>")
    assert "\n" not in message and "Traceback" not in message


def test_truncated_json_names_line_and_column() -> None:
    with pytest.raises(FlowFileError, match=r"^flow\.json:3:1: not valid JSON: ") as caught:
        loads('{\n  "format": "jaxl-designer/flow",\n', "flow.json")
    assert "\n" not in str(caught.value)


def test_a_file_that_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin.json"
    path.write_bytes(_text(_acme_document()).replace("Acme", "Acmé").encode("latin-1"))
    with pytest.raises(FlowFileError) as caught:
        load(path)
    assert str(caught.value).startswith(f"{path}: not UTF-8 text (byte ")
    assert "\n" not in str(caught.value)


def test_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FlowFileError, match=r": no such file$") as caught:
        load(tmp_path / "gone.json")
    assert str(caught.value) == f"{tmp_path / 'gone.json'}: no such file"


def test_load_names_the_file_in_errors(tmp_path: Path) -> None:
    path = tmp_path / "flow.json"
    path.write_text(_with(_set("nodes.main.prompt", "Hello")), encoding="utf-8")
    with pytest.raises(FlowFileError) as caught:
        load(path)
    assert str(caught.value).startswith(f"{path}: nodes.main.prompt: ")


def agents() -> Flow:
    flow = Flow("agents")
    flow.collect("code", "Enter the code.", "code", then="pick")
    flow.set("pick", {"agent_phone": "+9180000{code}", "greeting": "नमस्ते {metadata.name}"})
    flow.connect("pick", "next", "go")
    flow.transfer("go", phone="{agent_phone}", invalid="sorry")
    flow.hangup("sorry", "Sorry.")
    return flow


def test_a_set_node_and_a_templated_transfer_round_trip_through_a_file(tmp_path: Path) -> None:
    flow = agents()
    path = save(flow, tmp_path / "agents.json")
    again = load(path)
    assert again == flow
    assert again.node("pick")["values"] == {
        "agent_phone": "+9180000{code}",
        "greeting": "नमस्ते {metadata.name}",
    }
    assert list(again.node("pick")["values"]) == ["agent_phone", "greeting"], "order is kept"
    assert again.edges("pick") == {"next": "go"}
    assert again.node("go")["phone"] == "{agent_phone}"
    assert again.edges("go") == {"invalid": "sorry"}
    written = json.loads(path.read_text(encoding="utf-8"))["nodes"]
    assert written["pick"] == {
        "kind": "set",
        "values": {"agent_phone": "+9180000{code}", "greeting": "नमस्ते {metadata.name}"},
        "edges": {"next": "go"},
    }


def test_missing_optional_parts_take_defaults() -> None:
    flow = loads('{"format": "jaxl-designer/flow", "version": 1, "nodes": {}}')
    assert (flow.name, flow.entry, flow.description, flow.recovery) == ("untitled", None, "", None)
    assert flow.layout == {} and flow.environments == {}


def test_edges_to_unknown_nodes_are_kept() -> None:
    document = _acme_document()
    document["nodes"]["main"]["edges"]["3"] = "nowhere"
    flow = from_document(document)
    assert flow.edges("main")["3"] == "nowhere"
    assert "nowhere" not in flow.nodes
    assert from_document(document).to_document() == document


def test_json_nested_too_deeply_is_one_line_not_a_recursion_error() -> None:
    with pytest.raises(FlowFileError) as error:
        loads("[" * 100_000 + "]" * 100_000, "deep.json")
    assert str(error.value) == "deep.json: not a flow file: JSON nested too deeply"


def test_a_lookup_just_added_without_a_url_saves_and_loads_back(tmp_path) -> None:
    """A lookup dropped on the canvas has no URL yet: the file keeps it, validation says so."""
    from jaxl_designer.core.validation import validate

    flow = Flow("draft")
    flow.add("find", "lookup")
    path = tmp_path / "draft.json"
    save(flow, path)
    again = load(path)
    assert again == flow
    assert [(p.code, p.node) for p in validate(again) if p.code == "bad-url"] == [
        ("bad-url", "find")
    ]
