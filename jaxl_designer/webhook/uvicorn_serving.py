"""Serving under uvicorn as safely as the standard-library server: limits, deadlines, a cap."""

from __future__ import annotations

import dataclasses
import importlib
import importlib.util
import os
from typing import Any

from .app import log_to_stderr
from .http_server import (
    BARE_LF_ANSWER,
    BUSY_ANSWER,
    HEAD_TOO_LARGE_ANSWER,
    MAX_HEADER_BYTES,
    MAX_REQUEST_LINE,
    TIMED_OUT_ANSWER,
    allow_files,
    body_bytes,
    refuse_head,
)
from .settings import Settings

__all__ = [
    "UVICORN_OPTIONS",
    "serve_uvicorn",
    "uvicorn_protocol",
]


def uvicorn_protocol(settings: Settings | None = None, parser: str | None = None) -> type:
    """uvicorn's protocol with what uvicorn lacks: deadlines, a connection cap, checked heads.

    uvicorn gives a connection that has not yet sent a whole request no deadline at all, and its
    `--limit-concurrency` answers every request 503 once that many connections are open (idle
    ones too). This protocol, for `python webhook.py --uvicorn`, closes a connection whose head
    is not whole `header_timeout` seconds after it opened or after the request began (idle
    between requests, uvicorn's keep-alive timeout applies), and whose body is not whole
    `body_timeout` seconds after its head; past `max_connections` a new connection closes the
    one that has waited longest for a request (or is refused, 503, when none waits). Every head
    is checked by the stdlib server's rules (`refuse_head`: 16 KiB in all, 8 KiB a line, 100
    headers, one framing) before the parser reads it, since neither parser checks them all
    (httptools has no head limit at all; h11 takes obs-fold, bare LFs, repeated Content-Lengths
    and any number of headers): refused, the connection closes, and what follows is never read.

    `parser`: "httptools" (uvicorn's fast one, when installed: the default) or "h11".
    """
    settings = Settings.from_env() if settings is None else settings
    if parser is None:
        parser = "httptools" if importlib.util.find_spec("httptools") else "h11"
    h11: Any = importlib.import_module("h11") if parser == "h11" else None
    implementation = importlib.import_module(f"uvicorn.protocols.http.{parser}_impl")
    base: Any = implementation.H11Protocol if h11 else implementation.HttpToolsProtocol
    header_timeout, body_timeout = settings.header_timeout, settings.body_timeout
    cap = allow_files(settings.max_connections)
    waiting: dict[Any, None] = {}  # connections waiting for a request, longest first
    # Connections with a deadline, each until when. One sweep a quarter-second looks at them
    # all: a timer of its own per request (two `call_later` and cancels a request) cost the
    # shipped form a tenth of its requests/s and put a tail on its p99.
    armed: dict[Any, float] = {}
    sweeping: list[Any] = []  # the sweep's timer, while one is due

    class UvicornProtocol(base):  # type: ignore[misc]
        """uvicorn's protocol, with deadlines and a connection cap (`uvicorn_protocol`)."""

        #: The head being screened (bytes so far), and the body bytes to pass before the next.
        _head = b""
        _skip = 0
        _unscreened = False  # a chunked body follows: the parser frames it, the app refuses it
        _in_body = False  # httptools: a head has arrived, its body has not all

        def connection_made(self, transport: Any) -> None:
            super().connection_made(transport)
            if len(self.connections) > cap:
                oldest = next(iter(waiting), None)
                if oldest is None:
                    transport.write(BUSY_ANSWER)
                    transport.close()
                    return
                waiting.pop(oldest, None)
                oldest.transport.close()
            waiting[self] = None
            self._arm(header_timeout)

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            waiting.pop(self, None)
            super().connection_lost(exc)

        def data_received(self, data: bytes) -> None:
            if self not in armed and self._between_requests():
                self._arm(header_timeout)  # a request begins after a kept-alive wait
            refusal = None if self._unscreened else self._screen(data)
            if refusal is not None:
                # The parser would take what the stdlib server refuses (any size, obs-fold, a
                # bare LF, equal Content-Lengths, any number of headers): refused as it is.
                self._disarm()
                self.transport.write(refusal)
                self.transport.close()
                return
            super().data_received(data)

        def _screen(self, data: bytes) -> bytes | None:
            """Check each request head in `data` as the stdlib server does; its refusal, or None."""
            at = 0
            while at < len(data) and not self._unscreened:
                if self._skip:
                    taken = min(self._skip, len(data) - at)
                    self._skip -= taken
                    at += taken
                    continue
                buffer = self._head + data[at:]
                if not self._head:
                    buffer = buffer.lstrip(b"\r\n")  # blank lines between requests are allowed
                    at = len(data) - len(buffer)
                end = buffer.find(b"\r\n\r\n")
                bare = buffer.find(b"\n\n")
                if bare >= 0 and (end < 0 or bare < end):
                    return refuse_head(buffer[: bare + 2]) or BARE_LF_ANSWER
                if end < 0:
                    if len(buffer) > MAX_REQUEST_LINE + MAX_HEADER_BYTES:
                        return refuse_head(buffer) or HEAD_TOO_LARGE_ANSWER
                    self._head = buffer
                    return None
                head = buffer[: end + 4]
                refusal = refuse_head(head)
                if refusal is not None:
                    return refusal
                at += len(head) - len(self._head)
                self._head = b""
                length = body_bytes(head)
                if length is None:
                    self._unscreened = True
                else:
                    self._skip = length
            return None

        def _head_arrived(self) -> None:
            """A request's head has been read: its body has a deadline of its own."""
            waiting.pop(self, None)
            self._arm(body_timeout)
            if self.cycle is not None:
                self.cycle.send = _telling_send(self.cycle)

        if h11:

            def handle_events(self) -> None:
                cycle = self.cycle
                super().handle_events()
                if self.cycle is not cycle:
                    self._head_arrived()

            def _receiving_body(self) -> bool:
                return bool(self.conn.their_state is h11.SEND_BODY)

            def _request_begun(self) -> bool:
                return bool(self.conn.their_state is not h11.IDLE or self.conn.trailing_data[0])

        else:

            def on_headers_complete(self) -> None:
                cycle = self.cycle
                super().on_headers_complete()
                if self.cycle is not cycle:
                    self._in_body = True
                    self._head_arrived()

            def on_message_complete(self) -> None:
                self._in_body = False
                super().on_message_complete()

            def _receiving_body(self) -> bool:
                return self._in_body

            def _request_begun(self) -> bool:
                return bool(self._head) or self._in_body

        def on_response_complete(self) -> None:
            self._disarm()
            # The cycle and its `send` hold each other: left so, every request would be a
            # cycle of garbage for the collector (p99 at 64 connections 25 ms, not 8).
            if self.cycle is not None:
                self.cycle.__dict__.pop("send", None)
            super().on_response_complete()
            if self._between_requests() and not self.transport.is_closing():
                waiting.pop(self, None)
                waiting[self] = None

        def _between_requests(self) -> bool:
            return self.cycle is None or self.cycle.response_complete

        def _arm(self, seconds: float) -> None:
            armed[self] = self.loop.time() + seconds
            if not sweeping:
                sweeping.append(self.loop.call_later(SWEEP_SECONDS, _sweep, self.loop))

        def _disarm(self) -> None:
            armed.pop(self, None)

        def _expire(self) -> None:
            self._disarm()
            receiving = self._between_requests() or self._receiving_body()
            if receiving and not self.transport.is_closing():
                if self._request_begun():
                    self.transport.write(TIMED_OUT_ANSWER)  # a request begun: say why it ends
                self.transport.close()

    def _sweep(loop: Any) -> None:
        """Expire every connection whose deadline has passed; again in a while, if any is armed."""
        sweeping.clear()
        now = loop.time()
        for protocol in [p for p, due in armed.items() if due <= now]:
            protocol._expire()
        if armed:
            sweeping.append(loop.call_later(SWEEP_SECONDS, _sweep, loop))

    return UvicornProtocol


