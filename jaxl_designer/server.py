"""HTTP for the call runtime: one app core served by http.server, WSGI or ASGI; Redis state."""

from __future__ import annotations

import argparse
import asyncio
import atexit
import hmac
import importlib
import json
import os
import socket
import sys
import time
import traceback
from collections.abc import Callable, Iterable, Mapping, Sequence
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .runtime import LOOP_PROMPT, BadRequest, MemoryStore, Runtime, StoreError

__all__ = [
    "RedisStore",
    "WebhookApp",
    "add_serving_arguments",
    "app_from_env",
    "build_app",
    "jaxl_app_class",
    "main",
    "make_server",
    "make_wsgi",
    "serve",
    "serve_flow",
]

#: An HTTP answer: status, headers, body.
Reply = tuple[int, list[tuple[str, str]], bytes]
#: Where the one-line JSON request log goes; None turns it off.
LogSink = Callable[[str], None]

WEBHOOK_PATHS = frozenset({"/webhook/", "/webhook"})
HEALTH_PATHS = frozenset({"/healthz", "/healthz/"})
WEBHOOK_METHODS = ("POST", "DELETE")
HEALTH_METHODS = ("GET", "HEAD")
#: How many encoded answers a webhook keeps for reuse.
REPLY_CACHE = 1024


def log_to_stderr(line: str) -> None:
    """Write one log line to standard error now."""
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


_PENDING: list[str] = []


def request_log(line: str) -> None:
    """The request log: one line to standard error, batched per turn of a running event loop.

    Under an ASGI server every line written during one turn of the loop goes out in one write
    at the start of the next turn, instead of a system call per request; anywhere else (threads,
    WSGI, http.server) the line is written at once.
    """
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        log_to_stderr(line)
        return
    _PENDING.append(line)
    if len(_PENDING) == 1:
        loop.call_soon(flush_request_log)


def flush_request_log() -> None:
    """Write the request log lines batched so far."""
    if _PENDING:
        lines = "\n".join(_PENDING)
        _PENDING.clear()
        log_to_stderr(lines)


atexit.register(flush_request_log)


# One encoder for every answer and log line: json.dumps with options builds a new one per call.
_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def _json(status: int, payload: Any, extra: Sequence[tuple[str, str]] = ()) -> Reply:
    body = _encode(payload).encode("utf-8")
    headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
    headers.extend(extra)
    return status, headers, body


def _error(status: int, message: str, extra: Sequence[tuple[str, str]] = ()) -> Reply:
    return _json(status, {"error": message}, extra)


_QUOTED = {text: _encode(text) for text in (*WEBHOOK_PATHS, *WEBHOOK_METHODS)}


def _quoted(text: str) -> str:
    return _QUOTED.get(text) or _encode(text)


def _json_value(value: Any) -> str:
    return str(value) if type(value) is int else _encode(value)


_decode = json.JSONDecoder().raw_decode
_SPACE = " \t\n\r"


def parse_json(body: bytes) -> Any:
    """A request body as JSON: UTF-8 only (RFC 8259), whitespace around it allowed.

    Raises ValueError (or RecursionError for absurd nesting) when it is not one JSON value.

    Example:
        >>> parse_json(b' {"event": 1} ')
        {'event': 1}
    """
    # json.loads(bytes) would also take UTF-16 and lone surrogates; raw_decode skips the two
    # whitespace scans json.loads makes, which cost as much as decoding a small request.
    text = body.decode("utf-8")
    if text[:1] == "\ufeff":  # a byte order mark, allowed before JSON; "utf-8-sig" is 10x slower
        text = text[1:]
    if text[:1] in _SPACE:  # also the empty body: raw_decode says "Expecting value"
        text = text.lstrip(_SPACE)
    value, end = _decode(text)
    if end != len(text) and text[end:].strip(_SPACE):
        raise ValueError(f"extra data after the JSON value at character {end}")
    return value


def _parse_length(value: str | None) -> int | None:
    """The Content-Length as a number of bytes, 0 when absent, None when it is not a number."""
    if value is None or value.strip() == "":
        return 0
    text = value.strip()
    if not text.isdigit() or not text.isascii() or len(text) > 18:
        return None
    return int(text)


def body_length(headers: Mapping[str, str], max_body: int) -> int | None:
    """How many body bytes a server adapter should read: None when it must read none at all."""
    if "transfer-encoding" in headers:
        return None
    length = _parse_length(headers.get("content-length"))
    if length is None or length > max_body:
        return None
    return length


