"""The call runtime: Acme step by step, every dispatch rule, recovery, store bounds, isolation."""

from __future__ import annotations

import gc
import json
import marshal
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jaxl_designer.core.examples import acme, business_hours, support_menu
from jaxl_designer.core.flow import Flow
from jaxl_designer.core.runtime import (
    NEUTRAL,
    BadRequest,
    MemoryStore,
    Runtime,
    StoreError,
    call_context,
    fill,
)
from jaxl_designer.core.simulator import request

MAIN = [
    "Welcome to Acme.",
    "Press 1 for sales.",
    "Press 2 to enter your order number.",
    "Press 9 to hear this again.",
]
SORRY = "Sorry, that is not a valid choice."
ORDER = {"prompt": ["Please enter your order number followed by star"], "num_characters": "*"}
SALES = {
    "next": None,
    "phone": {"to_number": "+918000000001", "from_number": None},
    "devices": None,
    "appusers": None,
    "teams": None,
}


def confirm(order: str) -> dict:
    return {
        "prompt": [f"You entered {order}.", "Press 1 to confirm.", "Press 2 to re-enter."],
        "num_characters": 1,
    }


@pytest.fixture
def runtime() -> Runtime:
    return Runtime(acme().to_document())


def test_acme_order_call_step_by_step(runtime: Runtime) -> None:
    def send(event, option=None, data=None):
        return runtime.handle(request(event, 42, option=option, data=data))

    assert send(1) == {"prompt": MAIN, "num_characters": 1}
    assert send(2, "7") == {"prompt": [SORRY, *MAIN], "num_characters": 1}
    assert send(2, "9") == {"prompt": MAIN, "num_characters": 1}
    assert send(2, "2") == ORDER
    assert send(2, "2", "12a*") == ORDER  # not digits: the collect prompt again
    assert send(2, "2", "*") == ORDER  # nothing entered
    assert send(2, "2", "657*") == confirm("657")
    assert send(2, "5") == {"prompt": [SORRY, *confirm("657")["prompt"]], "num_characters": 1}
    assert send(2, "2") == ORDER  # re-enter
    assert send(2, "2", "123*") == confirm("123")
    assert send(2, "1") == {
        "prompt": ["Thank you.", "Your order 123 is on its way."],
        "num_characters": 0,
    }
    assert send(3) == NEUTRAL


def test_acme_sales_is_a_transfer_cta(runtime: Runtime) -> None:
    runtime.handle(request(1, 5))
    assert runtime.handle(request(2, 5, option="1")) == SALES


def test_configure_ping_gets_the_neutral_prompt(runtime: Runtime) -> None:
    assert runtime.handle({"pk": 1, "event": 1, "state": None, "option": None, "data": None}) == (
        {"prompt": [" . "], "num_characters": 0}
    )


@pytest.mark.parametrize(
    ("event", "answer"), [(4, NEUTRAL), (5, None), (99, NEUTRAL), (-1, NEUTRAL)]
)
def test_events_it_does_not_handle_get_a_harmless_answer(
    runtime: Runtime, event: int, answer: object
) -> None:
    runtime.handle(request(1, 9))
    # A mark (5) is answered null, as the SDK answers it; a neutral prompt would hang up.
    assert runtime.handle({**request(event, 9), "mark": "m1"}) == answer
    # and the call is still where it was
    assert runtime.handle(request(2, 9, option="2")) == ORDER


def test_teardown_frees_the_call_state() -> None:
    store = MemoryStore()
    runtime = Runtime(acme().to_document(), store)
    runtime.handle(request(1, 3))
    assert len(store) == 1
    runtime.handle(request(3, 3))
    assert len(store) == 0