#: How often the shipped uvicorn protocol looks at its connections' deadlines, in seconds.
SWEEP_SECONDS = 0.25


def _telling_send(cycle: Any) -> Any:
    """The `send` of a uvicorn request cycle that raises `OSError` once the client has gone.

    uvicorn's own returns as if it had sent; ASGI (2.4) asks a server to raise a subclass of
    OSError. The app tells a held answer delivered only after a send that did not raise
    (`WebhookApp.delivered`), so a client that left before its answer must not look served.
    """
    send = cycle.send

    async def telling_send(message: Any) -> None:
        if cycle.disconnected:
            raise ConnectionResetError("the client closed the connection before its answer")
        await send(message)

    return telling_send


#: How the module runs itself under uvicorn (`python webhook.py --uvicorn`), its protocol being
#: the module's `UvicornProtocol`, whose head check is what keeps httptools safe (it has no head
#: limit of its own: issue 19 measured 256 MB sent, 2.4 GB RSS). The h11 limit applies when
#: httptools is missing.
UVICORN_OPTIONS = {
    "h11_max_incomplete_event_size": MAX_HEADER_BYTES,
    "backlog": 2048,
    "access_log": False,  # the module logs each request itself
    "server_header": False,
}


def serve_uvicorn(module: str, settings: Settings, workers: int = 1) -> int:
    """Serve the webhook module at path `module` under uvicorn, as safe as the stdlib server.

    uvicorn imports the module by name (in each worker process), so the settings go to it
    through the environment, as `uvicorn webhook:asgi` would read them.
    """
    try:
        uvicorn: Any = importlib.import_module("uvicorn")
    except ImportError:
        log_to_stderr("webhook: --uvicorn needs uvicorn: pip install uvicorn")
        return 2
    for setting in dataclasses.fields(settings):
        variable, value = setting.metadata["env"], getattr(settings, setting.name)
        if variable and value is not None:
            shown = ("1" if value else "0") if isinstance(value, bool) else str(value)
            os.environ[variable] = shown
    folder, name = os.path.split(os.path.abspath(module))
    name = name.removesuffix(".py")
    uvicorn.run(
        f"{name}:asgi",
        app_dir=folder,
        host=settings.host,
        port=settings.port,
        workers=workers,
        timeout_keep_alive=max(1, round(settings.timeout)),
        http=f"{name}:UvicornProtocol",
        **UVICORN_OPTIONS,
    )
    return 0
