"""The asyncio server: one event loop reads, answers and writes every connection.

`python webhook.py --asyncio`: the standard library's asyncio (uvloop's loop when installed),
with the module's own HTTP/1.1 framing. It is the fastest way to serve the webhook on one core:
a request whose call waits on nothing (state in memory, no lookup) is answered in the same turn
of the loop its bytes arrived in, with no task, no ASGI messages and one write; a call that waits
on a lookup or on Redis is awaited on the loop, and the connection's next request waits for it.

It keeps the standard-library server's rules: every head is checked by `refuse_head` (16 KiB in
all, 8 KiB a line, 100 headers, one framing) and refused with its connection closed; the head must
be whole `header_timeout` seconds after it began (or after the connection opened), the body
`body_timeout` seconds after the head, the next request within `timeout` of the last answer (408
for a request begun, else a silent close); past `max_connections` a new connection closes the one
that has waited longest for a request, or is refused 503 when every connection is busy. An answer
a client does not read holds no more than one answer's bytes: the connection stops reading until
it is written, and is closed when that takes longer than `timeout`.

An answer counts as delivered (`WebhookApp.delivered`) once all its bytes are in the kernel's
socket buffer: the transport's write buffer limit is zero, so asyncio says when it has emptied.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import importlib
import os
import signal
import socket
import time
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from .app import Reply, WebhookApp, body_length, flush_request_log, log_to_stderr
from .asgi import LoopAnswers
from .http_server import (
    BARE_LF_ANSWER,
    BUSY_ANSWER,
    HEAD_TOO_LARGE_ANSWER,
    MAX_HEADER_BYTES,
    MAX_REQUEST_LINE,
    TIMED_OUT_ANSWER,
    _canned,
    allow_files,
    body_bytes,
    refuse_head,
)
from .settings import Settings

__all__ = ["LOOP_SWEEP_SECONDS", "LoopServer", "listening_socket", "serve_forked", "serve_loop"]

#: How often the asyncio server looks at its connections' deadlines, in seconds.
LOOP_SWEEP_SECONDS = 0.25
#: How long, and how many bytes, a connection whose request was refused unread is drained for
#: before it closes (closing with unread bytes resets it, and the client may lose the answer).
_LINGER_SECONDS = 1.0
_LINGER_BYTES = 1 << 20
#: Past this many bytes buffered while a request is answered, a connection stops reading.
_PIPELINE_BYTES = 64 * 1024 + MAX_REQUEST_LINE + MAX_HEADER_BYTES
_LOOP_HEAD_LIMIT = MAX_REQUEST_LINE + MAX_HEADER_BYTES
_JSON_PAIR = ("Content-Type", "application/json")
_CLOSE_PAIR = ("Connection", "close")

# The connection's states: waiting for a head, reading a body, answering (a task runs),
# draining a refused request's bytes, closed.
_HEAD, _BODY, _ANSWERING, _LINGERING, _CLOSED = range(5)


class _Clock:
    """The Date header's value, made once a second."""

    __slots__ = ("second", "text")

    def __init__(self) -> None:
        self.second = -1
        self.text = b""

    def date(self) -> bytes:
        now = time.time()
        second = int(now)
        if second != self.second:
            self.second = second
            self.text = email.utils.formatdate(now, usegmt=True).encode("ascii")
        return self.text


class _HttpRequest:
    """What a request's head says, as the server needs it (the app reads the body itself).

    One is made per distinct head and kept (`LoopServer.read_head`): Jaxl sends the same head
    bytes again and again, so most requests are framed and checked by one dict lookup.
    """

    __slots__ = (
        "body_at",
        "close",
        "continues",
        "headers",
        "length",
        "method",
        "path",
        "plain",
        "query",
        "unread",
    )

    def __init__(
        self, method: str, path: str, query: str, headers: dict[str, str], close: bool
    ) -> None:
        self.method = method
        self.path = path
        self.query = query
        #: Lower-case names; never changed once made (the same head shares them).
        self.headers = headers
        #: Whether the connection closes after the answer (HTTP/1.0, `Connection: close`).
        self.close = close
        #: Where the body begins, and how many bytes of it to read.
        self.body_at = 0
        self.length = 0
        #: Whether the body is left unread (chunked, too long, a bad length): the app refuses
        #: it, and the connection closes after the answer.
        self.unread = False
        #: Whether the request passes every check of the app from its head (`LoopAnswers.plain`).
        self.plain = False
        #: Whether the client waits for `100 Continue` before it sends the body (HTTP/1.1).
        self.continues = False