class WebhookApp:
    """The webhook's HTTP logic, apart from any server: a request in, a reply out.

    How a request is answered, in order (every error is JSON `{"error": "..."}`):

    - a path other than `/webhook/`, `/webhook` or `/healthz`: 404;
    - a method the path does not take: 405 with `Allow` (`/webhook/` takes POST and DELETE);
    - a token is set and the request carries no matching `X-Jaxl-Token` header or `?token=`: 401;
    - `Transfer-Encoding` (a chunked body): 411; a `Content-Length` that is not a number: 400;
      a body over `max_body`: 413;
    - a `Content-Type` other than `application/json` (any charset): 415; none at all is accepted;
    - a body that is not JSON: 400; fields of the wrong type: 422 (the runtime's `BadRequest`);
    - anything unexpected: logged here, and the caller hears an apology (200), never a 500.

    The event number in the body decides what a request does, whatever the method: a teardown
    (event 3) is accepted as the specification's POST and as the SDK's DELETE, and a DELETE that
    carries another event is answered as that event, so the answer depends on the body alone.
    `/healthz` answers 200 `{"ok": true}`, or 503 when the call store (Redis) is not answering.

    Args:
        runtime: The call runtime that answers webhook events.
        token: A shared secret the request must carry, or None to accept any request.
        max_body: The largest request body accepted, in bytes.
        log: Where one JSON line per request goes; None for no request log.

    Example:
        >>> flow = {"entry": "bye", "nodes": {"bye": {"kind": "hangup", "prompt": ["Bye."]}}}
        >>> app = WebhookApp(Runtime(flow), log=None)
        >>> app.handle("GET", "/healthz", "", {}, b"")[2]
        b'{"ok":true}'
        >>> status, headers, body = app.handle("PUT", "/webhook/", "", {}, b"")
        >>> status, headers[-1]
        (405, ('Allow', 'POST, DELETE'))
    """

    def __init__(
        self,
        runtime: Runtime,
        *,
        token: str | None = None,
        max_body: int = 64 * 1024,
        log: LogSink | None = request_log,
    ) -> None:
        self.runtime = runtime
        self.token = token.encode("utf-8") if token else None
        self.max_body = max_body
        self.log = log
        #: Whether answering can block on the network (a shared store), so async servers
        #: should answer in a worker thread rather than on their event loop.
        self.blocking = not isinstance(runtime.store, MemoryStore)
        self._replies: dict[tuple[Any, ...], Reply] = {}

    def handle(
        self, method: str, path: str, query: str, headers: Mapping[str, str], body: bytes
    ) -> Reply:
        """Answer one request; `headers` has lower-case names. Never raises."""
        started = time.perf_counter()
        fields: dict[str, Any] = {}
        try:
            reply = self._route(method.upper(), path, query, headers, body, fields)
        except Exception:
            reply = self._failed()
        if self.log is not None:
            self.log_request(method, path, reply[0], fields, started)
        return reply

    def _failed(self) -> Reply:
        """A bug must not cost the caller the call: log it, and they hear an apology."""
        log_to_stderr(traceback.format_exc().rstrip())
        return self._apology()

    def log_request(
        self, method: str, path: str, status: int, fields: dict[str, Any], started: float
    ) -> None:
        """Write the request's JSON log line, when the app has a log."""
        if self.log is None:
            return
        ms = round((time.perf_counter() - started) * 1000, 3)
        event, call_id = fields.get("event"), fields.get("call_id")
        # Formatted, not encoded from a dict: a third of the cost, for a line on every request.
        self.log(
            f'{{"method":{_quoted(method)},"path":{_quoted(path)},"status":{status:d},'
            f'"event":{_json_value(event)},"call_id":{_json_value(call_id)},"ms":{ms!r}}}'
        )

    def _route(
        self,
        method: str,
        path: str,
        query: str,
        headers: Mapping[str, str],
        body: bytes,
        fields: dict[str, Any],
    ) -> Reply:
        if path in HEALTH_PATHS:
            if method not in HEALTH_METHODS:
                return _error(405, "use GET", [("Allow", ", ".join(HEALTH_METHODS))])
            return self._health(method)
        if path not in WEBHOOK_PATHS:
            return _error(404, f"no such path: {path} (the webhook is at /webhook/)")
        if method not in WEBHOOK_METHODS:
            return _error(405, "use POST or DELETE", [("Allow", ", ".join(WEBHOOK_METHODS))])
        if not self._authorized(query, headers):
            return _error(401, "missing or wrong token")
        refusal = self._refuse_body(headers, body)
        if refusal is not None:
            return refusal
        return self.answer_json(body, fields)

    def answer_json(self, body: bytes, fields: dict[str, Any]) -> Reply:
        """Answer a webhook request body that passed every HTTP check; `fields` gets what to log."""
        try:
            request = parse_json(body)
        except (ValueError, RecursionError):
            return _error(400, "the body is not JSON")
        try:
            return self._answer(request, fields)
        except StateNotLoaded:
            raise  # the server reads the call's state and asks again
        except Exception:
            return self._failed()

    def _refuse_body(self, headers: Mapping[str, str], body: bytes) -> Reply | None:
        if "transfer-encoding" in headers:
            return _error(411, "send the body with a Content-Length, not chunked")
        length = _parse_length(headers.get("content-length"))
        if length is None:
            return _error(400, "Content-Length is not a number")
        if length > self.max_body or len(body) > self.max_body:
            return _error(413, f"the body is over {self.max_body} bytes")
        media = headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if media not in ("", "application/json"):
            return _error(415, f"the body must be application/json, not {media}")
        return None

    def _answer(self, request: Any, fields: dict[str, Any]) -> Reply:
        runtime = self.runtime
        if isinstance(request, dict):
            fields["event"] = request.get("event")
            state = request.get("state")
            if isinstance(state, dict):
                fields["call_id"] = state.get("call_id")
        try:
            response = runtime.handle(request)
        except BadRequest as error:
            return _error(error.status, str(error))
        prompt = response.get("prompt")
        if prompt is None:  # a transfer: rare, and it carries the caller's numbers
            return _json(200, response)
        # Most answers are a node's fixed prompt: encode each once, not on every request.
        key = (response["num_characters"], *prompt)
        reply = self._replies.get(key)
        if reply is None:
            reply = _json(200, response)
            if len(self._replies) >= REPLY_CACHE:
                self._replies.clear()  # prompts filled per call could crowd out the rest
            self._replies[key] = reply
        return reply

    @staticmethod
    def _apology() -> Reply:
        return _json(200, {"prompt": list(LOOP_PROMPT), "num_characters": 0})

    def _authorized(self, query: str, headers: Mapping[str, str]) -> bool:
        if self.token is None:
            return True
        given = headers.get("x-jaxl-token")
        if given is None and "token=" in query:
            given = (parse_qs(query).get("token") or [""])[0]
        return hmac.compare_digest((given or "").encode("utf-8"), self.token)

    def _health(self, method: str) -> Reply:
        ping = getattr(self.runtime.store, "ping", None)
        try:
            answering = ping is None or bool(ping())
        except Exception:
            answering = False
        if not answering:
            status, headers, body = _json(503, {"ok": False, "error": "the store is not answering"})
        else:
            status, headers, body = _json(200, {"ok": True})
        return status, headers, b"" if method == "HEAD" else body


