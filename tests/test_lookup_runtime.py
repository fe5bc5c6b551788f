"""The runtime's lookups: the request a call makes, and the exit it takes for what came back."""

from __future__ import annotations

import json
from typing import Any

import pytest

from jaxl_designer.core.flow import Flow
from jaxl_designer.core.runtime import (
    LOOKUP_FAILED_PROMPT,
    LOOP_PROMPT,
    MAX_CONTEXT_CHARS,
    Lookup,
    LookupResult,
    Runtime,
    Turn,
    request,
)

AGENT = "+918000000042"


def _flow(**lookup: Any) -> Flow:
    flow = Flow("orders")
    flow.collect("ask", "Your order number, then hash.", "order", then="find")
    fields: dict[str, Any] = {
        "url": "http://orders.test/orders/{order}",
        "save": {"order_status": "status", "agent_phone": "agent.phone"},
        "ok": "status",
        "failed": "unknown",
        "timed_out": "late",
    }
    fields.update(lookup)
    flow.lookup("find", **fields)
    flow.menu("status", ["Order {order} is {order_status}.", "Press 1 for its agent."])
    flow.connect("status", "1", "agent")
    flow.transfer("agent", phone="{agent_phone}")
    flow.hangup("unknown", "We could not find that order.")
    flow.hangup("late", "Our systems are slow right now.")
    flow.allowed_hosts = ["orders.test"]
    return flow


def _at_lookup(
    flow: Flow, digits: str = "17#", secrets: dict[str, str] | None = None
) -> tuple[Runtime, Turn]:
    runtime = Runtime(flow.to_document(), secrets=secrets or {})
    runtime.handle(request(1, 7))
    return runtime, runtime.respond(request(2, 7, data=digits))


def _answer(payload: Any, status: int = 200) -> LookupResult:
    return LookupResult(status, json.dumps(payload).encode())


GOOD = {"status": "out for delivery", "agent": {"phone": AGENT}}


def test_a_call_at_a_lookup_waits_on_its_request_and_goes_on_with_the_answer() -> None:
    runtime, turn = _at_lookup(_flow())
    assert turn.lookup is not None and turn.response == {}, "not answered before the lookup"
    assert (turn.lookup.method, turn.lookup.url) == ("GET", "http://orders.test/orders/17")
    assert (turn.lookup.host, turn.lookup.port, turn.lookup.target) == (
        "orders.test",
        80,
        "/orders/17",
    )
    turn = runtime.resume(turn, _answer(GOOD))
    assert turn.response == {
        "prompt": ["Order 17 is out for delivery.", "Press 1 for its agent."],
        "num_characters": 1,
    }
    assert turn.lookups == [("find", "ok", "status 200")]
    assert ("find", "ok", "status") in turn.edges
    # The values saved are the call's from then on: the transfer reads the agent's number.
    cta = runtime.handle(request(2, 7, option="1"))
    assert cta is not None and cta["phone"]["to_number"] == AGENT


@pytest.mark.parametrize(
    ("result", "why"),
    [
        (LookupResult(500, b'{"error": "down"}'), "status 500"),
        (LookupResult(302, b""), "status 302"),
        (LookupResult(404, b"{}"), "status 404"),
        (LookupResult(200, b"<html>"), "the answer is not JSON"),
        (LookupResult(200, b'{"status": "ok"}'), "the answer has no agent.phone"),
        (_answer({"status": {"code": 1}, "agent": {"phone": AGENT}}), "the answer has no status"),
        (_answer({"status": None, "agent": {"phone": AGENT}}), "the answer has no status"),
        (LookupResult(error="cannot connect to orders.test: refused"), "cannot connect"),
    ],
)
def test_a_backend_that_fails_sends_the_call_by_failed(result: LookupResult, why: str) -> None:
    runtime, turn = _at_lookup(_flow())
    turn = runtime.resume(turn, result)
    assert turn.response == {"prompt": ["We could not find that order."], "num_characters": 0}
    assert turn.lookups[0][:2] == ("find", "failed") and why in turn.lookups[0][2]
    assert "order_status" not in str(runtime.store.load(7)), "nothing half saved"


