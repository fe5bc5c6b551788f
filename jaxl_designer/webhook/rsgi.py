"""RSGI for the webhook (granian's own interface), answering as the ASGI callable does.

granian hands each request over as a scope (method, path, query, headers) and a protocol: the
body comes whole from `await protocol()`, and the answer goes out in one `response_bytes`.
What is answered, and how, is `make_asgi`'s: a plain request takes the short path (call state
in memory, or in Redis read and written on the event loop by `_answer_with_redis`), anything
else goes through `WebhookApp.handle_async`, or `handle` in a worker thread for a blocking store.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from .app import WebhookApp, body_length, flush_request_log
from .asgi import LoopAnswers

__all__ = ["RsgiApp", "make_rsgi"]

#: What stands for a header value granian cannot show as text (not visible ASCII).
_UNREADABLE = "\ufffd"


class RsgiApp:
    """An RSGI application: granian calls `__rsgi__(scope, protocol)` for every request, and
    `__rsgi_del__(loop)` in each worker once it stops serving."""

    __rsgi__: Callable[[Any, Any], Awaitable[None]]

    def __init__(self, answer: Callable[[Any, Any], Awaitable[None]]) -> None:
        self.__rsgi__ = answer

    def __rsgi_del__(self, loop: Any) -> None:
        # A worker process ends without running atexit: the log lines of its last turn go now.
        flush_request_log()


def make_rsgi(app: WebhookApp) -> RsgiApp:
    """An RSGI application for `app`, for granian (`granian --interface rsgi webhook:rsgi`).

    It gives the answers `make_asgi` gives, status, headers and body, for the same request,
    but for a HEAD's Content-Length: the GET's, as `WebhookApp.handle` says (RFC 9110 8.6).
    When the calls live in Redis, a plain request reads and writes its call's state on the
    event loop, and anything else (health checks, refusals) is answered in a worker thread; a
    lookup is awaited on the loop. granian shows no header value that is not visible ASCII: a
    token so sent is no token, and a content type so sent is refused as not JSON.

    Example:
        >>> from jaxl_designer.core.runtime import Runtime
        >>> flow = {"entry": "bye", "nodes": {"bye": {"kind": "hangup", "prompt": ["Bye."]}}}
        >>> rsgi = make_rsgi(WebhookApp(Runtime(flow), log=None))
        >>> class Scope:
        ...     proto, method, path, query_string = "http", "POST", "/webhook/", ""
        ...     headers = {"content-length": "38"}  # granian's: get, items, `in`
        >>> class Protocol:
        ...     async def __call__(self):
        ...         return b'{"event": 1, "state": {"call_id": 1}}'
        ...     def response_bytes(self, status, headers, body):
        ...         print(status, body)
        >>> import asyncio
        >>> asyncio.run(rsgi.__rsgi__(Scope(), Protocol()))
        200 b'{"prompt":["Bye."],"num_characters":0}'
    """
    max_body = app.max_body
    answers = LoopAnswers(app)
    short_path, plain_request = answers.short_path, answers.plain

    async def application(scope: Any, protocol: Any) -> None:
        if scope.proto != "http":
            protocol.close(403)  # a WebSocket: refused, as uvicorn refuses one ASGI leaves alone
            return
        started = time.perf_counter() if app.log is not None else 0.0
        method: str = scope.method
        path: str = scope.path
        headers = scope.headers
        length: str | None = None
        media: str | None = None
        token: str | None = None
        chunked = "transfer-encoding" in headers
        via_redis = False
        # Lower-case names; the last of a repeated header counts, as in `make_asgi`. granian
        # leaves out a value that is not visible ASCII.
        for name, value in headers.items():
            if name == "content-length":
                length = value
            elif name == "content-type":
                media = value
            elif name == "x-jaxl-token":
                token = value
        if media is None and "content-type" in headers:
            media = _UNREADABLE  # a type granian cannot show is no JSON type: refused (415)
        json_or_none = media is None or media == "application/json"
        given_token = None if token is None else token.encode("latin-1")
        # What says the client left while its answer was being made, for answers that wait (a
        # lookup, Redis): granian raises nothing on an answer to a client gone.
        gone = None

        def waiting() -> None:
            nonlocal gone
            gone = protocol.client_disconnect()

        if short_path and plain_request(method, path, chunked, json_or_none, length, given_token):
            try:
                body: bytes = await protocol()
            except RuntimeError:  # granian's RSGIProtocolClosed: the client left mid-body
                return
            fields: dict[str, Any] = {}
            reply, via_redis = await answers.answer(body, fields, waiting)
            if app.log is not None:
                app.log_request(method, path, reply[0], fields, started)
        else:
            text = {"content-length": length, "content-type": media, "x-jaxl-token": token}
            given = {k: v for k, v in text.items() if v is not None}
            if chunked:
                given["transfer-encoding"] = "chunked"
            body = b""
            if body_length(given, max_body) is not None:  # a body that will be refused: unread
                try:
                    body = await protocol()
                except RuntimeError:
                    return
            query: str = scope.query_string
            fields = {}
            waiting()
            reply = await answers.answer_other(method, path, query, given, body, fields)
        protocol.response_bytes(reply[0], reply[1], reply[2])
        if gone is not None:
            if gone.done():  # nobody was left to answer: the call's step stays held, and the
                return  # request again is answered the same
            gone.cancel()  # else granian waits on it as long as it runs: a kilobyte a request
        if "delivery" in fields:  # a webhook answer, sent: the call's step is delivered
            await answers.delivered(fields, via_redis)

    return RsgiApp(application)
