"""Every request log line is strict JSON (no NaN or Infinity), whatever the request carried."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from jaxl_designer.core.examples import acme
from jaxl_designer.core.runtime import Runtime, revision
from jaxl_designer.webhook.app import WebhookApp


@dataclass(frozen=True)
class Raw:
    """A JSON token written as it is: `NaN`, `1e400`, a 500-digit number."""

    token: str


def _reject(constant: str) -> Any:
    raise ValueError(f"{constant} is not JSON")


def strict(line: str) -> Any:
    """`line` parsed as RFC 8259 JSON: NaN, Infinity and -Infinity refused."""
    return json.loads(line, parse_constant=_reject)


def to_json(value: Any) -> str:
    """`value` as JSON text, as lenient as Python's json: NaN and Infinity as they are written."""
    if isinstance(value, Raw):
        return value.token
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(k)}:{to_json(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ",".join(to_json(item) for item in value) + "]"
    return json.dumps(value)  # strings ASCII with escapes: a lone surrogate as \udXXX


_SURROGATES = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)
_TEXT = st.text(st.characters() | _SURROGATES, max_size=8)
_ODD = st.sampled_from(
    [Raw("NaN"), Raw("Infinity"), Raw("-Infinity"), Raw("1e400"), Raw("-1e999"),
     Raw("9" * 500), Raw("-" + "7" * 4000), Raw("1.5e-400"), Raw("-0.0")]
)  # fmt: skip
_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(-(10**600), 10**600)
    | st.floats()  # NaN and the infinities among them
    | _TEXT
    | _ODD
)
#: JSON-ish values: any of the above, nested in lists and objects.
values = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_TEXT, inner, max_size=3),
    max_leaves=8,
)
_IDS = st.integers(1, 10**6) | values
_EVENTS = st.integers(1, 5) | values


@st.composite
def bodies(draw: st.DrawFn) -> str:
    """A webhook body: mostly a request with odd fields, sometimes any JSON value at all."""
    if draw(st.integers(0, 9)) == 0:
        return to_json(draw(values))
    state: Any = {"call_id": draw(_IDS), "from_number": "+9199", "to_number": "+9188"}
    if draw(st.integers(0, 9)) == 0:
        state = draw(values)
    request = {"pk": draw(_IDS), "event": draw(_EVENTS), "state": state}
    request.update(draw(st.dictionaries(st.sampled_from(["option", "data", "mark"]), values)))
    return to_json(request)


def same(logged: Any, sent: Any) -> bool:
    """Whether the log holds `sent` itself: equal, and of the same JSON type all the way down."""
    if isinstance(sent, dict):
        return (
            isinstance(logged, dict)
            and logged.keys() == sent.keys()
            and all(same(logged[key], item) for key, item in sent.items())
        )
    if isinstance(sent, list):
        return (
            isinstance(logged, list)
            and len(logged) == len(sent)
            and all(same(a, b) for a, b in zip(logged, sent, strict=True))
        )
    return type(logged) is type(sent) and logged == sent


def finite(value: Any) -> bool:
    """Whether strict JSON can say `value`: no NaN or infinity anywhere in it."""
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, dict):
        return all(finite(item) for item in value.values())
    if isinstance(value, list):
        return all(finite(item) for item in value)
    return True


_CONSTANTS = {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}


def check_logged(logged: Any, sent: Any) -> None:
    """A field is logged as what was sent, or (when strict JSON cannot say it) as a string."""
    if finite(sent):
        assert same(logged, sent), (logged, sent)
    elif isinstance(sent, float):
        assert logged == _CONSTANTS[repr(sent)], (logged, sent)
    else:
        assert isinstance(logged, str), (logged, sent)


APP_LINES: list[str] = []
APP = WebhookApp(Runtime(acme().to_document()), log=APP_LINES.append)