def test_no_answer_in_time_sends_the_call_by_timeout_or_failed_without_one() -> None:
    runtime, turn = _at_lookup(_flow(timeout=0.5))
    assert turn.lookup is not None and turn.lookup.timeout == 0.5
    turn = runtime.resume(turn, LookupResult(timed_out=True))
    assert turn.response["prompt"] == ["Our systems are slow right now."]
    assert turn.lookups == [("find", "timeout", "no answer within 0.5 s")]
    runtime, turn = _at_lookup(_flow(timed_out=None))
    turn = runtime.resume(turn, LookupResult(timed_out=True))
    assert turn.response["prompt"] == ["We could not find that order."]


def test_a_lookup_with_no_way_out_apologises_and_ends_the_call() -> None:
    runtime, turn = _at_lookup(_flow(failed=None))
    turn = runtime.resume(turn, LookupResult(503))
    assert turn.response == {"prompt": list(LOOKUP_FAILED_PROMPT), "num_characters": 0}
    assert runtime.store.load(7) is None


def test_saved_values_are_cut_and_never_read_as_templates() -> None:
    runtime, turn = _at_lookup(_flow())
    long = "x" * 5000
    turn = runtime.resume(turn, _answer({"status": "{from_number} " + long, "agent": {"phone": 1}}))
    said = turn.response["prompt"][0]
    assert said.startswith("Order 17 is {from_number} x"), "a backend's braces stay braces"
    assert len(said) < MAX_CONTEXT_CHARS + 20


def test_filled_values_cannot_change_where_a_lookup_goes() -> None:
    flow = _flow(url="http://orders.test/orders/{metadata.ref}?caller={from_number}")
    flow.connect("find", "ok", "status")
    runtime = Runtime(flow.to_document(), secrets={})
    call = request(1, 8, context={"metadata.ref": "../admin@evil.test/#x?y=1"})
    runtime.handle(call)
    turn = runtime.respond(
        request(2, 8, data="1#", context={"metadata.ref": "../admin@evil.test/#x?y=1"})
    )
    assert turn.lookup is not None
    assert turn.lookup.host == "orders.test"
    assert turn.lookup.target == (
        "/orders/..%2Fadmin%40evil.test%2F%23x%3Fy%3D1?caller=%2B919999900000"
    )


def test_a_host_not_allowed_is_never_asked() -> None:
    flow = _flow()
    flow.allowed_hosts = ["orders.test:8443"]
    _runtime, turn = _at_lookup(flow)
    assert turn.lookup is None, "no request is made"
    assert turn.lookups == [("find", "failed", "'orders.test' is not an allowed host")]
    assert turn.response["prompt"] == ["We could not find that order."]
    flow.allowed_hosts = []
    assert _at_lookup(flow)[1].lookup is None


def test_secrets_come_from_the_environment_and_never_show() -> None:
    flow = _flow(headers={"Authorization": "Bearer ${ORDERS_TOKEN}", "X-Shop": "north"})
    _, turn = _at_lookup(flow, secrets={"ORDERS_TOKEN": "s3cr3t"})
    lookup = turn.lookup
    assert lookup is not None
    assert ("Authorization", "Bearer s3cr3t") in lookup.headers
    assert ("X-Shop", "north") in lookup.headers
    assert "s3cr3t" not in repr(lookup) and "s3cr3t" not in repr(turn)
    _runtime, turn = _at_lookup(flow, secrets={})
    assert turn.lookup is None
    assert turn.lookups == [("find", "failed", "the secret ORDERS_TOKEN is not set")]
    _, turn = _at_lookup(flow, secrets={"ORDERS_TOKEN": "a\r\nX-Evil: 1"})
    assert turn.lookup is None and "line break" in turn.lookups[0][2]


