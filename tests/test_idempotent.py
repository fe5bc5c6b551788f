"""A step is idempotent: a request retried after a lost answer gets that answer, not the next step.

The protocol carries no request id, so a retry cannot be told from the caller pressing the same
key again by the request alone. What tells them apart is whether the answer was delivered: a
webhook answer is held (`Runtime.respond(held=True)`) until the server has written it
(`Runtime.delivered`). The same request before that is a retry, answered as before, the call
left where it was and no lookup asked again; after it, the same request is the caller's.

Over real servers, an answer is lost by a client that resets its connection while the call
waits on a slow backend: the server's write then fails, as when a worker dies or a proxy gives
up, and the retry must hear what the first try would have heard.
"""

from __future__ import annotations

import json
import socket
import struct
import time
from pathlib import Path
from typing import Any

import pytest
from backend import Backend
from conftest import BIN, PYTHON, Processes, free_port, http_request
from conftest import request as send_request

from jaxl_designer.core.flow import Flow
from jaxl_designer.core.runtime import (
    LookupResult,
    MemoryStore,
    Runtime,
    Turn,
    log_fields,
    request,
)
from jaxl_designer.exporter.export import export

CALLER = 7001


def stairs() -> dict[str, Any]:
    """Press 1 at the main menu for a sub-menu, where 1 again reaches the desk, and 2 goes away."""
    flow = Flow("stairs")
    flow.menu("main", "Press 1 for more.", keys={"1": "more"})
    flow.menu("more", "Press 1 for the desk. Press 2 to leave.", keys={"1": "desk", "2": "bye"})
    flow.transfer("desk", phone="+15550001111")
    flow.hangup("bye", "Goodbye.")
    return flow.to_document()


def press(runtime: Runtime, key: str, *, held: bool = True, call_id: int = CALLER) -> Turn:
    return runtime.respond(request(2, call_id, option=key), held=held)


def dial(runtime: Runtime, call_id: int = CALLER) -> Turn:
    turn = runtime.respond(request(1, call_id), held=True)
    runtime.delivered(turn.delivery)
    return turn


# -- the runtime ----------------------------------------------------------------------------
def test_a_key_retried_before_its_answer_was_delivered_gets_the_same_answer() -> None:
    runtime = Runtime(stairs())
    dial(runtime)
    first = press(runtime, "1")  # its answer lost on the way
    retry = press(runtime, "1")
    assert retry.response == first.response
    assert first.response["prompt"] == ["Press 1 for the desk. Press 2 to leave."]
    assert retry.replayed and not first.replayed
    assert log_fields(retry) == {"replay": True}  # a report does not count the step twice
    runtime.delivered(retry.delivery)
    # The call moved once: 1 now is the sub-menu's 1, the desk.
    assert press(runtime, "1").response["phone"]["to_number"] == "+15550001111"


def test_the_same_key_after_a_delivered_answer_is_the_callers_next_step() -> None:
    runtime = Runtime(stairs())
    dial(runtime)
    first = press(runtime, "1")
    runtime.delivered(first.delivery)
    second = press(runtime, "1")
    assert not second.replayed
    assert second.response["phone"]["to_number"] == "+15550001111"


def test_answers_that_are_not_held_move_on_as_before() -> None:
    """The simulator, the designer's phone and the SDK form answer without holding."""
    runtime = Runtime(stairs())
    runtime.respond(request(1, CALLER))
    assert press(runtime, "1", held=False).response["prompt"][0].startswith("Press 1 for the desk")
    assert "phone" in press(runtime, "1", held=False).response


def test_a_retried_transfer_transfers_again_then_the_ended_call_is_forgotten() -> None:
    store = MemoryStore()
    runtime = Runtime(stairs(), store)
    dial(runtime)
    runtime.delivered(press(runtime, "1").delivery)
    transfer = press(runtime, "1")
    assert transfer.ending == "transfer" and transfer.delivery == (CALLER, 3, True)
    retry = press(runtime, "1")
    assert retry.replayed and retry.response == transfer.response  # not "we lost track"
    runtime.delivered(retry.delivery)
    assert store.load(CALLER) is None  # delivered: the ended call is gone
    teardown = runtime.respond(request(3, CALLER), held=True)
    assert teardown.ending is None  # it ended by transfer, not by the caller hanging up


