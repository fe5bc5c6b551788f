"""ASGI for the webhook (uvicorn and other servers), with a short path for a plain request.

Every request Jaxl sends is a POST (or DELETE) of a small JSON body to `/webhook/`. Such a
request passes every check `WebhookApp` makes, so it goes straight to the part they share,
`WebhookApp.answer_json`; any other request goes through `WebhookApp.handle`, check by check.
Both give the same answer (tests/test_asgi.py compares them on random requests).
"""

from __future__ import annotations

import asyncio
import copy
import hmac
import ssl
import time
from collections import deque
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote, urlsplit

from .runtime import Runtime, StoreError
from .server import (
    WEBHOOK_PATHS,
    RedisStore,
    Reply,
    StateNotLoaded,
    WebhookApp,
    body_length,
    redact,
)

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


# -- Redis on the event loop ------------------------------------------------------------------
class _Resp(asyncio.Protocol):
    """One connection to Redis (RESP2): commands pipelined, each reply resolving one future.

    Redis answers the commands of a connection in order, so many requests share it without
    waiting for each other. A connection that errs, closes or falls silent for longer than the
    timeout fails every command it still owes, and is not used again.
    """

    def __init__(self, timeout: float, where: str) -> None:
        self.timeout = timeout
        self.where = where
        self.waiting: deque[tuple[asyncio.Future[Any], float]] = deque()
        self.buffer = b""
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.watch: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is not asyncio's class

    def connection_lost(self, exc: Exception | None) -> None:
        self.fail(f"Redis at {self.where} closed the connection")

    def fail(self, why: str) -> None:
        self.closed = True
        if self.watch is not None:
            self.watch.cancel()
        if self.transport is not None:
            self.transport.abort()
        while self.waiting:
            future, _ = self.waiting.popleft()
            if not future.done():
                future.set_exception(StoreError(why))

    def send(self, *args: bytes) -> asyncio.Future[Any]:
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        if self.closed or self.transport is None:
            future.set_exception(StoreError(f"Redis at {self.where} is not connected"))
            return future
        parts = [b"*%d\r\n" % len(args)]
        for arg in args:
            parts.append(b"$%d\r\n%s\r\n" % (len(arg), arg))
        self.transport.write(b"".join(parts))
        self.waiting.append((future, loop.time() + self.timeout))
        if self.watch is None:
            self.watch = loop.call_later(self.timeout, self.check)
        return future

    def check(self) -> None:
        """Fail the connection when its oldest command is overdue; else look again later."""
        self.watch = None
        if not self.waiting or self.closed:
            return
        loop = asyncio.get_running_loop()
        due = self.waiting[0][1]
        if loop.time() >= due:
            self.fail(f"Redis at {self.where} did not answer within {self.timeout} s")
        else:
            self.watch = loop.call_later(due - loop.time(), self.check)

    def data_received(self, data: bytes) -> None:
        buffer = self.buffer + data if self.buffer else data
        at = 0
        while self.waiting:
            end = buffer.find(b"\r\n", at)
            if end < 0:
                break
            kind = buffer[at : at + 1]
            value: Any
            if kind == b"$":
                size = int(buffer[at + 1 : end])
                if size < 0:
                    value, at = None, end + 2
                elif len(buffer) < end + 4 + size:
                    break  # the rest of this value is still on its way
                else:
                    value, at = buffer[end + 2 : end + 2 + size], end + 4 + size
            elif kind in (b"+", b":"):
                value, at = buffer[at + 1 : end], end + 2
            elif kind == b"-":
                value, at = StoreError(buffer[at + 1 : end].decode("utf-8", "replace")), end + 2
            else:  # nothing we send is answered with anything else
                self.fail(f"Redis at {self.where} sent an unexpected reply")
                return
            future, _ = self.waiting.popleft()
            if future.done():  # its request gave up waiting
                continue
            if isinstance(value, StoreError):
                future.set_exception(value)
            else:
                future.set_result(value)
        self.buffer = buffer[at:]
        if self.buffer and not self.waiting:
            self.fail(f"Redis at {self.where} sent a reply nobody asked for")


