"""Serving a flow: the app from settings, http.server, WSGI, the Jaxl SDK, the command line."""

from __future__ import annotations

import argparse
import contextlib
import email.parser
import importlib
import io
import os
import re
import socket
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from ..core.lookups import perform_lookup_async
from ..core.runtime import STORE_DOWN_PROMPT, MemoryStore, Runtime, StoreError, secret_names
from .app import WebhookApp, body_length, error_reply, log_to_stderr, lookup_raised, request_log
from .redis_store import RedisStore, redact
from .settings import Settings, read_switch

__all__ = [
    "ALLOW_PRIVATE_STATE",
    "MAX_HEADERS",
    "MAX_HEADER_BYTES",
    "MAX_HEADER_LINE",
    "app_from_env",
    "build_app",
    "jaxl_app_class",
    "main",
    "make_server",
    "make_wsgi",
    "sdk_response",
    "serve",
    "serve_flow",
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
    _check_secrets(flow_document, os.environ)
    runtime = Runtime(flow_document, store)
    return WebhookApp(runtime, token=settings.token, log=request_log if settings.log else None)


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
    """Feeds http.server requests to a `WebhookApp`, over keep-alive HTTP/1.1 connections."""

    protocol_version = "HTTP/1.1"
    # Headers and body go out as two writes: without TCP_NODELAY each answer waits ~40 ms for the
    # client's delayed ACK (Nagle's algorithm), capping a connection at ~25 requests a second.
    disable_nagle_algorithm = True
    server_version = "jaxl-webhook"
    sys_version = ""
    app: WebhookApp
    raw_requestline: bytes  # set by http.server before `parse_request`

    def version_string(self) -> str:
        """The Server header: no Python version in it."""
        return self.server_version

    def parse_request(self) -> bool:
        """http.server's parsing of the request line, then headers read and checked here.

        A request framed in a way two servers could read differently is answered 400 (431 past
        the header limits) and the connection closed: nothing after it is read as a request.
        """
        line = self.raw_requestline
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

    def _linger(self, limit: int = 1 << 20, seconds: float = 1.0) -> None:
        """Read and drop what the client still sends before closing, so it gets our answer.

        Closing a socket with unread bytes resets the connection, and the client may lose the
        answer it was about to read; so stop writing, then drain briefly.
        """
        try:
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_WR)
            self.connection.settimeout(seconds)
            deadline = time.monotonic() + seconds
            while limit > 0 and time.monotonic() < deadline:
                chunk = self.connection.recv(65536)
                if not chunk:
                    break
                limit -= len(chunk)
        except OSError:
            pass

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


class _Server(ThreadingHTTPServer):
    """http.server's threading server, with a deep accept queue and quiet client hang-ups."""

    # http.server queues only 5 connections not yet accepted; a burst of new callers past that
    # waits seconds on TCP retries, so let the kernel queue as many as it allows.
    request_queue_size = socket.SOMAXCONN

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hung up before its answer was written is no error of ours: no traceback."""
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


def make_server(
    app: WebhookApp,
    host: str = Settings.host,
    port: int = Settings.port,
    *,
    timeout: float = Settings.timeout,
) -> ThreadingHTTPServer:
    """A threading HTTP server for `app`, bound and ready for `serve_forever()`.

    Each connection has its own thread, and a connection that sends nothing for `timeout`
    seconds (idle keep-alive, or a client that never finishes its request) is closed.
    """
    handler = type("WebhookHandler", (_Handler,), {"app": app, "timeout": timeout})
    server = _Server((host, port), handler)
    server.daemon_threads = True
    return server


def serve(
    app: WebhookApp, host: str = Settings.host, port: int = Settings.port, **options: Any
) -> None:
    """Serve `app` over HTTP until interrupted (standard library only)."""
    server = make_server(app, host, port, **options)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


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
        server = make_server(app, host, port, timeout=settings.timeout)
    except OSError as error:
        log_to_stderr(f"webhook: cannot listen on {host}:{port}: {error.strerror or error}")
        return 1
    name = flow_document.get("name", "flow")
    bound = server.server_address[1]
    kept = (
        f"calls kept in Redis at {redact(store.url)}"
        if isinstance(store, RedisStore)
        else ("calls kept in memory")
    )
    log_to_stderr(f"webhook: serving {name!r} on http://{host}:{bound}/webhook/ ({kept})")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


def main(argv: Sequence[str] | None, flow_document: Mapping[str, Any]) -> int:
    """The generated module's command line: `python webhook.py --port 8080 ...`."""
    parser = argparse.ArgumentParser(description="Serve this Jaxl webhook over HTTP.")
    Settings.add_arguments(parser)
    try:
        settings = Settings.from_args(parser.parse_args(argv))
    except ValueError as error:
        log_to_stderr(f"webhook: {error}")
        return 2
    return serve_flow(flow_document, settings)