def test_setup_user_data_event_goes_to_a_collect_at_the_entry() -> None:
    flow = Flow("pin")
    flow.collect("pin", "Enter your PIN then hash.", "pin", then="bye")
    flow.hangup("bye", "PIN {pin:digits} noted.")
    runtime = Runtime(flow.to_document())
    assert runtime.handle(request(1, 1)) == {
        "prompt": ["Enter your PIN then hash."],
        "num_characters": "#",
    }
    assert runtime.handle(request(1, 1, data="4321#")) == {
        "prompt": ["PIN 4 3 2 1 noted."],
        "num_characters": 0,
    }


def test_fixed_length_collect_asks_for_n_keys() -> None:
    flow = Flow("otp")
    flow.collect("otp", "Enter the 4 digit code.", "otp", length=4, then="bye")
    flow.hangup("bye", "Code {otp}.")
    runtime = Runtime(flow.to_document())
    assert runtime.handle(request(1, 1))["num_characters"] == 4
    assert runtime.handle(request(1, 1, data="123"))["prompt"] == ["Enter the 4 digit code."]
    assert runtime.handle(request(1, 1, data="1234"))["prompt"] == ["Code 1234."]


def test_recovery_restarts_an_unknown_call_at_the_entry(runtime: Runtime) -> None:
    response = runtime.handle(request(2, 777, option="1"))
    assert response["num_characters"] == 1
    assert response["prompt"][0].startswith("Sorry, we lost track of your call")
    assert response["prompt"][1:] == MAIN
    # the call now exists and goes on normally
    assert runtime.handle(request(2, 777, option="1")) == SALES


def test_recovery_can_apologise_and_hang_up() -> None:
    flow = acme()
    flow.recovery = {"action": "hangup", "prompt": ["Sorry, please call again."]}
    runtime = Runtime(flow.to_document())
    assert runtime.handle(request(2, 1, option="1")) == {
        "prompt": ["Sorry, please call again."],
        "num_characters": 0,
    }


@pytest.mark.parametrize(
    ("option", "data"),
    [("1", "123*"), (None, None), ("", None), ("12", None), ("x", None), ("١", None), ("１", None)],
    ids=["digits-at-a-menu", "no-input", "empty", "two-keys", "not-a-key", "arabic-1", "wide-1"],
)
def test_input_that_is_no_key_of_the_menu_is_asked_again_like_a_wrong_key(option, data) -> None:
    runtime = Runtime(acme().to_document())
    runtime.handle(request(1, 8))
    response = runtime.handle(request(2, 8, option=option, data=data))
    runtime.handle(request(1, 9))
    assert response == runtime.handle(request(2, 9, option="7")), "as key 7, which has no edge"
    assert not response["prompt"][0].startswith("Sorry, we lost track")


def test_a_key_at_a_collect_asks_again_and_keeps_what_was_entered() -> None:
    runtime = Runtime(acme().to_document())
    runtime.handle(request(1, 8))
    runtime.handle(request(2, 8, option="2"))  # to the order collect
    runtime.handle(request(2, 8, option="2", data="123*"))  # to confirm: order 123
    runtime.handle(request(2, 8, option="2"))  # re-enter: the order collect again
    response = runtime.handle(request(2, 8, option="5"))  # a key, not digits, at the collect
    assert not response["prompt"][0].startswith("Sorry, we lost track")
    assert response["num_characters"] == "*", "still waiting for the order's digits"
    state = runtime.store.load(8)
    assert state is not None and state["vars"]["order"] == "123"


def test_digits_longer_than_allowed_are_refused_and_never_read_back() -> None:
    flow = Flow("short")
    flow.collect("code", "Code then hash.", "code", max_length=4, then="bye")
    flow.hangup("bye", "You said {code}.")
    runtime = Runtime(flow.to_document())
    runtime.handle(request(1, 2))
    huge = "9" * 100_000 + "#"
    assert runtime.handle(request(1, 2, data=huge)) == {
        "prompt": ["Code then hash."],
        "num_characters": "#",
    }
    assert runtime.handle(request(1, 2, data="12345#"))["prompt"] == ["Code then hash."]
    assert runtime.handle(request(1, 2, data="1234#"))["prompt"] == ["You said 1234."]