def test_a_teardown_after_an_undelivered_ending_is_not_a_caller_hangup() -> None:
    runtime = Runtime(stairs())
    dial(runtime)
    runtime.delivered(press(runtime, "1").delivery)
    bye = press(runtime, "2")
    assert bye.ending == "hangup"
    teardown = runtime.respond(request(3, CALLER), held=True)
    assert teardown.ending is None and teardown.left_at is None
    assert runtime.store.load(CALLER) is None


def test_another_key_after_an_undelivered_answer_is_taken_as_the_caller_heard_it() -> None:
    """A key the held answer's menu takes, other than the one sent: the answer reached the
    caller (its confirmation was lost), so the call goes on from there."""
    runtime = Runtime(stairs())
    dial(runtime)
    press(runtime, "1")  # delivered, but the server could not say so
    assert press(runtime, "2").response["prompt"] == ["Goodbye."]


def test_a_late_confirmation_of_an_older_step_does_not_confirm_the_newer_one() -> None:
    runtime = Runtime(stairs())
    dial(runtime)
    first = press(runtime, "1")
    assert first.delivery is not None
    runtime.delivered((CALLER, first.delivery[1] - 1, False))  # the setup's, arriving late
    assert press(runtime, "1").replayed


def test_a_retried_lookup_is_not_asked_again() -> None:
    flow = Flow("orders")
    flow.collect("ask", "Your order number, then star.", "order", terminator="*", then="find")
    flow.lookup("find", "http://orders.test/orders/{order}", save={"status": "status"},
                ok="status", failed="sorry")  # fmt: skip
    flow.collect("status", "Order {order} is {status}. Your PIN, then star.", "pin",
                 terminator="*", then="bye")  # fmt: skip
    flow.hangup("bye", "Goodbye.")
    flow.hangup("sorry", "Sorry.")
    flow.allowed_hosts = ["orders.test"]
    runtime = Runtime(flow.to_document())
    dial(runtime)
    asked = 0

    def answer(turn: Turn) -> Turn:
        nonlocal asked
        while turn.lookup is not None:
            asked += 1
            turn = runtime.resume(turn, LookupResult(200, b'{"status": "shipped"}'))
        return turn

    entered = request(1, CALLER, data="4411*")
    first = answer(runtime.respond(entered, held=True))
    retry = answer(runtime.respond(entered, held=True))
    assert first.response["prompt"] == ["Order 4411 is shipped. Your PIN, then star."]
    assert retry.replayed and retry.response == first.response
    assert asked == 1  # without holding, 4411* would have been taken as the PIN


def test_a_retry_from_other_numbers_is_not_the_callers_answer() -> None:
    """The held answer is the call's: a request with its id from other numbers never hears it."""
    runtime = Runtime(stairs())
    dial(runtime)
    press(runtime, "1")
    stranger = runtime.respond(
        request(2, CALLER, option="1", from_number="+15559990000"), held=True
    )
    assert not stranger.replayed
    assert stranger.response["prompt"] != ["Press 1 for the desk. Press 2 to leave."]


@pytest.mark.redis
def test_redis_keeps_the_confirmed_step_apart_from_the_state(redis_server: Any) -> None:
    from jaxl_designer.webhook.redis_store import RedisStore

    store = RedisStore(redis_server.url, prefix="t:call:", ack_prefix="t:ack:")
    runtime = Runtime(stairs(), store)
    dial(runtime)
    first = press(runtime, "1")
    assert press(runtime, "1").replayed
    runtime.delivered(first.delivery)
    assert store.load(CALLER)["ack"] == first.delivery[1]  # type: ignore[index]
    assert "phone" in press(runtime, "1").response
    runtime.delivered((CALLER, 3, True))
    assert store.client.exists("t:call:7001", "t:ack:7001") == 0


# -- real servers: an answer lost on the wire ---------------------------------------------------
ASK = "Your code, then star."
PIN = "Hello {name}. Your PIN, then star."


def pin_flow(backend: Backend) -> Flow:
    flow = Flow("pin")
    flow.collect("ask", ASK, "code", terminator="*", then="find")
    flow.lookup("find", f"http://127.0.0.1:{backend.port}/codes/{{code}}", save={"name": "name"},
                timeout=5, ok="pin", failed="sorry")  # fmt: skip
    flow.collect("pin", PIN, "pin", terminator="*", then="bye")
    flow.hangup("bye", "Thank you.")
    flow.hangup("sorry", "Sorry.")
    flow.allowed_hosts = [f"127.0.0.1:{backend.port}"]
    return flow


