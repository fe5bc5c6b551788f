"""The ASGI adapter's short path for plain requests answers exactly as `WebhookApp.handle` does."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from jaxl_designer.core.examples import acme
from jaxl_designer.core.runtime import Runtime
from jaxl_designer.core.simulator import request as webhook_request
from jaxl_designer.webhook.app import WebhookApp, body_length
from jaxl_designer.webhook.asgi import make_asgi

FLOW = acme().to_document()
TOKEN = "s3cret"


def asgi_call(
    asgi: Any, method: str, path: str, query: bytes, headers: list[tuple[bytes, bytes]], body: bytes
) -> tuple[int, bytes, dict[bytes, bytes]]:
    """One request through the ASGI callable, as uvicorn makes it: status, body, headers."""
    sent: list[dict[str, Any]] = []
    messages = [{"type": "http.request", "body": body, "more_body": False}]

    async def receive() -> dict[str, Any]:
        return messages.pop() if messages else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": method, "path": path, "query_string": query,
             "headers": headers}  # fmt: skip
    asyncio.run(asgi(scope, receive, send))
    return sent[0]["status"], sent[1]["body"], dict(sent[0]["headers"])


bodies = st.one_of(
    st.builds(
        lambda event, call_id, option, data: json.dumps(
            webhook_request(event, call_id, option=option, data=data)
        ).encode(),
        st.sampled_from([1, 2, 3, 4]),
        st.integers(1, 3),  # few call ids, so the calls go on across requests
        st.sampled_from([None, "1", "2", "9", "x"]),
        st.sampled_from([None, "123*", "12", "abc"]),
    ),
    st.sampled_from([b"", b"{", b"[1]", b"null", b' {"event": 1} ', b"\xff", b'{"a":1} x']),
    st.just(b" " * (64 * 1024 + 5)),  # just over the limit
)
requests = st.tuples(
    st.sampled_from(["POST", "DELETE", "GET", "PUT", "HEAD"]),
    st.sampled_from(["/webhook/", "/webhook", "/healthz", "/nope"]),
    st.sampled_from([b"", b"token=" + TOKEN.encode(), b"token=wrong"]),
    st.sampled_from(
        [
            None,
            b"application/json",
            b"Application/JSON",
            b"application/json; charset=utf-8",
            b"text/plain",
        ]
    ),
    st.sampled_from(["right", "absent", "abc", "huge", "spaced"]),
    st.sampled_from([None, TOKEN.encode(), b"wrong"]),
    st.booleans(),
    bodies,
)


@settings(max_examples=300, deadline=None)
@given(st.booleans(), st.lists(requests, min_size=1, max_size=12))
def test_every_request_gets_the_same_answer_as_from_the_core(
    guarded: bool, sequence: list[Any]
) -> None:
    token = TOKEN if guarded else None
    core = WebhookApp(Runtime(FLOW), token=token, log=None)
    asgi = make_asgi(WebhookApp(Runtime(FLOW), token=token, log=None))
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
        read = body if body_length(text, core.max_body) is not None else b""
        want_status, want_headers, want_body = core.handle(method, path, query.decode(), text, read)
        status, got_body, headers = asgi_call(asgi, method, path, query, raw, read)
        assert (status, got_body) == (want_status, want_body), (method, path, raw, body)
        # The core's own length: the body's, and for a HEAD the GET's (RFC 9110 8.6).
        assert headers[b"content-length"] == dict(want_headers)["Content-Length"].encode()
        assert {k.lower().encode() for k, _ in want_headers} == set(headers)


def test_a_body_in_several_messages_is_read_whole() -> None:
    app = WebhookApp(Runtime(FLOW), log=None)
    raw = json.dumps(webhook_request(1, 5)).encode()
    sent: list[dict[str, Any]] = []
    parts = [{"type": "http.request", "body": raw[i : i + 10], "more_body": i + 10 < len(raw)}
             for i in range(0, len(raw), 10)]  # fmt: skip

    async def receive() -> dict[str, Any]:
        return parts.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/webhook/", "query_string": b"",
             "headers": [(b"content-length", str(len(raw)).encode())]}  # fmt: skip
    asyncio.run(make_asgi(app)(scope, receive, send))
    assert sent[0]["status"] == 200
    assert json.loads(sent[1]["body"]) == Runtime(FLOW).handle(webhook_request(1, 5))


def test_a_bug_on_the_short_path_is_an_apology_not_a_500(capsys: Any) -> None:
    app = WebhookApp(Runtime(FLOW), log=None)

    def broken(request: Any, **_: Any) -> Any:
        raise KeyError("a bug")

    app.runtime.respond = broken  # type: ignore[method-assign]
    raw = json.dumps(webhook_request(1, 5)).encode()
    status, body, _ = asgi_call(make_asgi(app), "POST", "/webhook/", b"",
                                [(b"content-length", str(len(raw)).encode())], raw)  # fmt: skip
    assert status == 200 and "not working" in json.loads(body)["prompt"][0]
    assert "KeyError: 'a bug'" in capsys.readouterr().err


def test_repeated_answers_are_encoded_once_and_stay_right() -> None:
    app = WebhookApp(Runtime(FLOW), log=None)
    first = app.answer_json(json.dumps(webhook_request(1, 1)).encode(), {})
    again = app.answer_json(json.dumps(webhook_request(1, 2)).encode(), {})
    assert again is first  # the same encoded answer, not a new one
    heard = []
    for call_id, order in ((3, "123*"), (4, "456*")):
        for event, option, data in ((1, None, None), (2, "2", None), (2, "2", order)):
            payload = webhook_request(event, call_id, option=option, data=data)
            reply = app.answer_json(json.dumps(payload).encode(), {})
        heard.append(" ".join(json.loads(reply[2])["prompt"]))
    assert "entered 123." in heard[0] and "entered 456." in heard[1]
