"""Random requests against random sound flows: the runtime always answers with the protocol."""

from __future__ import annotations

import json
import re
from typing import Any

from flow_strategies import valid_flows
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from jaxl_designer.core.flow import Flow
from jaxl_designer.core.runtime import KEYS, MAX_DIGITS, BadRequest, MemoryStore, Runtime

NOW = 1_767_607_200.0  # 2026-01-05 10:00 UTC, a Monday
DIALLED = (11, 12)  # calls that start with a setup event; 13 and 404 are never dialled
_INT = re.compile(r"[+-]?[0-9]{1,19}")
_CTA = {"next", "phone", "devices", "appusers", "teams"}

# Mostly well-formed requests to dialled calls, so calls get deep into their flows.
_events = st.sampled_from([1, 2, 2, 2, 2, 2, 2, 3]) | st.sampled_from(
    [4, 5, 99, "2", " 1", "x", None, 2.5, True]
)
_options = st.sampled_from(KEYS) | st.sampled_from(["12", "x", "", None, 5, 0, True, [1]])
_digits = st.text("0123456789", min_size=1, max_size=12)
_data = st.one_of(
    st.none(),
    _digits,
    st.tuples(_digits, st.sampled_from("*#")).map("".join),
    st.integers(MAX_DIGITS - 1, 10_000).map(lambda n: "7" * n),
    st.tuples(st.integers(9, 10_000), st.sampled_from("*#")).map(lambda t: "58" * t[0] + t[1]),
    st.sampled_from(["*", "#", "", "١٢٣#", "12a*", "1*2#", "12\ud800#", 123, False]),
    st.text(max_size=30),
)
_call_ids = st.sampled_from([*DIALLED, *DIALLED, 13, 404, "11"]) | st.sampled_from(
    ["abc", None, 1.5]
)


@st.composite
def _requests(draw: st.DrawFn) -> dict[str, Any]:
    state: Any = draw(st.sampled_from(["call"] * 12 + ["none", "empty", "text"]))
    if state == "call":
        state = {
            "call_id": draw(_call_ids),
            "from_number": draw(st.sampled_from(["+919999900000", "+15550100", None])),
            "to_number": "+918000000000",
            "direction": 1,
            "org": {"name": "Acme"},
            "metadata": None,
            "greeting_message": None,
        }
    else:
        state = {"none": None, "empty": {}, "text": "state"}[state]
    request = {"pk": 1, "event": draw(_events), "state": state}
    request["option"] = draw(_options)
    request["data"] = draw(_data)
    return request


def _setup(call_id: int) -> dict[str, Any]:
    state = {"call_id": call_id, "from_number": "+919999900000", "to_number": "+918000000000"}
    return {"pk": 1, "event": 1, "state": state, "option": None, "data": None}