def lose_the_answer(port: int, payload: Any) -> None:
    """Send a request, then reset the connection at once: its answer cannot be written."""
    sock = socket.create_connection(("127.0.0.1", port))
    sock.sendall(http_request("POST", json.dumps(payload).encode()))
    time.sleep(0.05)  # the request is read
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()  # RST


def serve(form: str, folder: Path, spawn: Processes, redis: Any) -> int:
    port = free_port()
    address = ["--host", "127.0.0.1", "--port", str(port)]
    webhook = str(folder / "webhook.py")
    env = {"JAXL_WEBHOOK_LOG": "1"}
    if form == "stdlib":
        args = [PYTHON, webhook, *address]
    elif form == "stdlib-redis":
        args = [PYTHON, webhook, *address, "--redis-url", redis.url]
    elif form == "uvicorn":
        args = [PYTHON, webhook, "--uvicorn", *address]
    elif form == "uvicorn-redis":
        args = [PYTHON, webhook, "--uvicorn", *address, "--workers", "2", "--redis-url", redis.url]
    elif form == "asyncio":
        args = [PYTHON, webhook, "--asyncio", *address]
    elif form == "asyncio-redis":
        args = [PYTHON, webhook, "--asyncio", *address, "--workers", "2", "--redis-url", redis.url]
    else:  # gunicorn, with the exported gunicorn.conf.py
        args = [str(BIN / "gunicorn"), "--bind", f"127.0.0.1:{port}", "--workers", "1"]
    spawn.start(args, port=port, env=env, cwd=folder)
    return port


@pytest.mark.slow
@pytest.mark.parametrize(
    "form",
    [
        "stdlib",
        "uvicorn",
        "gunicorn",
        pytest.param("stdlib-redis", marks=pytest.mark.redis),
        pytest.param("uvicorn-redis", marks=pytest.mark.redis),
        "asyncio",
        pytest.param("asyncio-redis", marks=pytest.mark.redis),
    ],
)
def test_a_retry_after_a_lost_answer_hears_it_and_the_backend_is_asked_once(
    form: str, spawn: Processes, tmp_path: Path, request: Any
) -> None:
    backend = Backend(slow=0.4)  # a code starting with 9 takes 0.4 s
    try:
        export(pin_flow(backend), tmp_path)
        redis = request.getfixturevalue("redis_server") if "redis" in form else None
        port = serve(form, tmp_path, spawn, redis)
        call_id = 880011
        status, _, answer = send_request(port, body=webhook_request(1, call_id))
        assert (status, answer["prompt"]) == (200, [ASK])
        entered = webhook_request(1, call_id, data="9123*")
        lose_the_answer(port, entered)
        assert backend.wait_for("/codes/9123", 1)
        time.sleep(0.8)  # the backend answered; the server's write failed
        status, _, answer = send_request(port, body=entered)  # the retry
        assert status == 200
        assert answer["prompt"] == ["Hello customer 9123. Your PIN, then star."], answer
        assert len(backend.requests("/codes/")) == 1
        # The retry's answer was delivered: the same digits again are the caller's PIN.
        status, _, answer = send_request(port, body=entered)
        assert answer["prompt"] == ["Thank you."], answer
    finally:
        backend.close()


def webhook_request(event: int, call_id: int, data: str | None = None) -> dict[str, Any]:
    return request(event, call_id, data=data)


def test_a_report_counts_a_retried_transfer_once() -> None:
    """A replayed answer moves no call: the log's reader counts the call and its transfer once."""
    from jaxl_designer.core.report import read
    from jaxl_designer.webhook.app import WebhookApp

    lines: list[str] = []
    app = WebhookApp(Runtime(stairs()), log=lines.append, held=True)

    def post(payload: dict[str, Any], delivered: bool = True) -> None:
        body = json.dumps(payload).encode()
        fields: dict[str, Any] = {}
        app.handle("POST", "/webhook/", "", {"content-length": str(len(body))}, body, fields)
        if delivered:
            app.delivered(fields)

    post(request(1, CALLER))
    post(request(2, CALLER, option="1"))
    post(request(2, CALLER, option="1"), delivered=False)  # the transfer's answer lost
    post(request(2, CALLER, option="1"))  # retried: transferred again
    post(request(3, CALLER))
    assert json.loads(lines[3])["replay"] is True
    traffic = read([lines])
    assert (traffic.calls, dict(traffic.endings)) == (1, {"transfer": 1})
    assert traffic.other == 2  # the replay, and the teardown after the call ended