def _read_request(head: bytes) -> _HttpRequest | bytes:
    """The request a head `refuse_head` passed asks for, or the answer refusing it."""
    text = head.decode("latin-1")
    line, _, rest = text.partition("\r\n")
    parts = line.split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/"):
        return _canned(400, "the request line is not METHOD TARGET HTTP/1.1")
    method, target, version = parts
    if version not in ("HTTP/1.1", "HTTP/1.0"):
        return _canned(505, f"{version} is not served: HTTP/1.1 is")
    headers: dict[str, str] = {}
    for field in rest[:-4].split("\r\n") if rest != "\r\n" else ():
        name, _, value = field.partition(":")
        name = name.lower()
        value = value.strip(" \t")
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    options = {token.strip() for token in headers.get("connection", "").lower().split(",")}
    close = "close" in options or (version == "HTTP/1.0" and "keep-alive" not in options)
    path, _, query = target.partition("?")
    request = _HttpRequest(method, path, query, headers, close)
    request.body_at = len(head)
    expect = headers.get("expect", "").lower()
    request.continues = version == "HTTP/1.1" and expect == "100-continue"  # RFC 9110 10.1.1
    return request


#: Heads longer than this are read each time, not kept (Jaxl's are a few hundred bytes).
_KEPT_HEAD_BYTES = 2048
#: How many distinct heads a server keeps read (forgotten all at once when full).
_KEPT_HEADS = 512