def test_retry_limit_goes_to_the_final_destination() -> None:
    runtime = Runtime(support_menu().to_document())
    runtime.handle(request(1, 4))
    sorry = runtime.handle(request(2, 4, option="7"))
    assert sorry["prompt"][0] == SORRY
    runtime.handle(request(2, 4, option="8"))
    third = runtime.handle(request(2, 4, option="9"))
    assert third["phone"] == {"to_number": "+918000000000", "from_number": None}


def test_a_valid_key_resets_the_retry_count() -> None:
    runtime = Runtime(support_menu().to_document())
    runtime.handle(request(1, 4))
    runtime.handle(request(2, 4, option="7"))
    runtime.handle(request(2, 4, option="8"))
    assert runtime.handle(request(2, 4, option="1"))["prompt"][0] == "Billing."
    runtime.handle(request(2, 4, option="7"))  # one miss at billing: it has no limit
    assert runtime.handle(request(2, 4, option="0"))["phone"]["to_number"] == "+918000000000"


@pytest.mark.parametrize(
    ("when", "open_"),
    [
        ("2026-11-24T10:00:00+05:30", True),  # a Tuesday morning
        ("2026-11-24T18:00:00+05:30", False),  # closing time
        ("2026-11-28T10:00:00+05:30", False),  # a Saturday
        ("2026-12-25T10:00:00+05:30", False),  # a holiday
        ("2026-11-24T04:00:00+00:00", True),  # 09:30 in Kolkata
    ],
)
def test_business_hours_branch_follows_the_clock(when: str, open_: bool) -> None:
    import datetime

    moment = datetime.datetime.fromisoformat(when).timestamp()
    runtime = Runtime(business_hours().to_document(), clock=lambda: moment)
    response = runtime.handle(request(1, 1))
    assert ("teams" in response and response["teams"] == [101]) is open_


def test_say_sentences_join_the_next_prompt_and_a_say_before_hangup_is_heard() -> None:
    flow = Flow("x")
    flow.say("hello", ["Hello {from_number}."], then="bye")
    flow.hangup("bye", "Bye.")
    runtime = Runtime(flow.to_document())
    assert runtime.handle(request(1, 1, from_number="+911234567890")) == {
        "prompt": ["Hello +911234567890.", "Bye."],
        "num_characters": 0,
    }


def test_a_silent_loop_never_hangs_the_runtime() -> None:
    flow = Flow("loop")
    flow.say("a", "A.", then="b")
    flow.say("b", "B.", then="a")
    response = Runtime(flow.to_document()).handle(request(1, 1))
    assert response["num_characters"] == 0
    assert "not working" in response["prompt"][0]


@pytest.mark.parametrize(
    "body",
    [
        [],
        "text",
        {"event": "x", "state": None},
        {"event": True, "state": None},
        {"event": 2, "state": None},
        {"event": 1, "state": []},
        {"event": 1, "state": {}},
        {"event": 1, "state": {"call_id": "abc"}},
        {"event": 1, "state": {"call_id": 1.5}},
        {"event": 2, "state": {"call_id": 1}, "option": ["1"]},
        {"event": 2, "state": {"call_id": 1}, "data": {"x": 1}},
        {"event": 1, "state": {"call_id": 1, "from_number": 5.5}},
    ],
)
def test_malformed_requests_raise_bad_request(runtime: Runtime, body) -> None:
    with pytest.raises(BadRequest) as error:
        runtime.handle(body)
    assert error.value.status == 422
    assert "\n" not in str(error.value)


def test_numeric_string_call_id_and_unknown_keys_are_accepted(runtime: Runtime) -> None:
    body = request(1, 0)
    body["state"]["call_id"] = "12345"
    body["state"]["options"] = None
    body["state"]["voice"] = {"lang": "en"}
    body["mark"] = "x"
    body["extra"] = {"deep": [1, 2]}
    assert runtime.handle(body)["prompt"] == MAIN
    assert runtime.handle(request(2, 12345, option="2")) == ORDER


