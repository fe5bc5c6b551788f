"""The simulated phone: real request payloads, transcript, path, assertions, clock, isolation."""

from __future__ import annotations

import pytest

from jaxl_designer.core.examples import acme, business_hours, language_select
from jaxl_designer.core.runtime import Runtime
from jaxl_designer.core.simulator import CallAssertionError, Simulator


def test_each_step_sends_the_exact_spec_request() -> None:
    call = Simulator(acme(), pk=7).dial("+911111111111", "+912222222222")
    call.press("2")
    call.enter("55*")
    call.hangup()
    first, press, enter, bye = (step.request for step in call.steps)
    assert first == {
        "pk": 7,
        "event": 1,
        "state": {
            "call_id": call.call_id,
            "from_number": "+911111111111",
            "to_number": "+912222222222",
            "direction": 1,
            "org": {"name": "Acme"},
            "metadata": None,
            "greeting_message": None,
        },
        "option": None,
        "data": None,
    }
    assert (press["event"], press["option"], press["data"]) == (2, "2", None)
    assert (enter["event"], enter["option"], enter["data"]) == (2, "2", "55*")
    assert (bye["event"], bye["option"], bye["data"]) == (3, None, None)


def test_replaying_the_requests_on_a_fresh_runtime_gives_the_same_responses() -> None:
    call = Simulator(acme()).dial()
    for key in ("7", "2"):
        call.press(key)
    call.enter("9*")
    call.press("1")
    fresh = Runtime(acme().to_document())
    assert [fresh.handle(step.request) for step in call.steps] == [s.response for s in call.steps]


def test_call_ids_are_unique() -> None:
    sim = Simulator(acme())
    assert len({sim.dial().call_id for _ in range(500)}) == 500


def test_transcript_path_and_edges() -> None:
    call = Simulator(acme()).dial()
    call.press("4")
    call.press("1")
    assert call.path == ["main", "main_invalid", "main", "sales"]
    assert call.edges == [
        ("main", "invalid", "main_invalid"),
        ("main_invalid", "next", "main"),
        ("main", "1", "sales"),
    ]
    assert call.ended
    script = call.script()
    assert script.splitlines()[0] == "IVR: Welcome to Acme."
    assert "You: 4" in script
    assert "IVR: Sorry, that is not a valid choice." in script
    assert script.splitlines()[-1] == "IVR: (transfers the call: phone +918000000001)"


def test_assertions_pass_and_fail_with_the_transcript() -> None:
    call = Simulator(acme()).dial()
    call.press("1")
    call.assert_heard("Welcome to Acme")
    call.assert_transferred(phone="+918000000001")
    call.assert_path("main", "sales")
    with pytest.raises(CallAssertionError, match="transcript"):
        call.assert_heard("Goodbye")
    with pytest.raises(CallAssertionError, match="not phone"):
        call.assert_transferred(phone="+910000000000")
    with pytest.raises(CallAssertionError):
        call.assert_hung_up()


def test_an_ended_call_refuses_more_keys() -> None:
    call = Simulator(acme()).dial()
    call.press("1")
    with pytest.raises(CallAssertionError, match="has ended"):
        call.press("2")


def test_keys_must_be_keypad_keys() -> None:
    call = Simulator(acme()).dial()
    with pytest.raises(ValueError, match="keypad"):
        call.press("12")


def test_settable_clock_drives_business_hours() -> None:
    sim = Simulator(business_hours(), now="2026-11-24T10:00:00+05:30")
    sim.dial().assert_transferred(teams=[101])
    sim.set_time("2026-11-24T22:00:00+05:30")
    closed = sim.dial()
    closed.assert_hung_up()
    closed.assert_heard("We are closed now")
    with pytest.raises(ValueError, match="zone"):
        sim.set_time("2026-11-24T10:00:00")


def test_language_selection_branches_on_a_collected_variable() -> None:
    sim = Simulator(language_select())
    hindi = sim.dial()
    hindi.enter("2#")
    hindi.assert_heard("स्वागत है")
    english = sim.dial()
    english.enter("1#")
    english.assert_heard("Welcome.")
    bad = sim.dial()
    bad.enter("3#")
    bad.assert_waiting_at("choose")


def test_many_interleaved_simulated_calls_are_isolated() -> None:
    sim = Simulator(acme())
    calls = [sim.dial() for _ in range(1000)]
    for call in calls:
        call.press("2")
    for index, call in enumerate(calls):
        call.enter(f"{index}*")
    for index, call in enumerate(reversed(calls)):
        call.press("1")
        call.assert_heard(f"Your order {len(calls) - 1 - index} is on its way.")


def test_ping_answers_neutral() -> None:
    assert Simulator(acme()).ping() == {"prompt": [" . "], "num_characters": 0}