class LoopServer:
    """The connections of one asyncio server and what they share: the app, limits, deadlines.

    `protocol()` makes one protocol object a connection; `sweep` closes connections whose
    deadline passed (called every `LOOP_SWEEP_SECONDS` while any has one).
    """

    def __init__(self, app: WebhookApp, settings: Settings) -> None:
        self.app = app
        self.answers = LoopAnswers(app)
        self.settings = settings
        self.cap = allow_files(settings.max_connections)
        self.clock = _Clock()
        #: Every open connection.
        self.open: set[_Connection] = set()
        #: Connections waiting for a request, longest first (the first to close at the cap).
        self.waiting: dict[_Connection, None] = {}
        #: Connections with a deadline, each until when (the loop's clock).
        self.armed: dict[_Connection, float] = {}
        self.loop: asyncio.AbstractEventLoop | None = None
        self._sweeping: asyncio.TimerHandle | None = None
        self._heads: dict[tuple[int, str], bytes] = {}
        self._heads_read: dict[bytes, _HttpRequest] = {}
        self.tasks: set[asyncio.Task[Any]] = set()

    def protocol(self) -> _Connection:
        return _Connection(self)

    def read_head(self, head: bytes) -> _HttpRequest | bytes:
        """What a whole head asks for, or the answer refusing it (`refuse_head`, then
        `_read_request`); the same bytes give the same, so each distinct head is read once."""
        known = self._heads_read.get(head)
        if known is not None:
            return known
        refusal = refuse_head(head)
        if refusal is not None:
            return refusal
        request = _read_request(head)
        if isinstance(request, bytes):
            return request
        self._frame(request, head)
        if len(head) <= _KEPT_HEAD_BYTES:
            if len(self._heads_read) >= _KEPT_HEADS:
                self._heads_read.clear()
            self._heads_read[head] = request
        return request

    def _frame(self, request: _HttpRequest, head: bytes) -> None:
        """How much body follows a head, and whether the request is a plain one."""
        headers = request.headers
        length = body_bytes(head)
        if length is None or body_length(headers, self.app.max_body) is None:
            length = 0  # chunked, not a number or too long: the app refuses it unread
            request.unread = True
        request.length = length
        media = headers.get("content-type")
        token = headers.get("x-jaxl-token")
        request.plain = self.answers.short_path and self.answers.plain(
            request.method,
            request.path,
            "transfer-encoding" in headers,
            media is None or media == "application/json",
            headers.get("content-length"),
            token.encode("latin-1") if token is not None else None,
        )

    def arm(self, connection: _Connection, seconds: float) -> None:
        loop = self.loop
        if loop is None:
            return
        self.armed[connection] = loop.time() + seconds
        if self._sweeping is None:
            self._sweeping = loop.call_later(LOOP_SWEEP_SECONDS, self.sweep)

    def sweep(self) -> None:
        """Expire every connection whose deadline has passed; again in a while, if any is armed."""
        self._sweeping = None
        loop = self.loop
        if loop is None:
            return
        now = loop.time()
        for connection in [c for c, due in self.armed.items() if due <= now]:
            connection.expire()
        if self.armed:
            self._sweeping = loop.call_later(LOOP_SWEEP_SECONDS, self.sweep)

    def head_bytes(self, reply: Reply, close: bool) -> bytes:
        """The status line and headers of `reply`, with `Connection: close` when `close`."""
        status, headers = reply[0], reply[1]
        date = self.clock.date()
        if len(headers) == 2 and headers[0] == _JSON_PAIR and not close:
            # Type and the reply's own length (a HEAD's is the GET's): the same few again and
            # again, each made once.
            key = (status, headers[1][1])
            fixed = self._heads.get(key)
            if fixed is None:
                if len(self._heads) > 4096:
                    self._heads.clear()
                fixed = self._heads[key] = (
                    f"\r\nContent-Type: application/json\r\nContent-Length: {key[1]}\r\n\r\n"
                ).encode("latin-1")
            return b"%s%s%s" % (_status_line(status), date, fixed)
        lines = [f"{name}: {value}" for name, value in headers if (name, value) != _CLOSE_PAIR]
        if close:
            lines.append("Connection: close")
        tail = "\r\n" + "\r\n".join(lines) + "\r\n\r\n"
        return _status_line(status) + date + tail.encode("latin-1")

    def spawn(self, work: Any) -> None:
        """Run a coroutine on the loop, kept until it ends."""
        assert self.loop is not None
        task = self.loop.create_task(work)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)


_STATUS_LINES: dict[int, bytes] = {}


def _status_line(status: int) -> bytes:
    line = _STATUS_LINES.get(status)
    if line is None:
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:
            phrase = "Status"
        line = _STATUS_LINES[status] = (
            f"HTTP/1.1 {status} {phrase}\r\nServer: jaxl-webhook\r\nDate: ".encode("latin-1")
        )
    return line


