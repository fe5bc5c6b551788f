"""The webhook's HTTP logic, apart from any server: a request in, a reply out, one log line."""

from __future__ import annotations

import asyncio
import atexit
import hmac
import json
import os
import sys
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import parse_qs

from ..core.lookups import perform_lookup, perform_lookup_async
from ..core.runtime import (
    LOOP_PROMPT,
    STORE_DOWN_PROMPT,
    BadRequest,
    Lookup,
    LookupResult,
    MemoryStore,
    Runtime,
    StoreError,
    Turn,
    log_fields,
)
from .revisions import Revisions, StoreRevisions
from .settings import read_switch

__all__ = [
    "PendingReply",
    "StateNotLoaded",
    "WebhookApp",
    "body_length",
    "error_reply",
    "flush_request_log",
    "log_to_stderr",
    "lookup_raised",
    "parse_json",
    "request_log",
]

#: An HTTP answer: status, headers, body.
Reply = tuple[int, list[tuple[str, str]], bytes]
#: Where the one-line JSON request log goes; None turns it off.
LogSink = Callable[[str], None]

WEBHOOK_PATHS = frozenset({"/webhook/", "/webhook"})
HEALTH_PATHS = frozenset({"/healthz", "/healthz/"})
WEBHOOK_METHODS = ("POST", "DELETE")
HEALTH_METHODS = ("GET", "HEAD")
#: The request log's format version (docs/log-format.md).
LOG_FORMAT = 1
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


# One encoder for every answer: json.dumps with options builds a new one per call.
_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
# And one for the log: strict JSON (no NaN or Infinity), ASCII, so a lone surrogate is escaped.
_log_encode = json.JSONEncoder(separators=(",", ":"), allow_nan=False).encode


def _json(status: int, payload: Any, extra: Sequence[tuple[str, str]] = ()) -> Reply:
    body = _encode(payload).encode("utf-8")
    headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
    headers.extend(extra)
    return status, headers, body


def error_reply(status: int, message: str, extra: Sequence[tuple[str, str]] = ()) -> Reply:
    """An error answer: the status and `{"error": message}`."""
    return _json(status, {"error": message}, extra)


_QUOTED = {text: _log_encode(text) for text in (*WEBHOOK_PATHS, *WEBHOOK_METHODS)}


def _quoted(text: str) -> str:
    return _QUOTED.get(text) or _log_encode(text)


def _json_value(value: Any) -> str:
    """A request's field as strict JSON for the log line, whatever the body carried.

    A value strict JSON cannot say (NaN, Infinity, -Infinity, or a list or object holding one)
    is logged as a string of the JSON text Python writes for it: `"call_id":"NaN"`.

    Example:
        >>> _json_value(42), _json_value(float("nan")), _json_value([1, float("-inf")])
        ('42', '"NaN"', '"[1,-Infinity]"')
    """
    try:
        return str(value) if type(value) is int else _log_encode(value)
    except (TypeError, ValueError, RecursionError):  # NaN or Infinity in it; or beyond JSON
        try:
            text = _encode(value)  # Python's json writes NaN and Infinity as such
        except (TypeError, ValueError, RecursionError):
            text = f"<{type(value).__name__}>"
        return _log_encode(text)


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


