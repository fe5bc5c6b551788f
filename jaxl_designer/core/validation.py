"""Validation: every problem in a flow, with a stable code, a severity and the node or edge.

Example:
    >>> from jaxl_designer.core.flow import Flow
    >>> flow = Flow("x")
    >>> flow.menu("main", "Press 1 for sales.", keys={"2": "gone"})
    'main'
    >>> for problem in validate(flow):
    ...     print(problem)
    error unknown-target main --2--> gone: key 2 leads to 'gone', which is not a node
    error missing-key main: the prompt announces key 1 but no edge leaves on 1
    warning unannounced-key main --2--> gone: key 2 has an edge but the prompt never announces it
"""

from __future__ import annotations

import datetime
import re
import zoneinfo
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import networkx as nx

from .environments import missing, parameter_name, parameters
from .flow import TARGETS, Flow, edge_order
from .pieces import PieceError
from .prompts import announced as announced_keys
from .runtime import (
    CALLER_FIELDS,
    KEYS,
    LOOKUP_METHODS,
    MAX_LOOKUP_TIMEOUT,
    WAITING,
    WEEKDAYS,
    host_allowed,
    is_context_field,
    is_phone_number,
    template_fields,
)
from .subflows import expand, has_subflows, piece_exits

__all__ = ["CODES", "Problem", "error_summary", "errors", "validate"]

