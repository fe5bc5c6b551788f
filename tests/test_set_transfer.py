"""Set nodes give variables values; a transfer's number may come from them, with a way out."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from conftest import Processes, free_port, request

from jaxl_designer import Flow, validate
from jaxl_designer.core.explorer import explore
from jaxl_designer.core.runtime import MAX_CONTEXT_CHARS, NO_TARGET_PROMPT, Runtime
from jaxl_designer.core.runtime import request as webhook_request
from jaxl_designer.core.simulator import Simulator
from jaxl_designer.exporter.export import export


def agents(*, way_out: bool = True) -> Flow:
    """The agent code a caller enters decides the number the call goes to."""
    flow = Flow("agents")
    flow.collect("code", "Enter your agent's code, then hash.", "code", then="pick")
    flow.set(
        "pick",
        {"agent_phone": "{metadata.prefix}{code}", "greeting": "Agent {code}, at {agent_phone}."},
        then="tell",
    )
    flow.menu("tell", ["{greeting}", "Press 1 to be connected."], keys={"1": "go"})
    flow.transfer("go", phone="{agent_phone}", invalid="sorry" if way_out else None)
    flow.hangup("sorry", "Agent {code} cannot be reached. Goodbye.")
    return flow


PREFIX = {"metadata.prefix": "+9180000"}


def test_a_set_node_fills_its_values_in_order_and_the_transfer_dials_the_result() -> None:
    call = Simulator(agents()).dial(context=PREFIX)
    assert call.enter("12345#")["prompt"][0] == "Agent 12345, at +918000012345."
    answer = call.press("1")
    assert answer["phone"] == {"to_number": "+918000012345", "from_number": None}
    assert call.path == ["code", "pick", "tell", "go"]


def test_a_number_that_is_no_number_takes_the_invalid_exit() -> None:
    call = Simulator(agents()).dial()  # no prefix: "12345" is no E.164 number
    call.enter("12345#")
    assert call.press("1")["prompt"] == ["Agent 12345 cannot be reached. Goodbye."]
    assert call.edges[-1] == ("go", "invalid", "sorry")


def test_without_a_way_out_the_caller_hears_an_apology_and_the_call_ends() -> None:
    call = Simulator(agents(way_out=False)).dial()
    call.enter("12345#")
    assert call.press("1") == {"prompt": NO_TARGET_PROMPT, "num_characters": 0}
    assert call.ended


def test_a_value_is_cut_to_the_bound_a_call_keeps() -> None:
    flow = Flow("long")
    flow.set("big", {"text": "x" * 5000}, then="bye")
    flow.hangup("bye", "{text}")
    heard = Simulator(flow).dial().response["prompt"][0]
    assert len(heard) == MAX_CONTEXT_CHARS


def test_validation_knows_what_a_set_node_defines_and_checks_only_constant_numbers() -> None:
    assert validate(agents()) == []
    flow = agents()
    flow.update("pick", values={"agent phone": "1"})
    codes = {(p.code, p.node) for p in validate(flow)}
    assert ("bad-set", "pick") in codes
    assert ("maybe-unset", "go") in codes, "{agent_phone} is set nowhere now"
    constant = agents()
    constant.update("go", phone="+918000000001")
    problems = [p for p in validate(constant) if p.node == "go"]
    assert [p.code for p in problems] == ["terminal-has-exits"], "invalid is never taken"
    bad = agents()
    bad.update("go", phone="12345")
    assert "bad-phone" in {p.code for p in validate(bad)}


def test_the_explorer_reaches_both_ways_out_of_a_templated_transfer() -> None:
    flow = Flow("typed")
    flow.collect("number", "Enter the number to call, then hash.", "digits", then="go")
    flow.transfer("go", phone="+{digits}", invalid="sorry")
    flow.hangup("sorry", "That is no number.")
    found = explore(flow)
    assert found.unreached_nodes == []
    assert ("go", "invalid", "sorry") in found.paths
    replayed = found.paths[("go", "invalid", "sorry")].play(flow)
    assert replayed.path[-1] == "sorry"


def test_the_exported_webhook_answers_set_and_templated_transfers_as_the_simulator(
    tmp_path: Path, spawn: Processes
) -> None:
    webhook = export(agents(), tmp_path / "agents").webhook
    port = free_port()
    spawn.start([sys.executable, str(webhook), "--port", str(port), "--no-log"], port=port)
    expected = Runtime(agents().to_document())
    calls = [
        [webhook_request(1, 81, context=PREFIX), webhook_request(1, 81, data="4242#")],
        [webhook_request(1, 82), webhook_request(1, 82, data="4242#")],
    ]
    for call in calls:
        call.append(webhook_request(2, call[0]["state"]["call_id"], option="1"))
        for sent in call:
            status, _, answer = request(port, body=sent)
            assert (status, answer) == (200, expected.handle(json.loads(json.dumps(sent))))
    status, _, answer = request(port, body=webhook_request(2, 81, option="1"))
    assert status == 200 and answer["prompt"][0].startswith("Sorry, we lost track")