_BOTH_FRAMINGS = "a request may not carry both Transfer-Encoding and Content-Length"
_CLOSE = (("Connection", "close"),)


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

    A call that reaches a lookup node waits on its backend before it is answered: `handle` and
    `answer_json` ask it from the calling thread; `begin` and `start_json` hand it out as a
    `PendingReply` for an event loop to await (`complete_async`, or its own loop and `resume`).

    Which flow answers is `revisions`' business: a new call starts on the current revision,
    and a call in progress is answered by the revision it started on (see `Revisions`).

    Args:
        runtime: The call runtime that answers webhook events (the first revision).
        token: A shared secret the request must carry, or None to accept any request.
        max_body: The largest request body accepted, in bytes.
        log: Where one JSON line per request goes; None for no request log.
        log_digits: Whether log lines show the digits callers enter, not their count; None:
            as `JAXL_LOG_DIGITS` says (off when unset).
        revisions: The flow's revisions, `runtime` being their current one; None: `runtime`'s
            flow alone, until something is published (`revisions.publish`).
        held: Whether the server says when each answer was written (`delivered`): then each
            step is held until it is (`Runtime.respond(held=True)`), and a request retried
            after a lost answer gets that answer again. Every server of the export says so.

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
        log_digits: bool | None = None,
        revisions: Revisions | StoreRevisions | None = None,
        held: bool = False,
    ) -> None:
        if revisions is None:
            revisions = Revisions(runtime.flow, runtime=runtime)
        #: The flow's revisions: the current one, and those calls in progress started on.
        self.revisions = revisions
        self.token = token.encode("utf-8") if token else None
        self.held = held
        self.max_body = max_body
        self.log = log
        #: Whether the log shows the digits callers entered, not just how many (test systems:
        #: they can be card numbers). By default, as `JAXL_LOG_DIGITS` says (off when unset).
        self.log_digits = _log_digits() if log_digits is None else log_digits
        self._heads: dict[str | None, str] = {}
        #: Whether answering can block on the network (a shared store), so async servers
        #: should answer in a worker thread rather than on their event loop. A lookup does not
        #: count: an event loop awaits it (`begin`, `start_json`, then `complete_async`).
        self.blocking = not isinstance(runtime.store, MemoryStore)
        self._replies: dict[tuple[Any, ...], Reply] = {}

    @property
    def runtime(self) -> Runtime:
        """The runtime of the current revision: what new calls start on."""
        return self.revisions.runtime

    @property
    def revision(self) -> str:
        """The current revision of the flow (`runtime.revision`): what new calls start on."""
        return self.revisions.revision

    def handle(
        self,
        method: str,
        path: str,
        query: str,
        headers: Mapping[str, str],
        body: bytes,
        fields: dict[str, Any] | None = None,
    ) -> Reply:
        """Answer one request; `headers` has lower-case names. Never raises.

        A call that reaches a lookup node waits here, in this thread, on its backend
        (`perform_lookup`): for servers with a thread per request (http.server, gunicorn's
        gthread workers), where a slow backend holds up that request alone.

        `fields`, when given, gets what the request log says of the request, and what
        `delivered` needs to hear once the answer is sent.
        """
        started = time.perf_counter()
        if fields is None:
            fields = {}
        try:  # `begin`, inlined: this is every request's path
            reply = self._route(method.upper(), path, query, headers, body, fields)
        except Exception:
            reply = self._failed()
        if isinstance(reply, PendingReply):
            reply = self.complete(reply)
        if self.log is not None:
            self.log_request(method, path, reply[0], fields, started)
        return reply

    async def handle_async(
        self,
        method: str,
        path: str,
        query: str,
        headers: Mapping[str, str],
        body: bytes,
        fields: dict[str, Any] | None = None,
    ) -> Reply:
        """`handle` on an event loop: a lookup is awaited (`perform_lookup_async`), so other
        requests are answered while a call waits on its backend. Never raises."""
        started = time.perf_counter()
        if fields is None:
            fields = {}
        reply = self.begin(method, path, query, headers, body, fields)
        if isinstance(reply, PendingReply):
            reply = await self.complete_async(reply)
        if self.log is not None:
            self.log_request(method, path, reply[0], fields, started)
        return reply

    def begin(
        self,
        method: str,
        path: str,
        query: str,
        headers: Mapping[str, str],
        body: bytes,
        fields: dict[str, Any],
    ) -> Reply | PendingReply:
        """Answer one request as far as it goes without I/O: a reply, or a `PendingReply`
        when the call waits on a lookup. `fields` gets what to log. Never raises."""
        try:
            return self._route(method.upper(), path, query, headers, body, fields)
        except Exception:
            return self._failed()

    def resume(self, pending: PendingReply, result: LookupResult) -> Reply | PendingReply:
        """Go on with an answer that waited on a lookup, with what the lookup gave.

        The answer may wait on another lookup: the same `PendingReply` comes back. Never raises.
        """
        turn = pending.turn
        pending.times[len(turn.lookups)] = time.perf_counter() - pending.since
        try:
            turn = self.runtime.resume(turn, result)
        except StoreError:  # the call's state could not be kept: what the runtime says then
            self._note_lookups(turn, pending.fields, pending.times)
            return self.store_down()
        except Exception:
            self._note_lookups(turn, pending.fields, pending.times)
            return self._failed()
        if turn.lookup is not None:
            pending.since = time.perf_counter()
            return pending
        return self._reply(turn, pending.fields, pending.times)

    def complete(self, pending: PendingReply) -> Reply:
        """Finish an answer that waits on lookups, asking each from this thread (blocking)."""
        reply: Reply | PendingReply = pending
        while isinstance(reply, PendingReply):
            try:
                result = perform_lookup(reply.lookup)
            except Exception as error:  # a bug, not the backend: the lookup fails, the call goes on
                result = lookup_raised(error)
            reply = self.resume(reply, result)
        return reply

    async def complete_async(self, pending: PendingReply) -> Reply:
        """Finish an answer that waits on lookups, awaiting each on the running event loop."""
        reply: Reply | PendingReply = pending
        while isinstance(reply, PendingReply):
            try:
                result = await perform_lookup_async(reply.lookup)
            except Exception as error:
                result = lookup_raised(error)
            reply = self.resume(reply, result)
        return reply

    def delivered(self, fields: Mapping[str, Any]) -> None:
        """Say that the answer of the request `fields` belongs to was sent to the client.

        A webhook answer is held (`Runtime.respond(held=True)`) until then: the same request
        again before this is a retry after a lost answer, and is answered the same. Servers
        call this once the answer's bytes are written; never raises.
        """
        delivery = fields.get("delivery")
        if delivery is not None:
            self.runtime.delivered(delivery)

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
        flow = fields.get("flow")
        # What the call did (docs/log-format.md): nodes, edges, where it waits or how it ended.
        tail = f",{_log_encode(flow)[1:-1]}" if flow else ""
        lookups = fields.get("lookups")
        # Each lookup's node, exit, why and time; never its URL, headers (secrets) or answer.
        if lookups is not None:
            tail += f',"lookups":{_log_encode(lookups)}'
        # The revision that answered: a call's own, else the current one.
        rev = fields.get("rev") or self.revisions.revision
        head = self._heads.get(rev)
        if head is None:
            if len(self._heads) > 64:
                self._heads.clear()
            head = self._heads[rev] = f'{{"v":{LOG_FORMAT},"rev":{_log_encode(rev)},'
        # Formatted, not encoded from a dict: a third of the cost, for a line on every request.
        self.log(
            f'{head}"method":{_quoted(method)},"path":{_quoted(path)},"status":{status:d},'
            f'"event":{_json_value(event)},"call_id":{_json_value(call_id)},"ms":{ms!r}{tail}}}'
        )

    def _route(
        self,
        method: str,
        path: str,
        query: str,
        headers: Mapping[str, str],
        body: bytes,
        fields: dict[str, Any],
    ) -> Reply | PendingReply:
        if "transfer-encoding" in headers and "content-length" in headers:
            # RFC 9112 6.1: both is how a request is smuggled past a proxy, on any path; the
            # server must close the connection, so that nothing after it is read as a request.
            return error_reply(400, _BOTH_FRAMINGS, _CLOSE)
        if path in HEALTH_PATHS:
            if method not in HEALTH_METHODS:
                return error_reply(405, "use GET", [("Allow", ", ".join(HEALTH_METHODS))])
            return self._health(method)
        if path not in WEBHOOK_PATHS:
            return error_reply(404, f"no such path: {path} (the webhook is at /webhook/)")
        if method not in WEBHOOK_METHODS:
            return error_reply(405, "use POST or DELETE", [("Allow", ", ".join(WEBHOOK_METHODS))])
        if not self._authorized(query, headers):
            return error_reply(401, "missing or wrong token")
        refusal = self._refuse_body(headers, body)
        if refusal is not None:
            return refusal
        return self.start_json(body, fields)

    def answer_json(self, body: bytes, fields: dict[str, Any]) -> Reply:
        """Answer a webhook request body that passed every HTTP check; `fields` gets what to log.

        A lookup is asked from this thread, blocking it (see `start_json` for an event loop).
        """
        reply = self.start_json(body, fields)
        if isinstance(reply, PendingReply):
            reply = self.complete(reply)
        return reply

    def start_json(self, body: bytes, fields: dict[str, Any]) -> Reply | PendingReply:
        """`answer_json` without I/O: a reply, or a `PendingReply` when the call waits on a
        lookup, for the caller to ask (`perform_lookup_async`) and `resume`."""
        self.revisions.poll()  # a flow file published since: new calls start on it
        try:
            request = parse_json(body)
        except (ValueError, RecursionError):
            return error_reply(400, "the body is not JSON")
        try:
            return self._answer(request, fields)
        except StateNotLoaded:
            raise  # the server reads the call's state and asks again
        except Exception:
            return self._failed()

    def _refuse_body(self, headers: Mapping[str, str], body: bytes) -> Reply | None:
        # A body refused unread leaves the connection where nothing can be read as a request:
        # the answer closes it (else a server reads the body's bytes as the next request).
        if "transfer-encoding" in headers:
            return error_reply(411, "send the body with a Content-Length, not chunked", _CLOSE)
        length = _parse_length(headers.get("content-length"))
        if length is None:
            return error_reply(400, "Content-Length is not a number", _CLOSE)
        if length > self.max_body or len(body) > self.max_body:
            return error_reply(413, f"the body is over {self.max_body} bytes", _CLOSE)
        media = headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if media not in ("", "application/json"):
            return error_reply(415, f"the body must be application/json, not {media}")
        return None

    def _answer(self, request: Any, fields: dict[str, Any]) -> Reply | PendingReply:
        if isinstance(request, dict):
            fields["event"] = request.get("event")
            fields["data"] = request.get("data")
            state = request.get("state")
            if isinstance(state, dict):
                fields["call_id"] = state.get("call_id")
        try:
            turn = self.revisions.runtime.respond(request, held=self.held)
        except BadRequest as error:
            return error_reply(error.status, str(error))
        fields["rev"] = turn.rev
        if turn.lookup is not None:  # the call waits on a backend: whoever serves asks it
            return PendingReply(turn, fields)
        return self._reply(turn, fields)

    def _reply(
        self, turn: Turn, fields: dict[str, Any], times: Mapping[int, float] | None = None
    ) -> Reply:
        """The HTTP answer for a turn that is answered (waits on no lookup)."""
        if turn.delivery is not None:
            fields["delivery"] = turn.delivery
        if turn.lookups:
            self._note_lookups(turn, fields, times)
        if self.log is not None:
            data = fields.get("data")
            digits = data if isinstance(data, str) else (str(data) if type(data) is int else None)
            fields["flow"] = log_fields(turn, digits, self.log_digits)
        if turn.silent:  # a mark: answered null, as the SDK answers it
            return _json(200, None)
        response = turn.response
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
    def _note_lookups(
        turn: Turn, fields: dict[str, Any], times: Mapping[int, float] | None
    ) -> None:
        """What the log says of a turn's lookups: node, exit, why and milliseconds each."""
        times = times or {}
        fields["lookups"] = [
            {"node": node, "exit": key, "why": why, "ms": round(times.get(at, 0.0) * 1000, 3)}
            for at, (node, key, why) in enumerate(turn.lookups)
        ]

    @staticmethod
    def _apology() -> Reply:
        return _json(200, {"prompt": list(LOOP_PROMPT), "num_characters": 0})

    @staticmethod
    def store_down() -> Reply:
        """The answer when the call store fails: what the runtime says then, an apology."""
        return _json(200, {"prompt": list(STORE_DOWN_PROMPT), "num_characters": 0})

    def token_matches(self, given: bytes | None) -> bool:
        """Whether a request carrying token `given` (None: none) passes; any does if none is set."""
        if self.token is None:
            return True
        return given is not None and hmac.compare_digest(given, self.token)

    def _authorized(self, query: str, headers: Mapping[str, str]) -> bool:
        if self.token is None:
            return True
        given = headers.get("x-jaxl-token")
        if given is None and "token=" in query:
            given = (parse_qs(query).get("token") or [""])[0]
        return self.token_matches((given or "").encode("utf-8"))

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