class _Connection(asyncio.Protocol):
    """One client connection: its buffered bytes, its state, its deadline."""

    def __init__(self, server: LoopServer) -> None:
        self.server = server
        self.transport: Any = None
        self.buffer = b""
        self.state = _HEAD
        self.need = 0  # in _BODY: the bytes of head and body together
        self.request: _HttpRequest | None = None  # in _BODY: the request whose body is awaited
        self.continued = False
        self.reading = True
        self.writing = True  # False while the transport holds bytes the kernel has not taken
        # The client sent its end (half-closed) with requests still to answer: an answer
        # awaited, or answers it had not read yet. They are answered, then it closes.
        self.ended = False
        # Answers written whose bytes are not all in the kernel yet, and whether via Redis.
        self.undelivered: list[tuple[dict[str, Any], bool]] = []
        self.drained = 0

    # -- asyncio's calls ----------------------------------------------------------------------
    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        server = self.server
        if len(server.open) >= server.cap:
            oldest = next(iter(server.waiting), None)
            if oldest is None:
                transport.write(BUSY_ANSWER)
                transport.close()
                self.state = _CLOSED
                return
            oldest.close()
        transport.set_write_buffer_limits(0)  # told when every byte written is in the kernel
        server.open.add(self)
        server.waiting[self] = None
        server.arm(self, server.settings.header_timeout)

    def connection_lost(self, exc: Exception | None) -> None:
        self.state = _CLOSED
        self.undelivered.clear()  # not all their bytes reached the kernel: the steps stay held
        server = self.server
        server.open.discard(self)
        server.waiting.pop(self, None)
        server.armed.pop(self, None)

    def pause_writing(self) -> None:
        self.writing = False
        if self.reading:
            self.reading = False
            self.transport.pause_reading()  # no more requests until the answer is written
        self.server.arm(self, self.server.settings.timeout)

    def resume_writing(self) -> None:
        self.writing = True
        self._delivered()
        if self.state == _HEAD or self.state == _BODY:
            self._resume_reading()
            self.server.armed.pop(self, None)
            self._serve()

    def data_received(self, data: bytes) -> None:
        state = self.state
        if state == _LINGERING:
            self.drained += len(data)
            if self.drained > _LINGER_BYTES:
                self.close()
            return
        if state == _CLOSED:
            return
        begun = not self.buffer and state == _HEAD
        if begun and data[:1] in (b"\r", b"\n"):
            data = data.lstrip(b"\r\n")  # blank lines between requests: no request begins
            if not data:
                return  # and the deadline armed stays as it was
        self.buffer = self.buffer + data if self.buffer else data
        if state == _ANSWERING or not self.writing:
            if len(self.buffer) > _PIPELINE_BYTES and self.reading:
                self.reading = False
                self.transport.pause_reading()
            return
        if begun:  # a request begins: its head has a deadline
            self.server.arm(self, self.server.settings.header_timeout)
        self._serve()

    def eof_received(self) -> bool:
        if self.state == _ANSWERING or (self.buffer and not self.writing):
            # Half-closed with requests still to answer: they are answered, then it closes.
            self.ended = True
            return True
        self.close()
        return False

    # -- serving ------------------------------------------------------------------------------
    def _serve(self) -> None:
        """Answer every request whole in the buffer, in order, until one must be awaited."""
        server = self.server
        app, answers = server.app, server.answers
        out: list[bytes] = []
        while (self.state == _HEAD or self.state == _BODY) and self.writing:
            if self.state == _HEAD and not self._take_head(out):
                break
            request = self.request
            if request is None:  # refused
                break
            buffer, need = self.buffer, self.need
            if len(buffer) < need:
                break
            body = buffer[request.body_at : need]
            self.buffer = buffer[need:]
            self.state, self.request, self.continued = _HEAD, None, False
            if self.buffer:  # a pipelined request begins: its head has a deadline
                server.arm(self, server.settings.header_timeout)
            else:  # once answered, the connection is idle: its deadline is armed below
                server.armed.pop(self, None)
            began = time.perf_counter() if app.log is not None else 0.0
            fields: dict[str, Any] = {}
            pending = None
            if request.plain:
                answer = answers.begin(body, fields)
                if isinstance(answer, tuple):  # answered at once: nothing to await
                    if app.log is not None:
                        app.log_request(request.method, request.path, answer[0], fields, began)
                    out.append(server.head_bytes(answer, request.close))
                    out.append(answer[2])
                    if "delivery" in fields:
                        self.undelivered.append((fields, False))
                    if request.close:
                        self._write(out)
                        self._closing()
                        return
                    continue
                pending = answer
            self._write(out)
            self.state = _ANSWERING
            if self.writing:  # else the deadline for a client that does not read stays
                server.armed.pop(self, None)
            server.waiting.pop(self, None)  # being answered: not to be closed for another
            server.spawn(self._answer_later(request, body, fields, pending, began))
            return
        self._write(out)
        if self.state != _HEAD and self.state != _BODY:
            return
        if self.ended and self.writing:  # the client's end: every whole request is answered
            self._closing()
            return
        # Waiting for a request (or the rest of one): the first to go for a new connection at
        # the cap is the one that has waited longest.
        if not self.buffer:
            server.waiting.pop(self, None)
        server.waiting[self] = None
        if not self.writing or self in server.armed:
            return
        if self.state == _HEAD and not self.buffer:  # between requests: the idle deadline
            server.arm(self, server.settings.timeout)
        elif self.state == _HEAD or self.state == _BODY:  # after an answer awaited or written
            settings = server.settings
            head = self.state == _HEAD
            server.arm(self, settings.header_timeout if head else settings.body_timeout)

    def _take_head(self, out: list[bytes]) -> bool:
        """Read the head at the buffer's start: False when it has not all arrived, or when it
        is refused (written, and the connection closing)."""
        buffer = self.buffer
        if buffer[:1] in (b"\r", b"\n"):
            buffer = self.buffer = buffer.lstrip(b"\r\n")  # blank lines between requests
            if not buffer:
                return False
        end = buffer.find(b"\r\n\r\n")
        bare = buffer.find(b"\n\n", 0, end if end >= 0 else len(buffer))
        refusal: bytes | None
        if bare >= 0:
            refusal = refuse_head(buffer[: bare + 2]) or BARE_LF_ANSWER
        elif end < 0:
            size = len(buffer)
            if size <= _LOOP_HEAD_LIMIT and (size <= MAX_REQUEST_LINE or b"\n" in buffer):
                return False  # not all here yet, and within the limits so far
            refusal = refuse_head(buffer) or HEAD_TOO_LARGE_ANSWER
        else:
            read = self.server.read_head(buffer[: end + 4])
            if isinstance(read, _HttpRequest):
                self._head_read(read, out)
                return True
            refusal = read
        out.append(refusal)
        self._write(out)
        self._linger()
        return False

    def _head_read(self, request: _HttpRequest, out: list[bytes]) -> None:
        """A head has been read: the body that follows has a deadline."""
        self.request, self.state = request, _BODY
        self.need = request.body_at + request.length
        if request.length and len(self.buffer) < self.need:
            self.server.arm(self, self.server.settings.body_timeout)
            if request.continues and not self.continued:
                self.continued = True
                out.append(b"HTTP/1.1 100 Continue\r\n\r\n")
                self._write(out)

    async def _answer_later(
        self,
        request: _HttpRequest,
        body: bytes,
        fields: dict[str, Any],
        pending: Any,
        began: float,
    ) -> None:
        """Answer a request that waits on something (a lookup, Redis, a worker thread)."""
        server = self.server
        app = server.app
        via_redis = False
        try:
            if pending is not None:  # a plain request whose answer is awaited
                reply, via_redis = await pending
                if app.log is not None:
                    app.log_request(request.method, request.path, reply[0], fields, began)
            else:
                reply = await server.answers.answer_other(
                    request.method, request.path, request.query, request.headers, body, fields
                )
        except Exception:  # never a 500 nor a traceback to the client
            log_to_stderr("webhook: an answer failed unexpectedly; its connection is closed")
            self.close()
            return
        if self.state == _CLOSED:
            return  # the client left: the step stays held, and a retry hears the same answer
        unread = request.unread or _CLOSE_PAIR in reply[1]
        close = request.close or unread
        data = server.head_bytes(reply, close)
        self.transport.write(data if request.method == "HEAD" else data + reply[2])
        if "delivery" in fields:
            self.undelivered.append((fields, via_redis))
        if self.writing:
            self._delivered()
        if unread:
            self._linger()
        elif close:
            self._closing()
        else:
            self.state = _HEAD
            self._resume_reading()
            if self.writing:
                self._serve()

    def _write(self, out: list[bytes]) -> None:
        if not out:
            return
        self.transport.write(b"".join(out) if len(out) > 1 else out[0])
        out.clear()
        if self.writing:
            self._delivered()

    def _delivered(self) -> None:
        """Every answer written is in the kernel: say so to the app (`WebhookApp.delivered`)."""
        if not self.undelivered:
            return
        server = self.server
        app, answers = server.app, server.answers
        for fields, via_redis in self.undelivered:
            if via_redis or app.blocking:
                server.spawn(answers.delivered(fields, via_redis))
            else:
                app.delivered(fields)
        self.undelivered.clear()

    def _resume_reading(self) -> None:
        if not self.reading:
            self.reading = True
            with contextlib.suppress(RuntimeError):
                self.transport.resume_reading()

    # -- ending -------------------------------------------------------------------------------
    def _closing(self) -> None:
        """Close once what was written has gone out: within `timeout`, if the client does not
        read it (`expire` aborts the connection then)."""
        self.state = _CLOSED
        self.server.waiting.pop(self, None)
        if self.writing:
            self.server.armed.pop(self, None)
        elif self not in self.server.armed:
            self.server.arm(self, self.server.settings.timeout)
        self.transport.close()

    def _linger(self) -> None:
        """Stop writing, drain what the client still sends for a while, then close: closing
        with unread bytes resets the connection, and the client may lose its answer."""
        self.state = _LINGERING
        self.drained = len(self.buffer)
        self.buffer = b""
        self.server.waiting.pop(self, None)
        try:
            self.transport.write_eof()
        except (OSError, RuntimeError):
            self.close()
            return
        self._resume_reading()
        self.server.arm(self, _LINGER_SECONDS)

    def close(self) -> None:
        if self.state != _CLOSED:
            self._closing()

    def expire(self) -> None:
        """The deadline passed: 408 for a request begun, else closed silently; aborted when
        the client does not read what it was sent."""
        self.server.armed.pop(self, None)
        if not self.writing:  # the client does not read its answer: closing would wait forever
            self.state = _CLOSED
            self.transport.abort()
            return
        if self.state == _CLOSED:
            return
        if self.state == _BODY or (self.state == _HEAD and self.buffer):
            self.transport.write(TIMED_OUT_ANSWER)
        self._closing()


