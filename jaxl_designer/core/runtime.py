"""The call runtime: answers Jaxl webhook requests by walking a flow, one call at a time.

This module is the single source of truth for what a call does. It imports the standard library
only, because the exported webhook module carries its code verbatim; the simulator drives it in
process and the generated handler drives it over HTTP.

Example:
    >>> flow = {"entry": "bye", "nodes": {"bye": {"kind": "hangup", "prompt": ["Goodbye."]}}}
    >>> runtime = Runtime(flow)
    >>> runtime.handle({"pk": 1, "event": 1, "state": {"call_id": 7}, "option": None, "data": None})
    {'prompt': ['Goodbye.'], 'num_characters': 0}
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import re
import time
import zoneinfo
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote, urlsplit

from .store import CALL_TTL, MAX_CALLS, CallStore, MemoryStore, StoreError

__all__ = [
    "CALLER_FIELDS",
    "CALL_TTL",
    "CONTEXT_FIELDS",
    "DEFAULT_FROM_NUMBER",
    "DEFAULT_TO_NUMBER",
    "ENDINGS",
    "KEYS",
    "LOOKUP_EXITS",
    "LOOKUP_METHODS",
    "MARK",
    "MAX_CALLS",
    "MAX_LOOKUP_TIMEOUT",
    "MAX_REPLY_BYTES",
    "NEUTRAL",
    "OPTION",
    "RULE_TESTS",
    "SETUP",
    "TEARDOWN",
    "WAITING",
    "WEEKDAYS",
    "BadRequest",
    "CallStore",
    "Lookup",
    "LookupResult",
    "MemoryStore",
    "Runtime",
    "StoreError",
    "Turn",
    "call_context",
    "ends_call",
    "event_for",
    "expects",
    "fill",
    "host_allowed",
    "is_context_field",
    "is_phone_number",
    "log_fields",
    "pick",
    "request",
    "revision",
    "rule_holds",
    "secret_names",
    "template_fields",
]

# -- call facts: the protocol and the flow, as every other module reads them -------------------
#: The events Jaxl sends: a call is set up (and digits entered before any key), a key or
#: digits arrive, the call is torn down.
SETUP, OPTION, TEARDOWN = 1, 2, 3
#: The event Jaxl sends when it has spoken a prompt that carried a `mark`. A flow sets no marks,
#: so a mark is ignored and answered `null`, as the official SDK answers it: an answer with a
#: prompt would be spoken, then hang up, in the middle of a call.
MARK = 5
#: What a prompt or a branch rule may read of the call itself, besides collected variables.
CALLER_FIELDS = ("from_number", "to_number")
#: What they may read of the call's context (the request's `state`): these, and
#: `metadata.<key>` for each key of the call's metadata (an outbound campaign's order id, say).
CONTEXT_FIELDS = ("direction", "org.name", "org.id", "campaign_id", "campaign_type", "voice.lang")
METADATA_PREFIX = "metadata."
#: `direction` as the request gives it, and as a flow reads it.
DIRECTIONS = {1: "inbound", 2: "outbound"}
#: A call keeps at most this many metadata keys, and this many characters of a context value:
#: a call's state stays small whatever a request carries.
MAX_METADATA_KEYS = 32
MAX_CONTEXT_CHARS = 200
#: The longest metadata key a call keeps: a `{metadata.<key>}` field names it, and a key is no
#: essay (without a cap, 32 keys of a 64 KiB body made one call's state 160 KB).
MAX_METADATA_KEY_CHARS = 64
#: A caller field (`from_number`, `to_number`) keeps at most this many characters: a number is
#: at most 16, and a call's state must not grow with what a request sends.
MAX_CALLER_CHARS = 32
#: The tests a branch rule can make.
RULE_TESTS = ("equals", "one_of", "prefix", "matches", "is_set", "hours")
#: The days a business-hours rule names, Monday first.
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
#: The numbers a simulated call is from and to unless told otherwise.
DEFAULT_FROM_NUMBER = "+919999900000"
DEFAULT_TO_NUMBER = "+918000000000"

#: The keys of a phone keypad, in the order people read them.
KEYS = ("1", "2", "3", "4", "5", "6", "7", "8", "9", "0", "*", "#")
#: What the official SDK answers to pings, teardowns and events it does not handle.
NEUTRAL: dict[str, Any] = {"prompt": [" . "], "num_characters": 0}
#: No collected input is kept, or read back, beyond this many characters, whatever a node allows.
MAX_DIGITS = 64
#: Default recovery for a call the store does not know, or input that does not fit.
DEFAULT_RECOVERY: dict[str, Any] = {
    "action": "restart",
    "prompt": ["Sorry, we lost track of your call. Let us start again."],
}
STORE_DOWN_PROMPT = ["Sorry, we cannot take your call right now. Please call again later."]
#: What a caller hears when a transfer's number, filled from the call's variables, is no phone
#: number and the transfer has no `invalid` exit to take instead.
NO_TARGET_PROMPT = ["Sorry, we cannot connect your call right now. Please call again later."]
LOOP_PROMPT = ["Sorry, this line is not working right now. Please call again later."]
#: The node kinds at which a call waits for the caller.
WAITING = frozenset({"menu", "collect"})
#: What a lookup may ask of a backend, and the ways out of a lookup node.
LOOKUP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
LOOKUP_EXITS = ("ok", "failed", "timeout")
#: A lookup waits 2 s for its backend unless its node says otherwise, and never over 10 s:
#: Jaxl is waiting for the answer, and so is the caller, in silence.
LOOKUP_TIMEOUT = 2.0
MAX_LOOKUP_TIMEOUT = 10.0
#: The most of a backend's answer that is read: a larger body makes the lookup fail.
MAX_REPLY_BYTES = 64 * 1024
#: How a turn can end a call, as the request log says it (see `log_fields`): the flow hung up,
#: transferred it, or apologised (an edge to nowhere, a loop, a lookup or transfer with no way
#: out); the call was one the store did not know and the recovery hangs up; or the caller hung
#: up while the call waited for them (a teardown).
ENDINGS = ("hangup", "transfer", "apology", "lost", "caller_hangup")
#: What a caller hears when a lookup's way out leads nowhere (a flow that failed validation).
LOOKUP_FAILED_PROMPT = ["Sorry, we cannot look that up right now. Please call again later."]
_E164 = re.compile(r"\+[1-9][0-9]{6,14}")
_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
# A field names a variable, or a context field: `metadata.<key>`, `org.name`, `voice.lang`.
_FIELD = re.compile(rf"\{{\{{|\}}\}}|\{{((?:metadata\.|org\.|voice\.)?{_NAME})(?::([a-z]+))?\}}")
_KEY = re.compile(_NAME)
_INT = re.compile(r"[+-]?[0-9]{1,19}")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
#: A secret a lookup's header reads from the serving process's environment: `${ORDERS_TOKEN}`.
_SECRET = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_PATH_STEP = re.compile(r"[^.\[\]]+")


class BadRequest(ValueError):
    """A request that is not a Jaxl webhook request; `status` is the HTTP status to answer."""

    def __init__(self, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.status = status


class Lookup:
    """A request a call waits on: what to ask which backend, made from a lookup node and a call.

    The runtime does no I/O: a turn that reaches a lookup carries one of these, the server (or
    the simulator) performs it its own way, and `Runtime.resume` takes what came back.
    `headers` hold secrets read from the environment: they are never shown by `repr`.
    """

    __slots__ = (
        "body",
        "headers",
        "host",
        "method",
        "node",
        "port",
        "scheme",
        "target",
        "timeout",
        "url",
    )

    def __init__(
        self,
        node: str,
        method: str,
        url: str,
        headers: list[tuple[str, str]],
        body: bytes | None,
        timeout: float,
    ) -> None:
        self.node = node
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.timeout = timeout
        parts = urlsplit(url)
        self.scheme = parts.scheme.lower()
        self.host = (parts.hostname or "").lower()
        self.port = parts.port or (443 if self.scheme == "https" else 80)
        #: The request target: the path and query, as the request line names them.
        self.target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")

    def __repr__(self) -> str:
        names = [name for name, _ in self.headers]
        return f"Lookup({self.method} {self.url}, headers={names!r}, timeout={self.timeout})"


class LookupResult:
    """What came of a lookup: the backend's status and body, or why there is none.

    `status` is 0 when no answer came: `timed_out`, or `error` says why (no connection, an
    answer over `MAX_REPLY_BYTES`, an answer that is not HTTP).
    """

    __slots__ = ("body", "error", "status", "timed_out")

    def __init__(
        self, status: int = 0, body: bytes = b"", *, timed_out: bool = False, error: str = ""
    ) -> None:
        self.status = status
        self.body = body
        self.timed_out = timed_out
        self.error = error

    def __repr__(self) -> str:
        if self.timed_out:
            return "LookupResult(timed_out=True)"
        if self.error:
            return f"LookupResult(error={self.error!r})"
        return f"LookupResult({self.status}, {len(self.body)} bytes)"


class Turn:
    """One answered request: the response and the nodes and edges the call went through.

    A turn whose `lookup` is set is not answered yet: the call waits on that request, and
    `Runtime.resume` goes on with what it gave.
    """

    __slots__ = (
        "_pending",
        "call_id",
        "delivery",
        "edges",
        "ending",
        "left_at",
        "lookup",
        "lookups",
        "nodes",
        "replayed",
        "response",
        "restarted",
        "rev",
        "silent",
        "waiting_on",
    )

    def __init__(self, response: dict[str, Any], call_id: int | None = None) -> None:
        self.response = response
        self.call_id = call_id
        self.nodes: list[str] = []
        self.edges: list[tuple[str, str, str]] = []
        self.waiting_on: str | None = None
        #: True when the event is answered with JSON `null` (a `MARK`): `response` is then empty.
        self.silent = False
        #: The request the call waits on before it can be answered, if any.
        self.lookup: Lookup | None = None
        #: Each lookup this turn made: (node, the exit it took, why, in a few words).
        self.lookups: list[tuple[str, str, str]] = []
        self._pending: tuple[dict[str, Any], list[str], CallStore, int, Runtime] | None = None
        #: How the call ended in this turn, if it did (one of `ENDINGS`).
        self.ending: str | None = None
        #: For a teardown: the node the call was waiting at when the caller hung up.
        self.left_at: str | None = None
        #: True when the call was one the store did not know, and it started again.
        self.restarted = False
        #: The revision of the flow that answered (`Runtime.rev`), when the runtime has one.
        self.rev: str | None = None
        #: A held answer (`Runtime.respond(held=True)`): what `Runtime.delivered` is told once
        #: the answer reached the caller, (call id, the call's step, whether the call ended).
        self.delivery: tuple[int, int, bool] | None = None
        #: True when the turn is a retried request answered again as before (`held` answers).
        self.replayed = False

    def __repr__(self) -> str:
        return f"Turn({self.response!r}, nodes={self.nodes!r})"


def fill(text: str, values: Mapping[str, Any], escape: Callable[[str], str] | None = None) -> str:
    """Fill `{name}` fields of a prompt from `values`, looking names up and nothing else.

    `{name:digits}` reads a value back one character at a time. `{{` and `}}` are literal braces.
    An unknown name becomes an empty string: a template never reaches attributes or indexes.
    `escape`, when given, is applied to each value filled in (a URL's quoting, say).

    Example:
        >>> fill("You entered {order:digits}.", {"order": "123"})
        'You entered 1 2 3.'
    """

    def one(match: re.Match[str]) -> str:
        whole, name, style = match.group(0), match.group(1), match.group(2)
        if name is None:
            return whole[0]
        value = values.get(name)
        text = "" if value is None else str(value)
        if style == "digits":
            text = " ".join(text)
        return text if escape is None else escape(text)

    return _FIELD.sub(one, text)


def template_fields(text: str) -> list[tuple[str, str]]:
    """The `{name}` fields of a prompt line, each as (its text, the name it reads).

    Example:
        >>> template_fields("Order {order:digits} for {from_number}, {{not a field}}")
        [('{order:digits}', 'order'), ('{from_number}', 'from_number')]
    """
    return [(m.group(0), m.group(1)) for m in _FIELD.finditer(text) if m.group(1)]


def is_phone_number(text: str) -> bool:
    """Whether `text` is a phone number in E.164 form, as a transfer needs it (`+918000000001`)."""
    return _E164.fullmatch(text) is not None


def host_allowed(url: str, allowed: Any) -> bool:
    """Whether a lookup may ask `url`: http or https, at a host on the `allowed` list.

    An entry names a host (any port) or `host:port` (that port only).

    Example:
        >>> allowed = ["orders.example.com", "127.0.0.1:8765"]
        >>> host_allowed("https://orders.example.com/o/17", allowed)
        True
        >>> host_allowed("http://127.0.0.1:9999/", allowed)
        False
    """
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return False
    host = (parts.hostname or "").lower()
    if parts.scheme.lower() not in ("http", "https") or not host or parts.username is not None:
        return False
    port = port or (443 if parts.scheme.lower() == "https" else 80)
    entries = {str(entry).strip().lower() for entry in allowed or ()}
    return host in entries or f"{host}:{port}" in entries


def secret_names(text: str) -> list[str]:
    """The environment variables a lookup's header value reads: `Bearer ${TOKEN}` reads TOKEN.

    Example:
        >>> secret_names("Bearer ${ORDERS_TOKEN}")
        ['ORDERS_TOKEN']
    """
    return _SECRET.findall(text)


def pick(data: Any, path: str) -> Any:
    """The value at a simple path in parsed JSON: `order.status`, `items.0.name`, `items[0]`.

    None when the path leads nowhere.

    Example:
        >>> pick({"order": {"items": [{"name": "tea"}]}}, "order.items.0.name")
        'tea'
        >>> pick({"order": {}}, "order.status") is None
        True
    """
    for step in _PATH_STEP.findall(path):
        if isinstance(data, dict):
            data = data.get(step)
        elif isinstance(data, list) and step.isdigit() and step.isascii():
            index = int(step)
            data = data[index] if index < len(data) else None
        else:
            return None
    return data


def is_context_field(name: str) -> bool:
    """Whether `name` reads the call's context: one of `CONTEXT_FIELDS`, or `metadata.<key>`.

    Example:
        >>> is_context_field("metadata.order_id"), is_context_field("org.name")
        (True, True)
        >>> is_context_field("order"), is_context_field("metadata.")
        (False, False)
    """
    if name.startswith(METADATA_PREFIX):
        return _KEY.fullmatch(name[len(METADATA_PREFIX) :]) is not None
    return name in CONTEXT_FIELDS


def _context_text(value: Any) -> str | None:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)) and value == value and value not in (1e999, -1e999):
        return str(value)
    if isinstance(value, str) and not _SURROGATE.search(value):
        return value[:MAX_CONTEXT_CHARS]
    return None  # null, a list, an object, NaN: nothing a prompt could say


def call_context(state: Mapping[str, Any]) -> dict[str, str]:
    """The call's context as a flow reads it, from a request's `state`: flat names to text.

    Only plain values are kept (text, numbers, true/false), each cut to `MAX_CONTEXT_CHARS`, and
    at most `MAX_METADATA_KEYS` metadata keys, those a `{metadata.<key>}` field can name (of at
    most `MAX_METADATA_KEY_CHARS` characters).

    Example:
        >>> state = {"direction": 2, "org": {"name": "Acme", "id": 7},
        ...          "metadata": {"order_id": "A-17", "items": [1, 2]}, "campaign_id": 42}
        >>> context = call_context(state)
        >>> context["direction"], context["org.id"], context["metadata.order_id"]
        ('outbound', '7', 'A-17')
        >>> "metadata.items" in context  # a list is nothing a prompt could say
        False
    """
    found: dict[str, Any] = {}
    direction = state.get("direction")
    if isinstance(direction, int) and not isinstance(direction, bool):
        found["direction"] = DIRECTIONS.get(direction, str(direction))
    org, voice = state.get("org"), state.get("voice")
    if isinstance(org, Mapping):
        found["org.name"], found["org.id"] = org.get("name"), org.get("id")
    found["campaign_id"] = state.get("campaign_id")
    found["campaign_type"] = state.get("campaign_type")
    if isinstance(voice, Mapping):
        found["voice.lang"] = voice.get("lang")
    metadata = state.get("metadata")
    if isinstance(metadata, Mapping):
        keys = [
            k
            for k in metadata
            if isinstance(k, str) and len(k) <= MAX_METADATA_KEY_CHARS and _KEY.fullmatch(k)
        ]
        for key in keys[:MAX_METADATA_KEYS]:
            found[METADATA_PREFIX + key] = metadata[key]
    context = {}
    for name, value in found.items():
        text = _context_text(value)
        if text is not None:
            context[name] = text
    return context


#: What a flow's JSON holds wherever it may read a call's context: each of `CONTEXT_FIELDS` and
#: `metadata.<key>` starts with one of these, and so does a branch rule testing `ctx` itself. A
#: field follows its `{`, a rule's subject its opening quote: never a letter, digit or `_`
#: ("Press 1 for an invoice." reads nothing).
_READS_CONTEXT = re.compile(
    r"(?<![A-Za-z0-9_])(?:direction|org\.|campaign_|voice\.|metadata\.|ctx)"
)


def _reads_context(nodes: Any, recovery: Any) -> bool:
    """Whether a flow may read a call's context anywhere: in a prompt, a set node's value, a
    transfer's number, a lookup's URL or body, or a branch rule's subject.

    Conservative: a context field's name appearing anywhere in the flow's nodes (a node id, a
    sentence that says "direction") counts, and so does a flow that is not plain JSON. A flow
    that cannot read its context is told nothing by it, so its calls need not work it out.
    """
    try:
        text = json.dumps([nodes, recovery])
    except Exception:  # whatever it holds, assume the worst
        return True
    return _READS_CONTEXT.search(text) is not None


def expects(spec: Mapping[str, Any]) -> int | str:
    """What a waiting node asks Jaxl to collect (`num_characters`): a count, or the end key.

    A menu takes one key; a collect a fixed number of digits, or digits up to its terminator
    (`#` when it names none).
    """
    if spec.get("kind") == "menu":
        return 1
    length = spec.get("length")
    return int(length) if length else str(spec.get("terminator") or "#")


def ends_call(response: Mapping[str, Any]) -> bool:
    """Whether an answer ends the call: a transfer (no prompt) or nothing more to collect."""
    return "prompt" not in response or response.get("num_characters") == 0


def event_for(action: str, pressed: bool = False) -> int:
    """The event a caller's action arrives as: "dial", "press", "enter" or "hangup".

    Digits entered before any key was pressed on the call answer the setup prompt, so Jaxl
    sends them as event 1 (`pressed` tells whether a key was pressed earlier in the call).

    Example:
        >>> event_for("enter"), event_for("enter", pressed=True), event_for("hangup")
        (1, 2, 3)
    """
    if action == "enter":
        return OPTION if pressed else SETUP
    events = {"dial": SETUP, "press": OPTION, "hangup": TEARDOWN}
    if action not in events:
        raise ValueError(f"{action!r} is not a caller action (dial, press, enter, hangup)")
    return events[action]


def request(
    event: int,
    call_id: int,
    *,
    from_number: str = DEFAULT_FROM_NUMBER,
    to_number: str = DEFAULT_TO_NUMBER,
    option: str | None = None,
    data: str | None = None,
    pk: int = 1,
    org: str = "Acme",
    context: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """A webhook request exactly as Jaxl sends it (the specification's JSON envelope).

    `context` gives the call's context by the names a flow reads it (see `call_context`):
    `{"direction": "outbound", "metadata.order_id": "A-17"}`; it is written into `state` as
    Jaxl writes it (`direction: 2`, `metadata: {"order_id": "A-17"}`).
    """
    state: dict[str, Any] = {
        "call_id": call_id,
        "from_number": from_number,
        "to_number": to_number,
        "direction": 1,
        "org": {"name": org},
        "metadata": None,
        "greeting_message": None,
    }
    if context:
        _write_context(state, context)
    return {"pk": pk, "event": event, "state": state, "option": option, "data": data}


def _write_context(state: dict[str, Any], context: Mapping[str, str]) -> None:
    codes = {text: code for code, text in DIRECTIONS.items()}
    for name, value in context.items():
        if not is_context_field(name):
            raise ValueError(
                f"{name!r} is not a context field ({', '.join(CONTEXT_FIELDS)}, metadata.<key>)"
            )
        number = int(value) if _INT.fullmatch(str(value)) else value
        if name == "direction":
            state["direction"] = codes.get(str(value), number)
        elif name in ("org.name", "org.id"):
            state["org"] = {**state["org"], name[4:]: value if name == "org.name" else number}
        elif name == "campaign_id":
            state["campaign_id"] = number
        elif name == "campaign_type":
            state["campaign_type"] = value
        elif name == "voice.lang":
            state["voice"] = {"lang": value, "name": "default"}
        else:  # metadata.<key>
            state["metadata"] = {**(state["metadata"] or {}), name[len(METADATA_PREFIX) :]: value}


def rule_holds(
    rule: Mapping[str, Any], call: Mapping[str, Any], clock: Callable[[], float]
) -> bool:
    """Whether a branch rule holds for a call's state (`vars` and caller fields) at `clock()`.

    A subject is looked up among the collected variables first, then the call's context
    (`ctx`: `direction`, `metadata.<key>`…), then the caller fields.
    """
    test = rule.get("test")
    if test == "hours":
        return _open(rule, clock())
    subject = rule.get("subject", "")
    variables = call.get("vars") or {}
    context = call.get("ctx") or {}
    if subject in variables:
        value = variables.get(subject)
    else:
        value = context.get(subject) if subject in context else call.get(subject)
    if test == "is_set":
        return value not in (None, "")
    if value is None:
        return False
    text = str(value)
    if test == "equals":
        return text == str(rule.get("value"))
    if test == "one_of":
        return text in [str(v) for v in rule.get("values") or ()]
    if test == "prefix":
        return text.startswith(str(rule.get("value")))
    if test == "matches":
        return re.fullmatch(str(rule.get("value")), text) is not None
    return False


def _as_int(value: Any, where: str) -> int:
    if type(value) is int:  # what JSON gives, nearly always
        return value
    if isinstance(value, bool):
        raise BadRequest(f"{where} must be an integer")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and _INT.fullmatch(value.strip()):
        return int(value)
    raise BadRequest(f"{where} must be an integer")


def _as_text(value: Any, where: str) -> str | None:
    if value is None or (type(value) is str and value.isascii()):
        return value  # what JSON gives, nearly always
    if isinstance(value, str) and not value.isascii() and _SURROGATE.search(value):
        # JSON's "\ud800" escape yields text no store, log or answer can encode as UTF-8
        raise BadRequest(f"{where} must be valid Unicode text")
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise BadRequest(f"{where} must be a string or null")


class _Prompt:
    """A prompt line compiled once: constant text, or a template filled per call."""

    __slots__ = ("parts", "tail", "templated", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self.templated = "{" in text or "}" in text
        # A template read once, as `fill` reads it each time: the text before each field (a
        # `{{` or `}}` is text too), the field's name and whether it is read as digits; and the
        # text after the last field. Filling it is then a join, not a regular expression.
        self.parts: list[tuple[str, str, bool]] = []
        self.tail = text
        if self.templated:
            start, before = 0, ""
            for match in _FIELD.finditer(text):
                before += text[start : match.start()]
                start = match.end()
                if match.group(1) is None:
                    before += match.group(0)[0]
                else:
                    self.parts.append((before, match.group(1), match.group(2) == "digits"))
                    before = ""
            self.tail = before + text[start:]

    def fill(self, values: Mapping[str, Any]) -> str:
        """The line filled from `values`: what `fill(self.text, values)` gives, sooner."""
        out = []
        for before, name, digits in self.parts:
            value = values.get(name)
            text = "" if value is None else str(value)
            out.append(before)
            out.append(" ".join(text) if digits else text)
        out.append(self.tail)
        return "".join(out)


class _Request:
    """A lookup node's request, compiled once: its templates, headers, timeout and mapping."""

    __slots__ = ("body", "headers", "method", "save", "timeout", "url")

    def __init__(self, spec: Mapping[str, Any]) -> None:
        self.method = str(spec.get("method") or "GET").upper()
        self.url = _Prompt(str(spec.get("url") or ""))
        self.headers = [(str(k), str(v)) for k, v in (spec.get("headers") or {}).items()]
        self.body = spec.get("body")
        timeout = spec.get("timeout")
        if not isinstance(timeout, (int, float)) or isinstance(timeout, bool) or timeout <= 0:
            timeout = LOOKUP_TIMEOUT
        self.timeout = float(min(timeout, MAX_LOOKUP_TIMEOUT))
        self.save = [(str(name), str(path)) for name, path in (spec.get("save") or {}).items()]


def _fill_body(value: Any, values: Mapping[str, Any]) -> Any:
    """A lookup's JSON body with each string in it filled from the call."""
    if isinstance(value, str):
        return fill(value, values)
    if isinstance(value, dict):
        return {str(k): _fill_body(v, values) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill_body(item, values) for item in value]
    return value


def _quote_value(text: str) -> str:
    # A value filled into a URL is one path segment or query value, whatever it holds:
    # "/", "?", "#", "@" and ":" are escaped, so a caller's input cannot change the host or path.
    return quote(text, safe="")


class _Node:
    __slots__ = (
        "edges",
        "expects",
        "fixed",
        "id",
        "kind",
        "phone",
        "prompt",
        "request",
        "spec",
        "values",
    )

    def __init__(self, node_id: str, spec: Mapping[str, Any]) -> None:
        self.id = node_id
        self.kind: str = spec["kind"]
        self.spec = spec
        self.prompt = [_Prompt(str(line)) for line in spec.get("prompt") or ()]
        #: The prompt's text when no line of it is a template: what every call hears.
        self.fixed = (
            None if any(p.templated for p in self.prompt) else [p.text for p in self.prompt]
        )
        self.edges: dict[str, str] = dict(spec.get("edges") or {})
        #: A transfer's number when it is a template (`{agent_phone}`), filled per call.
        phone = (
            _Prompt(str(spec["phone"])) if self.kind == "transfer" and spec.get("phone") else None
        )
        self.phone = phone if phone is not None and phone.templated else None
        #: What a set node assigns: each variable's template, in order.
        self.values = [
            (str(name), _Prompt(str(template)))
            for name, template in (spec.get("values") or {}).items()
        ]
        #: A lookup's request.
        self.request = _Request(spec) if self.kind == "lookup" else None
        #: What a waiting node asks Jaxl to collect (`expects`), worked out once; None when
        #: it is worked out at each answer instead (a length that is no number fails there).
        self.expects = _expects_once(spec) if self.kind in WAITING else None


def _expects_once(spec: Mapping[str, Any]) -> int | str | None:
    try:
        return expects(spec)
    except (TypeError, ValueError, OverflowError):
        return None


class Runtime:
    """Answers Jaxl webhook requests for one flow, keeping each call's place in a store.

    `flow` is the flow document as saved to JSON (`entry`, `nodes`, optional `recovery` and
    `allowed_hosts`). `clock` gives the wall-clock time for business-hours branches; `secrets`
    the values of `${NAME}` in lookup headers (the environment by default).

    `rev` is the flow's revision (`revision`): set, each call's state records the revision it
    started on (`"rev"`), and `others` (a revision's id to the runtime of that revision, on the
    same store, or None) answers a call that started on another revision with that revision's
    runtime: a call finishes on the flow it started on. A call whose revision `others` does
    not know is recovered as a call the store does not know is.
    """

    def __init__(
        self,
        flow: Mapping[str, Any],
        store: CallStore | None = None,
        clock: Callable[[], float] = time.time,
        secrets: Mapping[str, str] | None = None,
        *,
        rev: str | None = None,
        others: Callable[[str], Runtime | None] | None = None,
    ) -> None:
        self.flow = flow
        self.rev = rev
        self.others = others
        self.store: CallStore = store if store is not None else MemoryStore()
        self.clock = clock
        #: Where a lookup's `${NAME}` header values are read from: the process's environment
        #: unless told otherwise. Never the flow file: it is shared, drawn and logged.
        self.secrets: Mapping[str, str] = os.environ if secrets is None else secrets
        #: The hosts lookups may ask (see `host_allowed`): the flow's, put in from its environment.
        self.allowed_hosts = list(flow.get("allowed_hosts") or ())
        self.entry: str = flow["entry"]
        self.nodes = {node_id: _Node(node_id, spec) for node_id, spec in flow["nodes"].items()}
        if self.entry not in self.nodes:
            raise ValueError(f"entry node {self.entry!r} is not in the flow")
        recovery = dict(DEFAULT_RECOVERY)
        recovery.update(flow.get("recovery") or {})
        self.recovery_action: str = recovery["action"]
        self.recovery_prompt = [_Prompt(str(line)) for line in recovery["prompt"]]
        #: Whether a call may ever read its context: when not, a call keeps none (see `_start`).
        self._keeps_context = _reads_context(flow["nodes"], recovery["prompt"])
        self._patterns = {
            node.id: re.compile(node.spec["pattern"])
            for node in self.nodes.values()
            if node.kind == "collect" and node.spec.get("pattern")
        }

    # -- requests ---------------------------------------------------------------------------
    def handle(
        self, request: Any, fetch: Callable[[Lookup], LookupResult] | None = None
    ) -> dict[str, Any] | None:
        """Answer one webhook request (a dict parsed from the request's JSON body).

        None is the answer to a `MARK`: JSON `null`. `fetch` performs the lookups the call
        makes on the way; without it every lookup fails.
        """
        turn = self.respond(request)
        while turn.lookup is not None:
            result = fetch(turn.lookup) if fetch is not None else _NOT_FETCHED
            turn = self.resume(turn, result)
        return None if turn.silent else turn.response

    def resume(self, turn: Turn, result: LookupResult) -> Turn:
        """Go on with a turn that waits on a lookup, with what the lookup gave.

        The lookup's exit is `ok` (its values saved into the call's variables), `failed` or
        `timeout`; the turn that comes back may wait on another lookup.
        """
        lookup, pending = turn.lookup, turn._pending
        if lookup is None or pending is None:
            raise ValueError("this turn is not waiting on a lookup")
        call, spoken, store, steps, runtime = pending
        if runtime is not self:  # the call's own revision goes on with it
            return runtime.resume(turn, result)
        call_id = turn.call_id if turn.call_id is not None else 0
        turn.lookup = turn._pending = None
        node = self.nodes[lookup.node]
        key, why = self._outcome(node, call, result)
        if key == "timeout" and key not in node.edges:
            key = "failed"  # a lookup with no way out for a timeout takes its failed way
        turn.lookups.append((node.id, key, why))
        target = node.edges.get(key)
        try:
            if target is None:
                store.drop(call_id)
                turn.response = {"prompt": [*spoken, *LOOKUP_FAILED_PROMPT], "num_characters": 0}
                turn.ending = "apology"
                if isinstance(store, _Held):
                    self._keep(turn, store)
                return turn
            turn.edges.append((node.id, key, target))
            turn = self._walk(call_id, call, target, turn, spoken, store, steps)
            if isinstance(store, _Held) and turn.lookup is None:
                self._keep(turn, store)
            return turn
        except StoreError:  # as `respond` answers it: the caller hears the store is down
            turn.lookup = turn._pending = None
            turn.response = {"prompt": list(STORE_DOWN_PROMPT), "num_characters": 0}
            return turn

    def respond(self, request: Any, *, held: bool = False) -> Turn:
        """Answer one request and tell which nodes and edges the call went through.

        `held`: the answer may be lost on its way (a server answers it), so a step is made
        idempotent. The call's new state is kept with the request and its answer, and counts
        as delivered only once the server says so (`delivered`, with `turn.delivery`). The same
        request again (same call, event, key and digits) before that is a retry, and gets
        the same answer (`turn.replayed`), not the next step: the call does not move on twice,
        and a lookup is not asked again. A call that ended in a held turn is kept until its
        answer is delivered, so a retried transfer transfers again, not restarts. Once
        delivered, the same request is the caller's again (pressing 1 at a menu, then 1 at the
        menu it leads to).
        """
        if not isinstance(request, dict):
            raise BadRequest("the request body must be a JSON object")
        # Each field is checked only when it is not what JSON nearly always gives: the checks
        # are the same, and their order (so a request that is wrong twice is told the same).
        event = request.get("event")
        if type(event) is not int:
            event = _as_int(event, "event")
        state = request.get("state")
        if state is not None and not isinstance(state, dict):
            raise BadRequest("state must be an object or null")
        option = request.get("option")
        if option is not None:
            option = _as_text(option, "option")
        data = request.get("data")
        if data is not None:
            data = _as_text(data, "data")
        if state is None:
            if event == OPTION:
                raise BadRequest("state is required for event 2")
            if event == MARK:
                return _silent(None)
            return Turn(dict(NEUTRAL))  # event 1 without state: the configure ping
        if "call_id" not in state:
            raise BadRequest("state.call_id is required")
        call_id = state["call_id"]
        if type(call_id) is not int:
            call_id = _as_int(call_id, "state.call_id")
        if event == MARK:
            return _silent(call_id)
        caller = _caller(state)
        store: CallStore = self.store
        if held:
            fingerprint = None
            if data is None and type(event) is int and (option is None or type(option) is str):
                fingerprint = _FINGERPRINTS.get((event, option))
            if fingerprint is None:
                fingerprint = _fingerprint(event, option, data)
            store = _Held(store, fingerprint, caller)
        try:
            turn = self._respond(event, call_id, caller, state, option, data, store)
            if held and turn.lookup is None:
                self._keep(turn, store)  # type: ignore[arg-type]
            return turn
        except StoreError:
            return Turn({"prompt": list(STORE_DOWN_PROMPT), "num_characters": 0}, call_id)

    def _respond(
        self,
        event: int,
        call_id: int,
        caller: dict[str, Any],
        state: Mapping[str, Any],
        option: str | None,
        data: str | None,
        store: CallStore,
    ) -> Turn:
        if event == TEARDOWN:
            call = self.store.load(call_id)
            turn = Turn(dict(NEUTRAL), call_id)
            if call is None or _same_caller(call, caller):
                self.store.drop(call_id)
                if call is not None and "end" not in call:  # not one kept after it ended
                    turn.rev = call.get("rev")
                    turn.left_at = call.get("node")
                    turn.ending = "caller_hangup"
            # else another caller's call id: that call goes on
            return turn
        if event == SETUP and not data:
            # A setup starts the call, retried or not: it is answered as the first one was.
            return self._start(call_id, caller, state, Turn({}, call_id), [], store)
        if event != SETUP and event != OPTION:
            return Turn(dict(NEUTRAL), call_id)
        call = store.load(call_id)
        if call is None:
            return self._recover(call_id, caller, state, store)
        if not _same_caller(call, caller):
            # A call id sent with other numbers than its call started with is a new call,
            # never that one: it hears the start, and the call it named is left as it was.
            return self._recover(call_id, caller, state, _DETACHED)
        acked = call.pop("ack", None)
        if isinstance(store, _Held) and store.retried(call, acked):
            return _replayed(call_id, call)
        if "end" in call:  # ended, its answer delivered: a call the webhook does not know
            return self._recover(call_id, caller, state, store)
        runtime = self
        rev = call.get("rev")
        if rev != self.rev and self.others is not None and isinstance(rev, str):
            found = self.others(rev)  # the revision the call started on answers it
            if found is None:  # kept nowhere: a call the webhook does not know
                return self._recover(call_id, caller, state, store)
            runtime = found
        if data:
            return runtime._digits(call_id, call, state, data, store)
        return runtime._key(call_id, call, caller, state, option, store)

    def _keep(self, turn: Turn, held: _Held) -> None:
        """Keep what a held turn wrote, with its request and answer, as not yet delivered."""
        if held.write is None:  # nothing to keep: a neutral answer, another caller's call id
            return
        call_id, state = held.write
        step = int((held.loaded or {}).get("n", 0)) + 1
        if state is None:  # the call ended: kept until its answer is delivered
            state = {"end": turn.ending or "ended", **held.caller}
        state["n"] = step
        state["sent"] = [held.request, turn.response]
        held.store.save(call_id, state)
        turn.delivery = (call_id, step, "end" in state)

    def delivered(self, delivery: tuple[int, int, bool] | None) -> None:
        """Say that a held answer (`respond(held=True)`) reached the caller: `turn.delivery`.

        The same request again is then the caller's, not a retry; a call that ended is
        forgotten. A store that cannot be told leaves the step as it was: the same key pressed
        again at once would then be answered as a retry. Never raises `StoreError`.
        """
        if delivery is None:
            return
        call_id, step, ended = delivery
        try:
            if ended:
                self.store.drop(call_id)
            else:
                confirm = getattr(self.store, "confirm", None)
                if confirm is not None:
                    confirm(call_id, step)
        except StoreError:
            pass

    # -- inputs -----------------------------------------------------------------------------
    def _key(
        self,
        call_id: int,
        call: dict[str, Any],
        caller: dict[str, Any],
        state: Mapping[str, Any],
        option: str | None,
        store: CallStore,
    ) -> Turn:
        node = self.nodes.get(call.get("node", ""))
        if node is None or node.kind not in WAITING:
            return self._recover(call_id, caller, state, store)
        turn = Turn({}, call_id)
        if node.kind != "menu" or option is None or option not in KEYS:
            # Not a key of the menu the call waits at ("12", "١", "", a key at a collect): asked
            # again there as any wrong key is, and what the caller entered so far is kept.
            return self._invalid(call_id, call, node, turn, store)
        call["option"] = option
        target = node.edges.get(option)
        if target is None:
            return self._invalid(call_id, call, node, turn, store)
        call["misses"] = 0
        turn.edges.append((node.id, option, target))
        return self._walk(call_id, call, target, turn, [], store)

    def _digits(
        self,
        call_id: int,
        call: dict[str, Any],
        state: Mapping[str, Any],
        data: str,
        store: CallStore,
    ) -> Turn:
        node = self.nodes.get(call.get("node", ""))
        if node is None or node.kind not in WAITING:
            caller = {name: call.get(name) for name in CALLER_FIELDS}
            return self._recover(call_id, caller, state, store)
        turn = Turn({}, call_id)
        digits = self._accept(node, data) if node.kind == "collect" else None
        if digits is None:
            return self._invalid(call_id, call, node, turn, store)
        call["vars"][node.spec["var"]] = digits
        call["misses"] = 0
        target = node.edges.get("ok")
        if target is None:
            return self._invalid(call_id, call, node, turn, store)
        turn.edges.append((node.id, "ok", target))
        return self._walk(call_id, call, target, turn, [], store)

    def _accept(self, node: _Node, data: str) -> str | None:
        """The digits a collect keeps from `data`, or None when the node must refuse them."""
        spec = node.spec
        limit = min(spec.get("max_length") or MAX_DIGITS, MAX_DIGITS)
        # A collect with neither terminator nor length asks for "#" (see _expects), so takes it.
        terminator = spec.get("terminator") or ("" if spec.get("length") else "#")
        if len(data) > limit + 1:
            return None
        if terminator and data.endswith(terminator):
            data = data[:-1]
        if not data or len(data) > limit or not data.isdigit() or not data.isascii():
            return None
        length = spec.get("length")
        if length and len(data) != length:
            return None
        if len(data) < (spec.get("min_length") or 1):
            return None
        pattern = self._patterns.get(node.id)
        if pattern is not None and not pattern.fullmatch(data):
            return None
        return data

    def _invalid(
        self, call_id: int, call: dict[str, Any], node: _Node, turn: Turn, store: CallStore
    ) -> Turn:
        misses = int(call.get("misses", 0)) + 1
        call["misses"] = misses
        limit = node.spec.get("max_invalid")
        if limit and misses >= limit and "gave_up" in node.edges:
            call["misses"] = 0
            target = node.edges["gave_up"]
            turn.edges.append((node.id, "gave_up", target))
        elif "invalid" in node.edges:
            target = node.edges["invalid"]
            turn.edges.append((node.id, "invalid", target))
        else:
            target = node.id
        return self._walk(call_id, call, target, turn, [], store)

    # -- walking ----------------------------------------------------------------------------
    def _start(
        self,
        call_id: int,
        caller: dict[str, Any],
        state: Mapping[str, Any],
        turn: Turn,
        spoken: list[str],
        store: CallStore | None = None,
    ) -> Turn:
        call: dict[str, Any] = {"node": self.entry, "vars": {}, "misses": 0, **caller}
        if self.rev is not None:
            call["rev"] = self.rev
        if self._keeps_context:  # a flow that never reads it keeps none: nothing could tell
            context = call_context(state)
            if context:  # most calls carry none worth keeping: their state stays as small
                call["ctx"] = context
        return self._walk(call_id, call, self.entry, turn, spoken, store)

    def _recover(
        self,
        call_id: int,
        caller: dict[str, Any],
        state: Mapping[str, Any],
        store: CallStore | None = None,
    ) -> Turn:
        values = {k: v for k, v in caller.items() if v is not None}
        spoken = [p.fill(values) if p.templated else p.text for p in self.recovery_prompt]
        turn = Turn({}, call_id)
        if self.recovery_action == "restart":
            turn.restarted = True
            return self._start(call_id, caller, state, turn, spoken, store)
        (self.store if store is None else store).drop(call_id)
        turn.response = {"prompt": spoken, "num_characters": 0}
        turn.ending = "lost"
        return turn

    def _walk(
        self,
        call_id: int,
        call: dict[str, Any],
        node_id: str,
        turn: Turn,
        spoken: list[str],
        store: CallStore | None = None,
        steps: int | None = None,
    ) -> Turn:
        """Follow non-waiting nodes from `node_id` until one waits for the caller or ends.

        `store` is where the call's state goes (the runtime's own unless told otherwise);
        `steps` how many nodes a turn may still go through (a resumed turn goes on counting).
        """
        store = self.store if store is None else store
        nodes = self.nodes
        turn.rev = self.rev
        steps = len(nodes) + 1 if steps is None else steps
        while steps > 0:
            steps -= 1
            node = nodes.get(node_id)
            if node is None:  # an edge to an unknown node, in a flow that failed validation
                store.drop(call_id)
                turn.response = {"prompt": spoken, "num_characters": 0}
                turn.ending = "apology"
                return turn
            turn.nodes.append(node_id)
            if node.fixed is not None:
                spoken.extend(node.fixed)
            else:
                spoken.extend(self._say(node, call))
            kind = node.kind
            if kind == "say":
                key = "next"
            elif kind == "set":
                self._assign(node, call)
                key = "next"
            elif kind == "branch":
                key = self._decide(node, call)
            elif kind == "lookup":
                lookup = self._ask(node, call)
                if isinstance(lookup, Lookup):
                    turn.lookup = lookup
                    turn._pending = (call, spoken, store, steps, self)
                    return turn
                key = "failed"  # nothing was asked: the URL or a secret is not usable
                turn.lookups.append((node_id, key, lookup))
                if key not in node.edges:
                    store.drop(call_id)
                    turn.response = {
                        "prompt": [*spoken, *LOOKUP_FAILED_PROMPT],
                        "num_characters": 0,
                    }
                    turn.ending = "apology"
                    return turn
            elif kind in WAITING:
                call["node"] = node_id
                store.save(call_id, call)
                turn.waiting_on = node_id
                wanted = node.expects if node.expects is not None else expects(node.spec)
                turn.response = {"prompt": spoken, "num_characters": wanted}
                return turn
            elif kind == "hangup":
                store.drop(call_id)
                turn.response = {"prompt": spoken, "num_characters": 0}
                turn.ending = "hangup"
                return turn
            else:  # transfer: a CTA carries no prompt, so earlier sentences are not heard
                cta = self._cta(node, call)
                if cta is not None:
                    store.drop(call_id)
                    turn.response = cta
                    turn.ending = "transfer"
                    return turn
                # The number a variable gave is no phone number: the transfer's way out.
                key = "invalid"
                if key not in node.edges:
                    store.drop(call_id)
                    turn.response = {"prompt": [*spoken, *NO_TARGET_PROMPT], "num_characters": 0}
                    turn.ending = "apology"
                    return turn
            if kind == "branch" and key not in node.edges:
                key = "default"  # a rule whose outcome has no edge goes the default way
            target = node.edges.get(key, "")
            turn.edges.append((node_id, key, target))  # an empty target: the edge is missing
            node_id = target
        store.drop(call_id)
        turn.response = {"prompt": list(LOOP_PROMPT), "num_characters": 0}
        turn.ending = "apology"
        return turn

    @staticmethod
    def _values(call: dict[str, Any]) -> dict[str, Any]:
        """What a template can read of a call: caller fields, its context, its variables."""
        # CALLER_FIELDS, written out: a comprehension costs more than the dict it makes.
        values = {"from_number": call.get("from_number"), "to_number": call.get("to_number")}
        values.update(call.get("ctx") or ())
        values.update(call["vars"])
        return values

    def _say(self, node: _Node, call: dict[str, Any]) -> list[str]:
        lines = []
        values: dict[str, Any] | None = None
        for line in node.prompt:
            if line.templated:
                if values is None:
                    values = self._values(call)
                lines.append(line.fill(values))
            else:
                lines.append(line.text)
        return lines

    def _assign(self, node: _Node, call: dict[str, Any]) -> None:
        """A set node: each variable takes its template's text, in order (a later one may read
        an earlier one), cut to `MAX_CONTEXT_CHARS`."""
        for name, template in node.values:
            text = template.fill(self._values(call)) if template.templated else template.text
            call["vars"][name] = text[:MAX_CONTEXT_CHARS]

    def _cta(self, node: _Node, call: dict[str, Any]) -> dict[str, Any] | None:
        """A transfer's CTA; None when its number, filled from the call, is no phone number."""
        spec = node.spec
        phone = spec.get("phone")
        if node.phone is not None:
            phone = node.phone.fill(self._values(call)).strip()
            if not is_phone_number(phone):
                return None
        return {
            "next": spec.get("ivr"),
            "phone": (
                {"to_number": phone, "from_number": spec.get("from_number")} if phone else None
            ),
            "devices": spec.get("devices"),
            "appusers": spec.get("appusers"),
            "teams": spec.get("teams"),
        }

    # -- lookups ----------------------------------------------------------------------------
    def _ask(self, node: _Node, call: dict[str, Any]) -> Lookup | str:
        """The request a lookup node makes for this call, or why it cannot make one."""
        request = node.request
        assert request is not None
        values = self._values(call)
        url = request.url.text
        if request.url.templated:
            url = fill(url, values, _quote_value)
        if not host_allowed(url, self.allowed_hosts):
            return f"{urlsplit(url).netloc or url!r} is not an allowed host"
        headers = [("Accept", "application/json")]
        for name, template in request.headers:
            value, missing = _secret_fill(template, self.secrets)
            if missing:
                return f"the secret {missing} is not set"
            if "\r" in value or "\n" in value:
                return f"header {name} holds a line break"
            headers.append((name, value))
        body = None
        if request.body is not None:
            body = _encode_body(_fill_body(request.body, values)).encode("utf-8")
            headers.append(("Content-Type", "application/json"))
        return Lookup(node.id, request.method, url, headers, body, request.timeout)

    @staticmethod
    def _outcome(node: _Node, call: dict[str, Any], result: LookupResult) -> tuple[str, str]:
        """The exit a lookup takes for what its backend gave, saving its values when `ok`."""
        request = node.request
        assert request is not None
        if result.timed_out:
            return "timeout", f"no answer within {request.timeout:g} s"
        if result.error or not result.status:
            return "failed", result.error or "no answer"
        if not 200 <= result.status < 300:
            return "failed", f"status {result.status}"
        if not request.save:
            return "ok", f"status {result.status}"
        if len(result.body) > MAX_REPLY_BYTES:
            return "failed", f"the answer is over {MAX_REPLY_BYTES} bytes"
        try:
            data = json.loads(result.body.decode("utf-8"))
        except (ValueError, RecursionError):
            return "failed", "the answer is not JSON"
        saved = {}
        for name, path in request.save:
            value = pick(data, path)
            text = None if isinstance(value, (dict, list)) else _context_text(value)
            if text is None:
                return "failed", f"the answer has no {path}"
            saved[name] = text
        call["vars"].update(saved)
        return "ok", f"status {result.status}"

    # -- branches ---------------------------------------------------------------------------
    def _decide(self, node: _Node, call: dict[str, Any]) -> str:
        for rule in node.spec.get("rules") or ():
            if rule_holds(rule, call, self.clock):
                return str(rule["outcome"])
        return "default"


_NOT_FETCHED = LookupResult(error="lookups are not performed here")
_encode_body = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def _secret_fill(template: str, secrets: Mapping[str, str]) -> tuple[str, str | None]:
    """A header value with its `${NAME}` secrets read in, and the first one missing, if any."""
    missing: list[str] = []

    def one(match: re.Match[str]) -> str:
        value = secrets.get(match.group(1))
        if value is None:
            missing.append(match.group(1))
            return ""
        return value

    value = _SECRET.sub(one, template)
    return value, (missing[0] if missing else None)


def log_fields(turn: Turn, data: str | None = None, keep_digits: bool = False) -> dict[str, Any]:
    """What the request log says of a turn's way through the flow (see docs/log-format.md).

    `nodes` the turn went through, `edges` it took (`[from, key, to]`), the node it now
    `wait`s at, how it `end`ed (one of `ENDINGS`, and `target`'s kind for a transfer), the node
    a caller hung up `at` (a teardown), `restart` when the call was not known and started
    again, and the `digits` entered: their count, or themselves with `keep_digits` (for test
    systems: digits can be card or account numbers).

    Example:
        >>> flow = {"entry": "bye", "nodes": {"bye": {"kind": "hangup", "prompt": ["Bye."]}}}
        >>> log_fields(Runtime(flow).respond(request(1, 7)))
        {'nodes': ['bye'], 'end': 'hangup'}
    """
    fields: dict[str, Any] = {}
    if turn.replayed:  # a retry, answered as before: the call did not move
        fields["replay"] = True
    if turn.nodes:
        fields["nodes"] = turn.nodes
    if turn.edges:
        fields["edges"] = [list(edge) for edge in turn.edges]
    if turn.waiting_on is not None:
        fields["wait"] = turn.waiting_on
    if turn.ending is not None:
        fields["end"] = turn.ending
        if turn.ending == "transfer":
            fields["target"] = next(
                (kind for kind in ("phone", "devices", "appusers", "teams", "next")
                 if turn.response.get(kind)),
                "none",
            )  # fmt: skip
    if turn.left_at is not None:
        fields["at"] = turn.left_at
    if turn.restarted:
        fields["restart"] = True
    if data:
        fields["digits"] = data if keep_digits else len(data)
    return fields


def revision(flow: Mapping[str, Any]) -> str:
    """A flow's revision id: 12 hex digits of a hash of what its calls run (not its drawing).

    Example:
        >>> len(revision({"entry": "a", "nodes": {"a": {"kind": "hangup"}}}))
        12
    """
    ran = {k: v for k, v in flow.items() if k not in ("layout", "environments", "description")}
    text = json.dumps(ran, sort_keys=True, ensure_ascii=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("ascii")).hexdigest()[:12]


class _Detached:
    """A store that keeps nothing: a call answered without touching the call its id names."""

    def load(self, call_id: int) -> dict[str, Any] | None:
        return None

    def save(self, call_id: int, state: dict[str, Any]) -> None:
        pass

    def drop(self, call_id: int) -> None:
        pass


_DETACHED = _Detached()


class _Held:
    """The store a held turn (`Runtime.respond(held=True)`) walks with: it reads from the
    runtime's store, and keeps the turn's write until the answer is known (`Runtime._keep`)."""

    __slots__ = ("caller", "loaded", "request", "store", "write")

    def __init__(self, store: CallStore, request: str, caller: dict[str, Any]) -> None:
        self.store = store
        #: What the request asked (`_fingerprint`). The same again, undelivered, is a retry.
        self.request = request
        self.caller = caller
        self.loaded: dict[str, Any] | None = None
        self.write: tuple[int, dict[str, Any] | None] | None = None

    def load(self, call_id: int) -> dict[str, Any] | None:
        self.loaded = self.store.load(call_id)
        return self.loaded

    def save(self, call_id: int, state: dict[str, Any]) -> None:
        self.write = (call_id, state)

    def drop(self, call_id: int) -> None:
        self.write = (call_id, None)

    def retried(self, call: Mapping[str, Any], acked: Any) -> bool:
        """Whether this request is the one `call`'s last answer went to, not yet delivered."""
        sent = call.get("sent")
        return (
            isinstance(sent, list)
            and len(sent) == 2
            and sent[0] == self.request
            and acked != call.get("n")
        )


def _fingerprint(event: int, option: str | None, data: str | None) -> str:
    """What a request asked (event, key, digits) as 16 hex digits: what a call's state keeps to
    know a retry, never the digits themselves (a refused card number is not stored), and the
    same few bytes however long the request's fields."""
    text = f"{event}\x00{option}\x00{data}".encode("utf-8", "surrogatepass")
    return hashlib.blake2b(text, digest_size=8).hexdigest()


#: The fingerprints of the requests nearly every call sends, worked out once: a setup, a key
#: pressed, a teardown, each without digits. Digits are never in it, so none is kept here.
_FINGERPRINTS = {
    (event, option): _fingerprint(event, option, None)
    for event in (SETUP, OPTION, TEARDOWN)
    for option in (None, *KEYS)
}


def _replayed(call_id: int, call: Mapping[str, Any]) -> Turn:
    """The turn of a retried request: the answer it was given, the call left as it is."""
    turn = Turn(call["sent"][1], call_id)
    turn.replayed = True
    turn.rev = call.get("rev")
    turn.delivery = (call_id, int(call.get("n", 0)), "end" in call)
    return turn


def _caller(state: Mapping[str, Any]) -> dict[str, Any]:
    """A request's caller fields as a call keeps them (see `_caller_field`), in the order of
    `CALLER_FIELDS`."""
    number, called = state.get("from_number"), state.get("to_number")
    if type(number) is str and type(called) is str and number.isascii() and called.isascii():
        # What Jaxl sends, nearly always: plain text, needing no check but its length.
        return {"from_number": number[:MAX_CALLER_CHARS], "to_number": called[:MAX_CALLER_CHARS]}
    return {name: _caller_field(state.get(name), name) for name in CALLER_FIELDS}


def _caller_field(value: Any, name: str) -> str | None:
    """A caller field as a call keeps it: text, cut to `MAX_CALLER_CHARS` (E.164 is 16)."""
    text = _as_text(value, "state." + name)
    return text[:MAX_CALLER_CHARS] if text is not None else None


def _same_caller(call: Mapping[str, Any], caller: Mapping[str, Any]) -> bool:
    """Whether a request's numbers are those its call started with."""
    # CALLER_FIELDS, written out: every request but a setup asks this, and all() of a
    # generator costs more than the two comparisons.
    return bool(
        call.get("from_number") == caller["from_number"]
        and call.get("to_number") == caller["to_number"]
    )


def _silent(call_id: int | None) -> Turn:
    """The turn of an event answered with JSON `null`: a `MARK`, which changes nothing."""
    turn = Turn({}, call_id)
    turn.silent = True
    return turn


def _open(rule: Mapping[str, Any], now: float) -> bool:
    """Whether `now` (epoch seconds) falls within a rule's weekly hours, holidays excepted."""
    try:
        zone = zoneinfo.ZoneInfo(str(rule.get("tz") or "UTC"))
    except (ValueError, OSError, zoneinfo.ZoneInfoNotFoundError):
        return False  # validation reports the bad zone; a live call takes the default outcome
    local = datetime.datetime.fromtimestamp(now, zone)
    if local.date().isoformat() in (rule.get("holidays") or ()):
        return False
    if WEEKDAYS[local.weekday()] not in (rule.get("days") or WEEKDAYS):
        return False
    clock = local.strftime("%H:%M")
    start, end = str(rule.get("start") or "00:00"), str(rule.get("end") or "24:00")
    if start <= end:
        return start <= clock < end
    return clock >= start or clock < end  # hours that run past midnight
