"""Jaxl interop: a three-IVR schema round trip, calls on the import, every loss reported."""

from __future__ import annotations

import copy
import json
import re

import pytest

from jaxl_designer.cli import main
from jaxl_designer.core.examples import EXAMPLES
from jaxl_designer.core.fileformat import load
from jaxl_designer.core.flow import Flow
from jaxl_designer.core.simulator import Simulator
from jaxl_designer.interop import InteropError, from_jaxl, to_jaxl

GREETING = (
    "Welcome to Acme. Press 1 for sales, 2 for support, 3 for the front desk, "
    "4 to check an order, 5 to pay, 9 for our hours"
)
#: Three IVRs, with every kind of option: phone, group, devices, next, input, confirmed input.
JAXL = {
    "groups": [{"name": "support", "members": ["asha@acme.example", "ravi@acme.example"]}],
    "devices": [{"name": "front", "device_id": 11}, {"name": "back", "device_id": 12}],
    "phones": [{"name": "sales", "e164": "+918000000001"}],
    "ivrs": [
        {
            "name": "main",
            "greeting_message": GREETING,
            "options": {
                "1": {"name": "sales", "phone": "sales"},
                "2": {"name": "support", "groups": ["support"]},
                "3": {"name": "desk", "devices": ["front", "back"]},
                "4": {
                    "name": "order",
                    "needs_input": {
                        "prompt": "Enter your order number then star",
                        "end_character": "*",
                    },
                    "next": "orders",
                },
                "5": {
                    "name": "pay",
                    "needs_input": {
                        "prompt": "Enter your card number then hash",
                        "end_character": "#",
                    },
                    "confirm_input": True,
                    "phone": "sales",
                },
                "9": {"name": "hours", "next": "hours"},
            },
        },
        {
            "name": "orders",
            "greeting_message": "Press 1 to talk to sales, or 0 to go back",
            "options": {
                "1": {"name": "sales", "phone": "sales"},
                "0": {"name": "main", "next": "main"},
            },
        },
        {"name": "hours", "greeting_message": "We are open nine to six. Goodbye", "hangup": True},
    ],
}


def check_schema(document: dict) -> None:
    """The rules of Jaxl's ivr.json that an export must keep."""
    names = {ivr["name"] for ivr in document["ivrs"]}
    phones = {p["name"] for p in document["phones"]}
    devices = {d["name"] for d in document["devices"]}
    groups = {g["name"] for g in document["groups"]}
    assert all(re.fullmatch(r"\+[1-9]\d{1,14}", p["e164"]) for p in document["phones"])
    for ivr in document["ivrs"]:
        assert not ivr["greeting_message"].endswith(".")
        assert "options" in ivr or ivr.get("hangup") is True
        for key, option in ivr.get("options", {}).items():
            assert re.fullmatch(r"[0-9*#]", key)
            assert isinstance(option["name"], str)
            goes = [k for k in ("next", "phone", "devices", "groups") if k in option]
            assert len(goes) == 1, option
            assert "next" not in option or option["next"] in names
            assert "phone" not in option or option["phone"] in phones
            assert set(option.get("devices", [])) <= devices
            assert set(option.get("groups", [])) <= groups
            if "needs_input" in option:
                assert option["needs_input"]["end_character"] in ("*", "#")


def test_a_jaxl_schema_round_trips() -> None:
    imported = from_jaxl(copy.deepcopy(JAXL))
    exported = to_jaxl(imported.flow, directory=imported.directory)
    assert exported.document == JAXL
    check_schema(exported.document)


def test_the_import_maps_each_option_kind() -> None:
    flow = from_jaxl(JAXL).flow
    assert flow.entry == "main"
    assert [flow.kind(n) for n in ("main", "orders", "hours")] == ["menu", "menu", "hangup"]
    edges = flow.edges("main")
    assert flow.node(edges["1"])["phone"] == "+918000000001"
    assert flow.node(edges["2"])["teams"] == "{{support}}"
    assert flow.node(edges["3"])["devices"] == [11, 12]
    order = flow.node(edges["4"])
    assert (order["kind"], order["terminator"], order["var"]) == ("collect", "*", "order")
    assert flow.edges(edges["4"]) == {"ok": "orders"}
    confirm = flow.edges(edges["5"])["ok"]
    assert flow.edges(confirm) == {"1": "pay transfer", "2": "pay"}
    assert edges["9"] == "hours"
    # the same option in two IVRs is one transfer node
    assert flow.edges("orders")["1"] == edges["1"]


def test_only_the_group_is_reported_on_import() -> None:
    assert from_jaxl(JAXL).unmapped == [
        "ivr main, option 2: group 'support' (asha@acme.example, ravi@acme.example) has no team "
        "id; the transfer uses the parameter {{support}}: give it a team id per environment"
    ]