#: Every problem code, with its severity and what it means.
CODES: dict[str, tuple[str, str]] = {
    "missing-entry": ("error", "the flow has no entry node, or it names a node that is not there"),
    "unknown-target": ("error", "an edge leads to a node that is not in the flow"),
    "duplicate-key": ("error", "one input at a node leads to two places"),
    "illegal-key": ("error", "an edge key that this kind of node cannot have"),
    "no-way-out": ("error", "a menu or collect that nothing the caller does can leave"),
    "missing-exit": (
        "error",
        "a say or set without `next`, a branch without `default`, a lookup without `ok` or "
        "`failed`",
    ),
    "terminal-has-exits": ("error", "a hangup or transfer with outgoing edges (never taken)"),
    "bad-set": ("error", "a set node without values, or one whose names are not variable names"),
    "silent-loop": ("error", "a cycle with no node that waits for the caller"),
    "bad-transfer": ("error", "a transfer that does not name exactly one target"),
    "bad-phone": ("error", "a phone number that is not E.164 (+ then 7 to 15 digits)"),
    "empty-prompt": ("error", "a node that must speak has nothing to say"),
    "bad-collect": ("error", "a collect whose terminator, length or limits cannot work"),
    "bad-rule": ("error", "a branch rule that cannot be evaluated"),
    "maybe-unset": ("error", "a template variable that may be unset on some path to its node"),
    "missing-key": ("error", "a menu prompt announces a key that has no edge"),
    "missing-parameter": ("error", "an environment has no value for a {{parameter}}"),
    "unknown-piece": ("error", "a subflow node names a piece that cannot be built"),
    "bad-url": ("error", "a lookup URL that is not http or https with a host"),
    "host-not-allowed": ("error", "a lookup URL whose host is not on allowed_hosts"),
    "misplaced-secret": ("error", "a ${SECRET} in a lookup's URL, body or saves: never sent"),
    "bad-lookup": ("error", "a lookup whose method, timeout, body or saved paths cannot work"),
    "unannounced-key": ("warning", "a menu edge whose key the prompt never announces"),
    "unreachable": ("warning", "a node no call can reach from the entry"),
    "say-before-transfer": ("warning", "words spoken right before a transfer are never heard"),
    "retry-without-limit": ("warning", "a gave_up edge without max_invalid, or the reverse"),
    "outcome-without-edge": ("warning", "a branch rule whose outcome has no edge (uses default)"),
    "audio-mixed": ("warning", "a prompt audio URL spoken together with other sentences"),
    "literal-secret": ("warning", "a credential header with a literal value, not a ${SECRET}"),
    "templated-host": ("warning", "a lookup URL whose host is filled per call: not checkable"),
}
_HHMM = re.compile(r"([01][0-9]|2[0-3]):[0-5][0-9]|24:00")
_VARIABLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
#: `${NAME}` as a lookup's header value reads a secret; anywhere else it is sent as written.
_SECRET = re.compile(r"\$\{[^}]*\}")
#: Header names that carry credentials: their value belongs in the environment.
_CREDENTIAL = re.compile(r"auth|token|secret|passw|api[-_]?key|cookie|session", re.IGNORECASE)
_PATH_STEP = re.compile(r"[^.\[\]]+")  # as `runtime.pick` reads a path


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a flow: where it is (`node`, or `edge` as (source, key, target))."""

    code: str
    message: str
    node: str | None = None
    edge: tuple[str, str, str] | None = None

    @property
    def severity(self) -> str:
        """`"error"` (the flow cannot be exported) or `"warning"`."""
        return CODES[self.code][0]

    @property
    def where(self) -> str:
        """The node or edge, as a person reads it."""
        if self.edge:
            return f"{self.edge[0]} --{self.edge[1]}--> {self.edge[2]}"
        return self.node or "flow"

    def __str__(self) -> str:
        return f"{self.severity} {self.code} {self.where}: {self.message}"


def errors(problems: list[Problem]) -> list[Problem]:
    """The problems that are errors."""
    return [problem for problem in problems if problem.severity == "error"]


def error_summary(problems: list[Problem], shown: int = 2) -> str | None:
    """One line on a flow's errors, said before a call is dialled on it; None without errors.

    Example:
        >>> from jaxl_designer.core.flow import Flow
        >>> flow = Flow("x")
        >>> flow.say("hello", "Hello.")
        'hello'
        >>> error_summary(validate(flow))
        'this flow has 1 error: hello: a say needs a `next` edge'
    """
    found = errors(problems)
    if not found:
        return None
    said = "; ".join(f"{problem.where}: {problem.message}" for problem in found[:shown])
    more = f" (and {len(found) - shown} more)" if len(found) > shown else ""
    return f"this flow has {len(found)} error{'' if len(found) == 1 else 's'}: {said}{more}"


def validate(flow: Flow, base: Path | None = None) -> list[Problem]:
    """Every problem in `flow`: errors first, then warnings, each in node order.

    Sub-flows are checked as they run, expanded; a problem inside one points at its node.
    `base` is the folder piece files are read from; by default the flow's own (`Flow.folder`).
    """
    found = list(_subflow_nodes(flow, base))
    # A piece that cannot be built is reported above; the rest is checked without it.
    plain = expand(flow, base, strict=False) if has_subflows(flow) else flow
    found += _remap(_plain(plain), flow)
    return sorted(dict.fromkeys(found), key=lambda p: p.severity != "error")


def _plain(flow: Flow) -> list[Problem]:
    found = list(_structure(flow))
    found += _loops(flow)
    found += _reachability(flow)
    found += _unset_variables(flow)
    found += _environments(flow)
    return found


def _subflow_nodes(flow: Flow, base: Path | None) -> Iterator[Problem]:
    for node in flow.nodes:
        if flow.kind(node) != "subflow":
            continue
        try:
            offered = piece_exits(flow, node, base)
        except PieceError as error:
            yield Problem("unknown-piece", str(error), node=node)
            continue
        edges = flow.edges(node)
        for name in sorted(offered - set(edges)):
            yield Problem("missing-exit", f"exit {name!r} of the piece has no edge", node=node)
        for key in edges:
            if key not in offered:
                choices = ", ".join(sorted(offered)) or "none"
                yield Problem(
                    "illegal-key",
                    f"the piece has no exit {key!r} (it has: {choices})",
                    edge=(node, key, edges[key]),
                )


def _remap(problems: list[Problem], flow: Flow) -> list[Problem]:
    """Point problems found inside an expanded sub-flow at the sub-flow node itself."""
    out = []
    for problem in problems:
        where = problem.node or (problem.edge[0] if problem.edge else None)
        if where is None or where in flow or "/" not in where:
            out.append(problem)
            continue
        if problem.edge and "@" in problem.edge[2]:
            continue  # an unconnected exit: reported as missing-exit on the sub-flow node
        outer, inner = where.split("/", 1)
        message = f"inside the piece, at {inner}: {problem.message}"
        out.append(Problem(problem.code, message, node=outer))
    return out


def _prompts(data: dict[str, Any]) -> list[str]:
    return [str(line) for line in data.get("prompt") or ()]


def _templates(data: dict[str, Any]) -> list[str]:
    """Every text of a node a call fills in: its prompt, a set's values, a transfer's number."""
    texts = _prompts(data)
    values = data.get("values")
    if data.get("kind") == "set" and isinstance(values, dict):
        texts += [str(value) for value in values.values()]
    if data.get("kind") == "transfer" and data.get("phone"):
        texts.append(str(data["phone"]))
    if data.get("kind") == "lookup":
        # A misplaced ${SECRET} is reported as such, not as a variable {SECRET}.
        texts += [_SECRET.sub("", text) for text in [str(data.get("url") or "")]]
        texts += [_SECRET.sub("", text) for text in _strings(data.get("body"))]
    return texts


def _strings(value: Any) -> list[str]:
    """Every string in a JSON value, keys included."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [text for k, v in value.items() for text in (str(k), *_strings(v))]
    if isinstance(value, list):
        return [text for item in value for text in _strings(item)]
    return []


