"""RSGI under granian: the exported module served by real granian processes, answering as ASGI.

Each answer granian gives is compared with the one the ASGI callable gives in process to the
same request bytes (status, headers but granian's `server` and `date`, body). The server runs
the command the module's own docstring gives, so the documented flags are the ones tested.
"""

from __future__ import annotations

import ast
import asyncio
import http.client
import json
import socket
import statistics
import struct
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
from backend import Backend, phone_for
from conftest import (
    BIN,
    CallPlan,
    Process,
    Processes,
    children,
    exchange,
    free_port,
    http_request,
    missing,
    play_calls,
)
from conftest import request as send_request
from hypothesis import given, settings
from hypothesis import strategies as st
from test_asgi import asgi_call
from test_asgi import requests as asgi_requests
from test_idempotent import ASK, lose_the_answer, pin_flow, webhook_request
from test_lookup_http import Served, clean_env, greeting_flow, transfer_to
from test_server import BAD, GOOD

from jaxl_designer.core.examples import acme
from jaxl_designer.core.runtime import Runtime
from jaxl_designer.exporter.export import export
from jaxl_designer.webhook.app import WebhookApp, body_length
from jaxl_designer.webhook.asgi import make_asgi
from jaxl_designer.webhook.rsgi import make_rsgi

FLOW = acme().to_document()
TOKEN = "s3cret"
#: What granian adds to every answer, and the ASGI callable leaves to its server.
SERVERS_OWN = {"server", "date"}


def granian_command(webhook: Path, port: int, workers: int = 1) -> list[str]:
    """The granian command of `webhook`'s docstring (one line there, wrapped), on `port`."""
    lines = (ast.get_docstring(ast.parse(webhook.read_text(encoding="utf-8"))) or "").splitlines()
    at = next(n for n, line in enumerate(lines) if line.lstrip().startswith("granian "))
    words = f"{lines[at]} {lines[at + 1]}".split()
    words[words.index("--port") + 1] = str(port)
    words[words.index("--workers") + 1] = str(workers)
    return [str(BIN / "granian"), *words[1:]]


def serve(
    processes: Processes, webhook: Path, workers: int = 1, **variables: str
) -> tuple[int, Process]:
    """The documented granian command serving `webhook`, started in its folder: port, process."""
    if not (BIN / "granian").exists():
        missing("granian is not installed (scripts/setup installs it, with '.[dev]')")
    port = free_port()
    command = granian_command(webhook, port, workers)
    env = clean_env(**variables)
    return port, processes.start(command, port=port, env=env, cwd=webhook.parent)


# -- in process: the RSGI application against the ASGI callable -----------------------------
def visible(value: bytes) -> bool:
    return all(32 <= byte < 127 or byte == 9 for byte in value)


class Headers:
    """Request headers as granian shows them (a `http::HeaderMap`): the values of a name
    together, names in the order first seen; a value that is not visible ASCII is there (`in`)
    but has no text (`get`, `items`)."""

    def __init__(self, raw: list[tuple[bytes, bytes]]) -> None:
        self.seen: dict[str, list[bytes]] = {}
        for name, value in raw:
            self.seen.setdefault(name.decode("latin-1"), []).append(value)

    def __contains__(self, name: str) -> bool:
        return name in self.seen

    def get(self, name: str, default: Any = None) -> Any:
        value = self.seen.get(name, [b"\xff"])[0]
        return value.decode("ascii") if visible(value) else default

    def items(self) -> list[tuple[str, str]]:
        return [(name, value.decode("ascii")) for name, values in self.seen.items()
                for value in values if visible(value)]  # fmt: skip


class Scope:
    def __init__(self, method: str, path: str, query: bytes, raw: list[tuple[bytes, bytes]]):
        self.proto, self.method, self.path = "http", method, path
        self.query_string = query.decode("latin-1")
        self.headers = Headers(raw)


class Staying:
    """`client_disconnect()` of a client that stays: never done."""

    def done(self) -> bool:
        return False

    def cancel(self) -> bool:
        return True


