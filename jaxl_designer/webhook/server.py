"""Serving a flow: the app from settings, http.server, WSGI, the Jaxl SDK, the command line."""

from __future__ import annotations

import argparse
import collections
import contextlib
import dataclasses
import email.parser
import importlib
import io
import os
import queue
import re
import selectors
import signal
import socket
import socketserver
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

from ..core.lookups import perform_lookup_async
from ..core.runtime import STORE_DOWN_PROMPT, MemoryStore, Runtime, StoreError, secret_names
from .app import WebhookApp, body_length, error_reply, log_to_stderr, lookup_raised, request_log
from .redis_store import RedisStore, redact
from .revisions import FlowRefused, Revisions, read_flow
from .settings import Settings, read_switch

__all__ = [
    "ALLOW_PRIVATE_STATE",
    "MAX_HEADERS",
    "MAX_HEADER_BYTES",
    "MAX_HEADER_LINE",
    "MAX_REQUEST_LINE",
    "UVICORN_OPTIONS",
    "app_from_env",
    "build_app",
    "jaxl_app_class",
    "main",
    "make_server",
    "make_wsgi",
    "sdk_response",
    "serve",
    "serve_flow",
    "serve_uvicorn",
    "uvicorn_protocol",
    "worker_processes",
]


# -- building an app ------------------------------------------------------------------------
def build_app(flow_document: Mapping[str, Any], settings: Settings | None = None) -> WebhookApp:
    """A webhook app for a flow document, its call state in Redis or in this process."""
    settings = Settings() if settings is None else settings
    store: Any
    if settings.redis_url:
        store = RedisStore(settings.redis_url, ttl=settings.ttl)
    else:
        store = MemoryStore(max_calls=settings.max_calls, ttl=float(settings.ttl))
    path = settings.flow_file
    if path:
        try:
            flow_document = read_flow(path)
        except FlowRefused as error:
            raise FlowRefused(f"{path} refused: {error}") from None
    _check_secrets(flow_document, os.environ)
    revisions = Revisions(
        flow_document,
        store,
        path=path,
        check=lambda document: _check_secrets(document, os.environ),
        log=log_to_stderr,
    )
    return WebhookApp(
        revisions.runtime,
        token=settings.token,
        log=request_log if settings.log else None,
        revisions=revisions,
    )


def _check_secrets(flow_document: Mapping[str, Any], environ: Mapping[str, str]) -> None:
    """Refuse to serve a flow whose lookups read a secret the environment does not have: each
    of its calls would take the lookup's failed way, which a deploy should not find out late."""
    for node_id, spec in (flow_document.get("nodes") or {}).items():
        if spec.get("kind") != "lookup":
            continue
        for header, value in (spec.get("headers") or {}).items():
            for name in secret_names(str(value)):
                if name not in environ:
                    raise ValueError(
                        f"lookup {node_id!r} sends ${{{name}}} in its {header} header, and "
                        f"{name} is not set: set it in the server's environment"
                    )


def app_from_env(
    flow_document: Mapping[str, Any], environ: Mapping[str, str] | None = None
) -> WebhookApp:
    """A webhook app set up from the environment, as uvicorn and gunicorn workers need.

    The variables are `Settings.from_env`'s and `ALLOW_PRIVATE_STATE`: a bad value is a
    ValueError naming its variable. Started as one of several uvicorn or gunicorn worker
    processes with call state in memory (no JAXL_REDIS_URL), it refuses with a RuntimeError
    saying why and what to do, unless `ALLOW_PRIVATE_STATE` is on: then it warns on stderr.
    """
    env = os.environ if environ is None else environ
    settings = Settings.from_env(env)
    allowed = env.get(ALLOW_PRIVATE_STATE) or "0"
    try:
        allow = read_switch(allowed)
    except ValueError as error:
        raise ValueError(f"{ALLOW_PRIVATE_STATE}={allowed!r}: {error}") from None
    if not settings.redis_url:  # uvicorn and gunicorn workers start here, not in serve_flow
        _refuse_private_state(worker_processes(), allow)
    app = build_app(flow_document, settings)
    _say_if_down(app.runtime.store)
    return app


#: The variable that lets several worker processes each keep their own calls in memory.
ALLOW_PRIVATE_STATE = "JAXL_ALLOW_PRIVATE_STATE"
_SAID_WORKERS: list[int] = []


def _refuse_private_state(workers: int, allow: bool) -> None:
    """Refuse (or, when allowed, warn once per process) `workers` > 1 keeping calls in memory.

    Jaxl sends each step of a call as its own request, and the server hands each request to
    whichever worker is free: a worker that did not see the call's start answers it as lost.
    """
    if workers < 2:
        return
    lost = "a call whose requests reach different workers is lost"
    if not allow:
        raise RuntimeError(
            f"{workers} worker processes would keep calls in memory each: {lost}. Set "
            "JAXL_REDIS_URL (pip install redis), serve with one worker, or set "
            f"{ALLOW_PRIVATE_STATE}=1 to serve so anyway"
        )
    if not _SAID_WORKERS:
        _SAID_WORKERS.append(workers)
        log_to_stderr(
            f"webhook: {workers} worker processes keep calls in memory each: {lost}. "
            "Set JAXL_REDIS_URL (pip install redis), or serve with one worker."
        )