def _structure(flow: Flow) -> Iterator[Problem]:
    graph = flow.graph
    if flow.entry is None or flow.entry not in flow:
        yield Problem("missing-entry", f"entry {flow.entry!r} is not a node of the flow")
    for node in flow.nodes:
        data = graph.nodes[node]
        kind = data["kind"]
        if kind == "subflow":
            continue
        seen: dict[str, str] = {}
        allowed = edge_order(kind, data)
        for _, target, key in graph.out_edges(node, keys=True):
            edge = (node, key, target)
            if target not in flow:
                yield Problem(
                    "unknown-target",
                    f"key {key} leads to {target!r}, which is not a node",
                    edge=edge,
                )
            if key in seen:
                yield Problem(
                    "duplicate-key",
                    f"key {key} leads to both {seen[key]!r} and {target!r}",
                    edge=edge,
                )
            seen[key] = target
            if key not in allowed and kind not in ("hangup", "transfer"):
                choices = ", ".join(allowed) or "none"
                yield Problem(
                    "illegal-key",
                    f"a {kind} cannot have an edge {key!r} (it can have: {choices})",
                    edge=edge,
                )
        yield from _node_rules(flow, node, kind, data, seen)


def _node_rules(
    flow: Flow, node: str, kind: str, data: dict[str, Any], edges: dict[str, str]
) -> Iterator[Problem]:
    prompt = _prompts(data)
    if kind in ("menu", "collect", "say") and not any(line.strip() for line in prompt):
        yield Problem("empty-prompt", f"a {kind} needs a prompt", node=node)
    urls = [line for line in prompt if line.startswith(("http://", "https://"))]
    if urls and len(prompt) > 1:
        yield Problem("audio-mixed", "a prompt audio URL must be the only entry", node=node)
    # A transfer's `invalid` exit is taken when the number it fills from a variable is no
    # number: with a constant number, or on a hangup, an edge is never taken.
    templated = kind == "transfer" and bool(template_fields(str(data.get("phone") or "")))
    never = {key for key in edges if not (templated and key == "invalid")}
    if kind in ("hangup", "transfer") and never:
        yield Problem(
            "terminal-has-exits", f"a {kind} ends the call; its edges are never taken", node=node
        )
    if kind == "menu":
        yield from _menu(node, prompt, edges)
    if kind == "collect":
        yield from _collect(node, data, edges)
    if kind in WAITING:
        has_limit, has_exit = bool(data.get("max_invalid")), "gave_up" in edges
        if has_limit != has_exit:
            say = (
                "max_invalid is set but no gave_up edge"
                if has_limit
                else ("a gave_up edge but no max_invalid")
            )
            yield Problem("retry-without-limit", say, node=node)
    if kind == "set":
        yield from _set(node, data, edges)
    if kind == "say":
        if "next" not in edges:
            yield Problem("missing-exit", "a say needs a `next` edge", node=node)
        elif flow.graph.nodes.get(edges["next"], {}).get("kind") == "transfer":
            yield Problem(
                "say-before-transfer",
                "a transfer carries no prompt: these words are never heard",
                node=node,
            )
    if kind == "transfer":
        yield from _transfer(node, data)
    if kind == "branch":
        yield from _branch(node, data, edges)
    if kind == "lookup":
        yield from _lookup(flow, node, data, edges)


def _menu(node: str, prompt: list[str], edges: dict[str, str]) -> Iterator[Problem]:
    if not any(key in KEYS for key in edges):
        yield Problem("no-way-out", "a menu needs at least one key edge", node=node)
    announced = set(announced_keys(prompt))
    for key in sorted(announced - set(edges), key=KEYS.index):
        yield Problem(
            "missing-key", f"the prompt announces key {key} but no edge leaves on {key}", node=node
        )
    if announced:
        for key in edges:
            if key in KEYS and key not in announced:
                yield Problem(
                    "unannounced-key",
                    f"key {key} has an edge but the prompt never announces it",
                    edge=(node, key, edges[key]),
                )


