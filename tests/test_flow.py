"""The flow model: building, editing, copying and writing out a call tree."""

from __future__ import annotations

import networkx as nx
import pytest

from jaxl_designer.core.examples import acme
from jaxl_designer.core.flow import FIELDS, KINDS, Flow, edge_order
from jaxl_designer.core.runtime import KEYS


def test_every_kind_has_a_builder() -> None:
    flow = Flow("all")
    flow.menu("main", "Press 1.", keys={"1": "ask", "invalid": "main"}, max_invalid=2)
    flow.collect("ask", ["Your number?"], "number", then="route", invalid="ask")
    flow.branch(
        "route",
        [{"outcome": "vip", "test": "prefix", "subject": "number", "value": "9"}],
        outcomes={"vip": "boss", "default": "hello"},
    )
    flow.say("hello", "Hello.", then="bye")
    flow.hangup("bye", "Bye.")
    flow.transfer("boss", phone="+918000000001", from_number="+918000000002")
    flow.subflow("sub", "collect_and_confirm", {"var": "x"}, exits={"confirmed": "bye"})
    flow.set("pick", {"agent": "+91{number}"}, then="boss")
    flow.lookup(
        "find",
        "https://api.example.com/agents/{number}",
        save={"agent_phone": "agent.phone"},
        ok="boss",
        failed="bye",
        timed_out="bye",
    )
    kinds = {node: flow.kind(node) for node in flow.nodes}
    assert kinds == {
        "main": "menu",
        "ask": "collect",
        "route": "branch",
        "hello": "say",
        "bye": "hangup",
        "boss": "transfer",
        "sub": "subflow",
        "pick": "set",
        "find": "lookup",
    }
    assert set(kinds.values()) == set(KINDS), "a builder for every kind"
    assert flow.node("pick") == {"kind": "set", "values": {"agent": "+91{number}"}}
    assert flow.edges("pick") == {"next": "boss"}
    assert flow.node("main") == {"kind": "menu", "prompt": ["Press 1."], "max_invalid": 2}
    assert flow.node("ask") == {
        "kind": "collect",
        "prompt": ["Your number?"],
        "var": "number",
        "terminator": "#",
    }
    assert flow.edges("ask") == {"ok": "route", "invalid": "ask"}
    assert flow.edges("route") == {"vip": "boss", "default": "hello"}
    assert flow.edges("hello") == {"next": "bye"}
    assert flow.node("bye") == {"kind": "hangup", "prompt": ["Bye."]}
    assert flow.node("boss")["from_number"] == "+918000000002"
    assert flow.node("sub") == {
        "kind": "subflow",
        "piece": "collect_and_confirm",
        "params": {"var": "x"},
    }
    assert flow.entry == "main", "the first node added is the entry"
    assert flow.node("find") == {
        "kind": "lookup",
        "prompt": [],
        "url": "https://api.example.com/agents/{number}",
        "save": {"agent_phone": "agent.phone"},
    }
    assert flow.edges("find") == {"ok": "boss", "failed": "bye", "timeout": "bye"}
    assert flow.variables() == ["number", "agent", "agent_phone"], "what nodes store"


def test_collect_with_a_length_has_no_terminator() -> None:
    flow = Flow()
    flow.collect("pin", "Your PIN.", "pin", length=4)
    assert flow.node("pin") == {
        "kind": "collect",
        "prompt": ["Your PIN."],
        "var": "pin",
        "length": 4,
    }


def test_transfer_targets_are_lists() -> None:
    flow = Flow()
    flow.transfer("team", teams=(101, 102))
    flow.transfer("ivr", ivr=7)
    assert flow.node("team") == {"kind": "transfer", "teams": [101, 102]}
    assert flow.node("ivr") == {"kind": "transfer", "ivr": 7}


def test_add_refuses_unknown_kinds_fields_and_empty_ids() -> None:
    flow = Flow()
    with pytest.raises(ValueError, match="unknown kind 'queue'"):
        flow.add("a", "queue")
    with pytest.raises(ValueError, match="a say has no field 'var'"):
        flow.add("a", "say", var="x")
    with pytest.raises(ValueError, match="non-empty string"):
        flow.add("", "hangup")
    assert len(flow) == 0


def test_connect_replaces_and_disconnect_removes_one_key() -> None:
    flow = Flow()
    flow.menu("main", "Press 1 or 2.", keys={"1": "a", "2": "b"})
    flow.hangup("a")
    flow.hangup("b")
    flow.connect("main", "1", "b")
    assert flow.edges("main") == {"1": "b", "2": "b"}
    assert flow.graph.number_of_edges("main", "a") == 0
    flow.disconnect("main", "2")
    assert flow.edges("main") == {"1": "b"}
    flow.disconnect("main", "2")  # nothing left to remove: no error
    flow.disconnect("nowhere", "1")
    assert flow.edges("main") == {"1": "b"}


def test_remove_takes_edges_and_entry_and_layout() -> None:
    flow = acme()
    flow.layout["main"] = [0, 0]
    flow.remove("main")
    assert "main" not in flow
    assert flow.entry is None
    assert "main" not in flow.layout
    assert all(target != "main" for _, target in flow.graph.edges())
    assert flow.edges("main_invalid") == {}
    with pytest.raises(KeyError, match="no node 'main'"):
        flow.remove("main")


