"""Flow JSON v1: read and write flow files, with one-line errors that name the place.

Example:
    >>> flow = loads('{"format": "jaxl-designer/flow", "version": 1, "name": "x", '
    ...              '"entry": "bye", "nodes": {"bye": {"kind": "hangup", "prompt": ["Bye."]}}}')
    >>> flow.kind("bye")
    'hangup'
    >>> try:
    ...     loads('{"format": "jaxl-designer/flow", "version": 1, "nodes": {"a": {"kind": 7}}}')
    ... except FlowFileError as error:
    ...     print(str(error).split(" (")[0])
    <string>: nodes.a.kind: unknown kind 7
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .environments import parameter_name
from .errors import JaxlDesignerError
from .files import write_atomic
from .flow import FIELDS, FORMAT, KINDS, VERSION, Flow
from .runtime import LOOKUP_METHODS, MAX_LOOKUP_TIMEOUT, RULE_TESTS

__all__ = ["FlowFileError", "dumps", "from_document", "load", "loads", "save"]

_ID = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class FlowFileError(JaxlDesignerError, ValueError):
    """A flow file that cannot be read: the message is one line naming the file and the place."""


class _Bad(Exception):
    def __init__(self, where: str, what: str) -> None:
        # Ids and keys come from the file and may hold line breaks: the message stays one line.
        where = "".join(c if c.isprintable() else repr(c)[1:-1] for c in where)
        super().__init__(f"{where}: {what}" if where else what)


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise ValueError(f"duplicate key {key!r}")
        seen[key] = value
    return seen


def _kind_of(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "true/false"}.get(
        type(value), "null" if value is None else "a number"
    )


def _expect(value: Any, check: Callable[[Any], bool], where: str, wanted: str) -> Any:
    if not check(value):
        raise _Bad(where, f"expected {wanted}, found {_kind_of(value)}")
    return value


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_ints(value: Any) -> bool:
    return isinstance(value, list) and all(_is_int(item) for item in value)


def _is_parameter(value: Any) -> bool:
    return parameter_name(value) is not None


def _is_texts(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


def _is_text_values(value: Any) -> bool:
    return isinstance(value, dict) and all(isinstance(item, str) for item in value.values())


_FIELD_CHECKS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "prompt": (_is_texts, "a list of strings"),
    "max_invalid": (lambda v: _is_int(v) and v >= 1, "a whole number of at least 1"),
    "var": (lambda v: isinstance(v, str) and bool(_ID.fullmatch(v)), "a variable name"),
    "terminator": (lambda v: v in ("*", "#"), '"*" or "#"'),
    "length": (lambda v: _is_int(v) and v >= 1, "a whole number of at least 1"),
    "min_length": (lambda v: _is_int(v) and v >= 0, "a whole number"),
    "max_length": (lambda v: _is_int(v) and v >= 1, "a whole number of at least 1"),
    "pattern": (lambda v: isinstance(v, str), "a string"),
    "phone": (lambda v: isinstance(v, str), "a string"),
    "from_number": (lambda v: isinstance(v, str), "a string"),
    "devices": (lambda v: _is_ints(v) or _is_parameter(v), "a list of whole numbers"),
    "appusers": (lambda v: _is_ints(v) or _is_parameter(v), "a list of whole numbers"),
    "teams": (lambda v: _is_ints(v) or _is_parameter(v), "a list of whole numbers"),
    "ivr": (lambda v: _is_int(v) or _is_parameter(v), "a whole number"),
    "rules": (lambda v: isinstance(v, list), "a list of rules"),
    "piece": (lambda v: isinstance(v, str) and bool(v), "the name of a piece or a .json file"),
    "params": (lambda v: isinstance(v, dict), "an object"),
    "values": (_is_text_values, "an object of text values"),
    "method": (lambda v: v in LOOKUP_METHODS, " or ".join(f'"{m}"' for m in LOOKUP_METHODS)),
    # An empty URL is kept (a lookup just added on the canvas): validation says it is missing.
    "url": (lambda v: isinstance(v, str), "a URL"),
    "headers": (_is_text_values, "an object of text values"),
    "body": (lambda v: isinstance(v, (dict, list)), "a JSON object or list"),
    "timeout": (
        lambda v: (
            isinstance(v, (int, float)) and not isinstance(v, bool) and 0 < v <= MAX_LOOKUP_TIMEOUT
        ),
        f"a number of seconds above 0 and at most {MAX_LOOKUP_TIMEOUT:g}",
    ),
    "save": (_is_text_values, "an object of variable names to paths"),
}


_HOST = re.compile(r"[A-Za-z0-9._-]+(:[0-9]{1,5})?|\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?")


def _hosts(value: Any, where: str) -> list[str]:
    _expect(value, _is_texts, where, "a list of hosts")
    for index, host in enumerate(value):
        if not _HOST.fullmatch(host):
            raise _Bad(f"{where}[{index}]", f"{host!r} is not a host or host:port")
    return list(value)


def _rule(rule: Any, where: str) -> None:
    _expect(rule, lambda v: isinstance(v, dict), where, "an object")
    if not isinstance(rule.get("outcome"), str) or not rule["outcome"]:
        raise _Bad(f"{where}.outcome", "expected the name of an outcome")
    if rule.get("test") not in RULE_TESTS:
        raise _Bad(f"{where}.test", f"expected one of {', '.join(RULE_TESTS)}")


def _node(node_id: str, spec: Any, where: str) -> dict[str, Any]:
    _expect(spec, lambda v: isinstance(v, dict), where, "an object")
    kind = spec.get("kind")
    if not isinstance(kind, str) or kind not in FIELDS:
        if kind is None:
            raise _Bad(where, "missing field 'kind'")
        raise _Bad(f"{where}.kind", f"unknown kind {kind!r} (one of {', '.join(KINDS)})")
    fields: dict[str, Any] = {}
    for field, value in spec.items():
        if field in ("kind", "edges"):
            continue
        if field not in FIELDS[kind]:
            raise _Bad(f"{where}.{field}", f"a {kind} node has no such field")
        if field in ("values", "headers", "save") and isinstance(value, dict):
            # Name the one value that is not text, as a prompt's error names the prompt.
            for name, text in value.items():
                _expect(text, lambda v: isinstance(v, str), f"{where}.{field}.{name}", "text")
        if field == "save" and isinstance(value, dict):
            for name in value:
                if not _ID.fullmatch(name):
                    raise _Bad(f"{where}.{field}.{name}", "expected a variable name")
        check, wanted = _FIELD_CHECKS[field]
        fields[field] = _expect(value, check, f"{where}.{field}", wanted)
    if kind == "collect" and "var" not in fields:
        raise _Bad(where, "missing field 'var' (the variable the digits are stored in)")
    for index, rule in enumerate(fields.get("rules", ())):
        _rule(rule, f"{where}.rules[{index}]")
    return fields


def from_document(document: Any, source: str = "<document>") -> Flow:
    """Build a `Flow` from a parsed flow document, checking its structure on the way."""
    try:
        return _from_document(document)
    except _Bad as error:
        raise FlowFileError(f"{source}: {error}") from None


def _from_document(doc: Any) -> Flow:
    _expect(doc, lambda v: isinstance(v, dict), "", "a JSON object at the top")
    if doc.get("format") != FORMAT:
        raise _Bad("format", f'expected "{FORMAT}": this is not a jaxl-designer flow file')
    version = doc.get("version")
    if version != VERSION or isinstance(version, bool):
        raise _Bad("version", f"version {version!r} is not supported (this reads version 1)")
    known = {"format", "version", "name", "description", "entry", "recovery", "environments"}
    known |= {"nodes", "layout", "allowed_hosts"}
    for key in doc:
        if key not in known:
            raise _Bad(key, "unknown top-level field")
    name = _expect(doc.get("name", "untitled"), lambda v: isinstance(v, str), "name", "a string")
    description = _expect(
        doc.get("description", ""), lambda v: isinstance(v, str), "description", "a string"
    )
    entry = _expect(
        doc.get("entry"), lambda v: v is None or isinstance(v, str), "entry", "a node id"
    )
    recovery = doc.get("recovery")
    if recovery is not None:
        _expect(recovery, lambda v: isinstance(v, dict), "recovery", "an object")
        if recovery.get("action") not in ("restart", "hangup"):
            raise _Bad("recovery.action", 'expected "restart" or "hangup"')
        _expect(recovery.get("prompt"), _is_texts, "recovery.prompt", "a list of strings")
        for key in recovery:
            if key not in ("action", "prompt"):
                raise _Bad(f"recovery.{key}", "a recovery has no such field")
    environments = _expect(
        doc.get("environments", {}), lambda v: isinstance(v, dict), "environments", "an object"
    )
    for env, values in environments.items():
        _expect(values, lambda v: isinstance(v, dict), f"environments.{env}", "an object")
        if "allowed_hosts" in values:
            _hosts(values["allowed_hosts"], f"environments.{env}.allowed_hosts")
    allowed_hosts = _hosts(doc.get("allowed_hosts", []), "allowed_hosts")
    if "nodes" not in doc:
        raise _Bad("", "missing field 'nodes'")
    nodes = _expect(doc["nodes"], lambda v: isinstance(v, dict), "nodes", "an object")
    flow = Flow(name, entry=entry, description=description, recovery=recovery)
    edges: list[tuple[str, str, str]] = []
    for node_id, spec in nodes.items():
        where = f"nodes.{node_id}"
        if not node_id:
            raise _Bad("nodes", "a node id is empty")
        fields = _node(node_id, spec, where)
        flow.add(node_id, spec["kind"], **fields)
        out = _expect(
            spec.get("edges", {}), lambda v: isinstance(v, dict), f"{where}.edges", "an object"
        )
        for key, target in out.items():
            _expect(target, lambda v: isinstance(v, str), f"{where}.edges.{key}", "a node id")
            edges.append((node_id, key, target))
    for source, key, target in edges:
        flow.graph.add_edge(source, target, key=key)
    flow.entry = entry
    flow.environments = {env: dict(values) for env, values in environments.items()}
    flow.allowed_hosts = list(allowed_hosts)
    layout = _expect(doc.get("layout", {}), lambda v: isinstance(v, dict), "layout", "an object")
    for node_id, point in layout.items():
        _expect(
            point,
            lambda v: (
                isinstance(v, list)
                and len(v) == 2
                and all(isinstance(c, (int, float)) and not isinstance(c, bool) for c in v)
            ),
            f"layout.{node_id}",
            "[x, y]",
        )
        flow.layout[node_id] = list(point)
    return flow


def loads(text: str, source: str = "<string>") -> Flow:
    """Read a flow from JSON text; `source` names it in error messages."""
    try:
        document = json.loads(text, object_pairs_hook=_pairs)
    except json.JSONDecodeError as error:
        raise FlowFileError(
            f"{source}:{error.lineno}:{error.colno}: not valid JSON: {error.msg}"
        ) from None
    except ValueError as error:
        raise FlowFileError(f"{source}: not valid JSON: {error}") from None
    except RecursionError:
        raise FlowFileError(f"{source}: not a flow file: JSON nested too deeply") from None
    return from_document(document, source)


def load(path: str | os.PathLike[str]) -> Flow:
    """Read a flow file. Errors are one line: `flow.json: nodes.main.prompt: expected …`."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FlowFileError(f"{path}: no such file") from None
    except UnicodeDecodeError as error:
        raise FlowFileError(f"{path}: not UTF-8 text (byte {error.start})") from None
    except OSError as error:
        raise FlowFileError(f"{path}: cannot read: {error.strerror}") from None
    flow = loads(text, str(path))
    flow.folder = Path(os.path.abspath(path)).parent
    return flow


def dumps(flow: Flow) -> str:
    """The flow file's text: stable key and node order, so one edit changes few lines."""
    return json.dumps(flow.to_document(), indent=2, ensure_ascii=False) + "\n"


def save(flow: Flow, path: str | os.PathLike[str]) -> Path:
    """Write a flow file atomically: a crash mid-write leaves the old file whole."""
    return write_atomic(path, dumps(flow))