def test_a_body_is_json_with_the_call_filled_in() -> None:
    flow = _flow(method="POST", body={"order": "{order}", "caller": "{from_number}", "n": 2})
    _, turn = _at_lookup(flow)
    lookup = turn.lookup
    assert lookup is not None and lookup.method == "POST"
    assert lookup.body is not None
    assert json.loads(lookup.body) == {"order": "17", "caller": "+919999900000", "n": 2}
    assert ("Content-Type", "application/json") in lookup.headers


def test_a_lookup_without_save_is_ok_on_any_2xx() -> None:
    flow = _flow(save=None)
    runtime, turn = _at_lookup(flow)
    turn = runtime.resume(turn, LookupResult(204, b""))
    assert turn.lookups == [("find", "ok", "status 204")]


def test_handle_performs_lookups_with_the_fetch_it_is_given() -> None:
    flow = _flow()
    runtime = Runtime(flow.to_document(), secrets={})
    runtime.handle(request(1, 9))
    asked: list[Lookup] = []

    def fetch(lookup: Lookup) -> LookupResult:
        asked.append(lookup)
        return _answer(GOOD)

    answer = runtime.handle(request(2, 9, data="42#"), fetch)
    assert answer is not None and answer["prompt"][0] == "Order 42 is out for delivery."
    assert [lookup.url for lookup in asked] == ["http://orders.test/orders/42"]
    runtime.handle(request(1, 10))
    answer = runtime.handle(request(2, 10, data="42#"))
    assert answer is not None and answer["prompt"] == ["We could not find that order."]


def test_lookups_in_a_loop_end_like_any_other_loop() -> None:
    flow = Flow("loop")
    flow.lookup("a", "http://orders.test/a", ok="b", failed="b")
    flow.lookup("b", "http://orders.test/b", ok="a", failed="a")
    flow.allowed_hosts = ["orders.test"]
    runtime = Runtime(flow.to_document(), secrets={})
    turn = runtime.respond(request(1, 11))
    rounds = 0
    while turn.lookup is not None:
        turn = runtime.resume(turn, LookupResult(200, b""))
        rounds += 1
    assert turn.response == {"prompt": list(LOOP_PROMPT), "num_characters": 0}
    assert rounds <= 3


def test_only_a_waiting_turn_can_be_resumed() -> None:
    runtime, turn = _at_lookup(_flow())
    done = runtime.resume(turn, _answer(GOOD))
    with pytest.raises(ValueError, match="not waiting on a lookup"):
        runtime.resume(done, _answer(GOOD))


def test_an_environment_chooses_the_hosts_its_lookups_may_ask() -> None:
    from jaxl_designer.core.prepare import prepare

    flow = _flow(url="http://127.0.0.1:8765/orders/{order}")
    flow.allowed_hosts = []
    flow.environments = {"dev": {"allowed_hosts": ["127.0.0.1:8765"]}, "prod": {}}
    assert _at_lookup(prepare(flow, "dev"))[1].lookup is not None
    assert _at_lookup(prepare(flow, "prod"))[1].lookup is None


def test_a_store_that_fails_after_a_lookup_is_the_store_down_apology() -> None:
    from jaxl_designer.core.runtime import STORE_DOWN_PROMPT, MemoryStore, StoreError

    class Failing(MemoryStore):
        failing = False

        def save(self, call_id: int, state: dict[str, Any]) -> None:
            if self.failing:
                raise StoreError("down")
            super().save(call_id, state)

    store = Failing()
    runtime = Runtime(_flow().to_document(), store, secrets={})
    runtime.handle(request(1, 12))
    turn = runtime.respond(request(2, 12, data="17#"))
    store.failing = True
    turn = runtime.resume(turn, _answer(GOOD))
    assert turn.response == {"prompt": list(STORE_DOWN_PROMPT), "num_characters": 0}
    assert turn.lookup is None