def test_spec_example_without_options_is_answered(runtime: Runtime) -> None:
    body = json.loads(
        """{"pk": "INTEGER-FLOW-ID", "event": 1, "state": {"call_id": 17,
        "from_number": "+91XXXXXXXXXX", "to_number": "+91YYYYYYYYYY", "direction": 1,
        "org": {"name": "Your Org"}, "metadata": null, "greeting_message": null},
        "option": null, "data": null}"""
    )
    assert runtime.handle(body)["prompt"] == MAIN


def test_store_keeps_at_most_its_bound_when_calls_are_abandoned() -> None:
    store = MemoryStore(max_calls=1000)
    runtime = Runtime(acme().to_document(), store)
    for call_id in range(100_000):
        runtime.handle(request(1, call_id))
    assert len(store) == 1000
    # the newest calls are the ones kept
    assert runtime.handle(request(2, 99_999, option="2")) == ORDER


def test_waiting_calls_give_the_garbage_collector_nothing_to_walk() -> None:
    # A full collection walks every tracked object: with call states as dicts, 100,000 waiting
    # calls made each one a 20-50 ms pause of the webhook. Kept as bytes, they add nothing.
    store = MemoryStore(max_calls=20_000)
    state = {"node": "order", "vars": {"order": "123"}, "misses": 0, "from_number": "+91"}
    gc.collect()
    before = len(gc.get_objects())
    for call_id in range(20_000):
        store.save(call_id, dict(state, vars=dict(state["vars"])))
    gc.collect()
    assert len(gc.get_objects()) - before < 100
    assert store.load(19_999) == state and store.load(19_999) is not store.load(19_999)


def test_store_expires_idle_calls() -> None:
    now = [0.0]
    store = MemoryStore(ttl=60, clock=lambda: now[0])
    runtime = Runtime(acme().to_document(), store)
    runtime.handle(request(1, 1))
    now[0] = 61
    assert store.load(1) is None
    runtime.handle(request(1, 2))
    assert len(store) == 1


def test_store_failure_is_spoken_never_raised() -> None:
    class Down:
        def load(self, call_id):
            raise StoreError("down")

        def save(self, call_id, state):
            raise StoreError("down")

        def drop(self, call_id):
            raise StoreError("down")

    runtime = Runtime(acme().to_document(), Down())
    for event, option in [(1, None), (2, "1"), (3, None)]:
        response = runtime.handle(request(event, 1, option=option))
        assert response["num_characters"] == 0
        assert "cannot take your call" in response["prompt"][0]


def test_interleaved_calls_never_cross_talk() -> None:
    runtime = Runtime(acme().to_document())
    calls = range(1000)
    for call_id in calls:
        runtime.handle(request(1, call_id))
    for call_id in calls:
        runtime.handle(request(2, call_id, option="2"))
    for call_id in calls:
        assert runtime.handle(request(2, call_id, option="2", data=f"{call_id}*")) == confirm(
            str(call_id)
        )
    for call_id in reversed(calls):
        response = runtime.handle(request(2, call_id, option="1"))
        assert response["prompt"][1] == f"Your order {call_id} is on its way."


def test_fill_only_looks_names_up() -> None:
    values = {"order": "12", "from_number": "+91"}
    assert fill("{order.__class__} {order[0]} {{order}} {missing}!", values) == (
        "{order.__class__} {order[0]} {order} !"
    )
    assert fill("{order:digits}", values) == "1 2"


def test_a_bad_time_zone_takes_the_default_outcome_instead_of_crashing() -> None:
    flow = business_hours()
    rules = flow.node("hours")["rules"]
    rules[0]["tz"] = "America"  # a folder of zones, not a zone
    flow.update("hours", rules=rules)
    response = Runtime(flow.to_document()).handle(request(1, 1))
    assert response["num_characters"] == 0  # closed: the default outcome