def _int_like(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (
        isinstance(value, str) and bool(_INT.fullmatch(value.strip()))
    )


def _text_like(value: Any) -> bool:
    if isinstance(value, str):
        return not any("\ud800" <= char <= "\udfff" for char in value)  # JSON's lone "\ud800"
    return value is None or _int_like(value)


def _malformed(request: dict[str, Any]) -> bool:
    """What the protocol notes call a malformed envelope (the SDK answers these with 422)."""
    state = request.get("state")
    if not _int_like(request.get("event")):
        return True
    if state is not None and not isinstance(state, dict):
        return True
    if not _text_like(request.get("option")) or not _text_like(request.get("data")):
        return True
    if state is None:
        return int(request["event"]) == 2
    return "call_id" not in state or not _int_like(state["call_id"])


def _check_protocol(response: dict[str, Any]) -> None:
    json.dumps(response)
    if "prompt" in response:
        assert set(response) == {"prompt", "num_characters"}, response
        assert isinstance(response["prompt"], list), response
        assert all(isinstance(line, str) for line in response["prompt"]), response
        wanted = response["num_characters"]
        if isinstance(wanted, str):
            assert wanted in ("*", "#"), response
        else:
            assert type(wanted) is int and (wanted in (0, 1) or wanted >= 2), response
    else:
        assert set(response) == _CTA, response
        assert sum(value is not None for value in response.values()) == 1, response


def _call_id(request: dict[str, Any]) -> int | None:
    state = request.get("state")
    if isinstance(state, dict) and _int_like(state.get("call_id")):
        return int(state["call_id"])
    return None


def _play(document: dict[str, Any], requests: list[dict[str, Any]]) -> list[Any]:
    """Send every request to one fresh runtime; each answer, or "BadRequest"."""
    runtime = Runtime(document, MemoryStore(), clock=lambda: NOW)
    answers: list[Any] = []
    for request in requests:
        try:
            answers.append(runtime.respond(request).response)
        except BadRequest:
            answers.append("BadRequest")
    return answers


def _allowed(spec: dict[str, Any]) -> int:
    return int(spec.get("length") or min(spec.get("max_length") or MAX_DIGITS, MAX_DIGITS))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(valid_flows(), st.lists(_requests(), max_size=25), st.randoms(use_true_random=False))
def test_random_requests_get_protocol_answers_and_calls_stay_apart(
    flow: Flow, random_requests: list[dict[str, Any]], rng: Any
) -> None:
    document = flow.to_document()
    requests = [_setup(call_id) for call_id in DIALLED]
    for request in random_requests:  # dials land anywhere in the sequence
        requests.insert(rng.randint(len(DIALLED), len(requests)), request)
    runtime = Runtime(document, MemoryStore(), clock=lambda: NOW)
    waiting: dict[int, str | None] = {}
    refused: set[str] = set()  # over-long entries a collect refused
    for request in requests:
        call_id = _call_id(request)
        data = request.get("data")
        if isinstance(data, str):
            refused = {text for text in refused if text not in data}  # sent again: may be kept
            node = waiting.get(call_id) if call_id is not None else None
            spec = document["nodes"][node] if node else {}
            if spec.get("kind") == "collect":
                digits = (
                    data[:-1]
                    if spec.get("terminator") and data.endswith(spec["terminator"])
                    else data
                )
                if len(digits) > _allowed(spec) and len(digits) >= 16:
                    refused.add(digits)
                    event("a collect was sent an over-long entry")
        try:
            turn = runtime.respond(request)
        except BadRequest:
            assert _malformed(request), request
            event("a malformed envelope was refused")
            continue
        assert not _malformed(request), request
        if turn.silent:  # a mark: answered null, nothing else happens
            assert int(request["event"]) == 5, request
            event("a mark was answered null")
            continue
        _check_protocol(turn.response)
        heard = json.dumps(turn.response, ensure_ascii=False)
        for text in refused:
            assert text not in heard and " ".join(text) not in heard, (text[:20], heard[:200])
        kind = int(request["event"])
        if call_id is not None and kind in (1, 2):
            waiting[call_id] = turn.waiting_on
        elif call_id is not None and kind == 3:
            waiting[call_id] = None

    together = _play(document, requests)
    for call_id in {_call_id(request) for request in requests} - {None}:
        own = [index for index, request in enumerate(requests) if _call_id(request) == call_id]
        alone = _play(document, [requests[index] for index in own])
        assert alone == [together[index] for index in own], call_id


@settings(max_examples=200, deadline=None)
@given(
    valid_flows(),
    st.lists(st.sampled_from([*KEYS, "entry", "long", "long"]), min_size=10, max_size=40),
    st.data(),
)
def test_a_collect_never_reads_back_more_than_it_allows(
    flow: Flow, presses: list[str], draw: st.DataObject
) -> None:
    document = flow.to_document()
    runtime = Runtime(document, MemoryStore(), clock=lambda: NOW)
    turn = runtime.respond(_setup(7))
    refused: set[str] = set()
    for press in presses:
        _check_protocol(turn.response)
        heard = json.dumps(turn.response, ensure_ascii=False)
        assert not [text for text in refused if text in heard or " ".join(text) in heard]
        spec = document["nodes"][turn.waiting_on] if turn.waiting_on else {}
        expects = turn.response.get("num_characters")
        request = _setup(7)
        if spec.get("kind") == "menu":
            request.update(event=2, option=press if press in KEYS else "1")
        elif spec.get("kind") == "collect":
            end = expects if isinstance(expects, str) else ""
            if press == "long":
                size = max(_allowed(spec) + 1, 16)
                digits = draw.draw(st.text("0123456789", min_size=size, max_size=size + 9_999))
                refused.add(digits)
                event("a collect was sent an over-long entry")
            else:
                digits = "12" if end else "1234567"[: int(expects)]
            request.update(event=2, option="1", data=digits + end)
        turn = runtime.respond(request)  # a call that ended is dialled again
    _check_protocol(turn.response)
