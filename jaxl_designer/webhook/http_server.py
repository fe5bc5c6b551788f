"""The standard-library server: one reactor reads every connection, a bounded pool answers."""

from __future__ import annotations

import collections
import contextlib
import email.parser
import io
import queue
import re
import selectors
import socket
import socketserver
import sys
import threading
import time
from collections.abc import Iterable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

from .app import WebhookApp, body_length, error_reply
from .settings import Settings

__all__ = [
    "BARE_LF_ANSWER",
    "BUSY_ANSWER",
    "HEAD_TOO_LARGE_ANSWER",
    "MAX_HEADERS",
    "MAX_HEADER_BYTES",
    "MAX_HEADER_LINE",
    "MAX_REQUEST_LINE",
    "TIMED_OUT_ANSWER",
    "allow_files",
    "body_bytes",
    "make_server",
    "refuse_head",
    "serve",
]


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
        fields: dict[str, Any] = {}
        status, reply_headers, data = self.app.handle(
            self.command, path, query, headers, body, fields
        )
        self._reply(status, reply_headers, data)  # raises when the client has gone
        self.app.delivered(fields)  # written whole: a retry of it now is the caller's again
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
_CODED = re.compile(rb"\r\ntransfer-encoding[ \t]*:", re.IGNORECASE)
_FRAMED = re.compile(rb"\r\n(?:content-length|transfer-encoding)[ \t]*:", re.IGNORECASE)
_CONTINUE = re.compile(rb"\r\nexpect:[ \t]*100-continue[ \t]*\r\n", re.IGNORECASE)
_BARE_LF = re.compile(rb"(?<!\r)\n")
#: A head in the plainest form: a request line, header lines (a token, a colon, a value of
#: visible characters, spaces and tabs), a blank line; every line ending in CRLF.
_PLAIN_HEAD = re.compile(
    rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+ [!-~]+ HTTP/1\.[01]\r\n"
    rb"(?:[!#$%&'*+\-.^_`|~0-9A-Za-z]+:[\t -~\x80-\xff]*\r\n)*\r\n"
)
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


def refuse_head(head: bytes) -> bytes | None:
    r"""The answer that refuses a request head (request line to blank line), or None if it passes.

    The same rules as this server's own (`_read_head`): a head that two servers could frame
    differently is refused 400, one past the limits 414 or 431, always closing the connection.
    Other servers' parsers use it to screen each head before they read it.

    Example:
        >>> refuse_head(b"POST /webhook/ HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n") is None
        True
        >>> refuse_head(b"POST / HTTP/1.1\r\nX-A : y\r\n\r\n")[:24]
        b'HTTP/1.1 400 Bad Request'
    """
    # Nearly every head is a plain one, checked by one match here (a seventh of the time the
    # line-by-line check takes); any other gets the whole check, and its refusal's reason.
    plain = len(head) <= MAX_HEADER_LINE and head.count(b"\n") <= MAX_HEADERS + 2
    if plain and _PLAIN_HEAD.fullmatch(head):
        framed = _FRAMED.findall(head)
        if not framed or (len(framed) == 1 and _LENGTH.search(head)):
            return None
    return refuse_head_slowly(head)


def refuse_head_slowly(head: bytes) -> bytes | None:
    """`refuse_head`, line by line: what it says of every head (tests hold them equal)."""
    line, newline, rest = head.partition(b"\n")
    if len(line) + len(newline) > MAX_REQUEST_LINE:
        return _canned(414, f"the request line is over {MAX_REQUEST_LINE} bytes")
    if not line.endswith(b"\r") or _CONTROL.search(line[:-1]):
        return _canned(400, "a bare LF or a control character in the request line")
    try:
        _read_head(io.BytesIO(rest))
    except _Refused as refused:
        return _canned(refused.status, refused.message)
    return None


def body_bytes(head: bytes) -> int | None:
    r"""How many body bytes follow a head `refuse_head` passed; None for a chunked body.

    Example:
        >>> body_bytes(b"POST / HTTP/1.1\r\nContent-Length: 12\r\n\r\n")
        12
        >>> body_bytes(b"GET / HTTP/1.1\r\n\r\n")
        0
    """
    if _CODED.search(head):
        return None
    found = _LENGTH.findall(head)
    return int(found[0]) if found else 0


def _canned(status: int, message: str, *extra: str) -> bytes:
    """A whole answer with `Connection: close`, for the reactor to send without a thread."""
    _, headers, body = error_reply(status, message)
    lines = [f"HTTP/1.1 {status} {HTTPStatus(status).phrase}", "Server: jaxl-webhook"]
    lines += [f"{name}: {value}" for name, value in headers if name.lower() != "connection"]
    lines += [*extra, "Connection: close", "", ""]
    return "\r\n".join(lines).encode("latin-1") + body


TIMED_OUT_ANSWER = _canned(408, "the request did not arrive in time")
#: Refusals for a head screened before it is whole: too long, or ended by bare LFs.
HEAD_TOO_LARGE_ANSWER = _canned(431, f"the request head is over {MAX_HEADER_BYTES} bytes")
BARE_LF_ANSWER = _canned(400, "a header line ends in a bare LF, not CRLF")
BUSY_ANSWER = _canned(503, "too many connections, try again", "Retry-After: 1")


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
        self.max_connections = allow_files(max_connections)
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
                _send_and_close(sock, BUSY_ANSWER)
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
                    conn.sock.send(TIMED_OUT_ANSWER)
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


def allow_files(connections: int) -> int:
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