@settings(max_examples=300, deadline=None)
@given(
    method=st.sampled_from(["POST", "DELETE", "post", "GET", "PUT"]),
    path=st.sampled_from(["/webhook/", "/webhook", "/healthz", "/nowhere", "/webhook/é"]),
    text=bodies(),
)
@example(method="POST", path="/webhook/", text='{"event":1,"state":{"call_id":NaN}}')
@example(method="POST", path="/webhook/", text='{"event":1,"state":{"call_id":Infinity}}')
@example(method="DELETE", path="/webhook/", text='{"event":3,"state":{"call_id":-Infinity}}')
@example(method="POST", path="/webhook/", text='{"event":NaN,"state":{"call_id":[1e400]}}')
@example(method="POST", path="/webhook/", text='{"event":"\\ud800","state":{"call_id":"\\udfff"}}')
@example(method="POST", path="/webhook/", text='{"event":1,"state":{"call_id":' + "9" * 4000 + "}}")
@example(method="POST", path="/webhook/", text='{"event":{"a":[NaN]},"state":{"call_id":1.5}}')
def test_every_log_line_is_strict_json(method: str, path: str, text: str) -> None:
    body = text.encode("utf-8")
    APP_LINES.clear()
    status, _, _ = APP.handle(method, path, "", {"content-type": "application/json"}, body)
    assert len(APP_LINES) == 1
    line = APP_LINES[0]
    assert "\n" not in line
    line.encode("utf-8")  # no lone surrogate: the line can be written to any UTF-8 sink
    record = strict(line)
    assert record["method"] == method and record["path"] == path
    assert record["status"] == status
    assert isinstance(record["ms"], float) and math.isfinite(record["ms"])
    webhook = path in ("/webhook/", "/webhook") and method.upper() in ("POST", "DELETE")
    request = json.loads(text) if webhook else None
    if not isinstance(request, dict):
        assert (record["event"], record["call_id"]) == (None, None)
        return
    check_logged(record["event"], request.get("event"))
    state = request.get("state")
    check_logged(record["call_id"], state.get("call_id") if isinstance(state, dict) else None)


def test_an_ordinary_line_says_what_the_call_did() -> None:
    """Format 1 (docs/log-format.md): the request, then the call's way through the flow."""
    lines: list[str] = []
    flow = acme().to_document()
    app = WebhookApp(Runtime(flow), log=lines.append)
    rev = revision(flow)
    for body in (
        b'{"pk": 1, "event": 1, "state": {"call_id": 42}}',
        b'{"pk": 1, "event": 2, "state": {"call_id": 42}, "option": "2"}',
        b'{"pk": 1, "event": 2, "state": {"call_id": 42}, "option": "2", "data": "4111*"}',
        b'{"pk": 1, "event": 3, "state": {"call_id": 42}}',
    ):
        assert app.handle("POST", "/webhook/", "", {}, body)[0] == 200
    records = [strict(line) for line in lines]
    assert list(records[0]) == [
        "v", "rev", "method", "path", "status", "event", "call_id", "ms", "nodes", "wait",
    ]  # fmt: skip
    assert lines[0].startswith(
        f'{{"v":1,"rev":"{rev}","method":"POST","path":"/webhook/","status":200,"event":1,'
    )
    assert (records[0]["event"], records[0]["call_id"]) == (1, 42)
    flow_parts = [
        {k: v for k, v in r.items() if k in ("nodes", "edges", "wait", "end", "at", "digits")}
        for r in records
    ]
    assert flow_parts == [
        {"nodes": ["main"], "wait": "main"},
        {"nodes": ["order"], "edges": [["main", "2", "order"]], "wait": "order"},
        {"nodes": ["confirm"], "edges": [["order", "ok", "confirm"]], "wait": "confirm",
         "digits": 5},
        {"end": "caller_hangup", "at": "confirm"},
    ]  # fmt: skip
    assert "4111" not in "".join(lines), "digits are counted, not shown"
    shown: list[str] = []
    app = WebhookApp(Runtime(flow), log=shown.append, log_digits=True)
    app.handle("POST", "/webhook/", "", {}, b'{"event": 1, "state": {"call_id": 5}}')
    app.handle("POST", "/webhook/", "", {}, b'{"event": 2, "state": {"call_id": 5}, "option": "2"}')
    digits = b'{"event": 2, "state": {"call_id": 5}, "option": "2", "data": "4111*"}'
    app.handle("POST", "/webhook/", "", {}, digits)
    assert strict(shown[-1])["digits"] == "4111*"


def test_odd_call_ids_are_logged_as_their_text() -> None:
    lines: list[str] = []
    app = WebhookApp(Runtime(acme().to_document()), log=lines.append)
    for token, shown in [("NaN", "NaN"), ("Infinity", "Infinity"), ("-1e400", "-Infinity"),
                         ("[1,NaN]", "[1,NaN]"), ('"\\ud800"', "\ud800")]:  # fmt: skip
        lines.clear()
        app.handle(
            "POST", "/webhook/", "", {}, b'{"event":1,"state":{"call_id":%s}}' % token.encode()
        )
        assert strict(lines[0])["call_id"] == shown, lines[0]
        assert lines[0].isascii() or "\ud800" not in lines[0]


def test_a_bad_log_digits_switch_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JAXL_LOG_DIGITS", "maybe")
    with pytest.raises(ValueError, match=r"^JAXL_LOG_DIGITS='maybe': not on \("):
        WebhookApp(Runtime(acme().to_document()), log=None)
    monkeypatch.setenv("JAXL_LOG_DIGITS", "yes")
    assert WebhookApp(Runtime(acme().to_document()), log=None).log_digits