def test_calls_on_the_imported_flow_go_where_jaxl_would_send_them() -> None:
    sim = Simulator(from_jaxl(JAXL).flow, env={"support": [301]})
    call = sim.dial()
    assert call.response == {"prompt": [GREETING], "num_characters": 1}
    call.press("5")
    assert call.response["num_characters"] == "#"
    call.enter("4111#")
    assert call.response["prompt"][0] == "You entered 4111."
    call.press("1")
    call.assert_transferred(phone="+918000000001")
    call = sim.dial()
    call.press("2")
    call.assert_transferred(teams=[301])
    call = sim.dial()
    call.press("9")
    call.assert_hung_up()


def test_every_unmappable_part_of_a_flow_is_reported() -> None:
    flow = Flow("shop", description="A shop.", recovery={"action": "hangup", "prompt": ["Bye."]})
    flow.branch(
        "hours",
        [{"outcome": "open", "test": "equals", "subject": "from_number", "value": "+1"}],
        outcomes={"open": "main", "default": "main"},
    )
    flow.menu(
        "main",
        ["Hello {name}.", "Press 1 for a code, 2 for app users, 3 to hear news."],
        keys={"1": "code", "2": "agents", "3": "news", "invalid": "main"},
        max_invalid=2,
    )
    flow.collect("code", ["Your code."], "pin", length=4, pattern="[0-9]+", then="done")
    flow.transfer("agents", appusers=[5])
    flow.say("news", "Nothing new.", then="main")
    flow.hangup("done", "Done.")
    flow.entry = "hours"
    result = to_jaxl(flow)
    report = "\n".join(result.unmapped)
    for expected in (
        "the flow's description has no place in the schema",
        "recovery (what a lost call hears) has no equivalent",
        "entry hours is a branch: Jaxl's calls start at the first IVR",
        "main: max_invalid 2 (retries) not exported",
        "main: the invalid edge (what a wrong key does) not exported",
        "main: prompt uses {name}, which Jaxl would speak as written",
        "code: length 4 not exported",
        "code: pattern '[0-9]+' not exported",
        "code: fixed-length input exported as ended by '#'",
        "code: variable name 'pin' not kept",
        "agents: a transfer to app users has no equivalent; not exported",
        "main, key 3: leads to a say node (news); not exported",
        "hours: branch node not exported",
        "news: say node not exported",
        "greeting_message may not end with '.' in Jaxl's schema; dropped from: main, done",
    ):
        assert expected in report, expected
    assert sorted(result.document["ivrs"][0]["options"]) == ["1"]
    check_schema(result.document)


def test_a_set_node_and_a_number_filled_per_call_are_reported_not_exported() -> None:
    flow = Flow("agents")
    flow.menu(
        "main",
        "Press 1 for your agent, 2 for sales, 3 for your own line.",
        keys={"1": "pick", "2": "sales", "3": "direct"},
    )
    flow.set("pick", {"agent_phone": "+9180000{from_number}"}, then="agent")
    flow.transfer("agent", phone="{agent_phone}", invalid="sorry")
    flow.transfer("direct", phone="+91{from_number}", invalid="sorry")
    flow.transfer("sales", phone="+918000000001", invalid="sorry")
    flow.hangup("sorry", "Sorry")
    result = to_jaxl(flow)
    report = "\n".join(result.unmapped)
    for expected in (
        "main, key 1: leads to a set node (pick); not exported",
        "pick: set node not exported (Jaxl's schema has no variables to give values)",
        "agent: transfer node not exported (only a transfer chosen by an option maps)",
        "direct: phone +91{from_number} is filled per call; Jaxl's phones are fixed numbers",
        "sales: the invalid edge has no equivalent; not exported",
    ):
        assert expected in report, expected
    assert "direct: the invalid edge" not in report, "a transfer not exported is said once"
    options = result.document["ivrs"][0]["options"]
    assert options == {"2": {"name": "sales", "phone": "sales"}}
    assert result.document["phones"] == [{"name": "sales", "e164": "+918000000001"}]
    check_schema(result.document)