# -- Redis ----------------------------------------------------------------------------------
class StateNotLoaded(Exception):
    """Raised by a store that reads ahead when a request needs a call's state it has not read.

    The ASGI adapter reads the state from Redis without blocking, then answers again.
    """

    def __init__(self, call_id: int) -> None:
        super().__init__(call_id)
        self.call_id = call_id


class RedisStore:
    """Call state in Redis, shared by every worker and surviving restarts: JSON with a TTL.

    Any connection error or timeout becomes `StoreError`, which the runtime answers with an
    apology; the client reconnects by itself on the next request.

    Args:
        url: A Redis URL such as `redis://localhost:6379/0`.
        ttl: Seconds a call's state is kept after its last request.
        prefix: Prepended to the call id to make the Redis key.
        timeout: Seconds to wait for Redis before apologising to the caller.
    """

    def __init__(
        self, url: str, *, ttl: int = 3600, prefix: str = "jaxl:call:", timeout: float = 0.5
    ) -> None:
        try:
            redis = importlib.import_module("redis")
            backoff = importlib.import_module("redis.backoff")
            retry = importlib.import_module("redis.retry")
        except ImportError:
            raise RuntimeError("state in Redis needs the redis client: pip install redis") from None
        self.url = url
        self.ttl = int(ttl)
        self.prefix = prefix
        # One immediate retry: a pooled connection that Redis dropped is replaced at once.
        self.client: Any = redis.Redis.from_url(
            url,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry=retry.Retry(backoff.NoBackoff(), 1),
        )
        self._errors: tuple[type[BaseException], ...] = (
            redis.exceptions.ConnectionError,
            redis.exceptions.TimeoutError,
        )

    def __repr__(self) -> str:
        return f"RedisStore({redact(self.url)!r}, ttl={self.ttl}, prefix={self.prefix!r})"

    def _call(self, command: str, *args: Any, **kwargs: Any) -> Any:
        try:
            return getattr(self.client, command)(*args, **kwargs)
        except self._errors as error:
            raise StoreError(f"Redis at {redact(self.url)} is not answering: {error}") from None

    def key(self, call_id: int) -> str:
        """The Redis key of a call's state."""
        return f"{self.prefix}{call_id}"

    @staticmethod
    def decode(raw: bytes | str | None) -> dict[str, Any] | None:
        """A call's state from the value kept in Redis; None when there is none, or not ours."""
        if raw is None:
            return None
        try:
            state = json.loads(raw)
        except ValueError:
            return None  # not ours, or damaged: treated as a call we do not know
        return state if isinstance(state, dict) else None

    @staticmethod
    def encode(state: dict[str, Any]) -> str:
        """The value kept in Redis for a call's state."""
        return _encode(state)

    def load(self, call_id: int) -> dict[str, Any] | None:
        """Return the state of a call, or None when the call is unknown or expired."""
        return self.decode(self._call("get", self.key(call_id)))

    def save(self, call_id: int, state: dict[str, Any]) -> None:
        """Keep a call's state for `ttl` seconds after this request."""
        self._call("set", self.key(call_id), self.encode(state), ex=self.ttl)

    def drop(self, call_id: int) -> None:
        """Forget a call."""
        self._call("delete", self.key(call_id))

    def ping(self) -> bool:
        """Whether Redis answers now."""
        try:
            return bool(self._call("ping"))
        except StoreError:
            return False