def test_a_rule_whose_outcome_has_no_edge_is_recorded_as_the_default_edge() -> None:
    from jaxl_designer.core.simulator import Simulator

    flow = Flow("vip")
    rule = {"outcome": "vip", "test": "prefix", "subject": "from_number", "value": "+91"}
    flow.branch("check", [rule], outcomes={"default": "bye"})
    flow.hangup("bye", "Bye.")
    assert Simulator(flow).dial("+911234567890").edges == [("check", "default", "bye")]


def test_a_collect_without_terminator_or_length_takes_the_hash_it_asks_for() -> None:
    flow = {
        "entry": "c",
        "nodes": {
            "c": {"kind": "collect", "prompt": ["Digits?"], "var": "v", "edges": {"ok": "b"}},
            "b": {"kind": "hangup", "prompt": ["Got {v}."]},
        },
    }
    runtime = Runtime(flow)
    assert runtime.handle(request(1, 1))["num_characters"] == "#"
    assert runtime.handle(request(1, 1, data="123#"))["prompt"] == ["Got 123."]


def test_another_callers_request_with_a_live_call_id_is_a_new_call_never_that_one() -> None:
    runtime = Runtime(acme().to_document())
    real = {"from_number": "+919999900001"}
    runtime.handle(request(1, 31, **real))
    runtime.handle(request(2, 31, option="2", **real))
    assert runtime.handle(request(2, 31, option="2", data="4111222233334444*", **real)) == (
        confirm("4111222233334444")
    )
    # Someone else sends the same call id: they hear the start, not the order read back.
    other = {"from_number": "+15550000000"}
    heard = runtime.handle(request(2, 31, option="1", **other))
    assert "4111222233334444" not in json.dumps(heard)
    assert heard["prompt"][0].startswith("Sorry, we lost track") and heard["num_characters"] == 1
    assert runtime.handle(request(3, 31, **other)) == NEUTRAL  # nor can they end it
    # The real caller's call goes on where it was.
    assert "4111222233334444" in json.dumps(runtime.handle(request(2, 31, option="1", **real)))


def test_caller_fields_are_cut_before_a_call_keeps_them() -> None:
    runtime = Runtime(acme().to_document())
    runtime.handle(request(1, 32, from_number="+91" + "9" * 32_000))
    state = runtime.store.load(32)
    assert state is not None and len(state["from_number"]) == 32
    assert len(json.dumps(state)) < 300


def test_the_memory_store_keeps_at_most_its_byte_budget_least_recently_used_going_first() -> None:
    store = MemoryStore(max_bytes=10_000)
    big = {"node": "main", "vars": {"note": "x" * 3_000}}
    for call_id in range(1, 6):
        store.save(call_id, big)
    assert store.bytes <= 10_000
    assert store.load(1) is None and store.load(5) == big, "the oldest went, the newest stays"
    kept = len(store)
    store.drop(5)
    store.save(4, {"node": "main", "vars": {}})  # a call's state shrinks: its bytes follow
    assert len(store) == kept - 1 and store.bytes < 10_000 - 3_000
    assert sum(len(json.dumps(store.load(i) or {})) for i in range(1, 6)) <= store.bytes + 500


