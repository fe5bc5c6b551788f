"""Validation: every problem code, on a flow that has it and on the nearest flow that does not."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from strategies import documents
from test_lookup_validation import LOOKUP_CASES

from jaxl_designer.core.examples import EXAMPLES
from jaxl_designer.core.fileformat import from_document
from jaxl_designer.core.flow import Flow
from jaxl_designer.core.validation import CODES, Problem, errors, validate

PHONE = "+918000000001"
AUDIO = "https://example.com/welcome.mp3"
Where = tuple[str | None, tuple[str, str, str] | None]


def _missing_entry(bad: bool) -> Flow:
    flow = Flow("x")
    flow.hangup("bye", "Bye.")
    flow.entry = "nowhere" if bad else "bye"
    return flow


def _unknown_target(bad: bool) -> Flow:
    flow = Flow("x")
    flow.menu("main", "Press 1 for sales.", keys={"1": "gone" if bad else "sales"})
    flow.transfer("sales", phone=PHONE)
    return flow


def _sales_or_leave(flow: Flow) -> Flow:
    flow.menu("main", "Press 1 for sales. Press 2 to leave.", keys={"1": "sales", "2": "bye"})
    flow.transfer("sales", phone=PHONE)
    flow.hangup("bye", "Bye.")
    return flow


def _duplicate_key(bad: bool) -> Flow:
    flow = _sales_or_leave(Flow("x"))
    if bad:
        # The builder replaces an edge; a hand-edited graph can hold two for one key.
        flow.graph.add_edge("main", "bye", key="1")
    return flow


def _hello(then: str | None = "bye") -> Flow:
    flow = Flow("x")
    flow.say("hello", "Hello.", then=then)
    flow.hangup("bye", "Bye.")
    return flow


def _illegal_key(bad: bool) -> Flow:
    flow = _hello()
    if bad:
        flow.connect("hello", "1", "bye")
    return flow


def _no_way_out(bad: bool) -> Flow:
    flow = Flow("x")
    flow.collect("ask", "Your number, then hash.", "n", then=None if bad else "bye")
    flow.hangup("bye", "Thanks, {n}.")
    return flow


def _missing_exit(bad: bool) -> Flow:
    return _hello(then=None if bad else "bye")


def _terminal_has_exits(bad: bool) -> Flow:
    flow = _hello()
    if bad:
        flow.connect("bye", "next", "hello")
    return flow


def _silent_loop(bad: bool) -> Flow:
    flow = Flow("x")
    flow.say("a", "Hello.", then="b")
    if bad:
        flow.say("b", "Hello again.", then="a")
    else:
        flow.menu("b", "Press 1 to hear it again.", keys={"1": "a"})
    return flow


def _transfer(**fields: Any) -> Flow:
    flow = Flow("x")
    flow.transfer("sales", **fields)
    return flow


def _bad_transfer(bad: bool) -> Flow:
    return _transfer(phone=PHONE, teams=[101] if bad else None)


def _bad_phone(bad: bool) -> Flow:
    return _transfer(phone="8000 000" if bad else PHONE)


def _empty_prompt(bad: bool) -> Flow:
    flow = _hello()
    flow.update("hello", prompt=[" "] if bad else ["Hello."])
    return flow


def _bad_collect(bad: bool) -> Flow:
    flow = Flow("x")
    flow.collect("ask", "Your number.", "n", terminator=None if bad else "#", then="bye")
    flow.hangup("bye", "Thanks, {n}.")
    return flow


def _gate(rule: dict[str, Any], outcomes: dict[str, str]) -> Flow:
    flow = Flow("x")
    flow.branch("gate", [rule], outcomes=outcomes)
    flow.transfer("sales", teams=[101])
    flow.hangup("bye", "Bye.")
    return flow


def _bad_rule(bad: bool) -> Flow:
    rule = {"outcome": "open", "test": "hours", "tz": "Mars/Base" if bad else "Asia/Kolkata"}
    return _gate(rule, {"open": "sales", "default": "bye"})


def _maybe_unset(bad: bool) -> Flow:
    flow = Flow("x")
    flow.collect("ask", "Your order number, then hash.", "order", then="bye")
    name = "number" if bad else "order"
    flow.hangup("bye", f"Order {{{name}}} is on its way.")
    return flow


def _missing_key(bad: bool) -> Flow:
    flow = _sales_or_leave(Flow("x"))
    if bad:
        flow.disconnect("main", "2")
        flow.remove("bye")
    return flow


def _missing_parameter(bad: bool) -> Flow:
    flow = _transfer(phone="{{sales_phone}}")
    flow.environments = {"dev": {} if bad else {"sales_phone": PHONE}}
    return flow


def _unknown_piece(bad: bool) -> Flow:
    flow = Flow("x")
    piece = "no_such_piece" if bad else "business_hours_gate"
    flow.subflow("gate", piece, exits={"open": "sales", "closed": "bye"})
    flow.transfer("sales", teams=[101])
    flow.hangup("bye", "Bye.")
    return flow


def _unannounced_key(bad: bool) -> Flow:
    flow = _sales_or_leave(Flow("x"))
    if bad:
        flow.update("main", prompt=["Press 1 for sales."])
    return flow


def _unreachable(bad: bool) -> Flow:
    flow = _hello()
    if bad:
        flow.hangup("lost", "Nobody hears this.")
    return flow


def _say_before_transfer(bad: bool) -> Flow:
    flow = Flow("x")
    if bad:
        flow.say("hello", "Connecting you.", then="sales")
    flow.transfer("sales", phone=PHONE)
    return flow


def _retry_without_limit(bad: bool) -> Flow:
    flow = _sales_or_leave(Flow("x"))
    flow.update("main", max_invalid=3)
    flow.connect("main", "invalid", "main")
    if not bad:
        flow.connect("main", "gave_up", "bye")
    return flow


def _outcome_without_edge(bad: bool) -> Flow:
    rule = {"outcome": "vip", "test": "prefix", "subject": "from_number", "value": "+91"}
    outcomes = {"default": "bye"} if bad else {"vip": "sales", "default": "bye"}
    flow = _gate(rule, outcomes)
    if bad:
        flow.remove("sales")
    return flow


def _audio_mixed(bad: bool) -> Flow:
    flow = Flow("x")
    flow.hangup("bye", [AUDIO, "Bye."] if bad else [AUDIO])
    return flow


#: code: (a flow with (True) and without (False) the problem, where the problem points).
def _bad_set(bad: bool) -> Flow:
    flow = Flow("x")
    flow.set("pick", {"two words" if bad else "greeting": "Hello."}, then="bye")
    flow.hangup("bye", "Bye.")
    return flow


CASES: dict[str, tuple[Callable[[bool], Flow], Where]] = {
    "missing-entry": (_missing_entry, (None, None)),
    "unknown-target": (_unknown_target, (None, ("main", "1", "gone"))),
    "duplicate-key": (_duplicate_key, (None, ("main", "1", "bye"))),
    "illegal-key": (_illegal_key, (None, ("hello", "1", "bye"))),
    "no-way-out": (_no_way_out, ("ask", None)),
    "missing-exit": (_missing_exit, ("hello", None)),
    "terminal-has-exits": (_terminal_has_exits, ("bye", None)),
    "bad-set": (_bad_set, ("pick", None)),
    "silent-loop": (_silent_loop, ("a", None)),
    "bad-transfer": (_bad_transfer, ("sales", None)),
    "bad-phone": (_bad_phone, ("sales", None)),
    "empty-prompt": (_empty_prompt, ("hello", None)),
    "bad-collect": (_bad_collect, ("ask", None)),
    "bad-rule": (_bad_rule, ("gate", None)),
    "maybe-unset": (_maybe_unset, ("bye", None)),
    "missing-key": (_missing_key, ("main", None)),
    "missing-parameter": (_missing_parameter, ("sales", None)),
    "unknown-piece": (_unknown_piece, ("gate", None)),
    "unannounced-key": (_unannounced_key, (None, ("main", "2", "bye"))),
    "unreachable": (_unreachable, ("lost", None)),
    "say-before-transfer": (_say_before_transfer, ("hello", None)),
    "retry-without-limit": (_retry_without_limit, ("main", None)),
    "outcome-without-edge": (_outcome_without_edge, ("gate", None)),
    "audio-mixed": (_audio_mixed, ("bye", None)),
    **LOOKUP_CASES,
}


def test_every_code_has_a_case_and_a_meaning() -> None:
    assert set(CASES) == set(CODES)
    assert all(severity in ("error", "warning") and meaning for severity, meaning in CODES.values())


@pytest.mark.parametrize("code", list(CODES))
def test_code_is_reported_where_the_problem_is(code: str) -> None:
    build, (node, edge) = CASES[code]
    found = [problem for problem in validate(build(True)) if problem.code == code]
    assert found, f"{code} not reported"
    assert found[0].severity == CODES[code][0]
    assert (found[0].node, found[0].edge) == (node, edge)
    assert "\n" not in str(found[0])


@pytest.mark.parametrize("code", list(CODES))
def test_the_nearest_correct_flow_is_clean(code: str) -> None:
    build, _ = CASES[code]
    assert [str(problem) for problem in validate(build(False))] == []


def _optional_number(both: bool) -> Flow:
    """Press 1 to enter a number, 2 to skip; the goodbye reads the number back."""
    flow = Flow("x")
    flow.menu(
        "main",
        "Press 1 to enter your number. Press 2 to skip.",
        keys={"1": "ask", "2": "ask_again" if both else "bye"},
    )
    flow.collect("ask", "Your number, then hash.", "n", then="bye")
    if both:
        flow.collect("ask_again", "Your number please, then hash.", "n", then="bye")
    flow.hangup("bye", "Thanks. We have {n}.")
    return flow


def test_a_variable_set_on_one_branch_only_may_be_unset_at_the_join() -> None:
    problems = validate(_optional_number(both=False))
    assert [(p.code, p.node, p.message) for p in problems] == [
        ("maybe-unset", "bye", "{n} may be unset here")
    ]


def test_a_variable_set_on_every_path_is_clean() -> None:
    assert validate(_optional_number(both=True)) == []


def test_a_back_edge_keeps_a_variable_set_in_the_loop() -> None:
    flow = Flow("x")
    flow.say("start", "Welcome.", then="ask")
    flow.collect("ask", "Your number, then hash.", "n", then="confirm")
    flow.menu(
        "confirm",
        "You entered {n}. Press 1 to confirm. Press 2 to re-enter.",
        keys={"1": "bye", "2": "ask"},
    )
    flow.hangup("bye", "Thanks, {n:digits}, and you called from {from_number}.")
    assert validate(flow) == []


def test_a_loop_head_reached_before_the_variable_is_set_is_maybe_unset() -> None:
    flow = Flow("x")
    flow.say("start", "Welcome.", then="main")
    flow.menu("main", "Your number is {n}. Press 1 to change it.", keys={"1": "ask"})
    flow.collect("ask", "Your number, then hash.", "n", then="main")
    problems = validate(flow)
    assert [(p.code, p.node) for p in problems] == [("maybe-unset", "main")]


def test_a_variable_no_node_collects_is_never_collected() -> None:
    problems = validate(_maybe_unset(True))
    assert [p.message for p in problems] == ["{number} is never collected"]


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_example_flows_have_no_errors(name: str) -> None:
    assert errors(validate(EXAMPLES[name]())) == []


def test_errors_come_before_warnings() -> None:
    flow = _unannounced_key(True)
    flow.connect("main", "3", "gone")
    severities = [problem.severity for problem in validate(flow)]
    assert "warning" in severities and "error" in severities
    assert severities == sorted(severities, key=lambda s: s != "error")


def test_problem_reads_as_one_line() -> None:
    problem = Problem("unknown-target", "key 1 leads to 'x'", edge=("main", "1", "x"))
    assert str(problem) == "error unknown-target main --1--> x: key 1 leads to 'x'"
    assert str(Problem("missing-entry", "no entry")) == "error missing-entry flow: no entry"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents())
def test_any_flow_a_file_can_hold_validates_without_crashing(document: dict[str, Any]) -> None:
    for problem in validate(from_document(document)):
        assert problem.code in CODES


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"tz": "America"}, "rule 1: unknown time zone 'America'"),
        ({"days": 5}, "rule 1: days 5 is not a list"),
        ({"days": [["mon"]]}, "rule 1: ['mon'] is not a day (mon … sun)"),
        ({"holidays": "2026-12-25"}, "rule 1: holidays '2026-12-25' is not a list"),
        ({"start": "9am"}, "rule 1: start '9am' is not a time like 09:00"),
    ],
)
def test_a_hand_written_hours_rule_is_a_bad_rule_not_a_crash(
    fields: dict[str, Any], message: str
) -> None:
    flow = _gate(
        {"outcome": "open", "test": "hours", **fields}, {"open": "sales", "default": "bye"}
    )
    assert [(p.code, p.node, p.message) for p in validate(flow)] == [("bad-rule", "gate", message)]
