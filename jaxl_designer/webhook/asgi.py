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
from collections.abc import Awaitable, Callable, Coroutine, Mapping
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

__all__ = ["LoopAnswers", "make_asgi"]

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


_LENGTHS: dict[str, tuple[bytes, bytes]] = {}


def _raw_headers(reply: Reply) -> list[tuple[bytes, bytes]]:
    headers = reply[1]
    if len(headers) == 2 and headers[0] == _JSON_HEADER:  # all but a 405: type and length
        # The reply's own Content-Length: a HEAD's is the GET's (RFC 9110 8.6), its body none.
        text = headers[1][1]
        length = _LENGTHS.get(text)  # the same few lengths come back again and again
        if length is None:
            length = (b"content-length", text.encode("latin-1"))
            if len(_LENGTHS) < 4096:
                _LENGTHS[text] = length
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


class LoopAnswers:
    """How a server on an event loop (ASGI, granian's RSGI) answers a webhook request.

    `plain`: whether a request passes every check `WebhookApp` makes, from its head alone; such
    a request takes the short path (`answer`) when `short_path` says so: state in memory, or
    in Redis read and written on the loop. Any other goes through `answer_other`, in a worker
    thread when the store blocks. `delivered` then says, on the loop, that the answer was sent.
    """

    def __init__(self, app: WebhookApp) -> None:
        self.app = app
        with_redis = _answer_with_redis(app)
        self._redis_answer: Answering | None = None
        self._redis_delivered: Delivering | None = None
        if with_redis is not None:
            self._redis_answer, self._redis_delivered = with_redis
        #: Whether a plain request is answered on the loop itself.
        self.short_path = with_redis is not None or not app.blocking

    def plain(
        self,
        method: str,
        path: str,
        chunked: bool,
        json_or_none: bool,
        length: bytes | str | None,
        token: bytes | None,
    ) -> bool:
        """Whether a request passes every check from its head: a POST or DELETE to the webhook,
        not chunked, JSON (or no type), a length within `max_body`, the right token."""
        return (
            path in WEBHOOK_PATHS
            and (method == "POST" or method == "DELETE")
            and not chunked
            and json_or_none
            and length is not None
            and length.isdigit()
            and len(length) < 12
            and int(length) <= self.app.max_body
            and self.app.token_matches(token)
        )

    async def answer(
        self, body: bytes, fields: dict[str, Any], waiting: Callable[[], None] | None = None
    ) -> tuple[Reply, bool]:
        """The answer to a plain request's body, and whether it went through Redis; `waiting`
        is called before anything is awaited (a lookup, Redis)."""
        started = self.begin(body, fields)
        if isinstance(started, tuple):
            return started, False
        if waiting is not None:
            waiting()
        return await started

    def begin(
        self, body: bytes, fields: dict[str, Any]
    ) -> Reply | Coroutine[Any, Any, tuple[Reply, bool]]:
        """`answer`, at once when nothing is awaited (the call's state in memory, no lookup):
        the reply; else a coroutine of what `answer` gives, for the caller to await."""
        if self._redis_answer is None:
            started = self.app.start_json(body, fields)
            if not isinstance(started, PendingReply):
                return started
            return self._looked_up(started)  # the call waits on a backend
        return self._via_redis(self._redis_answer(body, fields))

    async def _looked_up(self, pending: PendingReply) -> tuple[Reply, bool]:
        return await self.app.complete_async(pending), False

    @staticmethod
    async def _via_redis(answering: Awaitable[Reply]) -> tuple[Reply, bool]:
        return await answering, True

    async def answer_other(
        self,
        method: str,
        path: str,
        query: str,
        headers: Mapping[str, str],
        body: bytes,
        fields: dict[str, Any],
    ) -> Reply:
        """The answer to any other request, check by check (`WebhookApp.handle`)."""
        app = self.app
        if app.blocking:  # a sync store: answered in a thread, which asks a lookup itself
            return await asyncio.to_thread(app.handle, method, path, query, headers, body, fields)
        return await app.handle_async(method, path, query, headers, body, fields)

    async def delivered(self, fields: dict[str, Any], via_redis: bool) -> None:
        """Say that the answer `fields` belongs to was sent (`WebhookApp.delivered`)."""
        if "delivery" not in fields:  # not a webhook answer
            return
        if via_redis and self._redis_delivered is not None:
            await self._redis_delivered(fields)
        elif self.app.blocking:
            await asyncio.to_thread(self.app.delivered, fields)
        else:
            self.app.delivered(fields)


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
    answers = LoopAnswers(app)
    short_path, plain_request, answer = answers.short_path, answers.plain, answers.answer

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
        json_or_none = media is None or media == b"application/json"
        if short_path and plain_request(method, path, chunked, json_or_none, length, token):
            message = await receive()
            if message.get("more_body", False) or message["type"] != "http.request":
                body = message.get("body", b"") + await _asgi_body(receive, max_body)
            else:
                body = message["body"]  # the whole body came in one message, as it usually does
            fields: dict[str, Any] = {}
            reply, via_redis = await answer(body, fields)
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
            reply = await answers.answer_other(method, path, query, headers, body, fields)
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
            await answers.delivered(fields, via_redis)

    return application