def worker_processes() -> int:
    """How many worker processes the uvicorn or gunicorn importing this module runs; else 1.

    Read from the server's own settings object, found on the stack of the import, so that
    however the count was given (a flag, WEB_CONCURRENCY, GUNICORN_CMD_ARGS, a config file)
    it is the server's own reading of it, with no race against workers not yet started:

    - gunicorn imports the app in each worker it forks, from `Arbiter.spawn_worker` (in the
      master from `Arbiter.setup` with --preload): the arbiter's `num_workers` is the count,
      TTIN and TTOU included.
    - uvicorn imports it in each worker process under its `Config`, whose `workers` is the
      count; with --reload one process serves, whatever --workers says.

    Nothing found (`python webhook.py`, a plain import, the Jaxl SDK) is 1.

    >>> worker_processes()
    1
    """
    arbiter = getattr(sys.modules.get("gunicorn.arbiter"), "Arbiter", None)
    config = getattr(sys.modules.get("uvicorn.config"), "Config", None)
    if arbiter is None and config is None:  # neither server has been imported: neither runs
        return 1
    found: Any = None
    try:
        frame: Any = sys._getframe(1)
        while frame is not None:
            for value in list(frame.f_locals.values()):
                if arbiter is not None and isinstance(value, arbiter):  # gunicorn wins: its
                    return _whole(getattr(value, "num_workers", 1))  # uvicorn worker class too
                if found is None and config is not None and isinstance(value, config):
                    found = value
            frame = frame.f_back
    except Exception:  # an object on the stack that resists isinstance: count what was seen
        pass
    if found is None or getattr(found, "should_reload", False):
        return 1
    return _whole(getattr(found, "workers", 1))


