"""The call's context (direction, metadata, campaign, org, voice) as variables a flow reads."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from conftest import Processes, free_port, request

from jaxl_designer import Flow, validate
from jaxl_designer.core.explorer import explore
from jaxl_designer.core.runtime import (
    MAX_CONTEXT_CHARS,
    MAX_METADATA_KEYS,
    Runtime,
    call_context,
)
from jaxl_designer.core.runtime import request as webhook_request
from jaxl_designer.core.scenarios import ScenarioError, record, run
from jaxl_designer.core.simulator import Simulator
from jaxl_designer.exporter.export import export

OUTBOUND = {"direction": "outbound", "metadata.order_id": "4711", "campaign_id": "42"}


def campaign() -> Flow:
    """An outbound reminder that reads the order from the call's metadata; inbound calls hear
    the organisation's name."""
    flow = Flow("campaign")
    flow.branch(
        "start",
        [{"outcome": "out", "test": "equals", "subject": "direction", "value": "outbound"}],
        outcomes={"out": "remind", "default": "hello"},
    )
    flow.menu(
        "remind",
        ["Your order {metadata.order_id:digits} arrives today.", "Press 1 to confirm."],
        keys={"1": "thanks"},
    )
    flow.hangup("thanks", "Thank you. Campaign {campaign_id}.")
    flow.hangup("hello", "Welcome to {org.name}.")
    return flow


def test_an_outbound_call_reads_its_metadata_and_an_inbound_one_its_org() -> None:
    sim = Simulator(campaign())
    call = sim.dial(context=OUTBOUND)
    assert call.response["prompt"] == ["Your order 4 7 1 1 arrives today.", "Press 1 to confirm."]
    assert call.press("1")["prompt"] == ["Thank you. Campaign 42."]
    inbound = sim.dial()
    assert inbound.response["prompt"] == ["Welcome to Acme."]
    assert inbound.path == ["start", "hello"]


def test_context_names_are_known_to_validation_and_a_typo_is_one_line() -> None:
    assert validate(campaign()) == []
    with pytest.raises(ValueError, match=r"'metdata\.order_id' is not a context field"):
        Simulator(campaign()).dial(context={"metdata.order_id": "1"})


def test_the_explorer_takes_each_direction_and_its_routes_replay() -> None:
    found = explore(campaign())
    assert found.unreached_nodes == []
    assert found.unset == [], "{metadata.order_id} and {org.name} are the call's, not unset"
    route = found.paths["remind"]
    assert ("direction", "outbound") in route.context
    assert "direction outbound" in str(route)
    replayed = route.play(campaign())
    assert replayed.path[-1] == "remind"
    assert found.paths["hello"].context == ()


def test_a_scenario_keeps_the_calls_context_and_refuses_a_bad_one(tmp_path: Path) -> None:
    call = Simulator(campaign()).dial(context=OUTBOUND)
    call.press("1")
    scenario = record(call, "reminder")
    assert scenario["context"] == OUTBOUND
    assert run(campaign(), json.loads(json.dumps(scenario))).passed
    bad = {**scenario, "context": {"direction": ["outbound"]}}
    with pytest.raises(ScenarioError, match=r"context\.direction: expected text or a number"):
        run(campaign(), bad)


def test_only_plain_bounded_values_are_kept_whatever_a_request_carries() -> None:
    metadata = {f"k{i}": "x" * 10_000 for i in range(100)}
    metadata.update({"bad key": "1", "nested": {"a": 1}, "listed": [1], "nan": float("nan")})
    context = call_context({"metadata": metadata, "direction": 7, "org": None, "voice": "x"})
    kept = [name for name in context if name.startswith("metadata.")]
    assert len(kept) == MAX_METADATA_KEYS
    assert all(len(value) == MAX_CONTEXT_CHARS for name, value in context.items() if name in kept)
    assert context["direction"] == "7"
    assert not {"metadata.bad key", "metadata.nested", "metadata.listed", "metadata.nan"} & set(
        context
    )


def test_a_call_state_without_context_is_as_small_as_before() -> None:
    runtime = Runtime(campaign().to_document())
    runtime.handle(webhook_request(1, 5, context={}))
    state = runtime.store.load(5)
    assert state is None  # inbound: hello hangs up, nothing kept
    runtime.handle(webhook_request(1, 6, context=OUTBOUND))
    waiting = runtime.store.load(6)
    assert waiting is not None and waiting["ctx"]["metadata.order_id"] == "4711"


def test_the_exported_webhook_reads_the_context_jaxl_sends_as_the_simulator_does(
    tmp_path: Path, spawn: Processes
) -> None:
    webhook = export(campaign(), tmp_path / "campaign").webhook
    port = free_port()
    spawn.start([sys.executable, str(webhook), "--port", str(port), "--no-log"], port=port)
    expected = Runtime(campaign().to_document())
    calls = [
        [webhook_request(1, 71, context=OUTBOUND), webhook_request(2, 71, option="1")],
        [webhook_request(1, 72, context={"org.name": "Globex", "voice.lang": "en-IN"})],
    ]
    for call in calls:
        for sent in call:
            status, _, answer = request(port, body=sent)
            assert (status, answer) == (200, expected.handle(json.loads(json.dumps(sent))))
    # The envelope is Jaxl's own: direction as a number, metadata as an object.
    assert calls[0][0]["state"]["direction"] == 2
    assert calls[0][0]["state"]["metadata"] == {"order_id": "4711"}
    status, _, answer = request(port, body=webhook_request(1, 73, context=OUTBOUND))
    assert answer["prompt"][0] == "Your order 4 7 1 1 arrives today."