def _collect(node: str, data: dict[str, Any], edges: dict[str, str]) -> Iterator[Problem]:
    if "ok" not in edges:
        yield Problem("no-way-out", "a collect needs an `ok` edge", node=node)
    terminator, length = data.get("terminator"), data.get("length")
    low, high = data.get("min_length"), data.get("max_length")
    if bool(terminator) == bool(length):
        yield Problem(
            "bad-collect", "set either a terminator (* or #) or a fixed length", node=node
        )
    if length is not None and length < 2:
        yield Problem(
            "bad-collect", "a fixed length must be at least 2 (one key is a menu)", node=node
        )
    if low is not None and high is not None and low > high:
        yield Problem("bad-collect", f"min_length {low} is more than max_length {high}", node=node)
    pattern = data.get("pattern")
    if pattern is not None:
        try:
            re.compile(pattern)
        except re.error as error:
            yield Problem(
                "bad-collect",
                f"pattern {pattern!r} is not a regular expression: {error}",
                node=node,
            )


def _transfer(node: str, data: dict[str, Any]) -> Iterator[Problem]:
    targets = [field for field in TARGETS if data.get(field) not in (None, [], "")]
    if len(targets) != 1:
        named = ", ".join(targets) or "none"
        yield Problem(
            "bad-transfer",
            f"a transfer needs exactly one target of {', '.join(TARGETS)} (has: {named})",
            node=node,
        )
    for field in ("phone", "from_number"):
        number = data.get(field)
        if field == "phone" and template_fields(str(number or "")):
            continue  # filled from the call: checked when a call is transferred
        if number is not None and not is_phone_number(str(number)) and not _is_param(number):
            yield Problem(
                "bad-phone", f"{field} {number!r} is not E.164 (like +918000000001)", node=node
            )


def _set(node: str, data: dict[str, Any], edges: dict[str, str]) -> Iterator[Problem]:
    values = data.get("values")
    if not isinstance(values, dict) or not values:
        yield Problem("bad-set", "a set needs values: {name: text}", node=node)
        return
    for name, value in values.items():
        if not _VARIABLE.fullmatch(str(name)):
            yield Problem(
                "bad-set", f"{name!r} is not a variable name (letters, digits, _)", node=node
            )
        elif not isinstance(value, str):
            yield Problem(
                "bad-set", f"{name}: expected text, found {type(value).__name__}", node=node
            )
    if "next" not in edges:
        yield Problem("missing-exit", "a set needs a `next` edge", node=node)


def _lookup(
    flow: Flow, node: str, data: dict[str, Any], edges: dict[str, str]
) -> Iterator[Problem]:
    for key, need in (("ok", "an `ok` edge (taken"), ("failed", "a `failed` edge (taken")):
        if key not in edges:
            when = "with the answer saved" if key == "ok" else "when the backend fails"
            yield Problem("missing-exit", f"a lookup needs {need} {when})", node=node)
    yield from _lookup_url(flow, node, str(data.get("url") or ""))
    method = data.get("method", "GET")
    if method not in LOOKUP_METHODS:
        yield Problem(
            "bad-lookup", f"method {method!r} is not one of {', '.join(LOOKUP_METHODS)}", node=node
        )
    timeout = data.get("timeout")
    if timeout is not None and (
        not isinstance(timeout, (int, float))
        or isinstance(timeout, bool)
        or not 0 < timeout <= MAX_LOOKUP_TIMEOUT
    ):
        yield Problem(
            "bad-lookup",
            f"timeout {timeout!r} is not a number of seconds above 0 and at most "
            f"{MAX_LOOKUP_TIMEOUT:g}",
            node=node,
        )
    body = data.get("body")
    if body is not None and not isinstance(body, (dict, list)):
        yield Problem("bad-lookup", "body: expected a JSON object or list", node=node)
    for text in _strings(body):
        for secret in _SECRET.findall(text):
            yield Problem(
                "misplaced-secret",
                f"body reads {secret}, which is sent as written: secrets are read in header "
                "values only",
                node=node,
            )
    save = data.get("save") or {}
    if not isinstance(save, dict):
        yield Problem("bad-lookup", "save: expected variable names to paths", node=node)
        save = {}
    for name, path in save.items():
        if not _VARIABLE.fullmatch(str(name)):
            yield Problem(
                "bad-lookup", f"save {name!r}: not a variable name (letters, digits, _)", node=node
            )
        if not isinstance(path, str) or not _PATH_STEP.search(path):
            yield Problem(
                "bad-lookup",
                f"save {name}: the path is empty (name a field of the answer, like order.status)",
                node=node,
            )
        elif _SECRET.search(path):
            yield Problem("misplaced-secret", f"save {name}: a path reads no secret", node=node)
    headers = data.get("headers") or {}
    for name, value in headers.items() if isinstance(headers, dict) else ():
        if _SECRET.search(str(name)):
            yield Problem(
                "misplaced-secret",
                f"header name {name!r} reads a secret: secrets are read in header values only",
                node=node,
            )
        if _CREDENTIAL.search(str(name)) and str(value).strip() and not _SECRET.search(str(value)):
            yield Problem(
                "literal-secret",
                f"header {name} holds a literal value: keep the secret in the serving "
                "environment and write ${NAME} (like Bearer ${ORDERS_TOKEN})",
                node=node,
            )