class AsyncRedis:
    """Redis for the call store on an event loop: GET, SET EX and DEL, pipelined on one connection.

    Keys, values and the time-to-live are `store`'s, so both servers share calls. Every failure
    (refused, dropped, silent past the timeout, an error reply) is a `StoreError`; the next
    command connects again.
    """

    def __init__(self, store: RedisStore, timeout: float = 0.5) -> None:
        parts = urlsplit(store.url)
        self.store = store
        self.timeout = timeout
        self.host = parts.hostname or "localhost"
        self.port = parts.port or 6379
        self.tls = parts.scheme == "rediss"
        self.db = (parts.path or "/0").strip("/") or "0"
        self.login = [unquote(x) for x in (parts.username, parts.password) if x]
        self.where = redact(store.url)
        self.connection: _Resp | None = None
        self.connecting: asyncio.Future[_Resp] | None = None
        self.ttl = b"%d" % store.ttl

    @staticmethod
    def usable(url: str) -> bool:
        """Whether a Redis URL is one this client speaks (TCP, with or without TLS)."""
        parts = urlsplit(url)
        db = (parts.path or "/").strip("/")
        return parts.scheme in ("redis", "rediss") and not parts.query and (db.isdigit() or not db)

    async def _connect(self) -> _Resp:
        loop = asyncio.get_running_loop()
        context = ssl.create_default_context() if self.tls else None
        try:
            _, connection = await asyncio.wait_for(
                loop.create_connection(
                    lambda: _Resp(self.timeout, self.where), self.host, self.port, ssl=context
                ),
                self.timeout,
            )
        except (OSError, asyncio.TimeoutError) as error:
            raise StoreError(f"Redis at {self.where} is not answering: {error}") from None
        hello = []
        if self.login:
            hello.append(connection.send(b"AUTH", *(x.encode() for x in self.login)))
        if self.db != "0":
            hello.append(connection.send(b"SELECT", self.db.encode()))
        for reply in hello:
            await reply
        return connection

    async def _ready(self) -> _Resp:
        connection = self.connection
        if connection is not None and not connection.closed:
            return connection
        if self.connecting is None:  # one attempt at a time, shared by the requests waiting
            self.connecting = asyncio.ensure_future(self._connect())
        attempt = self.connecting
        try:
            connection = await asyncio.shield(attempt)
        finally:
            if self.connecting is attempt and attempt.done():
                self.connecting = None
        self.connection = connection
        return connection

    async def load(self, call_id: int) -> dict[str, Any] | None:
        """A call's state, or None."""
        connection = await self._ready()
        return self.store.decode(await connection.send(b"GET", self.store.key(call_id).encode()))

    async def write(self, call_id: int, state: dict[str, Any] | None) -> None:
        """Keep a call's state for the store's time-to-live, or forget the call (None)."""
        connection = await self._ready()
        key = self.store.key(call_id).encode()
        if state is None:
            await connection.send(b"DEL", key)
        else:
            value = self.store.encode(state).encode("utf-8")
            await connection.send(b"SET", key, value, b"EX", self.ttl)


class _ReadAhead:
    """The runtime's call store when the server reads and writes Redis around it, not in it.

    Before answering, the server says what it knows of the call (`begin`); the runtime's reads
    come from that, and a read of something not known raises `StateNotLoaded`; its writes are
    kept (`take`) for the server to make once the runtime is done.
    """

    def __init__(self) -> None:
        self.begin()

    def begin(
        self, call_id: int | None = None, state: dict[str, Any] | None = None, down: bool = False
    ) -> None:
        self.call_id = call_id
        self.state = state
        self.down = down
        self.writes: dict[int, dict[str, Any] | None] = {}

    def take(self) -> dict[int, dict[str, Any] | None]:
        writes, self.writes = self.writes, {}
        return writes

    def load(self, call_id: int) -> dict[str, Any] | None:
        if self.down:
            raise StoreError("Redis is not answering")
        if call_id != self.call_id:
            raise StateNotLoaded(call_id)
        return self.state

    def save(self, call_id: int, state: dict[str, Any]) -> None:
        if self.down:
            raise StoreError("Redis is not answering")
        self.writes[call_id] = state

    def drop(self, call_id: int) -> None:
        if self.down:
            raise StoreError("Redis is not answering")
        self.writes[call_id] = None


def _answer_with_redis(app: WebhookApp) -> Callable[[bytes, dict[str, Any]], Any] | None:
    """For an app whose calls live in Redis: an async answer for a plain request, or None."""
    store = app.runtime.store
    if not isinstance(store, RedisStore) or not AsyncRedis.usable(store.url):
        return None
    redis = AsyncRedis(store)
    ahead = _ReadAhead()
    staged = copy.copy(app)
    staged.runtime = Runtime(app.runtime.flow, ahead, app.runtime.clock)

    async def answer(body: bytes, fields: dict[str, Any]) -> Reply:
        ahead.begin()
        try:
            reply = staged.answer_json(body, fields)
        except StateNotLoaded as need:
            try:
                state = await redis.load(need.call_id)
                ahead.begin(need.call_id, state)
            except StoreError:
                ahead.begin(down=True)
            reply = staged.answer_json(body, fields)  # parses again: a few microseconds
        writes = ahead.take()
        try:
            for call_id, state in writes.items():
                await redis.write(call_id, state)
        except StoreError:
            ahead.begin(down=True)  # what the runtime says when its store fails
            reply = staged.answer_json(body, fields)
            ahead.take()
        return reply

    return answer


def make_asgi(app: WebhookApp) -> Callable[..., Any]:
    """An ASGI callable for `app` (HTTP and lifespan), for uvicorn and other ASGI servers.

    When the calls live in Redis, a plain request reads and writes its call's state on the event
    loop (`AsyncRedis`), and anything else (health checks, refusals) is answered in a worker
    thread, so a slow Redis never stalls the loop.

    Example:
        >>> from jaxl_designer.runtime import Runtime
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
    answer_json = app.answer_json
    handle = app.handle
    answer_with_redis = _answer_with_redis(app)
    inline = not app.blocking

    def token_ok(given: bytes | None) -> bool:
        if app.token is None:
            return True
        return given is not None and hmac.compare_digest(given, app.token)

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
        chunked = False
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
            and token_ok(token)
        )
        if plain and (inline or answer_with_redis is not None):
            message = await receive()
            if message.get("more_body", False) or message["type"] != "http.request":
                body = message.get("body", b"") + await _asgi_body(receive, max_body)
            else:
                body = message["body"]  # the whole body came in one message, as it usually does
            fields: dict[str, Any] = {}
            if answer_with_redis is None:
                reply = answer_json(body, fields)
            else:
                reply = await answer_with_redis(body, fields)
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
            if app.blocking:
                reply = await asyncio.to_thread(handle, method, path, query, headers, body)
            else:
                reply = handle(method, path, query, headers, body)
        start = {"type": "http.response.start", "status": reply[0], "headers": _raw_headers(reply)}
        await send(start)
        await send({"type": "http.response.body", "body": reply[2]})

    return application