class Protocol:
    def __init__(self, body: bytes) -> None:
        self.body = body
        self.sent: tuple[int, list[tuple[str, str]], bytes] | None = None

    async def __call__(self) -> bytes:
        return self.body

    def client_disconnect(self) -> Staying:
        return Staying()

    def response_bytes(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        self.sent = (status, headers, body)


def rsgi_call(
    rsgi: Any, method: str, path: str, query: bytes, raw: list[tuple[bytes, bytes]], body: bytes
) -> tuple[int, bytes, dict[bytes, bytes]]:
    protocol = Protocol(body)
    asyncio.run(rsgi.__rsgi__(Scope(method, path, query, raw), protocol))
    assert protocol.sent is not None
    status, headers, payload = protocol.sent
    return status, payload, {k.lower().encode(): v.encode() for k, v in headers}


@settings(max_examples=200, deadline=None)
@given(st.booleans(), st.lists(asgi_requests, min_size=1, max_size=12))
def test_every_request_gets_the_answer_the_asgi_callable_gives(
    guarded: bool, sequence: list[Any]
) -> None:
    token = TOKEN if guarded else None
    asgi = make_asgi(WebhookApp(Runtime(FLOW), token=token, log=None))
    rsgi = make_rsgi(WebhookApp(Runtime(FLOW), token=token, log=None))
    for method, path, query, media, length, given_token, chunked, body in sequence:
        raw: list[tuple[bytes, bytes]] = [(b"host", b"example.com")]
        if media is not None:
            raw.append((b"content-type", media))
        lengths = {"right": str(len(body)).encode(), "abc": b"abc", "huge": b"9" * 30,
                   "spaced": b" %d " % len(body)}  # fmt: skip
        if length in lengths:
            raw.append((b"content-length", lengths[length]))
        if given_token is not None:
            raw.append((b"x-jaxl-token", given_token))
        if chunked:
            raw.append((b"transfer-encoding", b"chunked"))
        text = {name.decode(): value.decode("latin-1") for name, value in raw}
        read = body if body_length(text, 64 * 1024) is not None else b""
        want = asgi_call(asgi, method, path, query, raw, read)
        got = rsgi_call(rsgi, method, path, query, raw, read)
        if method == "HEAD" and got[1] == b"":  # the length a GET would have, on both
            assert got[2][b"content-length"] == want[2][b"content-length"] == b"11"
        assert got == want, (method, path, raw)


def test_the_last_of_a_repeated_header_counts_as_under_asgi() -> None:
    body = json.dumps({"event": 1, "state": {"call_id": 1}}).encode()
    for tokens in ([b"wrong", TOKEN.encode()], [TOKEN.encode(), b"wrong"]):
        asgi = make_asgi(WebhookApp(Runtime(FLOW), token=TOKEN, log=None))
        rsgi = make_rsgi(WebhookApp(Runtime(FLOW), token=TOKEN, log=None))
        raw = [(b"content-length", b"%d" % len(body))]
        raw += [(b"x-jaxl-token", token) for token in tokens]
        want = asgi_call(asgi, "POST", "/webhook/", b"", raw, body)
        assert rsgi_call(rsgi, "POST", "/webhook/", b"", raw, body) == want
        assert want[0] == (200 if tokens[-1] == TOKEN.encode() else 401)


def test_a_content_type_granian_cannot_show_is_refused_not_taken_for_none() -> None:
    rsgi = make_rsgi(WebhookApp(Runtime(FLOW), log=None))
    body = json.dumps({"event": 1, "state": {"call_id": 1}}).encode()
    raw = [(b"content-type", b"application/json\xff"), (b"content-length", b"%d" % len(body))]
    status, payload, _ = rsgi_call(rsgi, "POST", "/webhook/", b"", raw, body)
    assert status == 415 and json.loads(payload)["error"].startswith("the body must be")


# -- real granian: the Acme webhook, guarded by a token --------------------------------------
@pytest.fixture(scope="module")
def acme(acme_webhook: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """The documented granian command serving the exported Acme webhook, one worker."""
    processes = Processes(tmp_path_factory.mktemp("granian"))
    port, process = serve(processes, acme_webhook, JAXL_WEBHOOK_TOKEN=TOKEN, JAXL_WEBHOOK_LOG="0")
    yield Served(port, process, sdk=False)
    processes.stop_all()


@pytest.fixture
def granian(acme: Served) -> int:
    """The port of the granian serving Acme."""
    return acme.port


def asgi_answer(asgi: Any, data: bytes) -> tuple[int, dict[str, str], bytes]:
    """The ASGI callable's answer to one raw HTTP/1.1 request (as a server parses it)."""
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    method, target, _ = lines[0].split(" ")
    path, _, query = target.partition("?")
    raw = [(name.strip().lower().encode(), value.strip().encode("latin-1"))
           for name, _, value in (line.partition(":") for line in lines[1:])]  # fmt: skip
    status, payload, headers = asgi_call(asgi, method, unquote(path), query.encode(), raw, body)
    return status, {k.decode(): v.decode() for k, v in headers.items()}, payload


def both(port: int, asgi: Any, data: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send `data` to granian and to the ASGI callable; assert the same answer, and return it."""
    reply, _ = exchange(port, data)
    assert reply is not None, data[:200]
    theirs = {k: v for k, v in reply.headers.items() if k not in SERVERS_OWN}
    assert (reply.status, theirs, reply.body) == asgi_answer(asgi, data), data[:200]
    return reply.status, reply.headers, reply.body


def with_token(headers: dict[str, str]) -> dict[str, str]:
    return {**headers, "X-Jaxl-Token": TOKEN}


def test_every_request_is_answered_as_the_asgi_callable_answers_it(granian: int) -> None:
    asgi = make_asgi(WebhookApp(Runtime(FLOW), token=TOKEN, log=None))
    for _, method, path, headers, raw, status in BAD:
        sent = with_token(headers)
        if "Transfer-Encoding" in headers:
            sent["Content-Length"] = None  # type: ignore[assignment]  # http_request leaves it out
        got, answer_headers, body = both(granian, asgi, http_request(method, raw, path, sent))
        assert got == status and answer_headers["content-type"] == "application/json"
        assert set(json.loads(body)) == {"error"}
    for _, method, path, headers, payload, expected in GOOD:
        raw = json.dumps(payload).encode()
        got, _, body = both(granian, asgi, http_request(method, raw, path, with_token(headers)))
        assert (got, json.loads(body)) == (200, expected)
    plan = CallPlan(seed=18)
    for _ in range(3):  # whole calls, each answer also what the runtime says
        call = plan.new()
        while not call.done:
            step = call.next_step()
            data = http_request(step.method, json.dumps(step.payload).encode(), "/webhook/",
                                {"X-Jaxl-Token": TOKEN})  # fmt: skip
            assert json.loads(both(granian, asgi, data)[2]) == step.expected


SETUP = json.dumps(GOOD[0][4]).encode()
# (what, method, path, headers, body, status)
TOKENS = [
    ("no token", "POST", "/webhook/", {}, SETUP, 401),
    ("wrong token", "POST", "/webhook/", {"X-Jaxl-Token": "x"}, SETUP, 401),
    ("wrong token in the query", "POST", "/webhook/?token=x", {}, SETUP, 401),
    ("a teardown without it", "DELETE", "/webhook/", {}, SETUP, 401),
    ("token in the query", "POST", f"/webhook/?token={TOKEN}", {}, SETUP, 200),
]  # fmt: skip


@pytest.mark.parametrize(
    ("what", "method", "path", "headers", "body", "status"), TOKENS, ids=[t[0] for t in TOKENS]
)
def test_the_token_is_checked(
    granian: int, what: str, method: str, path: str, headers: dict, body: bytes, status: int
) -> None:
    reply, _ = exchange(granian, http_request(method, body, path, headers))
    assert reply is not None and reply.headers["content-type"] == "application/json"
    expected = {"error": "missing or wrong token"} if status == 401 else GOOD[0][5]
    assert (reply.status, reply.json()) == (status, expected)


def test_of_two_tokens_the_last_counts_as_under_asgi(granian: int) -> None:
    asgi = make_asgi(WebhookApp(Runtime(FLOW), token=TOKEN, log=None))
    for first, last, status in (("wrong", TOKEN, 200), (TOKEN, "wrong", 401)):
        data = http_request("POST", SETUP, headers={"X-Jaxl-Token": first})
        data = data.replace(b"\r\n\r\n", f"\r\nX-Jaxl-Token: {last}\r\n\r\n".encode(), 1)
        assert both(granian, asgi, data)[0] == status


def test_healthz_answers_get_and_head_without_a_token(granian: int) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", granian, timeout=5)
    conn.request("GET", "/healthz")
    response = conn.getresponse()
    assert (response.status, json.loads(response.read())) == (200, {"ok": True})
    conn.request("HEAD", "/healthz")  # the same connection: kept alive
    response = conn.getresponse()
    assert response.status == 200 and response.read() == b""
    assert response.getheader("content-length") == "11"
    conn.close()


def test_the_documented_flags_refuse_a_large_head_and_too_many_headers(granian: int) -> None:
    body = json.dumps(GOOD[0][4]).encode()
    large = http_request("POST", body, headers=with_token({"X-Pad": "a" * 17 * 1024}))
    many = with_token({f"X-Pad-{n}": "a" for n in range(100)})
    for data in (large, http_request("POST", body, headers=many)):
        reply, _ = exchange(granian, data)
        assert reply is not None and reply.status == 431
    fits = http_request("POST", body, headers=with_token({"X-Pad": "a" * 12 * 1024}))
    reply, _ = exchange(granian, fits)
    assert reply is not None and reply.status == 200


def test_a_client_gone_before_its_body_is_whole_is_no_error(acme: Served) -> None:
    data = http_request("POST", SETUP, headers={"X-Jaxl-Token": TOKEN})
    for reset in (False, True):
        sock = socket.create_connection(("127.0.0.1", acme.port))
        sock.sendall(data[:-10])
        time.sleep(0.1)
        if reset:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()
    time.sleep(0.2)
    assert "Traceback" not in acme.process.output()
    assert exchange(acme.port, data)[0] is not None  # and it serves on


# -- an answer lost on the wire is not delivered --------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("state", ["memory", pytest.param("redis", marks=pytest.mark.redis)])
def test_a_retry_after_a_lost_answer_hears_it_and_the_backend_is_asked_once(
    state: str, spawn: Processes, tmp_path: Path, request: Any
) -> None:
    """As tests/test_idempotent.py's, under granian: it raises nothing on an answer to a client
    gone, so the RSGI application asks `client_disconnect` whether the answer was delivered."""
    backend = Backend(slow=0.4)  # a code starting with 9 takes 0.4 s
    request.addfinalizer(backend.close)
    variables = {}
    if state == "redis":
        variables["JAXL_REDIS_URL"] = request.getfixturevalue("redis_server").url
    port, _ = serve(spawn, export(pin_flow(backend), tmp_path).webhook, 1, **variables)
    call_id = 880012
    status, _, answer = send_request(port, body=webhook_request(1, call_id))
    assert (status, answer["prompt"]) == (200, [ASK])
    entered = webhook_request(1, call_id, data="9123*")
    lose_the_answer(port, entered)
    assert backend.wait_for("/codes/9123", 1)
    time.sleep(0.6)  # the backend answered; the client was gone
    status, _, answer = send_request(port, body=entered)  # the retry
    assert answer["prompt"] == ["Hello customer 9123. Your PIN, then star."], answer
    assert len(backend.requests("/codes/")) == 1
    # The retry's answer was delivered: the same digits again are the caller's PIN.
    assert send_request(port, body=entered)[2]["prompt"] == ["Thank you."]


# -- two workers sharing calls in Redis -------------------------------------------------------
def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / 100


@pytest.mark.slow
@pytest.mark.redis
def test_two_workers_share_every_call_in_redis(
    acme_webhook: Path, spawn: Processes, redis_server: Any
) -> None:
    port, process = serve(spawn, acme_webhook, 2, JAXL_REDIS_URL=redis_server.url,
                          JAXL_WEBHOOK_LOG="0")  # fmt: skip
    play_calls(port, 4, concurrency=2)  # both workers up and connected to Redis
    workers = children(process.popen.pid)
    assert len(workers) == 2, process.output()
    before = [cpu_seconds(pid) for pid in workers]
    tally = play_calls(port, 150, concurrency=16, seed=18)
    # Each call's steps go out over any of the 16 connections, which the kernel spreads over
    # both workers' sockets: a step answered without the state the other wrote would mismatch.
    assert tally.calls == 150 and not tally.mismatches and not tally.errors, tally.mismatches[:3]
    busy = [cpu_seconds(pid) - was for pid, was in zip(workers, before, strict=True)]
    assert min(busy) > 0.05, f"one worker answered (almost) nothing: {busy}"


# -- a lookup awaited on granian's event loop --------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("state", ["memory", pytest.param("redis", marks=pytest.mark.redis)])
def test_a_slow_lookup_holds_up_only_the_calls_waiting_on_it(
    state: str, spawn: Processes, tmp_path: Path, request: Any
) -> None:
    """While 8 calls wait 1 s on a slow backend, other calls' menu presses are answered at once:
    one worker, so a lookup that blocked the loop would hold every press up to 1 s."""
    backend = Backend(slow=1.0)
    request.addfinalizer(backend.close)
    variables = {}
    if state == "redis":
        variables["JAXL_REDIS_URL"] = request.getfixturevalue("redis_server").url
    webhook = export(greeting_flow(backend), tmp_path / "lookup").webhook
    port, process = serve(spawn, webhook, 1, **variables)
    served = Served(port, process, sdk=False)
    plain = [served.call(8100 + n) for n in range(4)]
    for number, call in enumerate(plain):
        call.dial()
        assert call.enter(f"1{number}*")["prompt"][0] == f"Hello customer 1{number}."
    slow = [served.call(8200 + n) for n in range(8)]
    answers: dict[int, tuple[Any, float]] = {}

    def wait_on_backend(number: int) -> None:
        started = time.perf_counter()
        slow[number].dial()
        answers[number] = (slow[number].enter(f"9{number:02d}*"), time.perf_counter() - started)

    threads = [threading.Thread(target=wait_on_backend, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    assert backend.wait_for("/codes/9", 8, timeout=2), "the lookups did not all go out together"
    took = []
    for press in range(20):  # no key of the menu: asked again, nothing looked up
        started = time.perf_counter()
        answer = plain[press % 4].press("5")
        took.append(time.perf_counter() - started)
        assert answer["prompt"][1].startswith("Press 1 to reach "), answer
    for thread in threads:
        thread.join(10)
    assert statistics.median(took) < 0.1 and max(took) < 0.5, took
    for number, call in enumerate(slow):
        answer, waited = answers[number]
        code = f"9{number:02d}"
        assert answer["prompt"][0] == f"Hello customer {code}." and waited >= 0.9
        assert call.press("1") == transfer_to(phone_for(code))
