"""Hostile HTTP against the generated webhook: no 5xx, no leak, no hang, and it goes on serving."""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from conftest import (
    LEAKS,
    Processes,
    Reply,
    exchange,
    free_port,
    http_request,
    play_calls,
    webhook_command,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jaxl_designer.core.runtime import KEYS, MAX_DIGITS
from jaxl_designer.core.simulator import request as webhook_request

MAX_BODY = 64 * 1024
#: What the fuzz did, for the report (bench/soak.py prints it).
COUNTS: Counter[str] = Counter()
#: Seconds a slow body is dribbled over; bench/soak.py sets a full second (see the test below).
DRIBBLE = 0.25


@dataclass
class Hostile:
    """One request to throw at the server and what may come back."""

    kind: str
    data: bytes
    allowed: frozenset[int]  # the statuses that may answer it; empty: no answer at all
    pieces: int = 1
    over: float = 0.0
    half_close: bool = False
    silence_ok: bool = False  # the server may close without a word (a blank request line)
    #: What `--asyncio` may answer instead, where it differs: it routes every method and path
    #: as the app does (as under uvicorn), where http.server answers a method it has no
    #: handler for 501 and reads "//x" as "/x".
    on_asyncio: frozenset[int] | None = None


def _post(payload: Any, **headers: str | None) -> bytes:
    return http_request("POST", json.dumps(payload).encode(), headers=headers)


# -- strategies --------------------------------------------------------------------------------
call_ids = st.integers(1, 10**15)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=4),
    max_leaves=12,
)  # fmt: skip


@st.composite
def right_shapes(draw: st.DrawFn) -> Hostile:
    """A request Jaxl could send: any event, key, digits, with unknown keys thrown in."""
    event = draw(st.sampled_from([1, 1, 2, 2, 2, 3, 4, 5, 99]))
    option = draw(st.none() | st.sampled_from(KEYS))
    data = draw(st.none() | st.from_regex(r"[0-9]{1,80}[*#]?", fullmatch=True))
    payload = webhook_request(event, draw(call_ids), option=option, data=data)
    if draw(st.booleans()):
        payload["state"]["call_id"] = str(payload["state"]["call_id"])
    extra = draw(st.dictionaries(st.text(min_size=1, max_size=8), json_values, max_size=3))
    payload["state"].update({k: v for k, v in extra.items() if k not in payload["state"]})
    payload.update({k: v for k, v in extra.items() if k not in payload})
    return Hostile("right shape", _post(payload), frozenset({200}))


@st.composite
def wrong_shapes(draw: st.DrawFn) -> Hostile:
    """The right keys holding values of any type, or any JSON value at all."""
    if draw(st.booleans()):
        payload: Any = draw(json_values)
    else:
        payload = webhook_request(1, 1)
        for key in draw(st.lists(st.sampled_from(["event", "state", "option", "data", "pk"]))):
            payload[key] = draw(json_values)
        if isinstance(payload["state"], dict) and draw(st.booleans()):
            payload["state"]["call_id"] = draw(json_values | st.integers())
    return Hostile("wrong shape", _post(payload), frozenset({200, 400, 422}))