def test_a_lookup_and_the_hosts_it_may_ask_are_reported_not_exported() -> None:
    flow = Flow("orders")
    flow.menu(
        "main",
        "Press 1 for your order's status, 2 for sales.",
        keys={"1": "order", "2": "sales"},
    )
    flow.collect("order", "Enter your order number then hash.", "order", then="ask")
    flow.lookup(
        "ask",
        "https://orders.example.com/orders/{order}",
        save={"status": "order.status"},
        headers={"Authorization": "Bearer ${ORDERS_TOKEN}", "X-Key": "pasted-in-secret"},
        ok="status",
        failed="sorry",
        timed_out="sorry",
    )
    flow.lookup("direct", "https://orders.example.com/latest")
    flow.connect("main", "3", "direct")
    flow.say("status", "Your order is {status}.", then="sorry")
    flow.transfer("sales", phone="+918000000001")
    flow.hangup("sorry", "Goodbye")
    flow.allowed_hosts = ["orders.example.com", "127.0.0.1:8765"]
    result = to_jaxl(flow)
    report = "\n".join(result.unmapped)
    for expected in (
        "allowed_hosts (orders.example.com, 127.0.0.1:8765) not exported; "
        "Jaxl's schema has no lookups",
        "main, key 3: leads to a lookup node (direct); not exported",
        "order, after input: leads to a lookup node (ask); not exported",
        "ask: lookup node not exported (Jaxl's schema cannot ask a backend over HTTP)",
        "direct: lookup node not exported (Jaxl's schema cannot ask a backend over HTTP)",
    ):
        assert expected in report, expected
    for secret in ("ORDERS_TOKEN", "pasted-in-secret", "Authorization"):
        assert secret not in report and secret not in json.dumps(result.document), secret
    assert result.document["ivrs"][0]["options"] == {"2": {"name": "sales", "phone": "sales"}}
    check_schema(result.document)


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_every_example_exports_to_a_valid_schema_and_back(name) -> None:
    exported = to_jaxl(EXAMPLES[name]())
    check_schema(exported.document)
    again = from_jaxl(exported.document)
    assert to_jaxl(again.flow, directory=again.directory).document == exported.document


def test_what_the_schema_cannot_hold_on_import_is_reported() -> None:
    document = {
        "webhook_klass": "x.Y",
        "groups": [],
        "devices": [],
        "phones": [],
        "ivrs": [
            {
                "name": "main",
                "pk": 7,
                "greeting_message": "Hi",
                "tags": ["vip"],
                "options": {
                    "1": {"name": "bot", "webhook": True},
                    "2": {"name": "far", "next": {"url": "https://x.example/b.json", "name": "b"}},
                    "3": {"name": "nobody", "phone": "ghost"},
                },
            },
            {"name": "code", "webhook": True},
        ],
    }
    report = "\n".join(from_jaxl(document).unmapped)
    for expected in (
        "webhook_klass: not imported",
        "ivr main: pk 7 not kept",
        "ivr main: tags ['vip'] not kept",
        "ivr code: webhook IVR (Python code answers it); imported as a hang-up",
        "ivr main, option 1: webhook option",
        "ivr main, option 2: next is IVR 'b' in another file (https://x.example/b.json)",
        "ivr main, option 3: phone 'ghost' is not in phones",
    ):
        assert expected in report, expected


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ([], "expected a JSON object with 'ivrs'"),
        ({"nodes": {}}, "missing field 'ivrs'"),
        ({"ivrs": [{"name": "a", "options": {"12": {"name": "x"}}}]}, "ivrs[0].options.12"),
        ({"ivrs": [{"name": "a"}, {"name": "a"}]}, "ivrs[1].name: a second IVR named 'a'"),
    ],
)
def test_a_document_that_is_not_the_schema_is_one_clear_error(document, message) -> None:
    with pytest.raises(InteropError, match=re.escape(message)):
        from_jaxl(document)


def test_ivrs_keyed_by_id_are_read_too() -> None:
    flow = from_jaxl({"ivrs": {"1": {"greeting_message": "Bye", "hangup": True}}}).flow
    assert flow.entry == "1" and flow.kind("1") == "hangup"


def test_the_cli_imports_and_exports_with_losses_on_stderr(tmp_path, capsys) -> None:
    source = tmp_path / "acme_jaxl.json"
    source.write_text(json.dumps(JAXL))
    flow_file = tmp_path / "flow.json"
    assert main(["import-jaxl", str(source), "-o", str(flow_file)]) == 0
    out, err = capsys.readouterr()
    assert out.startswith(f"wrote {flow_file}")
    assert err.splitlines() == [f"{source}: " + from_jaxl(JAXL).unmapped[0]]
    assert load(flow_file).edges("main")["9"] == "hours"

    from jaxl_designer.core.examples import acme
    from jaxl_designer.core.fileformat import save

    save(acme(), tmp_path / "acme.json")
    target = tmp_path / "out.json"
    assert main(["export-jaxl", str(tmp_path / "acme.json"), "-o", str(target)]) == 0
    _, err = capsys.readouterr()
    assert err.splitlines() == [
        f"{tmp_path / 'acme.json'}: {line}" for line in to_jaxl(acme()).unmapped
    ]
    check_schema(json.loads(target.read_text()))


def test_the_cli_names_a_bad_schema_file_in_one_line(tmp_path, capsys) -> None:
    source = tmp_path / "bad.json"
    source.write_text('{"ivrs": 3}')
    assert main(["import-jaxl", str(source), "-o", str(tmp_path / "f.json")]) == 2
    assert (
        capsys.readouterr().err
        == f"jaxl-designer import-jaxl: {source}: ivrs: expected a list of IVRs\n"
    )