@pytest.mark.parametrize("reads_context", [False, True], ids=["acme", "acme-greeting-org"])
def test_a_calls_state_is_bounded_in_bytes_whatever_the_request_carries(reads_context) -> None:
    """The worst a request can make a call keep, on Acme with held answers (what the exported
    servers keep): every caller field, context value and metadata key at the body's limit.
    Acme reads none of its context, so keeps none of it; greeting the caller with `{org.name}`
    makes it read its context, so keep all of it that a flow can read, each value cut."""
    document = acme().to_document()
    if reads_context:
        document["nodes"]["main"]["prompt"][0] = "Welcome to {org.name}."
    runtime = Runtime(document)
    huge = "9" * 32_000
    setup = request(1, 33, from_number="+1" + huge, to_number="+1" + huge)
    state = setup["state"]
    state["metadata"] = {f"{'k' * 5_000}{i}": "v" * 32_000 for i in range(40)}
    state["metadata"].update({f"key{i}": "v" * 32_000 for i in range(40)})
    state["org"] = {"name": "n" * 32_000, "id": "i" * 32_000}
    state["campaign_id"] = state["campaign_type"] = "c" * 32_000
    state["voice"] = {"lang": "l" * 32_000}
    runtime.respond(setup, held=True)
    entered = dict(setup, event=2, option="2")
    runtime.respond(entered, held=True)
    runtime.respond(dict(entered, data="1" * 64 + "*"), held=True)  # the most digits it keeps
    kept = runtime.store.load(33)
    assert kept is not None and kept["vars"] == {"order": "1" * 64}
    size = len(json.dumps(kept, ensure_ascii=False, separators=(",", ":")))
    print(f"\nthe most one Acme call keeps: {size:,} bytes")
    assert size < 12 * 1024, size
    if not reads_context:
        assert "ctx" not in kept
        return
    assert len(kept["ctx"]) > 32, "the context a flow can read is kept"
    assert all(len(key) <= 64 + len("metadata.") for key in kept["ctx"])


def _waits(prompt: str, then: dict | None = None) -> dict:
    """A flow that waits at a menu whose key 1 leads to `then` (a hangup saying `prompt`)."""
    last = then or {"kind": "hangup", "prompt": [prompt]}
    return {
        "entry": "m",
        "nodes": {"m": {"kind": "menu", "prompt": ["Hello."], "edges": {"1": "x"}}, "x": last},
    }


@pytest.mark.parametrize(
    ("flow", "said"),
    [
        (_waits("You are {direction}."), "You are outbound."),
        (_waits("Order {metadata.order_id:digits}."), "Order 4 7."),
        (_waits("", {"kind": "transfer", "phone": "+91{metadata.order_id}000000"}), None),
    ],
    ids=["prompt", "digits", "transfer"],
)
def test_a_flow_that_reads_its_context_later_in_the_call_keeps_it(flow, said) -> None:
    runtime = Runtime(flow)
    context = {"direction": "outbound", "metadata.order_id": "47", "campaign_id": "42"}
    runtime.handle(request(1, 8, context=context))
    kept = runtime.store.load(8)
    assert kept is not None and kept["ctx"]["metadata.order_id"] == "47"
    answer = runtime.handle(request(2, 8, option="1"))  # what the call started with counts
    if said is not None:
        assert answer == {"prompt": [said], "num_characters": 0}
    else:
        assert answer is not None and answer["phone"]["to_number"] == "+9147000000"


def test_a_rule_on_the_context_is_read_from_what_the_call_kept() -> None:
    flow = _waits("")
    flow["nodes"]["x"] = {
        "kind": "branch",
        "rules": [{"subject": "campaign_id", "test": "equals", "value": "42", "outcome": "yes"}],
        "edges": {"yes": "y", "default": "n"},
    }
    flow["nodes"]["y"] = {"kind": "hangup", "prompt": ["Campaign 42."]}
    flow["nodes"]["n"] = {"kind": "hangup", "prompt": ["Another campaign."]}
    runtime = Runtime(flow)
    runtime.handle(request(1, 9, context={"campaign_id": "42"}))
    later = request(2, 9, option="1")  # the context the call started with is what counts
    assert runtime.handle(later) == {"prompt": ["Campaign 42."], "num_characters": 0}


def test_a_flow_that_never_reads_its_context_keeps_none_and_answers_the_same() -> None:
    """Acme reads no context: its calls keep none ("Press 1 for an invoice." reads nothing)."""
    document = acme().to_document()
    document["nodes"]["main"]["prompt"][0] = "Welcome to Acme, for an invoice. Campaigns, org"
    runtime = Runtime(document)
    context = {"direction": "outbound", "metadata.order_id": "4711", "org.name": "Acme"}
    first = runtime.handle(request(1, 10, context=context))
    kept = runtime.store.load(10)
    assert kept is not None and "ctx" not in kept and kept["node"] == "main"
    assert first is not None and first["prompt"][0].startswith("Welcome to Acme")
    assert runtime.handle(request(2, 10, option="2", context=context)) == ORDER


