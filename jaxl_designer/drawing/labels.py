"""What a drawing says: the short lines under each node, and which nodes and edges a path names.

Shared by the Graphviz and Mermaid renderers; plain text, no markup (each renderer escapes).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from ..core.flow import TARGETS, Flow
from ..core.runtime import template_fields

__all__ = ["Edge", "as_edge", "clean", "path_parts", "shorten", "summary"]

Edge = tuple[str, str, str]

_UNPRINTABLE = re.compile("[\x00-\x08\x0b-\x1f\x7f\ud800-\udfff\ufffe\uffff]")
_LINE_CHARS = 48


# -- what a node says ------------------------------------------------------------------------
def clean(text: str) -> str:
    """`text` with the characters no SVG or terminal can carry replaced by U+FFFD."""
    return _UNPRINTABLE.sub("\ufffd", text)


def shorten(text: str, limit: int = _LINE_CHARS) -> str:
    """`text`, cut to `limit` characters with an ellipsis."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _first_words(prompt: Iterable[str], words: int) -> str:
    said = " ".join(str(line) for line in prompt).split()
    text = " ".join(said[:words])
    return shorten(text + " …" if len(said) > words else text)


def _transfer_target(data: Mapping[str, Any]) -> str:
    for name in TARGETS:
        value = data.get(name)
        if value is None:
            continue
        text = ", ".join(map(str, _listed(value)))
        if name == "phone" and template_fields(text):
            # Filled per call: say so, since the text alone reads like a number.
            return shorten(f"→ phone from {text}")
        word = {"phone": "", "appusers": "app users ", "ivr": "IVR "}.get(name, f"{name} ")
        return shorten(f"→ {word}{text}")
    return "→ ?"


def _assignments(values: Any) -> list[str]:
    # A file may hold anything where an object belongs; the drawing shows it rather than fail.
    if not isinstance(values, Mapping):
        return [shorten(str(values))] if values else []
    return [shorten(f"{name} = {text}") for name, text in values.items()]


def _request(data: Mapping[str, Any]) -> str:
    """`GET orders.example.com/orders/{order}`: the method, host and path a lookup asks.

    Short: the scheme is left out and a query string is only marked (`?…`); a user and
    password in the URL are never shown, nor is anything of the headers.
    """
    method = str(data.get("method") or "GET")
    url = str(data.get("url") or "").strip()
    try:
        parts = urlsplit(url)
        host, port = parts.hostname or "", parts.port
    except ValueError:
        host, port = "", None
    if host:
        host = f"[{host}]" if ":" in host else host  # an IPv6 address
        where = host + (f":{port}" if port is not None else "") + parts.path
        query = bool(parts.query)
    else:
        # No host a URL parser finds (a template for a port, a relative URL): its own text,
        # without a user and password.
        authority, slash, path = url.split("://", 1)[-1].partition("/")
        where, mark, _ = (authority.rpartition("@")[2] + slash + path).partition("?")
        query = bool(mark)
    return shorten(f"{method} {where or '?'}{'?…' if query else ''}")


def _listed(value: Any) -> list[Any]:
    # A file may hold anything where a list belongs; the drawing shows it rather than fail.
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _days(days: list[Any]) -> str:
    week = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    if len(days) > 2 and all(day in week for day in days):
        start = week.index(days[0])
        if days == week[start : start + len(days)]:
            return f"{days[0]}–{days[-1]}"
    return ",".join(map(str, days)) or "every day"


def _rule_text(rule: Mapping[str, Any]) -> str:
    test, subject, value = rule.get("test"), rule.get("subject"), rule.get("value")
    if test == "hours":
        days = _days(_listed(rule.get("days")))
        condition = f"{days} {rule.get('start', '')}–{rule.get('end', '')}"
    elif test == "one_of":
        condition = f"{subject} in {', '.join(map(str, _listed(rule.get('values'))))}"
    elif test == "is_set":
        condition = f"{subject} is set"
    else:
        symbol = {"equals": "=", "prefix": "starts", "matches": "~"}.get(str(test), str(test))
        condition = f"{subject} {symbol} {value}"
    return shorten(f"{rule.get('outcome')}: {condition}")


