"""The explorer: coverage, endless calls, dead ends, unset variables, and routes that replay."""

from __future__ import annotations

import time

import pytest
from flow_strategies import valid_flows
from hypothesis import given, settings

from jaxl_designer.core.examples import EXAMPLES, acme, business_hours, language_select
from jaxl_designer.core.explorer import Route, explore
from jaxl_designer.core.flow import Flow
from jaxl_designer.core.generate import big_flow
from jaxl_designer.core.scenarios import run


def _looping_menu() -> Flow:
    flow = Flow("loop")
    flow.menu("main", "Press 1 to hear this again.", keys={"1": "main"})
    return flow


def _unset_on_one_path() -> Flow:
    flow = Flow("pin")
    flow.menu(
        "main",
        ["Press 1 to enter your pin.", "Press 2 to skip."],
        keys={"1": "pin", "2": "check"},
    )
    flow.collect("pin", "Enter your pin, then hash.", "pin", then="check")
    flow.branch(
        "check",
        [{"outcome": "vip", "test": "equals", "subject": "pin", "value": "4321"}],
        outcomes={"vip": "vip", "default": "readback"},
    )
    flow.transfer("vip", teams=[1])
    flow.hangup("readback", "Your pin is {pin}. Goodbye.")
    return flow


def test_acme_is_fully_covered_and_sound() -> None:
    exploration = explore(acme())
    assert exploration.node_coverage == 1.0 and exploration.edge_coverage == 1.0
    assert exploration.ok and not exploration.unset and not exploration.no_valid_input
    assert str(exploration.paths["sales"]) == "dial, press 1"
    assert str(exploration.paths[("confirm", "2", "order")]) == "dial, press 2, enter 1*, press 2"
    report = exploration.report()
    assert "nodes reached: 7 of 7 (100%)" in report
    assert "edges taken: 10 of 10 (100%)" in report
    assert "endless calls: none" in report and "dead ends: none" in report


def test_a_menu_that_only_loops_back_is_endless_and_a_dead_end() -> None:
    exploration = explore(_looping_menu())
    assert not exploration.ok
    assert [finding.node for finding in exploration.endless] == ["main"]
    assert [finding.node for finding in exploration.dead_ends] == ["main"]
    assert "can never end" in str(exploration) and "the caller is stuck" in str(exploration)


def test_a_pattern_no_digits_can_satisfy_is_reported() -> None:
    flow = Flow("letters")
    flow.collect("code", "Enter your code, then hash.", "code", pattern="[a-z]+", then="bye")
    flow.hangup("bye", "Goodbye.")
    exploration = explore(flow)
    assert [finding.node for finding in exploration.no_valid_input] == ["code"]
    assert "no valid input found" in exploration.report()
    assert exploration.unreached_nodes == ["bye"]
    assert [finding.node for finding in exploration.endless] == ["code"]


def test_a_variable_set_on_one_path_only_is_found_unset_with_the_route() -> None:
    exploration = explore(_unset_on_one_path())
    assert [(f.node, str(f.route)) for f in exploration.unset] == [("readback", "dial, press 2")]
    # The value the rule looks for is tried, so both outcomes of the branch are reached.
    assert str(exploration.paths["vip"]) == "dial, press 1, enter 4321#"
    assert exploration.node_coverage == 1.0 and exploration.ok


def test_a_missing_edge_and_a_silent_loop_are_dead_ends() -> None:
    flow = Flow("broken")
    flow.menu("main", ["Press 1 for news.", "Press 2 for help."], keys={"1": "news", "2": "a"})
    flow.say("news", "No news today.")  # no `next`: the call is cut off after this
    flow.say("a", "Help is", then="b")
    flow.say("b", "on its way.", then="a")
    findings = {finding.node: finding.message for finding in explore(flow).dead_ends}
    assert findings["news"] == "the call hangs up: edge 'next' is missing"
    looping = [node for node, message in findings.items() if "never wait for the caller" in message]
    assert looping in (["a"], ["b"])


def test_business_hours_are_explored_open_and_closed() -> None:
    exploration = explore(business_hours())
    assert exploration.node_coverage == 1.0
    assert exploration.paths["reception"].now != exploration.paths["closed"].now


def test_a_branch_on_the_callers_number_is_explored_both_ways() -> None:
    flow = Flow("callers")
    flow.branch(
        "who",
        [{"outcome": "us", "test": "prefix", "subject": "from_number", "value": "+1"}],
        outcomes={"us": "us", "default": "india"},
    )
    flow.hangup("us", "Hello.")
    flow.hangup("india", "Namaste.")
    exploration = explore(flow)
    assert exploration.paths["us"].from_number == "+1"
    assert exploration.node_coverage == 1.0


def test_depth_limits_the_search_without_false_alarms() -> None:
    exploration = explore(acme(), depth=1)
    assert "thanks" in exploration.unreached_nodes
    assert exploration.limit == "depth 1" and exploration.ok
    assert "stopped early (depth 1)" in exploration.report()


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_every_explored_route_replays_as_a_scenario(name: str) -> None:
    flow = EXAMPLES[name]()
    exploration = explore(flow)
    scenarios = exploration.scenarios()
    assert len(scenarios) == len(set(exploration.paths.values()))
    for scenario in scenarios:
        result = run(flow, scenario)
        assert result.passed, result


def test_routes_replay_on_the_unset_and_language_flows() -> None:
    for flow in (_unset_on_one_path(), language_select()):
        for scenario in explore(flow).scenarios():
            assert run(flow, scenario).passed, scenario["name"]


def test_a_route_plays_on_the_simulator() -> None:
    call = Route((("press", "2"), ("enter", "55*"), ("press", "1"))).play(acme())
    assert call.ended and call.path[-1] == "thanks"


def test_a_thousand_node_flow_is_covered(capsys: pytest.CaptureFixture[str]) -> None:
    flow = big_flow(1000)
    started = time.perf_counter()
    exploration = explore(flow)
    elapsed = time.perf_counter() - started
    assert exploration.node_coverage == 1.0 and exploration.ok
    with capsys.disabled():
        print(f"\nexplored {len(flow)} nodes, {exploration.states} states in {elapsed:.3f} s")
    for scenario in exploration.scenarios()[::200]:
        assert run(exploration.document, scenario).passed


@settings(max_examples=80, deadline=None)
@given(valid_flows())
def test_on_random_sound_flows_nothing_is_unset_and_every_route_replays(flow: Flow) -> None:
    exploration = explore(flow)
    assert not exploration.unset  # validation rules out maybe-unset templates
    for scenario in exploration.scenarios():
        assert run(flow, scenario).passed, scenario