def _lookup_url(flow: Flow, node: str, url: str) -> Iterator[Problem]:
    if not url.strip():
        yield Problem("bad-url", "a lookup needs a url (where it asks)", node=node)
        return
    for secret in _SECRET.findall(url):
        yield Problem(
            "misplaced-secret",
            f"url reads {secret}, which is sent as written (and logged): secrets are read in "
            "header values only",
            node=node,
        )
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        yield Problem("bad-url", f"url {url!r} cannot be read: {error}", node=node)
        return
    if parts.scheme.lower() not in ("http", "https"):
        yield Problem("bad-url", f"url {url!r} is not http:// or https://", node=node)
        return
    if "{" in parts.netloc or "}" in parts.netloc:
        yield Problem(
            "templated-host",
            f"url host {parts.netloc!r} is filled per call: allowed_hosts is checked only when a "
            "call runs; write the host out",
            node=node,
        )
        return
    if parts.username is not None:
        yield Problem(
            "bad-url",
            "url carries a user name or password: send credentials as a header with ${NAME}",
            node=node,
        )
        return
    host = (parts.hostname or "").lower()
    if not host:
        yield Problem("bad-url", f"url {url!r} has no host", node=node)
        return
    default = 443 if parts.scheme.lower() == "https" else 80
    entry = host if port in (None, default) else f"{host}:{port}"
    if ":" in host:
        entry = f"[{host}]" if port in (None, default) else f"[{host}]:{port}"
    if not host_allowed(url, flow.allowed_hosts):
        yield Problem(
            "host-not-allowed",
            f"url host {entry} is not on allowed_hosts: add {entry!r} to the flow's "
            "allowed_hosts (an environment's allowed_hosts replaces them)",
            node=node,
        )
    for env, values in (flow.environments or {}).items():
        hosts = values.get("allowed_hosts") if isinstance(values, dict) else None
        if isinstance(hosts, list) and not host_allowed(url, hosts):
            yield Problem(
                "host-not-allowed",
                f"url host {entry} is not on environment {env!r}'s allowed_hosts, which replace "
                f"the flow's: add {entry!r} there",
                node=node,
            )


def _is_param(value: Any) -> bool:
    return parameter_name(value) is not None


def _environments(flow: Flow) -> list[Problem]:
    used = parameters(flow)
    problems = []
    if used and not flow.environments:
        for name, places in used.items():
            problems.append(
                Problem(
                    "missing-parameter",
                    f"{{{{{name}}}}} has no value: the flow has no environments",
                    node=places[0][0],
                )
            )
    for env, names in missing(flow).items():
        for name in names:
            problems.append(
                Problem(
                    "missing-parameter",
                    f"environment {env!r} has no value for {{{{{name}}}}}",
                    node=used[name][0][0],
                )
            )
    for env, values in (flow.environments or {}).items():
        for name, places in used.items():
            value = values.get(name)
            bad = value is not None and not is_phone_number(str(value))
            for node, field in places:
                if bad and field in ("phone", "from_number"):
                    message = f"environment {env!r}: {name} = {value!r} is not E.164"
                    problems.append(Problem("bad-phone", message, node=node))
    return problems


def _branch(node: str, data: dict[str, Any], edges: dict[str, str]) -> Iterator[Problem]:
    if "default" not in edges:
        yield Problem("missing-exit", "a branch needs a `default` edge", node=node)
    for index, rule in enumerate(data.get("rules") or ()):
        for message in _rule_problems(rule):
            yield Problem("bad-rule", f"rule {index + 1}: {message}", node=node)
        outcome = str(rule.get("outcome"))
        if outcome not in edges:
            yield Problem(
                "outcome-without-edge",
                f"rule {index + 1}: outcome {outcome!r} has no edge, so it goes to default",
                node=node,
            )