def summary(flow: Flow, node_id: str, words: int = 6) -> list[str]:
    """The short lines a drawing shows under a node's id.

    Args:
        flow: The flow.
        node_id: One of its nodes.
        words: How many words of a prompt to show.

    Returns:
        Prompt words for menu, collect, say and hangup; the destination for a transfer
        (`→ +918000000001`, `→ teams 101`, `→ phone from {agent_phone}` when the number is
        filled per call); one line per rule for a branch; one `name = text` line per value
        for a set; for a lookup, what it asks (`GET orders.example.com/orders/{order}`: no
        scheme, password or query string, and never its headers, which may carry secrets),
        then one `variable = path` line per value it saves.

    Example:
        >>> from jaxl_designer.core.examples import business_hours
        >>> summary(business_hours(), "hours")
        ['open: mon–fri 09:00–18:00']
        >>> flow = Flow("agents")
        >>> flow.set("pick", {"agent_phone": "+9180000{code}"}, then="go")
        'pick'
        >>> flow.transfer("go", phone="{agent_phone}")
        'go'
        >>> summary(flow, "pick"), summary(flow, "go")
        (['agent_phone = +9180000{code}'], ['→ phone from {agent_phone}'])
        >>> flow.lookup("ask", "https://orders.example.com/orders/{order}?key=abc",
        ...             save={"status": "order.status"}, headers={"X-Key": "${KEY}"})
        'ask'
        >>> summary(flow, "ask")
        ['GET orders.example.com/orders/{order}?…', 'status = order.status']
    """
    data = flow.graph.nodes[node_id]
    kind = data["kind"]
    if kind == "transfer":
        return [_transfer_target(data)]
    if kind == "set":
        return _assignments(data.get("values"))
    if kind == "lookup":
        return [_request(data), *_assignments(data.get("save"))]
    if kind == "branch":
        return [_rule_text(rule) for rule in _listed(data.get("rules")) if isinstance(rule, dict)]
    if kind == "subflow":
        return [shorten(f"piece {data.get('piece')}")]
    lines = [_first_words(_listed(data.get("prompt")), words)] if words > 0 else []
    if kind == "collect" and data.get("var"):
        lines.append(shorten(f"into {data['var']}"))
    return [line for line in lines if line]


def path_parts(flow: Flow, path: Any) -> tuple[list[str], list[Edge]]:
    """The nodes and edges a path highlight names.

    Args:
        flow: The flow drawn (to find the edges between nodes when only nodes are given).
        path: None; a list of node ids; a pair `(nodes, edges)`; or a call or turn with
            `.path` or `.nodes`, and `.edges`.

    Returns:
        The nodes in order (the last is the current one) and the edges taken.
    """
    if path is None:
        return [], []
    if isinstance(path, str):
        return [path], []
    if isinstance(path, tuple) and len(path) == 2 and not isinstance(path[0], str):
        nodes, edges = path
    elif isinstance(path, Sequence):
        nodes = path
        edges = _edges_between(flow, [str(node) for node in path])
    else:
        nodes = path.path if getattr(path, "path", None) is not None else path.nodes
        edges = path.edges
    return [str(node) for node in nodes], [as_edge(edge) for edge in edges]


def as_edge(edge: Sequence[Any]) -> Edge:
    """Any (source, key, target) sequence as a tuple of strings."""
    source, key, target = edge
    return str(source), str(key), str(target)


def _edges_between(flow: Flow, nodes: Sequence[str]) -> list[Edge]:
    taken: list[Edge] = []
    for source, target in itertools.pairwise(nodes):
        if source in flow:
            taken += [(source, k, t) for k, t in flow.edges(source).items() if t == target]
    return taken
