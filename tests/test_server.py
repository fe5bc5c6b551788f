"""The HTTP layer: every bad request against a running server, tokens, health, connections."""

from __future__ import annotations

import http.client
import json
import socket
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import Processes, free_port, request

from jaxl_designer.core.examples import acme
from jaxl_designer.core.fileformat import save
from jaxl_designer.core.runtime import LOOP_PROMPT, NEUTRAL, MemoryStore, Runtime
from jaxl_designer.core.simulator import request as webhook_request
from jaxl_designer.webhook.app import WebhookApp
from jaxl_designer.webhook.asgi import make_asgi
from jaxl_designer.webhook.server import make_server, make_wsgi

MAIN = Runtime(acme().to_document()).handle(webhook_request(1, 1))
SALES = {"to_number": "+918000000001", "from_number": None}


def serve_command(flow_file: Path, port: int) -> list[str]:
    return [sys.executable, "-m", "jaxl_designer", "serve", str(flow_file), "--port", str(port)]


@pytest.fixture(scope="module")
def flow_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("flow") / "acme.json"
    save(acme(), path)
    return path


@pytest.fixture(scope="module", params=["stdlib", "asyncio"])
def server(
    flow_file: Path, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[int]:
    """`jaxl-designer serve` for Acme, a real process on a free port: the standard-library
    server, then the asyncio one (`--asyncio`)."""
    processes = Processes(tmp_path_factory.mktemp("serve"))
    port = free_port()
    extra = ["--asyncio"] if request.param == "asyncio" else []
    processes.start([*serve_command(flow_file, port), "--no-log", *extra], port=port)
    yield port
    processes.stop_all()


def body(event: int = 1, call_id: Any = 7, **fields: Any) -> dict[str, Any]:
    payload = webhook_request(event, 7, option=fields.pop("option", None))
    payload["state"]["call_id"] = call_id
    payload.update(fields)
    return payload


def j(payload: Any) -> bytes:
    return json.dumps(payload).encode()


JSON = {"Content-Type": "application/json"}
CHARSET = {"Content-Type": "application/json; charset=utf-8"}
TEXT = {"Content-Type": "text/plain"}
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
CHUNKED = {**JSON, "Transfer-Encoding": "chunked"}
# (what is wrong, method, path, headers, raw body, status)
BAD = [
    ("not JSON", "POST", "/webhook/", JSON, b"{not json", 400),
    ("not UTF-8", "POST", "/webhook/", JSON, b'{"event": "\xff"}', 400),
    ("nested too deep", "POST", "/webhook/", JSON, b"[" * 30_000, 400),
    ("empty body", "POST", "/webhook/", JSON, b"", 400),
    ("a JSON array", "POST", "/webhook/", JSON, b"[1, 2]", 422),
    ("event not a number", "POST", "/webhook/", JSON, j(body(event="x")), 422),
    ("call_id not a number", "POST", "/webhook/", JSON, j(body(call_id="abc")), 422),
    ("state not an object", "POST", "/webhook/", JSON, j(body(state=[1])), 422),
    ("no call_id", "POST", "/webhook/", JSON, j(body(state={})), 422),
    ("option of a wrong type", "POST", "/webhook/", JSON, j(body(2, option=[1])), 422),
    ("event 2 without state", "POST", "/webhook/", JSON, j(body(2, state=None)), 422),
    ("text/plain", "POST", "/webhook/", TEXT, j(body()), 415),
    ("form data", "POST", "/webhook/", FORM, b"a=1", 415),
    ("GET on the webhook", "GET", "/webhook/", {}, b"", 405),
    ("PUT on the webhook", "PUT", "/webhook/", JSON, j(body()), 405),
    ("POST on healthz", "POST", "/healthz", JSON, b"{}", 405),
    ("unknown path", "POST", "/hook/", JSON, j(body()), 404),
    ("root path", "GET", "/", {}, b"", 404),
    ("chunked body", "POST", "/webhook/", CHUNKED, b"2\r\n{}\r\n0\r\n\r\n", 411),
    ("body over the limit", "POST", "/webhook/", JSON, b" " * (64 * 1024 + 1), 413),
]  # fmt: skip


@pytest.mark.parametrize(
    ("wrong", "method", "path", "headers", "raw", "status"), BAD, ids=[row[0] for row in BAD]
)
def test_every_bad_request_gets_its_status_and_a_json_error(
    server: int, wrong: str, method: str, path: str, headers: dict, raw: bytes, status: int
) -> None:
    got, answer_headers, answer = request(server, method, path, headers=headers, raw=raw)
    assert got == status, answer
    assert answer_headers["content-type"] == "application/json"
    assert set(answer) == {"error"} and answer["error"]
    if status == 405:
        expected = "POST, DELETE" if path.startswith("/webhook") else "GET, HEAD"
        assert answer_headers["allow"] == expected


def test_the_server_still_answers_after_every_bad_request(server: int) -> None:
    for _, method, path, headers, raw, _ in BAD:
        request(server, method, path, headers=headers, raw=raw)
    assert request(server, body=body(call_id=901))[2] == MAIN


def test_a_content_length_announcing_too_much_is_refused_before_the_body_is_read(
    server: int,
) -> None:
    with socket.create_connection(("127.0.0.1", server), timeout=5) as sock:
        sock.sendall(
            b"POST /webhook/ HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 5000000\r\n\r\n"
        )
        reply = sock.makefile("rb").read()  # the server answers, then closes
    head, _, payload = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413 ")
    assert b"Connection: close" in head
    assert "over 65536 bytes" in json.loads(payload)["error"]


def test_a_content_length_that_is_not_a_number_is_400(server: int) -> None:
    with socket.create_connection(("127.0.0.1", server), timeout=5) as sock:
        sock.sendall(b"POST /webhook/ HTTP/1.1\r\nHost: x\r\nContent-Length: ten\r\n\r\n")
        reply = sock.makefile("rb").read()
    assert reply.startswith(b"HTTP/1.1 400 ")


def test_an_unknown_method_is_a_json_error_too(server: int) -> None:
    """http.server has no handler for it (501); the asyncio server routes it as the app does,
    as uvicorn would: the path takes POST and DELETE (405, and says so)."""
    status, headers, answer = request(server, "BREW", "/webhook/")
    assert headers["content-type"] == "application/json" and answer["error"]
    assert status == 501 or (status == 405 and headers["allow"] == "POST, DELETE")


# (what, method, path, headers, body, expected answer)
GOOD = [
    ("setup", "POST", "/webhook/", JSON, body(call_id=11), MAIN),
    ("no slash, answered not redirected", "POST", "/webhook", JSON, body(call_id=12), MAIN),
    ("charset", "POST", "/webhook/", CHARSET, body(call_id=13), MAIN),
    ("no content type", "POST", "/webhook/", {}, body(call_id=14), MAIN),
    ("call_id as a numeric string", "POST", "/webhook/", JSON, body(call_id="15"), MAIN),
    ("keys the SDK sends", "POST", "/webhook/", JSON, {**body(call_id=16), "mark": None}, MAIN),
    ("configure ping", "POST", "/webhook/", JSON, body(state=None), NEUTRAL),
    ("teardown as POST", "POST", "/webhook/", JSON, body(3, call_id=11), NEUTRAL),
    ("teardown as DELETE", "DELETE", "/webhook/", JSON, body(3, call_id=12), NEUTRAL),
    ("setup as DELETE: the body decides", "DELETE", "/webhook/", JSON, body(call_id=17), MAIN),
    ("unknown event 99", "POST", "/webhook/", JSON, body(99, call_id=18), NEUTRAL),
    ("mark event 5: null", "POST", "/webhook/", JSON, {**body(5, call_id=19), "mark": "m"}, None),
]  # fmt: skip


@pytest.mark.parametrize(
    ("what", "method", "path", "headers", "payload", "expected"), GOOD, ids=[g[0] for g in GOOD]
)
def test_requests_jaxl_sends_are_answered(
    server: int, what: str, method: str, path: str, headers: dict, payload: Any, expected: Any
) -> None:
    raw = json.dumps(payload).encode()
    status, answer_headers, answer = request(server, method, path, headers=headers, raw=raw)
    assert (status, answer) == (200, expected)
    assert answer_headers["content-type"] == "application/json"


def test_a_call_goes_from_setup_to_transfer(server: int) -> None:
    assert request(server, body=body(call_id=21))[2] == MAIN
    answer = request(server, body=body(2, call_id=21, option="1"))[2]
    assert answer["phone"] == SALES


def test_healthz_says_ok(server: int) -> None:
    status, headers, answer = request(server, "GET", "/healthz")
    assert (status, answer) == (200, {"ok": True})
    assert headers["server"] == "jaxl-webhook"
    conn = http.client.HTTPConnection("127.0.0.1", server, timeout=5)
    conn.request("HEAD", "/healthz")
    response = conn.getresponse()
    assert response.status == 200 and response.read() == b""
    conn.close()


def test_keep_alive_serves_many_requests_on_one_connection(server: int) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", server, timeout=5)
    conn.connect()
    first = conn.sock
    answers = [request(server, body=body(call_id=31), connection=conn)[2]]
    answers.append(request(server, body=body(2, call_id=31, option="2"), connection=conn)[2])
    answers.append(request(server, "GET", "/healthz", connection=conn)[2])
    assert conn.sock is first  # never reconnected
    conn.close()
    assert answers[0] == MAIN and answers[1]["num_characters"] == "*"
    assert answers[2] == {"ok": True}


def test_a_silent_client_does_not_block_others(server: int) -> None:
    silent = socket.create_connection(("127.0.0.1", server))
    half = socket.create_connection(("127.0.0.1", server))
    half.sendall(b"POST /webhook/ HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
    try:
        started = time.monotonic()
        for call_id in range(41, 46):
            assert request(server, body=body(call_id=call_id))[2] == MAIN
        assert time.monotonic() - started < 2
    finally:
        silent.close()
        half.close()


# -- the token -------------------------------------------------------------------------------
@pytest.fixture
def guarded(flow_file: Path, spawn: Processes) -> int:
    port = free_port()
    env = {"JAXL_WEBHOOK_TOKEN": "s3cret"}
    spawn.start([*serve_command(flow_file, port), "--no-log"], port=port, env=env)
    return port


@pytest.mark.parametrize(
    ("headers", "path"),
    [({}, "/webhook/"), ({"X-Jaxl-Token": "wrong"}, "/webhook/"), ({}, "/webhook/?token=s3cre")],
    ids=["none", "wrong header", "wrong query"],
)
def test_without_the_right_token_the_answer_is_401(guarded: int, headers: dict, path: str) -> None:
    status, _, answer = request(guarded, "POST", path, body=body(call_id=51), headers=headers)
    assert status == 401 and answer == {"error": "missing or wrong token"}


def test_a_refused_request_does_not_touch_the_call(guarded: int) -> None:
    token = {"X-Jaxl-Token": "s3cret"}
    assert request(guarded, body=body(call_id=52), headers=token)[2] == MAIN
    assert request(guarded, "DELETE", body=body(3, call_id=52))[0] == 401
    answer = request(
        guarded, "POST", "/webhook/?token=s3cret", body=body(2, call_id=52, option="2")
    )
    assert answer[2]["num_characters"] == "*"  # still in the menu: the teardown never happened


def test_healthz_needs_no_token(guarded: int) -> None:
    assert request(guarded, "GET", "/healthz")[:3:2] == (200, {"ok": True})


# -- the app core, in process ----------------------------------------------------------------
class BrokenStore(MemoryStore):
    def load(self, call_id: int) -> dict[str, Any] | None:
        raise KeyError("a bug")


def test_an_unexpected_error_is_logged_and_the_caller_hears_an_apology(
    capsys: pytest.CaptureFixture[str],
) -> None:
    lines: list[str] = []
    app = WebhookApp(Runtime(acme().to_document(), BrokenStore()), log=lines.append)
    raw = json.dumps(body(2, call_id=61, option="1")).encode()
    status, _, answer = app.handle("POST", "/webhook/", "", {}, raw)
    assert (status, json.loads(answer)) == (200, {"prompt": LOOP_PROMPT, "num_characters": 0})
    assert "KeyError: 'a bug'" in capsys.readouterr().err
    assert json.loads(lines[0])["status"] == 200


def test_one_json_log_line_per_request() -> None:
    lines: list[str] = []
    app = WebhookApp(Runtime(acme().to_document()), log=lines.append)
    app.handle("POST", "/webhook/", "token=x", {}, json.dumps(body(call_id=62)).encode())
    app.handle("GET", "/nowhere", "", {}, b"")
    first, second = (json.loads(line) for line in lines)
    assert set(first) == {"v", "rev", "method", "path", "status", "event", "call_id", "ms",
                          "nodes", "wait"}  # fmt: skip
    assert (first["status"], first["event"], first["call_id"]) == (200, 1, 62)
    assert (second["path"], second["status"], second["event"]) == ("/nowhere", 404, None)


def test_an_idle_connection_is_closed_after_the_timeout() -> None:
    app = WebhookApp(Runtime(acme().to_document()), log=None)
    server = make_server(app, "127.0.0.1", 0, timeout=0.3)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with socket.create_connection(server.server_address[:2], timeout=5) as sock:
            started = time.monotonic()
            assert sock.recv(1) == b""  # closed by the server, not by our own timeout
            assert time.monotonic() - started < 3
    finally:
        server.shutdown()
        server.server_close()


def test_wsgi_and_asgi_answer_like_the_core() -> None:
    import asyncio

    app = WebhookApp(Runtime(acme().to_document()), log=None)
    raw = json.dumps(body(call_id=71)).encode()
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/webhook/",
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(raw)),
        "wsgi.input": __import__("io").BytesIO(raw),
    }
    started: list[str] = []
    chunks = make_wsgi(app)(environ, lambda status, headers: started.append(status))
    assert started == ["200 OK"] and json.loads(b"".join(chunks)) == MAIN

    sent: list[dict[str, Any]] = []
    messages = iter([{"type": "http.request", "body": raw, "more_body": False}])

    async def receive() -> dict[str, Any]:
        return next(messages)

    async def record(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/webhook", "query_string": b"",
             "headers": [(b"content-length", str(len(raw)).encode())]}  # fmt: skip
    asyncio.run(make_asgi(app)(scope, receive, record))
    assert sent[0]["status"] == 200 and json.loads(sent[1]["body"])["num_characters"] == 1