def _event_loop_runner() -> Callable[[Any], Any]:
    """uvloop's `run` when uvloop is installed (about a third faster), else asyncio's."""
    try:
        uvloop: Any = importlib.import_module("uvloop")
    except ImportError:
        return asyncio.run
    runner: Callable[[Any], Any] = getattr(uvloop, "run", asyncio.run)  # `run`: uvloop 0.18+
    return runner


async def _serve_until_stopped(
    server: LoopServer, sock: socket.socket, ready: Callable[[], None]
) -> None:
    loop = asyncio.get_running_loop()
    server.loop = loop
    listening = await loop.create_server(server.protocol, sock=sock, backlog=2048)
    stop = asyncio.Event()
    for number in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(number, stop.set)
    hangup = getattr(signal, "SIGHUP", None)
    if hangup is not None and server.settings.flow_file:
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(hangup, server.app.revisions.reload)
    ready()
    try:
        await stop.wait()
    finally:
        listening.close()
        for connection in list(server.waiting):  # idle ones go now; answers in flight finish
            connection.close()
        deadline = loop.time() + server.settings.timeout
        while server.tasks and loop.time() < deadline:
            await asyncio.sleep(0.05)
        for connection in list(server.open):
            connection.close()
        flush_request_log()


def serve_loop(
    app: WebhookApp,
    settings: Settings,
    sock: socket.socket,
    ready: Callable[[], None] = lambda: None,
) -> None:
    """Serve `app` on the listening socket `sock` until SIGTERM or SIGINT (`--asyncio`).

    `ready` is called once the loop accepts connections.
    """
    server = LoopServer(app, settings)
    with contextlib.suppress(KeyboardInterrupt):
        _event_loop_runner()(_serve_until_stopped(server, sock, ready))