def test_rename_moves_edges_entry_and_layout() -> None:
    flow = acme()
    flow.layout["main"] = [10, 20]
    flow.rename("main", "welcome")
    assert "main" not in flow and "welcome" in flow
    assert flow.entry == "welcome"
    assert flow.layout == {"welcome": [10, 20]}
    assert flow.edges("welcome")["9"] == "welcome", "a self-loop follows the rename"
    assert flow.edges("main_invalid") == {"next": "welcome"}
    assert flow.nodes.index("welcome") == 0


def test_rename_refuses_a_clash_and_leaves_the_flow_alone() -> None:
    flow = acme()
    before = flow.to_document()
    with pytest.raises(ValueError, match="'sales' already exists"):
        flow.rename("main", "sales")
    with pytest.raises(KeyError):
        flow.rename("nowhere", "elsewhere")
    assert flow.to_document() == before


def test_update_changes_some_fields_and_keeps_edges() -> None:
    flow = acme()
    flow.update("order", max_length=10, terminator=None, length=8)
    node = flow.node("order")
    assert node["max_length"] == 10 and node["length"] == 8
    assert "terminator" not in node
    assert flow.edges("order") == {"ok": "confirm"}
    with pytest.raises(ValueError, match="no field 'phone'"):
        flow.update("order", phone="+91")


def test_node_returns_a_copy() -> None:
    flow = acme()
    flow.node("main")["prompt"].append("changed")
    assert "changed" not in flow.node("main")["prompt"]


def test_copy_is_independent() -> None:
    flow = acme()
    flow.layout["main"] = [1, 2]
    flow.environments = {"dev": {"x": 1}}
    before = flow.to_document()
    twin = flow.copy()
    assert twin == flow
    twin.connect("main", "1", "thanks")
    twin.update("thanks", prompt=["Other."])
    twin.layout["main"][0] = 99
    twin.environments["dev"]["x"] = 2
    twin.rename("sales", "shop")
    assert flow.to_document() == before
    assert twin != flow


def test_graph_is_a_multidigraph_keyed_by_input() -> None:
    flow = acme()
    assert isinstance(flow.graph, nx.MultiDiGraph)
    assert set(flow.graph.edges("main", keys=True)) == {
        ("main", "sales", "1"),
        ("main", "order", "2"),
        ("main", "main", "9"),
        ("main", "main_invalid", "invalid"),
    }
    assert flow.graph.nodes["sales"] == {"kind": "transfer", "phone": "+918000000001"}
    assert nx.has_path(flow.graph, "main", "thanks")


def test_two_keys_to_one_target_are_two_edges() -> None:
    flow = Flow()
    flow.menu("main", "Press 1 or 2.", keys={"1": "bye", "2": "bye"})
    flow.hangup("bye")
    assert flow.graph.number_of_edges("main", "bye") == 2


def test_menu_edges_are_in_keypad_order_whatever_the_insertion_order() -> None:
    keys = ["gave_up", "#", "invalid", "0", "*", "9", "2", "1"]
    flow = Flow()
    flow.add("main", "menu", prompt=["Choose."], max_invalid=2)
    flow.hangup("bye")
    for key in keys:
        flow.connect("main", key, "bye")
    expected = ["1", "2", "9", "0", "*", "#", "invalid", "gave_up"]
    assert list(flow.edges("main")) == expected
    assert list(flow.to_document()["nodes"]["main"]["edges"]) == expected


def test_edge_order_lists_keypad_then_retries_and_branch_outcomes() -> None:
    assert edge_order("menu") == (*KEYS, "invalid", "gave_up")
    assert edge_order("collect") == ("ok", "invalid", "gave_up")
    rules = [{"outcome": "b"}, {"outcome": "a"}, {"outcome": "b"}]
    assert edge_order("branch", {"rules": rules}) == ("b", "a", "default")
    assert edge_order("hangup") == ()


def test_branch_edges_follow_rule_order() -> None:
    flow = Flow()
    flow.branch(
        "route",
        [{"outcome": "z", "test": "is_set", "subject": "v"}, {"outcome": "a", "test": "is_set"}],
        outcomes={"default": "end", "a": "end", "z": "end"},
    )
    flow.hangup("end")
    assert list(flow.edges("route")) == ["z", "a", "default"]


def test_to_document_writes_fields_in_declared_order() -> None:
    flow = Flow("doc", description="d", recovery={"action": "hangup", "prompt": ["Bye."]})
    flow.add("ask", "collect", max_invalid=2, var="v", prompt="Go.", pattern="[0-9]+")
    flow.layout = {"z": [1, 2], "ask": [0, 0]}
    document = flow.to_document()
    assert list(document) == [
        "format",
        "version",
        "name",
        "description",
        "entry",
        "recovery",
        "nodes",
        "layout",
    ]
    written = ["kind", "prompt", "var", "pattern", "max_invalid", "edges"]
    assert list(document["nodes"]["ask"]) == written
    assert [f for f in FIELDS["collect"] if f in written] == written[1:-1]
    assert list(document["layout"]) == ["ask", "z"]


def test_terminal_nodes_write_no_edges_but_menus_always_do() -> None:
    flow = Flow()
    flow.menu("main", "Hello.")
    flow.hangup("bye")
    nodes = flow.to_document()["nodes"]
    assert nodes["main"]["edges"] == {}
    assert "edges" not in nodes["bye"]


def test_equality_is_by_document() -> None:
    assert acme() == acme()
    other = acme()
    other.layout["main"] = [1, 1]
    assert other != acme()
    assert acme() != "acme"