def test_digits_or_none_are_two_requests_even_without_a_key() -> None:
    """A retry is the same event, key and digits: no digits (null) and empty digits differ."""
    runtime = Runtime(acme().to_document())
    runtime.respond(request(1, 11), held=True)
    pressed = runtime.respond(request(2, 11, option="9"), held=True)
    again = runtime.respond(request(2, 11, option="9"), held=True)
    assert again.replayed and again.response == pressed.response
    empty = runtime.respond(request(2, 11, option="9", data=""), held=True)
    assert not empty.replayed and empty.nodes == ["main"]


class _FirstStore(MemoryStore):
    """The in-memory store as it first evicted: looking at the oldest call on every save."""

    def save(self, call_id, state) -> None:
        now = self._clock()
        kept = marshal.dumps(state)
        with self._lock:
            calls = self._calls
            old = calls.get(call_id)
            if old is not None:
                self.bytes -= len(old[1])
            calls[call_id] = (now, kept, 0)
            self.bytes += len(kept)
            calls.move_to_end(call_id)
            while calls:
                oldest_id, (touched, oldest, _) = next(iter(calls.items()))
                over = len(calls) > self.max_calls or self.bytes > self.max_bytes
                if (over and oldest_id != call_id) or now - touched > self.ttl:
                    del calls[oldest_id]
                    self.bytes -= len(oldest)
                else:
                    break


@pytest.mark.parametrize("seed", range(20))
def test_the_memory_store_evicts_as_it_always_did(seed) -> None:
    """Saves that skip the eviction loop when nothing is due keep every call it kept, and its
    bytes, whatever the bounds, the sizes and the clock (which here may even go back)."""
    rng = random.Random(seed)
    now = [0.0]
    bounds = {
        "max_calls": rng.choice([1, 2, 5, 50]),
        "ttl": rng.choice([0.5, 5.0, 60.0]),
        "max_bytes": rng.choice([60, 300, 2_000, 10**6]),
        "clock": lambda: now[0],
    }
    stores = [MemoryStore(**bounds), _FirstStore(**bounds)]
    for _ in range(3_000):
        now[0] += rng.choice([0.0, 0.01, 0.3, 2.0, 10.0, -1.0])
        call_id, action = rng.randrange(12), rng.random()
        state = {"node": "m", "vars": {"v": "x" * rng.randrange(200)}}
        for store in stores:
            if action < 0.6:
                store.save(call_id, state)
            elif action < 0.7:
                store.drop(call_id)
            elif action < 0.8:
                store.confirm(call_id, 3)
            else:
                store.load(call_id)
        mine, first = stores
        assert list(mine._calls.items()) == list(first._calls.items())
        assert (len(mine), mine.bytes) == (len(first), first.bytes)


_PIECES = ["{", "}", "{{", "}}", "x", "order", "org.", "name", "metadata.", "k", ":", "digits"]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from([*_PIECES, " ", "é", "_1", ":up"]), max_size=14).map("".join))
def test_a_prompt_says_what_fill_makes_of_its_template(template) -> None:
    """Prompts are read once and filled by joining: what `fill` makes of them, to the letter."""
    flow = {"entry": "a", "nodes": {"a": {"kind": "hangup", "prompt": [template, "{order}"]}}}
    state = request(1, 12, context={"org.name": "Acme", "metadata.k": "7"})
    values = {"from_number": state["state"]["from_number"], "to_number": "+918000000000"}
    values.update(call_context(state["state"]))
    assert Runtime(flow).handle(state) == {
        "prompt": [fill(template, values), ""],
        "num_characters": 0,
    }
