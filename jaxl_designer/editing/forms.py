"""The inspector's forms as data: each kind's fields, their plain labels and help, and parsing.

The canvas's inspector draws these forms; what a user types comes back as text and is read
here, so a mistake is one line naming the field, and the typed text is never thrown away.

Example:
    >>> [field.label for field in FORMS["collect"]][:3]
    ['What the caller hears', 'Save digits as', 'Ends with key']
    >>> read("collect", "length", "4"), read("menu", "prompt", "Hello.\\n\\nPress 1.")
    (4, ['Hello.', 'Press 1.'])
    >>> read("collect", "length", "four")
    Traceback (most recent call last):
    ValueError: Exactly this many digits: "four" is not a whole number
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from ..core.flow import FIELDS, KINDS
from ..core.runtime import LOOKUP_METHODS, MAX_LOOKUP_TIMEOUT

__all__ = ["FORMS", "NODE_ID", "Field", "forms", "read", "shown"]

#: What a node id typed in the designer may be: letters, digits, `_`, `-` and `.`, not starting
#: with `-` or `.` (files may hold others; `@` and `/` are reserved for pieces).
NODE_ID = r"[A-Za-z0-9_][A-Za-z0-9_.-]*"


@dataclass(frozen=True)
class Field:
    """One field of a node's form.

    Attributes:
        name: The field in the flow file (`var`, `max_invalid`…).
        label: What the form calls it, in the caller's world ("Save digits as").
        help: One short sentence under it.
        input: How it is typed: `lines` (one sentence a line), `text`, `number`, `numbers`
            (comma separated), `seconds` (a number, decimals allowed), `choice` (one of
            `choices`) or `json`.
        choices: For `choice`: (value, label) pairs.
    """

    name: str
    label: str
    help: str
    input: str = "text"
    choices: tuple[tuple[str, str], ...] = ()


def _prompt(label: str) -> Field:
    return Field("prompt", label, "One sentence a line; {name} reads a saved value.", "lines")


_TRIES = Field(
    "max_invalid",
    "Tries before giving up",
    "Wrong entries in a row before the call takes the 'gave up' exit. Empty: keep asking.",
    "number",
)
_IDS = "Whole numbers, separated by commas."
#: Each kind's form, in the order the inspector shows it.
FORMS: dict[str, tuple[Field, ...]] = {
    "menu": (_prompt("What the caller hears"), _TRIES),
    "collect": (
        _prompt("What the caller hears"),
        Field("var", "Save digits as", "A name for the digits, read back as {name}.", "text"),
        Field(
            "terminator",
            "Ends with key",
            "The key that ends the digits. None: a fixed number of digits.",
            "choice",
            (("#", "# (hash)"), ("*", "* (star)"), ("", "none")),
        ),
        Field("length", "Exactly this many digits", "Empty: any number.", "number"),
        Field("min_length", "At least this many digits", "Empty: one.", "number"),
        Field("max_length", "At most this many digits", "Empty: up to 64.", "number"),
        Field("pattern", "Digits must match", "A regular expression, e.g. [0-9]{4}.", "text"),
        _TRIES,
    ),
    "say": (_prompt("What the caller hears before going on"),),
    "set": (
        Field(
            "values",
            "Values",
            "One a line: name = text, e.g. agent_phone = +91{code}; {name} reads a saved value.",
            "lines",
        ),
    ),
    "hangup": (_prompt("What the caller hears before the call ends"),),
    "transfer": (
        Field(
            "phone",
            "Phone number",
            "E.164, like +918000000001, a {{parameter}}, or filled per call, like {agent_phone}.",
            "text",
        ),
        Field("from_number", "Calling from", "The number the callee sees. Optional.", "text"),
        Field("devices", "Devices", _IDS, "numbers"),
        Field("appusers", "App users", _IDS, "numbers"),
        Field("teams", "Teams", _IDS, "numbers"),
        Field("ivr", "Another IVR", "The IVR's number.", "number"),
    ),
    "branch": (
        Field(
            "rules",
            "Rules",
            'JSON list, first match wins: {"outcome": "open", "test": "hours", ...}.',
            "json",
        ),
    ),
    "subflow": (
        Field("piece", "Piece", "A library piece, or a .json flow file beside this one.", "text"),
        Field("params", "Parameters", "A JSON object of the piece's parameters.", "json"),
    ),
    "lookup": (
        _prompt("What the caller hears while it looks"),
        Field(
            "method",
            "Method",
            "How the backend is asked.",
            "choice",
            tuple((method, method) for method in LOOKUP_METHODS),
        ),
        Field(
            "url",
            "URL",
            "Where to ask, e.g. https://api.example.com/orders/{order}; its host must be allowed.",
            "text",
        ),
        Field(
            "save",
            "Save from the answer",
            "One a line: name = path in the JSON answer, e.g. status = order.status.",
            "lines",
        ),
        Field(
            "headers",
            "Headers",
            "One a line: Name = value; ${NAME} reads a secret from the server's environment.",
            "lines",
        ),
        Field(
            "body", "JSON body", "Sent with the request; {name} in a string reads a value.", "json"
        ),
        Field("timeout", "Wait at most (seconds)", "Empty: 2 seconds. At most 10.", "seconds"),
    ),
}
assert set(FORMS) == set(KINDS)
assert all({f.name for f in FORMS[kind]} <= set(FIELDS[kind]) for kind in KINDS)

_WHOLE = re.compile(r"[+-]?[0-9]+")
_VARIABLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _field(kind: str, name: str) -> Field:
    for field in FORMS.get(kind, ()):
        if field.name == name:
            return field
    raise ValueError(f"a {kind} has no field {name!r}")


def read(kind: str, name: str, text: str) -> Any:
    """The value of field `name` of a `kind` node from what was typed; None clears it.

    Raises:
        ValueError: One line naming the field by its label and saying what is wrong.
    """
    field = _field(kind, name)
    text = str(text)
    stripped = text.strip()
    if field.name in _PAIRS:
        pairs = _values(field, text, variables=field.name != "headers")
        return pairs if pairs or field.name == "values" else None
    if field.input == "lines":
        return [line.strip() for line in text.splitlines() if line.strip()]
    if not stripped:
        return None
    if field.input == "number":
        if not _WHOLE.fullmatch(stripped):
            raise ValueError(f'{field.label}: "{stripped}" is not a whole number')
        return int(stripped)
    if field.input == "seconds":
        try:
            seconds = float(stripped)
        except ValueError:
            raise ValueError(f'{field.label}: "{stripped}" is not a number of seconds') from None
        if not 0 < seconds <= MAX_LOOKUP_TIMEOUT:
            raise ValueError(f"{field.label}: {stripped} is not above 0 and at most 10")
        return int(seconds) if seconds.is_integer() else seconds
    if field.input == "numbers":
        parts = [part.strip() for part in stripped.split(",") if part.strip()]
        bad = next((part for part in parts if not _WHOLE.fullmatch(part)), None)
        if bad is not None:
            raise ValueError(f'{field.label}: "{bad}" is not a whole number')
        return [int(part) for part in parts]
    if field.input == "choice":
        if stripped not in {value for value, _ in field.choices}:
            raise ValueError(f"{field.label}: {stripped!r} is not one of the choices")
        return stripped
    if field.input == "json":
        try:
            return json.loads(stripped)
        except json.JSONDecodeError as error:
            raise ValueError(
                f"{field.label}: not JSON ({error.msg}, column {error.colno})"
            ) from None
    return stripped


#: The fields typed as `name = text` lines: a set's values, a lookup's saved fields and headers.
_PAIRS = ("values", "save", "headers")
_HEADER = re.compile(r"[A-Za-z0-9!#$%&'*+.^_`|~-]+")


def _values(field: Field, text: str, variables: bool = True) -> dict[str, str]:
    """A set's values from `name = text` lines; blank lines are skipped, line numbers count them.

    Example:
        >>> read("set", "values", "agent_phone = +91{code}\\n\\ngreeting=Hello = hi")
        {'agent_phone': '+91{code}', 'greeting': 'Hello = hi'}
        >>> read("set", "values", "code = 1\\nagent phone = +91{code}")
        Traceback (most recent call last):
        ValueError: Values: line 2: "agent phone" is not a variable name
    """
    values: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        name, equals, value = line.partition("=")
        name = name.strip()
        if not equals:
            raise ValueError(f'{field.label}: line {number}: no "=" (write name = text)')
        if variables and not _VARIABLE.fullmatch(name):
            raise ValueError(f'{field.label}: line {number}: "{name}" is not a variable name')
        if not variables and not _HEADER.fullmatch(name):
            raise ValueError(f'{field.label}: line {number}: "{name}" is not a header name')
        if name in values:
            raise ValueError(f'{field.label}: line {number}: "{name}" is set twice')
        values[name] = value.strip()
    return values


def shown(kind: str, data: Mapping[str, Any]) -> dict[str, str]:
    """The text each field of a node's form shows for its current values."""
    texts = {}
    for field in FORMS.get(kind, ()):
        value = data.get(field.name)
        if value is None:
            text = ""
        elif field.name in _PAIRS and isinstance(value, Mapping):
            text = "\n".join(f"{name} = {item}" for name, item in value.items())
        elif field.input == "lines":
            text = "\n".join(str(line) for line in value)
        elif field.input == "numbers":
            text = ", ".join(str(item) for item in value) if isinstance(value, list) else str(value)
        elif field.input == "json":
            text = json.dumps(value, ensure_ascii=False, indent=1)
        else:
            text = str(value)
        texts[field.name] = text
    return texts


def forms() -> dict[str, Any]:
    """Every kind's form and the node id rule, as JSON data for the front end."""
    return {
        "kinds": list(KINDS),
        "fields": {kind: [asdict(field) for field in fields] for kind, fields in FORMS.items()},
        "node_id": NODE_ID,
    }