def redact(url: str) -> str:
    """A URL with its password hidden, fit for logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return parts._replace(netloc=netloc).geturl()


# -- building an app ------------------------------------------------------------------------
def build_app(
    flow_document: Mapping[str, Any],
    *,
    redis_url: str | None = None,
    token: str | None = None,
    log: bool = True,
    max_calls: int = 100_000,
    ttl: int = 3600,
) -> WebhookApp:
    """A webhook app for a flow document, its call state in Redis or in this process."""
    store: Any
    if redis_url:
        store = RedisStore(redis_url, ttl=ttl)
    else:
        store = MemoryStore(max_calls=max_calls, ttl=float(ttl))
    runtime = Runtime(flow_document, store)
    return WebhookApp(runtime, token=token or None, log=request_log if log else None)


def app_from_env(
    flow_document: Mapping[str, Any], environ: Mapping[str, str] | None = None
) -> WebhookApp:
    """A webhook app set up from the environment, as uvicorn and gunicorn workers need.

    Reads `JAXL_REDIS_URL`, `JAXL_WEBHOOK_TOKEN`, `JAXL_WEBHOOK_LOG` (`0` for no request log),
    `JAXL_MAX_CALLS` and `JAXL_TTL`.
    """
    env = os.environ if environ is None else environ
    app = build_app(
        flow_document,
        redis_url=env.get("JAXL_REDIS_URL") or None,
        token=env.get("JAXL_WEBHOOK_TOKEN") or None,
        log=env.get("JAXL_WEBHOOK_LOG", "1").strip().lower() not in ("0", "no", "false", "off"),
        max_calls=int(env.get("JAXL_MAX_CALLS") or 100_000),
        ttl=int(env.get("JAXL_TTL") or 3600),
    )
    _say_if_down(app.runtime.store)  # uvicorn and gunicorn workers start here, not in serve_flow
    return app


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
class _Handler(BaseHTTPRequestHandler):
    """Feeds http.server requests to a `WebhookApp`, over keep-alive HTTP/1.1 connections."""

    protocol_version = "HTTP/1.1"
    # Headers and body go out as two writes: without TCP_NODELAY each answer waits ~40 ms for the
    # client's delayed ACK (Nagle's algorithm), capping a connection at ~25 requests a second.
    disable_nagle_algorithm = True
    server_version = "jaxl-webhook"
    sys_version = ""
    app: WebhookApp

    def version_string(self) -> str:
        """The Server header: no Python version in it."""
        return self.server_version

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
        status, headers, body = _error(code, message or phrase)
        self._reply(status, headers, body)

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
    app: WebhookApp, host: str = "127.0.0.1", port: int = 9919, *, timeout: float = 30.0
) -> ThreadingHTTPServer:
    """A threading HTTP server for `app`, bound and ready for `serve_forever()`.

    Each connection has its own thread, and a connection that sends nothing for `timeout`
    seconds (idle keep-alive, or a client that never finishes its request) is closed.
    """
    handler = type("WebhookHandler", (_Handler,), {"app": app, "timeout": timeout})
    server = _Server((host, port), handler)
    server.daemon_threads = True
    return server


def serve(app: WebhookApp, host: str = "127.0.0.1", port: int = 9919, **options: Any) -> None:
    """Serve `app` over HTTP until interrupted (standard library only)."""
    server = make_server(app, host, port, **options)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


# -- WSGI and ASGI --------------------------------------------------------------------------
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
        start_response(_reason(status), list(reply_headers))  # a server may add to the list
        return [data]

    return application


# -- the Jaxl SDK ---------------------------------------------------------------------------
def jaxl_app_class(runtime: Runtime) -> type:
    """A `jaxl.api.base.BaseJaxlApp` subclass whose handlers are answered by `runtime`.

    For `jaxl apps run --app webhook:JaxlApp`; needs the SDK (`pip install 'jaxl-python[app]'`).
    """
    try:
        base = importlib.import_module("jaxl.api.base")
    except ImportError:
        raise AttributeError("JaxlApp needs the Jaxl SDK: pip install 'jaxl-python[app]'") from None

    def answer(request: Any) -> Any:
        reply = runtime.handle(request.model_dump(mode="json"))
        if "prompt" in reply:
            return base.JaxlWebhookResponse(**reply)
        return base.JaxlCtaResponse(**reply)

    async def handle(self: Any, req: Any) -> Any:
        return answer(req)

    handlers = ("handle_configure", "handle_setup", "handle_option", "handle_user_data")
    namespace: dict[str, Any] = {name: handle for name in (*handlers, "handle_teardown")}
    namespace["__doc__"] = "A Jaxl SDK app that answers every webhook event from the flow."
    return type("JaxlApp", (base.BaseJaxlApp,), namespace)


# -- command line ---------------------------------------------------------------------------
def serve_flow(
    flow_document: Mapping[str, Any],
    *,
    host: str = "127.0.0.1",
    port: int = 9919,
    redis_url: str | None = None,
    token: str | None = None,
    log: bool = True,
    max_calls: int = 100_000,
    ttl: int = 3600,
    timeout: float = 30.0,
) -> int:
    """Serve a flow over HTTP until interrupted; returns an exit status."""
    try:
        app = build_app(
            flow_document, redis_url=redis_url, token=token, log=log, max_calls=max_calls, ttl=ttl
        )
    except (RuntimeError, ValueError) as error:
        log_to_stderr(f"webhook: {error}")
        return 2
    store = app.runtime.store
    _say_if_down(store)
    try:
        server = make_server(app, host, port, timeout=timeout)
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


def add_serving_arguments(parser: argparse.ArgumentParser) -> None:
    """The serving flags, shared by `python webhook.py` and `jaxl-designer serve`."""
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=9919, help="port to listen on (9919)")
    parser.add_argument(
        "--redis-url",
        default=os.environ.get("JAXL_REDIS_URL") or None,
        help="keep call state in Redis, e.g. redis://localhost:6379/0 (env JAXL_REDIS_URL)",
    )
    parser.add_argument(
        "--token",
        default=os.environ.get("JAXL_WEBHOOK_TOKEN") or None,
        help="require this secret in X-Jaxl-Token or ?token= (env JAXL_WEBHOOK_TOKEN)",
    )
    parser.add_argument("--no-log", action="store_true", help="no JSON line per request")
    parser.add_argument(
        "--max-calls", type=int, default=100_000, help="calls kept in memory without Redis"
    )
    parser.add_argument("--ttl", type=int, default=3600, help="seconds an idle call is kept")
    parser.add_argument(
        "--timeout", type=float, default=30.0, help="seconds before an idle connection is closed"
    )


def _parser(prog: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description="Serve this Jaxl webhook over HTTP.")
    add_serving_arguments(parser)
    return parser


def main(argv: Sequence[str] | None, flow_document: Mapping[str, Any]) -> int:
    """The generated module's command line: `python webhook.py --port 9919 ...`."""
    args = _parser().parse_args(argv)
    if args.max_calls < 1 or args.ttl < 1 or args.timeout <= 0:
        log_to_stderr("webhook: --max-calls, --ttl and --timeout must be positive")
        return 2
    return serve_flow(
        flow_document,
        host=args.host,
        port=args.port,
        redis_url=args.redis_url,
        token=args.token,
        log=not args.no_log,
        max_calls=args.max_calls,
        ttl=args.ttl,
        timeout=args.timeout,
    )