def listening_socket(host: str, port: int) -> socket.socket:
    """A socket bound to `host:port` and listening, for `serve_loop` (raises OSError)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(2048)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


#: The exit status of a worker that could not start (uvicorn's and gunicorn's too): not restarted.
_FAILED_TO_BOOT = 3


def serve_forked(
    make_app: Callable[[], WebhookApp], settings: Settings, sock: socket.socket, workers: int
) -> int:
    """Serve with `workers` forked processes, each its own event loop on the shared `sock`.

    Each worker makes its own app (`make_app`: its own connections to Redis). A worker that
    dies is replaced. One of the first workers that cannot start (its app refused) stops them
    all, exit status 3; a replacement that cannot start (a flow file broken since) is tried
    again each `_RESTART_SECONDS`, the others serving meanwhile. SIGTERM or SIGINT stops every
    worker, each finishing the answers it has begun; SIGHUP is passed on when there is a flow
    file to read again. Returns the exit status.
    """
    if not hasattr(os, "fork"):
        log_to_stderr("webhook: --workers needs os.fork (Linux, macOS): serve one worker")
        return 2
    children: set[int] = set()
    first: set[int] = set()
    stopping: list[int] = []
    handled = {signal.SIGTERM, signal.SIGINT, signal.SIGHUP}

    def start() -> int:
        # The signals wait while a worker is forked: a SIGTERM then reaches every worker, and
        # none runs the parent's handlers.
        previous = signal.pthread_sigmask(signal.SIG_BLOCK, handled)
        pid = os.fork()
        if pid:
            children.add(pid)
            signal.pthread_sigmask(signal.SIG_SETMASK, previous)
            return pid
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        signal.signal(signal.SIGHUP, signal.SIG_IGN)  # the loop reads a flow file on it
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
        os._exit(_worker(make_app, settings, sock))

    def stop(number: int, frame: Any) -> None:
        stopping.append(number)
        for pid in children:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGTERM)

    def hangup(number: int, frame: Any) -> None:
        if not settings.flow_file:
            return
        for pid in children:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGHUP)

    previous = signal.pthread_sigmask(signal.SIG_BLOCK, handled)
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGHUP, hangup)
    signal.pthread_sigmask(signal.SIG_SETMASK, previous)
    for _ in range(workers):
        first.add(start())
    status = 0
    while children:
        try:
            pid, raw = os.wait()
        except ChildProcessError:
            break
        children.discard(pid)
        if stopping:
            continue
        code = os.waitstatus_to_exitcode(raw)
        if code == _FAILED_TO_BOOT and pid in first:
            status = _FAILED_TO_BOOT
            stop(signal.SIGTERM, None)
            continue
        if code == _FAILED_TO_BOOT:
            log_to_stderr(
                f"webhook: a new worker could not start; trying again in {_RESTART_SECONDS:g} s"
            )
            time.sleep(_RESTART_SECONDS)
            if stopping:
                continue
        else:
            log_to_stderr(f"webhook: worker {pid} exited ({code}); starting another")
        start()
    return status


#: How long a replacement worker that could not start waits before the next try, in seconds.
_RESTART_SECONDS = 1.0


def _worker(make_app: Callable[[], WebhookApp], settings: Settings, sock: socket.socket) -> int:
    """A forked worker: its own app and loop until told to stop; its exit status (3: it could
    not start, 1: it failed while serving)."""
    try:
        try:
            app = make_app()
        except BaseException as error:  # the app is refused: say why, once
            log_to_stderr(f"webhook: worker {os.getpid()} cannot start: {_why(error)}")
            return _FAILED_TO_BOOT
        try:
            serve_loop(app, settings, sock)
        except BaseException as error:
            log_to_stderr(f"webhook: worker {os.getpid()} failed: {_why(error)}")
            return 1
        return 0
    finally:
        flush_request_log()


def _why(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"