def _whole(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 1 else 1


_SAID_DOWN: set[str] = set()


def _say_if_down(store: Any) -> None:
    """Say on stderr, once per process and URL, that the Redis a webhook starts with is down."""
    if isinstance(store, RedisStore) and store.url not in _SAID_DOWN and not store.ping():
        _SAID_DOWN.add(store.url)
        log_to_stderr(
            f"webhook: Redis at {redact(store.url)} is not answering; serving anyway "
            "(callers hear an apology and /healthz answers 503 until it is back)"
        )


# -- http.server ----------------------------------------------------------------------------
#: The longest header line the stdlib server takes, its CRLF included (gunicorn takes 8190 bytes).
MAX_HEADER_LINE = 8 * 1024
#: The most bytes of header lines together, the blank line included (h11's and uvicorn's 16 KB).
MAX_HEADER_BYTES = 16 * 1024
#: The most header lines a request may have (gunicorn's limit too).
MAX_HEADERS = 100
#: The longest request line, its CRLF included (gunicorn's is 4094; longer ones are 414).
MAX_REQUEST_LINE = 8 * 1024

# RFC 9110 5.1 and 5.5: a field name is a token; a value has no control character but tab.
_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_CONTROL = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")
_OWS = b" \t"  # optional whitespace around a value


class _Refused(Exception):
    """A request whose framing the server refuses: answered `status`, and the connection closed."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _read_head(rfile: Any) -> bytes | None:
    """Read a request's header lines, up to the blank line, and check how they frame the body.

    http.server reads headers with the lenient `email` parser: a line it cannot read (`X-A : y`)
    ends the headers, leaving the Content-Length after it unread, so the body is read as the
    next request; it takes folded lines, bare LFs and several Content-Lengths. Behind a proxy
    that reads the same bytes another way, that is request smuggling (RFC 9112 6.3, 11.2). So
    every line is checked here as RFC 9112 says, and only a head that passes is parsed.

    Returns the header lines, CRLF-terminated and ending in the blank line, or None when the
    client hung up before the blank line. Raises `_Refused` (400, or 431 past the limits).
    """
    lines: list[bytes] = []
    total = 0
    lengths: list[bytes] = []
    codings: list[bytes] = []
    while True:
        line = rfile.readline(MAX_HEADER_LINE + 1)
        total += len(line)
        if len(line) > MAX_HEADER_LINE:
            raise _Refused(431, f"a header line is over {MAX_HEADER_LINE} bytes")
        if total > MAX_HEADER_BYTES:
            raise _Refused(431, f"the headers are over {MAX_HEADER_BYTES} bytes")
        if not line.endswith(b"\n"):
            return None  # the client hung up mid-line (a shorter line always ends in LF)
        if not line.endswith(b"\r\n"):
            raise _Refused(400, "a header line ends in a bare LF, not CRLF")
        if line == b"\r\n":
            break
        if len(lines) == MAX_HEADERS:
            raise _Refused(431, f"more than {MAX_HEADERS} header lines")
        text = line[:-2]
        if b"\r" in text:
            raise _Refused(400, "a bare CR in a header line")
        if text[:1] in (b" ", b"\t"):
            raise _Refused(400, "a header line starts with whitespace (obsolete line folding)")
        name, colon, value = text.partition(b":")
        if not colon:
            raise _Refused(400, "a header line without a colon")
        if not _TOKEN.fullmatch(name):
            raise _Refused(400, "a header name with whitespace or a character not allowed in it")
        if _CONTROL.search(value):
            raise _Refused(400, "a control character in a header value")
        folded = name.lower()
        if folded == b"content-length":
            lengths.append(value.strip(_OWS))
        elif folded == b"transfer-encoding":
            codings.append(value.strip(_OWS))
        lines.append(line)
    _check_framing(lengths, codings)
    lines.append(b"\r\n")
    return b"".join(lines)


def _check_framing(lengths: list[bytes], codings: list[bytes]) -> None:
    """Refuse a body length that two servers could read two ways (RFC 9112 6.1-6.3)."""
    if len(lengths) > 1:
        raise _Refused(400, "more than one Content-Length")
    if lengths and not (lengths[0].isdigit() and lengths[0].isascii()):
        raise _Refused(400, "Content-Length is not a number")
    if codings and lengths:
        raise _Refused(400, "both Transfer-Encoding and Content-Length")
    if codings and (len(codings) > 1 or codings[0].lower() != b"chunked"):
        raise _Refused(400, "a Transfer-Encoding other than chunked")
    # Transfer-Encoding: chunked alone passes: the body is never read, the app answers it (411
    # on the webhook) and the connection is closed, so no byte of it is read as a request.


class _Handler(BaseHTTPRequestHandler):
    """Feeds http.server requests to a `WebhookApp`, over keep-alive HTTP/1.1 connections.

    Made by a worker of `_Server` for one request whose bytes the reactor has read (`rfile`):
    it answers that request and leaves the connection to the reactor, `close_connection`
    saying whether to close it and `lingering` whether to drain it first.
    """

    protocol_version = "HTTP/1.1"
    # Headers and body go out as two writes: without TCP_NODELAY each answer waits ~40 ms for the
    # client's delayed ACK (Nagle's algorithm), capping a connection at ~25 requests a second.
    disable_nagle_algorithm = True
    server_version = "jaxl-webhook"
    sys_version = ""
    app: WebhookApp
    raw_requestline: bytes  # set by http.server before `parse_request`

    def __init__(self, sock: socket.socket, address: Any, server: Any, rfile: io.BytesIO) -> None:
        self._buffered = rfile
        self.lingering = False
        super().__init__(sock, address, server)

    def setup(self) -> None:
        """Read from the bytes the reactor gathered; write straight to the socket."""
        self.connection = self.request
        self.rfile = self._buffered
        self.wfile = socketserver._SocketWriter(self.connection)  # type: ignore[attr-defined]

    def handle(self) -> None:
        """One request: the reactor reads the next one, without holding this thread."""
        self.close_connection = True
        self.handle_one_request()

    def finish(self) -> None:
        """Nothing to flush: the answer was written as it was made."""

    def handle_expect_100(self) -> bool:
        """Go on without a 100: the reactor sent it when it waited for the body."""
        return True

    def version_string(self) -> str:
        """The Server header: no Python version in it."""
        return self.server_version

    def parse_request(self) -> bool:
        """http.server's parsing of the request line, then headers read and checked here.

        A request framed in a way two servers could read differently is answered 400 (431 past
        the header limits) and the connection closed: nothing after it is read as a request.
        """
        line = self.raw_requestline
        if len(line) > MAX_REQUEST_LINE:
            self.command, self.request_version = "", self.protocol_version
            self.requestline = ""
            self.send_error(414, f"the request line is over {MAX_REQUEST_LINE} bytes")
            return False
        if not line.strip() or not line.endswith(b"\n"):  # a blank line, or a hang-up mid-line
            self.close_connection = True
            return False
        if not line.endswith(b"\r\n") or _CONTROL.search(line[:-2]):
            self.command, self.request_version = "", self.protocol_version
            self.requestline = str(line, "iso-8859-1").rstrip("\r\n")
            ending = "a control character in" if line.endswith(b"\r\n") else "a bare LF ending"
            self.send_error(400, f"{ending} the request line")
            return False
        rfile, self.rfile = self.rfile, io.BytesIO(b"\r\n")  # the request line only
        try:
            if not super().parse_request():
                return False
        finally:
            self.rfile = rfile
        try:
            head = _read_head(self.rfile)
        except _Refused as refused:
            self.send_error(refused.status, refused.message)
            return False
        if head is None:  # the client hung up mid-headers: no answer, as for a half-sent body
            self.close_connection = True
            return False
        # As http.client.parse_headers, without its own count (it counts the blank line too).
        self.headers = email.parser.Parser(_class=self.MessageClass).parsestr(
            head.decode("iso-8859-1")
        )
        # What http.server does with these two headers, which it saw none of.
        connection = self.headers.get("Connection", "").lower()
        if connection == "close":
            self.close_connection = True
        elif connection == "keep-alive" and self.protocol_version >= "HTTP/1.1":
            self.close_connection = False
        expect = self.headers.get("Expect", "").lower()
        if expect == "100-continue" and self.request_version >= "HTTP/1.1":
            return self.handle_expect_100()
        return True

    def _serve(self) -> None:
        headers = {name.lower(): value for name, value in self.headers.items()}
        length = body_length(headers, self.app.max_body)
        if length is None:
            self.close_connection = True  # the body is left unread: the connection cannot go on
            body = b""
        else:
            body = self.rfile.read(length) if length else b""
            if len(body) < length:  # the client hung up mid-body
                self.close_connection = True
                return
        path, _, query = self.path.partition("?")
        status, reply_headers, data = self.app.handle(self.command, path, query, headers, body)
        self._reply(status, reply_headers, data)
        if length is None:
            self._linger()

    def _linger(self) -> None:
        """Stop writing, and have the reactor drain what the client still sends, then close.

        Closing a socket with unread bytes resets the connection, and the client may lose the
        answer it was about to read; the reactor reads and drops up to 1 MiB for a second.
        """
        self.lingering = True
        with contextlib.suppress(OSError):
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_WR)

    def _reply(self, status: int, headers: Iterable[tuple[str, str]], body: bytes) -> None:
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _serve

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Answer a request http.server itself refuses (bad request line, huge headers) in JSON."""
        self.close_connection = True
        if self.request_version == "HTTP/0.9":  # an unreadable request line: answer it in
            self.request_version = self.protocol_version  # HTTP/1.1, not as a bare body
        try:
            phrase = HTTPStatus(code).phrase
        except ValueError:
            phrase = "error"
        status, headers, body = error_reply(code, message or phrase)
        self._reply(status, headers, body)
        self._linger()  # what the client sent after the refused request is dropped unread

    def log_message(self, format: str, *args: Any) -> None:
        """Keep http.server quiet: the app writes its own one-line JSON log."""


class _Buffered(io.BytesIO):
    """A request's bytes, read by the reactor before a worker thread saw them."""


#: Past this many bytes without a whole head, the head is handed over as it is: the handler
#: refuses it (414 past the request line's limit, 431 past the headers') without a byte more.
_HEAD_LIMIT = MAX_REQUEST_LINE + MAX_HEADER_BYTES + 1
_LENGTH = re.compile(rb"\r\ncontent-length:[ \t]*([0-9]{1,18})[ \t]*\r\n", re.IGNORECASE)
_FRAMED = re.compile(rb"\r\n(?:content-length|transfer-encoding)[ \t]*:", re.IGNORECASE)
_CONTINUE = re.compile(rb"\r\nexpect:[ \t]*100-continue[ \t]*\r\n", re.IGNORECASE)
_BARE_LF = re.compile(rb"(?<!\r)\n")
_WAITING, _IN_BODY, _DRAINING, _WORKING, _CLOSING = "wait", "body", "linger", "work", "close"


def _body_wanted(head: bytes, max_body: int) -> int:
    """How many body bytes to gather before a worker handles `head`: 0 when none should be.

    Only a single plain Content-Length within `max_body` is gathered; any other framing (none,
    chunked, several lengths, too long, not a number) goes to the handler at once, which
    answers or refuses it without reading a body.
    """
    framed = _FRAMED.findall(head)
    found = _LENGTH.findall(head)
    if len(framed) != 1 or len(found) != 1:
        return 0
    length = int(found[0])
    return length if length <= max_body else 0


def _canned(status: int, message: str, *extra: str) -> bytes:
    """A whole answer with `Connection: close`, for the reactor to send without a thread."""
    _, headers, body = error_reply(status, message)
    lines = [f"HTTP/1.1 {status} {HTTPStatus(status).phrase}", "Server: jaxl-webhook"]
    lines += [f"{name}: {value}" for name, value in headers if name.lower() != "connection"]
    lines += [*extra, "Connection: close", "", ""]
    return "\r\n".join(lines).encode("latin-1") + body


_TIMED_OUT = _canned(408, "the request did not arrive in time")
_BUSY = _canned(503, "too many connections, try again", "Retry-After: 1")


class _Conn:
    """One client connection, as the reactor keeps it between requests."""

    __slots__ = ("addr", "buffer", "continued", "deadline", "drained", "need", "sock", "state")

    def __init__(self, sock: socket.socket, addr: Any) -> None:
        self.sock = sock
        self.addr = addr
        self.buffer = bytearray()
        self.state = _WAITING
        self.deadline = 0.0
        self.need = 0
        self.drained = 0
        self.continued = False


class _Server(HTTPServer):
    """http.server with one reactor thread for connections and a bounded pool of workers.

    The reactor (`serve_forever`) accepts connections and reads each request's head, and its
    body, without a thread: a connection that sends nothing, or sends slowly, costs a socket
    and a buffer, and is closed when its deadline passes (idle `timeout` between requests; the
    whole head within `header_timeout` of its first byte; the whole body within `body_timeout`
    of the head). Only a request whose bytes have all arrived goes to one of `threads` workers,
    which answers it and hands the connection back. At `max_connections`, a new connection
    closes the one that has waited longest for its request, or, when every connection is being
    answered, is refused at once (503, `Connection: close`).
    """

    request_queue_size = socket.SOMAXCONN
    allow_reuse_address = True
    daemon_threads = True
    RequestHandlerClass: Any

    def __init__(
        self,
        address: tuple[str, int],
        handler: type[_Handler],
        *,
        timeout: float,
        header_timeout: float,
        body_timeout: float,
        max_connections: int,
        threads: int,
    ) -> None:
        self.idle_timeout = timeout
        self.header_timeout = header_timeout
        self.body_timeout = body_timeout
        self.max_connections = _allow_files(max_connections)
        self.threads = threads
        self.max_body = handler.app.max_body
        self._open: dict[int, _Conn] = {}  # every open connection, by its file number
        self._waiting: dict[int, _Conn] = {}  # those the reactor reads, oldest wait first
        self._work: queue.SimpleQueue[_Conn | None] = queue.SimpleQueue()
        self._back: collections.deque[_Conn] = collections.deque()
        self._selector = selectors.DefaultSelector()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._stop = False
        self._stopped = threading.Event()
        self._stopped.set()
        self._workers: list[threading.Thread] = []
        super().__init__(address, handler)  # its server_close, when binding fails, needs the above

    # -- the reactor --------------------------------------------------------------------------
    def serve_forever(self, poll_interval: float = 0.1) -> None:
        """Accept, read and time connections until `shutdown()`; workers answer requests."""
        self._stopped.clear()
        self._stop = False
        for number in range(self.threads - len(self._workers)):
            worker = threading.Thread(target=self._worker, name=f"webhook-{number}", daemon=True)
            worker.start()
            self._workers.append(worker)
        self.socket.setblocking(False)
        select = self._selector
        select.register(self.socket, selectors.EVENT_READ, None)
        select.register(self._wake_r, selectors.EVENT_READ, "wake")
        sweep = time.monotonic()
        try:
            while not self._stop:
                for key, _ in select.select(poll_interval):
                    if key.data is None:
                        self._accept()
                    elif key.data == "wake":
                        self._take_back()
                    else:
                        self._readable(key.data)
                now = time.monotonic()
                if now >= sweep:
                    sweep = now + poll_interval
                    self._sweep(now)
        finally:
            with contextlib.suppress(KeyError, ValueError):
                select.unregister(self.socket)
            with contextlib.suppress(KeyError, ValueError):
                select.unregister(self._wake_r)
            self._stopped.set()

    def shutdown(self) -> None:
        """Stop `serve_forever` and wait until it has."""
        self._stop = True
        self._wake()
        self._stopped.wait()

    def server_close(self) -> None:
        """Close the listening socket, every connection, and stop the workers."""
        super().server_close()
        for conn in list(self._open.values()):
            self._close(conn)
        for _ in self._workers:
            self._work.put(None)
        self._workers.clear()
        self._selector.close()
        self._wake_r.close()
        self._wake_w.close()

    def _wake(self) -> None:
        with contextlib.suppress(OSError):
            self._wake_w.send(b"x")

    def _accept(self) -> None:
        for _ in range(256):  # a burst, then back to reading what others sent
            try:
                sock, addr = self.socket.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError:  # out of file numbers, or the client left: try again later
                return
            if len(self._open) >= self.max_connections and not self._make_room():
                _send_and_close(sock, _BUSY)
                continue
            sock.setblocking(False)
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn = _Conn(sock, addr)
            self._open[sock.fileno()] = conn
            self._wait(conn, b"")

    def _make_room(self) -> bool:
        """Close the connection that has waited longest for its request; False if none waits."""
        oldest = next(iter(self._waiting.values()), None)
        if oldest is None:
            return False
        self._close(oldest)
        return True

    def _wait(self, conn: _Conn, rest: bytes) -> None:
        """Read `conn`'s next request here, `rest` being what of it has arrived already."""
        conn.state, conn.buffer, conn.continued = _WAITING, bytearray(rest), False
        fileno = conn.sock.fileno()
        conn.deadline = time.monotonic() + (self.header_timeout if rest else self.idle_timeout)
        self._waiting.pop(fileno, None)
        self._waiting[fileno] = conn
        self._selector.register(conn.sock, selectors.EVENT_READ, conn)
        if rest:
            self._check(conn, 0)

    def _readable(self, conn: _Conn) -> None:
        try:
            data = conn.sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if conn.state == _DRAINING:
            conn.drained += len(data)
            if not data or conn.drained > 1 << 20:
                self._close(conn)
            return
        if not data:  # the client left; a request it had begun gets no answer
            self._close(conn)
            return
        start = len(conn.buffer)
        if not start and conn.state == _WAITING:  # a request begins: its head has its deadline
            conn.deadline = time.monotonic() + self.header_timeout
        conn.buffer += data
        self._check(conn, start)

    def _check(self, conn: _Conn, start: int) -> None:
        """Hand `conn` to a worker once its request has all arrived, or must be refused."""
        buffer = conn.buffer
        if conn.state == _WAITING:
            end = buffer.find(b"\r\n\r\n", max(0, start - 3))
            if _BARE_LF.search(buffer, max(0, start - 1), len(buffer) if end < 0 else end):
                self._dispatch(conn)  # refused by the handler (a bare LF), which reads no more
                return
            if end < 0:
                if len(buffer) > _HEAD_LIMIT or (
                    len(buffer) > MAX_REQUEST_LINE and b"\n" not in buffer
                ):
                    self._dispatch(conn)  # refused by the handler, which reads no more
                return
            end += 4
            wanted = _body_wanted(bytes(buffer[:end]), self.max_body)
            if not wanted or len(buffer) >= end + wanted:
                self._dispatch(conn)
                return
            conn.state, conn.need = _IN_BODY, end + wanted
            conn.deadline = time.monotonic() + self.body_timeout
            if _CONTINUE.search(buffer, 0, end) and not conn.continued:
                conn.continued = True
                with contextlib.suppress(OSError):
                    conn.sock.send(b"HTTP/1.1 100 Continue\r\n\r\n")
        elif conn.state == _IN_BODY and len(buffer) >= conn.need:
            self._dispatch(conn)

    def _dispatch(self, conn: _Conn) -> None:
        self._forget(conn)
        conn.state = _WORKING
        self._work.put(conn)

    def _forget(self, conn: _Conn) -> None:
        """Stop reading `conn` here (it goes to a worker, or is closed)."""
        self._waiting.pop(conn.sock.fileno(), None)
        with contextlib.suppress(KeyError, ValueError):
            self._selector.unregister(conn.sock)

    def _close(self, conn: _Conn) -> None:
        fileno = conn.sock.fileno()
        if fileno < 0:
            return
        self._forget(conn)
        self._open.pop(fileno, None)
        conn.sock.close()

    def _sweep(self, now: float) -> None:
        """Close the connections whose deadline passed: 408 for a request begun, else silently."""
        for conn in [c for c in self._waiting.values() if c.deadline <= now]:
            if conn.state == _IN_BODY or (conn.state == _WAITING and conn.buffer):
                with contextlib.suppress(OSError):
                    conn.sock.send(_TIMED_OUT)
            self._close(conn)

    def _take_back(self) -> None:
        """Connections the workers are done with: read the next request, drain, or close."""
        with contextlib.suppress(OSError):
            while self._wake_r.recv(4096):
                pass
        while self._back:
            conn = self._back.popleft()
            if conn.sock.fileno() < 0:
                continue
            if conn.state == _CLOSING:
                self._close(conn)
                continue
            conn.sock.setblocking(False)
            if conn.state == _DRAINING:
                conn.deadline = time.monotonic() + 1.0
                self._waiting[conn.sock.fileno()] = conn
                self._selector.register(conn.sock, selectors.EVENT_READ, conn)
            else:
                self._wait(conn, bytes(conn.buffer))

    # -- the workers --------------------------------------------------------------------------
    def _worker(self) -> None:
        while True:
            conn = self._work.get()
            if conn is None:
                return
            self._answer(conn)

    def _answer(self, conn: _Conn) -> None:
        """Answer the request `conn` has buffered, then hand the connection back (or close)."""
        sock = conn.sock
        try:
            sock.setblocking(True)
            sock.settimeout(self.idle_timeout)  # a client that does not read its answer
            rfile = _Buffered(bytes(conn.buffer))
            handler = self.RequestHandlerClass(sock, conn.addr, self, rfile)
            if handler.close_connection:
                if handler.lingering:
                    conn.state, conn.drained = _DRAINING, 0
                else:
                    self._closing(conn)
                    return
            else:
                conn.state, conn.buffer = _WAITING, bytearray(rfile.read())
        except Exception:  # a write that failed or timed out: the connection is done
            if not isinstance(sys.exc_info()[1], OSError):
                self.handle_error(sock, conn.addr)
            self._closing(conn)
            return
        self._back.append(conn)
        self._wake()

    def _closing(self, conn: _Conn) -> None:
        """Have the reactor close `conn`, which a worker is done with."""
        conn.state = _CLOSING
        self._back.append(conn)
        self._wake()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hung up before its answer was written is no error of ours: no traceback."""
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


def _send_and_close(sock: socket.socket, data: bytes) -> None:
    with contextlib.suppress(OSError):
        sock.setblocking(False)
        sock.send(data)
        sock.shutdown(socket.SHUT_WR)
    sock.close()


def _allow_files(connections: int) -> int:
    """Raise this process's open-file limit for `connections`, up to what it may; the count it
    allows. A limit too low (ulimit -n 1024) would otherwise fail accepts, not refuse them."""
    try:
        import resource
    except ImportError:  # not a Unix: nothing to raise
        return connections
    wanted = connections + 64
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    if soft != resource.RLIM_INFINITY and soft - 64 < connections:
        return max(1, soft - 64)
    return connections


def make_server(
    app: WebhookApp,
    host: str = Settings.host,
    port: int = Settings.port,
    *,
    timeout: float = Settings.timeout,
    header_timeout: float = Settings.header_timeout,
    body_timeout: float = Settings.body_timeout,
    max_connections: int = Settings.max_connections,
    threads: int = Settings.threads,
) -> _Server:
    """An HTTP server for `app`, bound and ready for `serve_forever()`.

    One reactor thread reads every connection; `threads` workers answer requests whose bytes
    have all arrived. A connection idle `timeout` seconds between requests is closed; a head
    not whole `header_timeout` seconds after its first byte, or a body not whole
    `body_timeout` seconds after its head, is answered 408 and closed. At most
    `max_connections` are open (see `_Server`).
    """
    handler = type("WebhookHandler", (_Handler,), {"app": app})
    return _Server(
        (host, port),
        handler,
        timeout=timeout,
        header_timeout=header_timeout,
        body_timeout=body_timeout,
        max_connections=max_connections,
        threads=threads,
    )


def serve(
    app: WebhookApp, host: str = Settings.host, port: int = Settings.port, **options: Any
) -> None:
    """Serve `app` over HTTP until interrupted (standard library only); `options` are
    `make_server`'s."""
    server = make_server(app, host, port, **options)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


# -- uvicorn, as safe as the stdlib server -------------------------------------------------
def uvicorn_protocol(settings: Settings | None = None) -> type:
    """uvicorn's h11 protocol with what uvicorn lacks: deadlines and a connection cap.

    uvicorn gives a connection that has not yet sent a whole request no deadline at all, and its
    `--limit-concurrency` answers every request 503 once that many connections are open (idle
    ones too). This protocol, for `python webhook.py --uvicorn`, closes a connection whose head
    is not whole `header_timeout` seconds after it opened or after the request began (idle
    between requests, uvicorn's keep-alive timeout applies), and whose body is not whole
    `body_timeout` seconds after its head; past `max_connections` a new connection closes the
    one that has waited longest for a request (or is refused, 503, when none waits). h11 itself
    refuses a head over 16 KiB (`h11_max_incomplete_event_size`).
    """
    settings = Settings.from_env() if settings is None else settings
    h11 = importlib.import_module("h11")
    base: Any = importlib.import_module("uvicorn.protocols.http.h11_impl").H11Protocol
    header_timeout, body_timeout = settings.header_timeout, settings.body_timeout
    cap = _allow_files(settings.max_connections)
    waiting: dict[Any, None] = {}  # connections waiting for a request, longest first

    class UvicornProtocol(base):  # type: ignore[misc]
        """uvicorn's h11 protocol, with deadlines and a connection cap (`uvicorn_protocol`)."""

        _deadline: Any = None

        def connection_made(self, transport: Any) -> None:
            super().connection_made(transport)
            if len(self.connections) > cap:
                oldest = next(iter(waiting), None)
                if oldest is None:
                    transport.write(_BUSY)
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
            if self._deadline is None and self._between_requests():
                self._arm(header_timeout)  # a request begins after a kept-alive wait
            super().data_received(data)

        def handle_events(self) -> None:
            cycle = self.cycle
            super().handle_events()
            if self.cycle is not cycle:  # a head arrived: its body has its own deadline
                waiting.pop(self, None)
                self._arm(body_timeout)

        def on_response_complete(self) -> None:
            self._disarm()
            super().on_response_complete()
            if self._between_requests() and not self.transport.is_closing():
                waiting.pop(self, None)
                waiting[self] = None

        def _between_requests(self) -> bool:
            return self.cycle is None or self.cycle.response_complete

        def _arm(self, seconds: float) -> None:
            self._disarm()
            self._deadline = self.loop.call_later(seconds, self._expire)

        def _disarm(self) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
                self._deadline = None

        def _expire(self) -> None:
            self._deadline = None
            receiving = self._between_requests() or self.conn.their_state is h11.SEND_BODY
            if receiving and not self.transport.is_closing():
                if self.conn.their_state is not h11.IDLE or self.conn.trailing_data[0]:
                    self.transport.write(_TIMED_OUT)  # a request begun: say why it ends
                self.transport.close()

    return UvicornProtocol


#: How the module runs itself under uvicorn (`python webhook.py --uvicorn`).
UVICORN_OPTIONS = {
    "http": "h11",  # httptools has no header limit at all (issue 19: 256 MB sent, 2.4 GB RSS)
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
        importlib.import_module("h11")
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
        **{**UVICORN_OPTIONS, "http": f"{name}:UvicornProtocol"},
    )
    return 0


# -- WSGI -----------------------------------------------------------------------------------
def _reason(status: int) -> str:
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return f"{status} Error"


def _wsgi_headers(environ: Mapping[str, Any]) -> dict[str, str]:
    headers = {
        key[5:].replace("_", "-").lower(): str(value)
        for key, value in environ.items()
        if key.startswith("HTTP_")
    }
    for key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        if environ.get(key):
            headers[key.replace("_", "-").lower()] = str(environ[key])
    return headers


def make_wsgi(app: WebhookApp) -> Callable[..., Iterable[bytes]]:
    """A WSGI callable for `app`, for gunicorn and any other WSGI server.

    Example:
        >>> flow = {"entry": "bye", "nodes": {"bye": {"kind": "hangup", "prompt": ["Bye."]}}}
        >>> wsgi = make_wsgi(WebhookApp(Runtime(flow), log=None))
        >>> wsgi({"REQUEST_METHOD": "GET", "PATH_INFO": "/healthz"}, lambda s, h: print(s))
        200 OK
        [b'{"ok":true}']
    """

    def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        headers = _wsgi_headers(environ)
        length = body_length(headers, app.max_body)
        body = environ["wsgi.input"].read(length) if length else b""
        status, reply_headers, data = app.handle(
            environ.get("REQUEST_METHOD", "GET"),
            environ.get("PATH_INFO", "") or "/",
            environ.get("QUERY_STRING", ""),
            headers,
            body,
        )
        if ("Connection", "close") in reply_headers:
            _stop_reading(environ)
        start_response(_reason(status), list(reply_headers))  # a server may add to the list
        return [data]

    return application


def _stop_reading(environ: Mapping[str, Any]) -> None:
    """Make a WSGI server close a connection whose body was refused unread.

    PEP 3333 lets no app send `Connection: close`, and gunicorn drops it, then reads the refused
    body to its end (an endless one for ever) and parses what follows as a request. Shutting
    the socket's reading side (gunicorn hands the app its socket as `gunicorn.socket`) makes
    that read end at once: the answer still goes out, and the connection then closes.
    """
    sock = environ.get("gunicorn.socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RD)


# -- the Jaxl SDK ---------------------------------------------------------------------------
def jaxl_app_class(runtime: Runtime) -> type:
    """A `jaxl.api.base.BaseJaxlApp` subclass whose handlers are answered by `runtime`.

    For `jaxl apps run --app webhook:JaxlApp`; needs the SDK (`pip install 'jaxl-python[app]'`).
    The SDK's handlers are async, on uvicorn's event loop: a lookup is awaited there
    (`perform_lookup_async`), so a slow backend holds up only the call that waits on it.
    """
    try:
        base = importlib.import_module("jaxl.api.base")
    except ImportError:
        raise AttributeError("JaxlApp needs the Jaxl SDK: pip install 'jaxl-python[app]'") from None

    async def answer(request: Any) -> Any:
        reply = await sdk_response(runtime, request.model_dump(mode="json"))
        if reply is None:  # a mark
            return None
        if "prompt" in reply:
            return base.JaxlWebhookResponse(**reply)
        return base.JaxlCtaResponse(**reply)

    async def handle(self: Any, req: Any) -> Any:
        return await answer(req)

    handlers = (
        "handle_configure",
        "handle_setup",
        "handle_option",
        "handle_user_data",
        "handle_mark",
    )
    namespace: dict[str, Any] = {name: handle for name in (*handlers, "handle_teardown")}
    namespace["__doc__"] = "A Jaxl SDK app that answers every webhook event from the flow."
    return type("JaxlApp", (base.BaseJaxlApp,), namespace)


async def sdk_response(runtime: Runtime, request: Any) -> dict[str, Any] | None:
    """`runtime.handle(request)` with each lookup awaited on the running event loop.

    A store that fails after a lookup is what the runtime says when its store fails.
    """
    turn = runtime.respond(request)
    while turn.lookup is not None:
        try:
            result = await perform_lookup_async(turn.lookup)
        except Exception as error:
            result = lookup_raised(error)
        try:
            turn = runtime.resume(turn, result)
        except StoreError:
            return {"prompt": list(STORE_DOWN_PROMPT), "num_characters": 0}
    return None if turn.silent else turn.response


# -- command line ---------------------------------------------------------------------------
def serve_flow(flow_document: Mapping[str, Any], settings: Settings | None = None) -> int:
    """Serve a flow over HTTP as `settings` say, until interrupted; returns an exit status."""
    settings = Settings() if settings is None else settings
    try:
        app = build_app(flow_document, settings)
    except (RuntimeError, ValueError) as error:
        log_to_stderr(f"webhook: {error}")
        return 2
    store = app.runtime.store
    _say_if_down(store)
    host, port = settings.host, settings.port
    try:
        server = make_server(
            app,
            host,
            port,
            timeout=settings.timeout,
            header_timeout=settings.header_timeout,
            body_timeout=settings.body_timeout,
            max_connections=settings.max_connections,
            threads=settings.threads,
        )
    except OSError as error:
        log_to_stderr(f"webhook: cannot listen on {host}:{port}: {error.strerror or error}")
        return 1
    name = app.runtime.flow.get("name", "flow")
    bound = server.server_address[1]
    kept = (
        f"calls kept in Redis at {redact(store.url)}"
        if isinstance(store, RedisStore)
        else ("calls kept in memory")
    )
    log_to_stderr(f"webhook: serving {name!r} on http://{host}:{bound}/webhook/ ({kept})")
    if settings.flow_file:
        _reload_on_hangup(app)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


def _reload_on_hangup(app: WebhookApp) -> None:
    """Publish the flow file at once on SIGHUP (where there is one), not at the next look."""
    hangup = getattr(signal, "SIGHUP", None)
    if hangup is None:
        return
    revisions = app.revisions
    with contextlib.suppress(ValueError):  # not the main thread: the file is still looked at
        signal.signal(hangup, lambda number, frame: revisions.reload())


def main(
    argv: Sequence[str] | None, flow_document: Mapping[str, Any], module: str | None = None
) -> int:
    """The generated module's command line: `python webhook.py --port 8080 ...`.

    `module` is the module's own path, which `--uvicorn` has uvicorn import.
    """
    parser = argparse.ArgumentParser(description="Serve this Jaxl webhook over HTTP.")
    Settings.add_arguments(parser)
    if module is not None:
        parser.add_argument(
            "--uvicorn",
            action="store_true",
            help="serve with uvicorn (pip install uvicorn), its h11 parser, these deadlines "
            "and this connection cap",
        )
        parser.add_argument(
            "--workers",
            default="1",
            help="uvicorn worker processes, with --uvicorn (default 1; several need "
            "JAXL_REDIS_URL)",
        )
    args = parser.parse_args(argv)
    try:
        settings = Settings.from_args(args)
    except ValueError as error:
        log_to_stderr(f"webhook: {error}")
        return 2
    if module is None or not args.uvicorn:
        return serve_flow(flow_document, settings)
    workers = str(args.workers)
    if not (workers.isascii() and workers.isdigit() and int(workers) >= 1):
        log_to_stderr(f"webhook: --workers={workers!r}: not a whole number from 1 up")
        return 2
    return serve_uvicorn(module, settings, int(workers))
