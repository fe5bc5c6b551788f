"""Scenarios: record a call, save it, replay it, and report a changed flow."""

from __future__ import annotations

import json

import pytest

from jaxl_designer.core import scenarios
from jaxl_designer.core.examples import acme, business_hours
from jaxl_designer.core.simulator import Simulator


def order_call():
    call = Simulator(acme()).dial()
    call.press("2")
    call.enter("123*")
    call.press("1")
    return call


def test_a_recorded_call_replays_and_passes(tmp_path) -> None:
    scenario = scenarios.record(order_call(), "order")
    path = tmp_path / "order.json"
    scenarios.save(scenario, path)
    loaded = scenarios.load(path)
    assert loaded == json.loads(path.read_text())
    result = scenarios.run(acme(), loaded)
    assert result.passed, str(result)
    assert str(result) == "PASS order (4 steps)"


def test_a_changed_flow_fails_the_scenario_with_the_step_named() -> None:
    scenario = scenarios.record(order_call(), "order")
    changed = acme()
    changed.update("thanks", prompt=["Thanks!"])
    result = scenarios.run(changed, scenario)
    assert not result.passed
    assert result.failures[0].startswith("step 4 (press 1)")
    assert "Thanks!" in str(result)


def test_heard_expectations_check_sentences_only() -> None:
    scenario = {
        "format": "jaxl-designer/scenario",
        "version": 1,
        "name": "greeting",
        "steps": [{"action": "dial", "heard": ["Welcome to Acme."]}],
    }
    assert scenarios.run(acme(), scenario).passed
    scenario["steps"][0]["heard"] = ["Welcome to Globex."]
    assert "did not hear" in scenarios.run(acme(), scenario).failures[0]


def test_the_clock_is_part_of_the_scenario() -> None:
    sim = Simulator(business_hours(), now="2026-11-24T22:00:00+05:30")
    scenario = scenarios.record(sim.dial(), "closed")
    assert scenario["now"] == "2026-11-24T22:00:00+05:30"
    assert scenarios.run(business_hours(), scenario).passed


@pytest.mark.parametrize(
    ("text", "place"),
    [
        ("{", "not valid JSON"),
        ('{"format": "x"}', "format"),
        ('{"format": "jaxl-designer/scenario", "steps": []}', "steps"),
        ('{"format": "jaxl-designer/scenario", "steps": [{"action": "jump"}]}', "steps[0].action"),
        ('{"format": "jaxl-designer/scenario", "steps": [{"action": "press"}]}', "steps[0].input"),
    ],
)
def test_bad_scenario_files_get_one_line(tmp_path, text: str, place: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(scenarios.ScenarioError) as error:
        scenarios.load(path)
    assert place in str(error.value)
    assert "\n" not in str(error.value)