@st.composite
def raw_bodies(draw: st.DrawFn) -> Hostile:
    """Random bytes, invalid UTF-8, or JSON nested 10,000 levels deep, as the body."""
    choice = draw(st.sampled_from(["bytes", "utf8", "deep-list", "deep-object", "deep-data"]))
    if choice == "bytes":
        body = b"\x00" + draw(st.binary(max_size=300))  # never JSON: it starts with a NUL
        return Hostile("random bytes", http_request("POST", body), frozenset({400}))
    if choice == "utf8":
        bad = draw(st.sampled_from([b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xf8\x88\x80"]))
        body = b'{"event": 1, "state": {"call_id": 5}, "data": "' + bad + b'"}'
        return Hostile("invalid utf-8", http_request("POST", body), frozenset({400}))
    depth = draw(st.sampled_from([10_000, 2_000, 1_200]))
    if choice == "deep-list":
        body = b"[" * depth + b"]" * depth
    elif choice == "deep-object":
        body = b'{"a":' * depth + b"1" + b"}" * depth
    else:
        nest = "[" * depth + "]" * depth
        body = f'{{"event": 1, "state": {{"call_id": 5}}, "data": {nest}}}'.encode()
    return Hostile("deep nesting", http_request("POST", body), frozenset({400}))


@st.composite
def huge(draw: st.DrawFn) -> Hostile:
    """Huge digit strings in `data`: just under the body limit, just over, 1 MB, 3 MB."""
    size = draw(st.sampled_from([1_000, 60_000, MAX_BODY - 300, MAX_BODY + 1, 1 << 20, 3 << 20]))
    payload = webhook_request(2, draw(call_ids), option="2", data="")
    body = json.dumps(payload).encode().replace(b'"data": ""', b'"data": "' + b"7" * size + b'"')
    return Hostile("huge", http_request("POST", body),
                   frozenset({200} if len(body) <= MAX_BODY else {413}))  # fmt: skip


@st.composite
def content_types(draw: st.DrawFn) -> Hostile:
    """Right, wrong, odd and missing content types."""
    ctype = draw(
        st.sampled_from([None, "application/json", "Application/JSON; charset=UTF-8",
                         "application/json;charset=latin-1", "text/plain", "text/json",
                         "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
                         "application/jsonx", "", "*/*", "application/json, text/plain"])
        | st.from_regex(r"[a-z]{1,8}/[a-z+.-]{1,12}", fullmatch=True)
    )  # fmt: skip
    media = (ctype or "").split(";", 1)[0].strip().lower()
    allowed = {200} if media in ("", "application/json") else {415}
    payload = webhook_request(1, draw(call_ids))
    return Hostile("content type", _post(payload, **{"Content-Type": ctype}), frozenset(allowed))


KNOWN = ("GET", "PUT", "PATCH", "OPTIONS", "POST", "DELETE")  # the methods http.server routes


@st.composite
def methods_and_paths(draw: st.DrawFn) -> Hostile:
    """Every method on every path: only POST and DELETE on /webhook/ reach a call."""
    method = draw(st.sampled_from([*KNOWN, "TRACE", "CONNECT", "BREW", "post", "PROPFIND"]))
    path = draw(
        st.sampled_from(["/webhook/", "/webhook", "/healthz", "/healthz/", "/", "/webhook//",
                         "/WEBHOOK/", "/webhook/?token=x&a=%ff", "/webhook/../healthz", "*",
                         "/%2e%2e/%2e%2e/etc/passwd", "//webhook/", "/webhook/#frag"])
        | st.from_regex(r"/[A-Za-z0-9._~%!$&'()*+,;=:@/?-]{0,60}", fullmatch=True)
    )  # fmt: skip
    route = path.partition("?")[0]
    if route.startswith("//"):  # http.server reads "//x" as "/x" (no open redirects)
        route = "/" + route.lstrip("/")
    if method not in KNOWN:
        allowed = {501}  # http.server: no such method ("Unsupported method"), in JSON
    elif route in ("/healthz", "/healthz/"):
        allowed = {200 if method == "GET" else 405}
    elif route not in ("/webhook/", "/webhook"):
        allowed = {404}
    else:
        allowed = {200 if method in ("POST", "DELETE") else 405}
    payload = webhook_request(draw(st.sampled_from([1, 3])), draw(call_ids))
    data = http_request(method, json.dumps(payload).encode(), path=path)
    return Hostile("method and path", data, frozenset(allowed), on_asyncio=_routed(method, path))


def _routed(method: str, path: str) -> frozenset[int]:
    """What the app answers a method on a path (`WebhookApp.handle`: methods upper-cased)."""
    route, method = path.partition("?")[0], method.upper()
    if route in ("/healthz", "/healthz/"):
        return frozenset({200 if method in ("GET", "HEAD") else 405})
    if route not in ("/webhook/", "/webhook"):
        return frozenset({404})
    return frozenset({200 if method in ("POST", "DELETE") else 405})


@st.composite
def slow(draw: st.DrawFn) -> Hostile:
    """A whole request dribbled over about a second, or half a body and then the client leaves."""
    data = _post(webhook_request(1, draw(call_ids)))
    if draw(st.integers(0, 3)) == 0:
        return Hostile("slow body", data, frozenset({200}), pieces=8, over=DRIBBLE)
    cut = draw(st.integers(len(data) - 60, len(data) - 1))
    return Hostile("half-sent body", data[:cut], frozenset(), half_close=True)


@st.composite
def garbage(draw: st.DrawFn) -> Hostile:
    """A request line or headers that are not HTTP."""
    if draw(st.booleans()):
        line = draw(st.binary(min_size=1, max_size=200).filter(lambda b: b"\n" not in b))
        return Hostile("garbage request line", line + b"\r\nHost: x\r\n\r\n",
                       frozenset({*range(400, 500), 501, 505}), silence_ok=True)  # fmt: skip
    headers = draw(
        st.lists(st.binary(min_size=1, max_size=100).filter(lambda b: b"\n" not in b and
                                                            b"\r" not in b), max_size=6)
    )  # fmt: skip
    body = json.dumps(webhook_request(1, draw(call_ids))).encode()
    head = b"POST /webhook/ HTTP/1.1\r\nHost: x\r\n" + b"".join(h + b"\r\n" for h in headers)
    data = head + b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
    return Hostile("garbage headers", data, frozenset({200, 400, 411, 413, 415, 422, 431}))


hostile = st.one_of(right_shapes(), wrong_shapes(), raw_bodies(), huge(), content_types(),
                    methods_and_paths(), slow(), garbage())  # fmt: skip


# -- checks ------------------------------------------------------------------------------------
def throw(port: int, thing: Hostile, form: str = "stdlib") -> None:
    """Send one hostile request and check whatever comes back; raise on anything wrong."""
    if form == "asyncio" and thing.on_asyncio is not None:
        thing = dataclasses.replace(thing, allowed=thing.on_asyncio)
    COUNTS["requests"] += 1
    COUNTS[thing.kind] += 1
    reply, raw = exchange(port, thing.data, pieces=thing.pieces, over=thing.over,
                          half_close=thing.half_close, timeout=10)  # fmt: skip
    assert not LEAKS.search(raw.decode("latin-1")), raw[:2000]
    if not thing.allowed:
        assert raw == b"", f"{thing.kind}: expected no answer, got {raw[:300]!r}"
        return
    if reply is None:
        assert thing.silence_ok and raw == b"", f"{thing.kind}: not HTTP: {raw[:300]!r}"
        return
    check(thing, reply)


def check(thing: Hostile, reply: Reply) -> None:
    assert reply.raw.startswith(b"HTTP/1.1 "), reply.raw[:200]
    assert reply.status in thing.allowed, f"{thing.kind}: {reply.status} {reply.body[:300]!r}"
    assert reply.status < 500 or reply.status in (501, 505)  # refusing a method or a version
    assert reply.headers.get("content-type") == "application/json", reply.headers
    answer = json.loads(reply.body)
    if answer is None:  # a mark (event 5), answered null as the SDK does
        assert reply.status == 200
        return
    assert isinstance(answer, dict)
    if reply.status != 200:
        assert set(answer) == {"error"} and isinstance(answer["error"], str)
    elif "prompt" in answer:
        assert set(answer) == {"prompt", "num_characters"}
        for line in answer["prompt"]:  # no digit string beyond what the runtime keeps
            assert len(line) < MAX_DIGITS + 100, line[:200]
    else:
        assert set(answer) == {"ok"} or set(answer) == {"next", "phone", "devices", "appusers",
                                                          "teams"}  # fmt: skip


@pytest.fixture(scope="module", params=["stdlib", "asyncio"])
def server(
    acme_webhook: Path, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[tuple]:
    """The generated Acme webhook served by the standard-library server, then by `--asyncio`."""
    processes = Processes(tmp_path_factory.mktemp("fuzz"))
    port = free_port()
    extra = ["--asyncio"] if request.param == "asyncio" else []
    command = webhook_command(acme_webhook, port, "--timeout", "5", *extra)
    process = processes.start(command, port=port)
    yield port, process, request.param
    processes.stop_all()


def throw_all(port: int, batch: list[Hostile], form: str) -> None:
    """Throw a batch at once over 8 connections, as concurrent callers would."""
    with ThreadPoolExecutor(8) as pool:
        for future in [pool.submit(throw, port, thing, form) for thing in batch]:
            future.result()


@pytest.mark.slow
@settings(max_examples=250, deadline=None, suppress_health_check=list(HealthCheck),
          derandomize=True)  # fmt: skip
@given(batch=st.lists(hostile, min_size=10, max_size=30))
def test_hostile_requests_get_json_refusals_and_never_an_error(server: tuple, batch: list) -> None:
    throw_all(server[0], batch, server[2])


def test_bodies_dribbled_over_a_second_do_not_hold_up_other_callers(server: tuple) -> None:
    """32 callers each taking a full second to send a request, while others call normally."""
    port, *_ = server
    slow = [Hostile("slow body", _post(webhook_request(1, 50_000 + n)), frozenset({200}),
                    pieces=10, over=1.0) for n in range(32)]  # fmt: skip
    with ThreadPoolExecutor(32) as pool:
        futures = [pool.submit(throw, port, thing) for thing in slow]
        tally = play_calls(port, 40, concurrency=4, seed=22, limit=20)
        for future in futures:
            future.result()
    assert (tally.calls, tally.mismatches, tally.errors) == (40, [], []), tally


def test_after_the_fuzz_the_server_answers_whole_calls_and_logged_no_traceback(
    server: tuple,
) -> None:
    """Runs after the fuzz (file order): the same process still plays calls exactly."""
    port, process, _ = server
    tally = play_calls(port, 50, concurrency=8, seed=21)
    assert (tally.calls, tally.mismatches, tally.errors) == (50, [], []), tally
    assert "Traceback" not in process.output()
    assert "Exception" not in process.output()
    assert COUNTS["requests"] >= 3000 or COUNTS["requests"] < 100  # < 100: run alone, -k


# -- collected digits over the limit, with the state in Redis ---------------------------------
@pytest.mark.redis
@settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck),
          derandomize=True)  # fmt: skip
@given(
    data=st.one_of(
        st.from_regex(r"[0-9]{1,200}\*?", fullmatch=True),
        st.from_regex(r"[0-9]{60,70}\*", fullmatch=True),
        st.text(st.characters(codec="utf-8"), min_size=1, max_size=100),
    )
)
def test_digits_longer_than_the_node_allows_are_refused_never_read_back_or_stored(
    redis_webhook: tuple, data: str
) -> None:
    import redis

    port, url = redis_webhook
    client = redis.Redis.from_url(url)
    COUNTS["digit checks"] += 1
    call_id = 30_000_000 + COUNTS["digit checks"]
    post = lambda payload: exchange(port, _post(payload))[0]  # noqa: E731
    post(webhook_request(1, call_id))
    post(webhook_request(2, call_id, option="2"))
    reply = post(webhook_request(2, call_id, option="2", data=data))
    assert reply is not None and reply.status == 200
    digits = data[:-1] if data.endswith("*") else data
    stored = client.get(f"jaxl:call:{call_id}")
    assert stored is not None
    kept = json.loads(stored)["vars"]
    if digits and len(digits) <= MAX_DIGITS and digits.isdigit() and digits.isascii():
        assert reply.json()["prompt"][0] == f"You entered {digits}."
        assert kept == {"order": digits}
    else:
        assert reply.json() == {
            "prompt": ["Please enter your order number followed by star"],
            "num_characters": "*",
        }
        assert kept == {}  # the answer, equal to the node's own prompt, read nothing back
        # Not kept in any form: not as a value, nor inside one (the state knows a retry by a
        # fingerprint of the request, never by its digits).
        text = stored.decode("utf-8", "replace")
        assert json.dumps(data, ensure_ascii=False) not in text
        if len(data) > 2:
            assert json.dumps(data, ensure_ascii=False)[1:-1] not in text
    post(webhook_request(3, call_id))
    assert client.get(f"jaxl:call:{call_id}") is None


@pytest.fixture
def redis_webhook(acme_webhook: Path, spawn: Processes, redis_server: Any) -> tuple[int, str]:
    port = free_port()
    spawn.start(webhook_command(acme_webhook, port, "--redis-url", redis_server.url), port=port)
    return port, redis_server.url


# -- text that is not Unicode ------------------------------------------------------------------
LONE = json.dumps({"x": "\ud800"})[7:-2]  # the JSON escape of a lone surrogate, plain ASCII


@pytest.mark.redis
@pytest.mark.parametrize("field", ["from_number", "to_number", "data", "option"])
def test_a_lone_surrogate_is_a_422_not_a_crash_logged_as_a_traceback(
    acme_webhook: Path, spawn: Processes, redis_server: Any, field: str
) -> None:
    """Valid JSON ("\\ud800") whose text cannot be stored in Redis, logged or spoken as UTF-8."""
    import redis

    port = free_port()
    args = webhook_command(acme_webhook, port, "--redis-url", redis_server.url)
    process = spawn.start(args, port=port)
    payload = webhook_request(1, 4040, data="1*" if field == "data" else None)
    target = payload["state"] if field.endswith("number") else payload
    target[field] = "+91@"
    body = json.dumps(payload).encode().replace(b"@", LONE.encode())
    reply, _ = exchange(port, http_request("POST", body))
    assert reply is not None and reply.status == 422, reply
    assert reply.json() == {"error": f"{'state.' if field.endswith('number') else ''}{field} "
                                     "must be valid Unicode text"}  # fmt: skip
    assert redis.Redis.from_url(redis_server.url).keys("jaxl:call:*") == [], "no call state"
    assert "Traceback" not in process.output()


def test_a_body_that_is_not_utf8_is_a_400_even_if_python_could_read_it(server: tuple) -> None:
    """UTF-8-encoded surrogates, or UTF-16: JSON bodies are UTF-8; a BOM is still accepted."""
    port, *_ = server
    text = json.dumps(webhook_request(1, 4041))
    for body in (text.replace('"+91', '"\udc80').encode("utf-8", "surrogatepass"),
                 text.encode("utf-16")):  # fmt: skip
        reply, _ = exchange(port, http_request("POST", body))
        assert reply is not None and (reply.status, reply.json()) == (
            400,
            {"error": "the body is not JSON"},
        )
    reply, _ = exchange(port, http_request("POST", text.encode("utf-8-sig")))
    assert reply is not None and reply.status == 200


def test_clients_that_hang_up_mid_answer_leave_no_traceback_in_the_log(
    acme_webhook: Path, spawn: Processes
) -> None:
    """A reset instead of a goodbye, at each moment of a request: the log stays clean."""
    import socket
    import struct
    import time

    port = free_port()
    process = spawn.start(webhook_command(acme_webhook, port), port=port)
    request = _post(webhook_request(1, 4242))
    moments = [
        b"A B C\r\n",
        b"POST /webhook/ HTTP/1.1\r\nContent-Length: 50\r\n\r\n{",
        request,
        request[:-5],
        b"GET /healthz HTTP/1.1\r\n\r\n",
        b"GARBAGE\r\n\r\n",
    ]
    for _ in range(10):
        for sent in moments:
            sock = socket.create_connection(("127.0.0.1", port))
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            sock.sendall(sent)
            sock.close()  # with linger 0: a reset, before the answer is read
    time.sleep(0.5)
    assert exchange(port, request)[0].status == 200
    output = process.output()
    assert "Traceback" not in output and "Exception" not in output, output[-3000:]