#: The variable that makes the request log show the digits callers enter.
LOG_DIGITS = "JAXL_LOG_DIGITS"


def _log_digits() -> bool:
    shown = os.environ.get(LOG_DIGITS) or "0"
    try:
        return read_switch(shown)
    except ValueError as error:
        raise ValueError(f"{LOG_DIGITS}={shown!r}: {error}") from None


class PendingReply:
    """An answer that waits on a lookup: ask `lookup`, then `WebhookApp.resume` with the result.

    `WebhookApp.handle` and `answer_json` ask it from their own thread; an event loop gets one
    from `begin` or `start_json`, awaits the lookup itself (`perform_lookup_async`, as
    `complete_async` does) and resumes, serving other requests meanwhile. Nothing of the call
    is stored until it is answered, so it costs nothing to drop.
    """

    __slots__ = ("fields", "since", "times", "turn")

    def __init__(self, turn: Turn, fields: dict[str, Any]) -> None:
        self.turn = turn
        #: What the request's log line says; the lookups are added once answered.
        self.fields = fields
        #: When the current lookup was handed out, and how long each took (by its place).
        self.since = time.perf_counter()
        self.times: dict[int, float] = {}

    @property
    def lookup(self) -> Lookup:
        """The request the call waits on."""
        lookup = self.turn.lookup
        if lookup is None:
            raise ValueError("this answer waits on no lookup")
        return lookup


def lookup_raised(error: Exception) -> LookupResult:
    """A lookup that raised instead of failing (a bug): said on stderr by its type alone (its
    message might hold a header's secret), and the call takes the lookup's failed way."""
    log_to_stderr(f"webhook: a lookup raised {type(error).__name__}; it takes its failed way")
    return LookupResult(error="the lookup could not be made")


class StateNotLoaded(Exception):
    """Raised by a store that reads ahead when a request needs a call's state it has not read.

    The ASGI adapter reads the state from Redis without blocking, then answers again.
    """

    def __init__(self, call_id: int) -> None:
        super().__init__(call_id)
        self.call_id = call_id
