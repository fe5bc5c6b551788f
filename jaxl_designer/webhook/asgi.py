"""ASGI for the webhook (uvicorn and other servers), with a short path for a plain request.

Every request Jaxl sends is a POST (or DELETE) of a small JSON body to `/webhook/`. Such a
request passes every check `WebhookApp` makes, so it goes straight to the part they share,
`WebhookApp.start_json`; any other request goes through `WebhookApp.begin`, check by check.
Both give the same answer (tests/test_asgi.py compares them on random requests).

A call that reaches a lookup node is answered once its backend has: the lookup is awaited on
the event loop (`perform_lookup_async`), so a slow backend holds up that call alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import time
from collections.abc import Callable
from typing import Any

from ..core.lookups import perform_lookup_async
from ..core.runtime import StoreError
from .app import (
    WEBHOOK_PATHS,
    PendingReply,
    Reply,
    StateNotLoaded,
    WebhookApp,
    body_length,
    lookup_raised,
)
from .redis_async import AsyncRedis, ReadAhead
from .redis_store import RedisStore
from .revisions import StoreRevisions

__all__ = ["make_asgi"]

_JSON_TYPE = (b"content-type", b"application/json")
_JSON_HEADER = ("Content-Type", "application/json")


async def _asgi_body(receive: Callable[[], Any], limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        chunks.append(chunk)  # past the limit, one chunk more is kept: enough to refuse the body
        if not message.get("more_body", False) or size > limit:
            break
    return b"".join(chunks)


async def _lifespan(receive: Callable[[], Any], send: Callable[[Any], Any]) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


_LENGTHS: dict[int, tuple[bytes, bytes]] = {}


def _raw_headers(reply: Reply) -> list[tuple[bytes, bytes]]:
    _, headers, body = reply
    if len(headers) == 2 and headers[0] == _JSON_HEADER:  # all but a 405: type and length
        length = _LENGTHS.get(len(body))  # the same few lengths come back again and again
        if length is None:
            length = (b"content-length", b"%d" % len(body))
            if len(_LENGTHS) < 4096:
                _LENGTHS[len(body)] = length
        return [_JSON_TYPE, length]  # a new list: a server may add its own headers to it
    return [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers]


Answering = Callable[[bytes, dict[str, Any]], Any]
Delivering = Callable[[dict[str, Any]], Any]


def _answer_with_redis(app: WebhookApp) -> tuple[Answering, Delivering] | None:
    """For an app whose calls live in Redis: an async answer for a plain request, and what
    says on the loop that it was delivered (`WebhookApp.delivered`); or None."""
    store = app.runtime.store
    if not isinstance(store, RedisStore) or not AsyncRedis.usable(store.url):
        return None
    redis = AsyncRedis(store)
    ahead = ReadAhead()
    staged = copy.copy(app)
    # Every revision answers here with its calls' state read ahead (its own runtime on `ahead`).
    revisions = app.revisions
    if isinstance(revisions, StoreRevisions):
        revisions = revisions.revisions
    staged.revisions = revisions.on(ahead)

    async def answer(body: bytes, fields: dict[str, Any]) -> Reply:
        ahead.begin()
        try:
            started = staged.start_json(body, fields)
        except StateNotLoaded as need:
            try:
                state = await redis.load(need.call_id)
                ahead.begin(need.call_id, state)
            except StoreError:
                ahead.begin(down=True)
            started = staged.start_json(body, fields)  # parses again: a few microseconds
        writes = ahead.take()
        if isinstance(started, PendingReply):
            reply = await _finish_with(staged, ahead, started, writes)
            looked_up = True
        else:
            reply, looked_up = started, False
        try:
            for call_id, state in writes.items():
                await redis.write(call_id, state)
        except StoreError:
            if looked_up:  # answering again would ask the backend again: say what it would say
                return staged.store_down()
            ahead.begin(down=True)  # what the runtime says when its store fails
            again = staged.start_json(body, fields)
            ahead.take()
            reply = staged.store_down() if isinstance(again, PendingReply) else again
        return reply

    async def delivered(fields: dict[str, Any]) -> None:
        delivery = fields.get("delivery")
        if delivery is None:
            return
        call_id, step, ended = delivery
        with contextlib.suppress(StoreError):  # as `Runtime.delivered`: the step stays held
            if ended:
                await redis.write(call_id, None)
            else:
                await redis.confirm(call_id, step)

    return answer, delivered


async def _finish_with(
    staged: WebhookApp,
    ahead: ReadAhead,
    pending: PendingReply,
    writes: dict[int, dict[str, Any] | None],
) -> Reply:
    """Await an answer's lookups on the loop, collecting its writes to Redis into `writes`.

    `ahead` is shared by every request: while this one awaits its backend, others `begin` and
    `take` it. So after each lookup it is begun again (the runtime only writes from here on:
    the call's state was read before the lookup) and what it was given taken at once, with no
    await in between.
    """
    reply: Reply | PendingReply = pending
    while isinstance(reply, PendingReply):
        try:
            result = await perform_lookup_async(reply.lookup)
        except Exception as error:
            result = lookup_raised(error)
        ahead.begin()
        reply = staged.resume(reply, result)
        writes.update(ahead.take())
    return reply


def make_asgi(app: WebhookApp) -> Callable[..., Any]:
    """An ASGI callable for `app` (HTTP and lifespan), for uvicorn and other ASGI servers.

    When the calls live in Redis, a plain request reads and writes its call's state on the event
    loop (`AsyncRedis`), and anything else (health checks, refusals) is answered in a worker
    thread, so a slow Redis never stalls the loop. A lookup is awaited on the loop, or asked
    from the worker thread that answers the request.

    Example:
        >>> from jaxl_designer.core.runtime import Runtime
        >>> flow = {"entry": "bye", "nodes": {"bye": {"kind": "hangup", "prompt": ["Bye."]}}}
        >>> asgi = make_asgi(WebhookApp(Runtime(flow), log=None))
        >>> sent = []
        >>> async def receive():
        ...     return {"type": "http.request", "body": b'{"event": 1, "state": {"call_id": 1}}'}
        >>> async def send(message):
        ...     sent.append(message)
        >>> scope = {"type": "http", "method": "POST", "path": "/webhook/", "headers": []}
        >>> asyncio.run(asgi(scope, receive, send))
        >>> sent[0]["status"], sent[1]["body"]
        (200, b'{"prompt":["Bye."],"num_characters":0}')
    """
    max_body = app.max_body
    start_json = app.start_json
    complete_async = app.complete_async
    handle = app.handle
    with_redis = _answer_with_redis(app)
    answer_with_redis, delivered_with_redis = with_redis or (None, None)
    # The short path answers on the loop: with state in memory, or in Redis read asynchronously.
    short_path = with_redis is not None or not app.blocking
    delivered = app.delivered
    token_matches = app.token_matches

    async def application(
        scope: dict[str, Any], receive: Callable[[], Any], send: Callable[[Any], Any]
    ) -> None:
        if scope["type"] != "http":
            if scope["type"] == "lifespan":
                await _lifespan(receive, send)
            return
        started = time.perf_counter() if app.log is not None else 0.0
        method: str = scope["method"]
        path: str = scope["path"]
        length = media = token = None
        chunked = via_redis = False
        for name, value in scope.get("headers", ()):  # lower-case names, as ASGI promises
            if name == b"content-length":
                length = value
            elif name == b"content-type":
                media = value
            elif name == b"x-jaxl-token":
                token = value
            elif name == b"transfer-encoding":
                chunked = True
        plain = (
            path in WEBHOOK_PATHS
            and (method == "POST" or method == "DELETE")
            and not chunked
            and (media is None or media == b"application/json")
            and length is not None
            and length.isdigit()
            and len(length) < 12
            and int(length) <= max_body
            and token_matches(token)
        )
        if plain and short_path:
            message = await receive()
            if message.get("more_body", False) or message["type"] != "http.request":
                body = message.get("body", b"") + await _asgi_body(receive, max_body)
            else:
                body = message["body"]  # the whole body came in one message, as it usually does
            fields: dict[str, Any] = {}
            if answer_with_redis is None:
                started_reply = start_json(body, fields)
                if isinstance(started_reply, PendingReply):  # the call waits on a backend
                    reply = await complete_async(started_reply)
                else:
                    reply = started_reply
            else:
                reply = await answer_with_redis(body, fields)
                via_redis = True
            if app.log is not None:
                app.log_request(method, path, reply[0], fields, started)
        else:
            text = {"content-length": length, "content-type": media, "x-jaxl-token": token}
            headers = {k: v.decode("latin-1") for k, v in text.items() if v is not None}
            if chunked:
                headers["transfer-encoding"] = "chunked"
            # A body that will be refused is left unread.
            read = body_length(headers, max_body) is not None
            body = await _asgi_body(receive, max_body) if read else b""
            query = scope.get("query_string", b"").decode("latin-1")
            fields = {}
            if app.blocking:  # a sync store: answered in a thread, which asks a lookup itself
                reply = await asyncio.to_thread(handle, method, path, query, headers, body, fields)
            else:
                reply = await app.handle_async(method, path, query, headers, body, fields)
        start = {"type": "http.response.start", "status": reply[0], "headers": _raw_headers(reply)}
        try:
            await send(start)
            await send({"type": "http.response.body", "body": reply[2]})
        except (RuntimeError, OSError):
            # The client left while the answer was being made (a pipelining client that
            # disconnects mid-answer, with a lookup or Redis awaited): uvloop's closed transport
            # raises here. Nobody is left to answer; it is not an error of the application.
            # The call's step stays held: the request again is answered the same.
            return
        if "delivery" in fields:  # a webhook answer, sent: the call's step is delivered
            if via_redis:
                await delivered_with_redis(fields)  # type: ignore[misc]
            elif app.blocking:
                await asyncio.to_thread(delivered, fields)
            else:
                delivered(fields)

    return application
