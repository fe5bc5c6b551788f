"""Redis for the call store on an event loop: GET, SET EX and DEL, pipelined on one connection."""

from __future__ import annotations

import asyncio
import ssl
from collections import deque
from typing import Any
from urllib.parse import unquote, urlsplit

from ..core.runtime import StoreError
from .app import StateNotLoaded
from .redis_store import RedisStore, redact

__all__ = ["AsyncRedis", "ReadAhead"]


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
        """A call's state (with the step confirmed delivered, as `RedisStore.load`), or None."""
        connection = await self._ready()
        # Both sent before either is awaited: one round trip.
        state = connection.send(b"GET", self.store.key(call_id).encode())
        ack = connection.send(b"GET", self.store.ack_key(call_id).encode())
        raw, acked = await asyncio.gather(state, ack)  # an error of both is retrieved
        return self.store.decode(raw, acked)

    async def write(self, call_id: int, state: dict[str, Any] | None) -> None:
        """Keep a call's state for the store's time-to-live, or forget the call (None)."""
        connection = await self._ready()
        key = self.store.key(call_id).encode()
        if state is None:
            await connection.send(b"DEL", key, self.store.ack_key(call_id).encode())
        else:
            value = self.store.encode(state).encode("utf-8")
            await connection.send(b"SET", key, value, b"EX", self.ttl)

    async def confirm(self, call_id: int, step: int) -> None:
        """Note that the answer of the call's step `step` was delivered (`RedisStore.confirm`)."""
        connection = await self._ready()
        key = self.store.ack_key(call_id).encode()
        await connection.send(b"SET", key, b"%d" % step, b"EX", self.ttl)


class ReadAhead:
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