def _rule_problems(rule: dict[str, Any]) -> Iterator[str]:
    test = rule.get("test")
    if test == "hours":
        try:
            zoneinfo.ZoneInfo(str(rule.get("tz") or "UTC"))
        except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
            # OSError: a folder of the zone database ("America") is no zone.
            yield f"unknown time zone {rule.get('tz')!r}"
        for field in ("start", "end"):
            if field in rule and not _HHMM.fullmatch(str(rule[field])):
                yield f"{field} {rule[field]!r} is not a time like 09:00"
        for field in ("days", "holidays"):
            if not isinstance(rule.get(field) or [], list):
                yield f"{field} {rule[field]!r} is not a list"
        for day in _list(rule.get("days")):
            if not isinstance(day, str) or day not in WEEKDAYS:
                yield f"{day!r} is not a day (mon … sun)"
        for holiday in _list(rule.get("holidays")):
            try:
                datetime.date.fromisoformat(str(holiday))
            except ValueError:
                yield f"holiday {holiday!r} is not a date like 2026-12-25"
        return
    if not rule.get("subject"):
        yield (
            f"a {test} rule needs a subject (a variable, from_number, to_number, direction, "
            "metadata.<key>…)"
        )
    if test == "matches":
        try:
            re.compile(str(rule.get("value")))
        except re.error as error:
            yield f"{rule.get('value')!r} is not a regular expression: {error}"
    if test == "one_of" and not isinstance(rule.get("values"), list):
        yield "a one_of rule needs a list of values"


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _loops(flow: Flow) -> list[Problem]:
    order = {node: index for index, node in enumerate(flow.nodes)}
    silent = [n for n in order if flow.graph.nodes[n]["kind"] in ("say", "branch", "set", "lookup")]
    sub = flow.graph.subgraph(silent)
    found = []
    for component in nx.strongly_connected_components(sub):
        first = min(component, key=order.__getitem__)
        if len(component) > 1 or sub.has_edge(first, first):
            names = ", ".join(sorted(component))
            found.append(
                Problem(
                    "silent-loop",
                    f"{names} loop without waiting for the caller: a call would never be answered",
                    node=first,
                )
            )
    return found


def _reachability(flow: Flow) -> list[Problem]:
    if flow.entry not in flow:
        return []
    reached = nx.descendants(flow.graph, flow.entry) | {flow.entry}
    return [
        Problem("unreachable", "no call can reach this node from the entry", node=node)
        for node in flow.nodes
        if node not in reached
    ]


def _uses(data: dict[str, Any]) -> set[str]:
    names = {name for line in _templates(data) for _, name in template_fields(line)}
    if data.get("kind") == "set" and isinstance(data.get("values"), dict):
        names -= set(data["values"])  # a value may read one the node set before it
    return {name for name in names - set(CALLER_FIELDS) if not is_context_field(name)}


def _unset_variables(flow: Flow) -> list[Problem]:
    """A must-be-defined data-flow analysis: which variables are set on every path to a node."""
    entry = flow.entry
    if entry is None or entry not in flow:
        return []
    graph = flow.graph
    everything = frozenset(flow.variables())
    defined: dict[str, frozenset[str]] = {node: everything for node in flow.nodes}
    defined[entry] = frozenset()
    pending = [entry]
    while pending:
        node = pending.pop()
        data = graph.nodes[node]
        for _, target, key in graph.out_edges(node, keys=True):
            if target not in defined or target == entry:
                continue
            out = defined[node]
            if data["kind"] == "collect" and key == "ok" and data.get("var"):
                out = out | {data["var"]}
            if data["kind"] == "set" and isinstance(data.get("values"), dict):
                out = out | {str(name) for name in data["values"]}
            if data["kind"] == "lookup" and key == "ok" and isinstance(data.get("save"), dict):
                out = out | {str(name) for name in data["save"]}
            narrowed = defined[target] & out
            if narrowed != defined[target]:
                defined[target] = narrowed
                pending.append(target)
    reached = nx.descendants(graph, entry) | {entry}
    problems = []
    for node in flow.nodes:
        if node not in reached:
            continue
        for name in sorted(_uses(graph.nodes[node]) - defined[node]):
            how = "is never collected" if name not in everything else "may be unset here"
            problems.append(Problem("maybe-unset", f"{{{name}}} {how}", node=node))
    return problems
