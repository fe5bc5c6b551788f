"""Hypothesis strategies: random flow documents that the file format accepts, sound or not."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from jaxl_designer.core.flow import FIELDS, FORMAT, KINDS, VERSION, edge_order

__all__ = ["documents", "json_values", "node_ids", "prompts"]

#: Any JSON value, small.
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**12), 10**12)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=6),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)
_NAME = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,6}", fullmatch=True)
#: Node ids: mostly names, sometimes any text at all (spaces, Devanagari, line breaks).
node_ids = _NAME | st.text(min_size=1, max_size=6)
#: Prompts: lists of unicode sentences, `{variables}` among them.
prompts = st.lists(
    st.text(max_size=12) | st.sampled_from(["Press 1 for sales.", "You entered {order}.", "नमस्ते"]),
    max_size=3,
)
_PARAMETER = _NAME.map(lambda name: "{{" + name + "}}")
_IDS = st.lists(st.integers(-5, 10**9), max_size=3) | _PARAMETER
_COUNT = st.integers(1, 20)
_TZ = st.sampled_from(["UTC", "Asia/Kolkata", "America", "Nowhere/Zone", ""]) | st.text(max_size=5)
_DAY = st.sampled_from(["mon", "tue", "sun", "Monday"])
_RULE_EXTRAS: dict[str, st.SearchStrategy[Any]] = {
    "subject": st.sampled_from(["lang", "from_number", "to_number", ""]) | json_values,
    "value": st.sampled_from(["2", "[12]", "(", "+91"]) | json_values,
    "values": st.lists(st.text(max_size=3), max_size=3) | json_values,
    "tz": _TZ | json_values,
    "days": st.lists(_DAY, max_size=3) | json_values,
    "start": st.sampled_from(["09:00", "24:00", "9am"]) | json_values,
    "end": st.sampled_from(["18:00", "25:00"]) | json_values,
    "holidays": st.lists(st.sampled_from(["2026-12-25", "12/25"]), max_size=2) | json_values,
}
_TESTS = ("equals", "one_of", "prefix", "matches", "is_set", "hours")


@st.composite
def _rule(draw: st.DrawFn) -> dict[str, Any]:
    rule = {
        "outcome": draw(st.sampled_from(["open", "hindi", "vip"]) | _NAME),
        "test": draw(st.sampled_from(_TESTS)),
    }
    for name in draw(st.lists(st.sampled_from(sorted(_RULE_EXTRAS)), unique=True, max_size=4)):
        rule[name] = draw(_RULE_EXTRAS[name])
    return rule


_FIELD_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "prompt": prompts,
    "max_invalid": _COUNT,
    "var": _NAME,
    "terminator": st.sampled_from(["*", "#"]),
    "length": _COUNT,
    "min_length": st.integers(0, 20),
    "max_length": _COUNT,
    "pattern": st.sampled_from(["[0-9]+", "[12]", "("]) | st.text(max_size=4),
    "phone": st.sampled_from(["+918000000001", "12345", "{{sales_phone}}", "{agent_phone}"])
    | st.text(max_size=8),
    "from_number": st.sampled_from(["+918000000002", "{{caller_id}}"]),
    "devices": _IDS,
    "appusers": _IDS,
    "teams": _IDS,
    "ivr": st.integers(0, 10**6) | _PARAMETER,
    "rules": st.lists(_rule(), max_size=3),
    "piece": st.sampled_from(["collect_and_confirm", "business_hours_gate", "nowhere", "x.json"]),
    "params": st.dictionaries(st.text(max_size=5), json_values, max_size=2),
    "values": st.dictionaries(
        _NAME | st.text(max_size=4),
        st.sampled_from(["+91{code}", "Hello {metadata.name}", "{x}{x}"]) | st.text(max_size=6),
        max_size=3,
    ),
    "method": st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE"]),
    "url": st.sampled_from(
        ["http://127.0.0.1:8765/orders/{order}", "https://api.example.com/x?q={metadata.id}"]
    )
    | st.text(min_size=1, max_size=8).filter(str.strip),
    "headers": st.dictionaries(
        st.sampled_from(["Authorization", "X-Key"]),
        st.sampled_from(["Bearer ${TOKEN}", "plain"]) | st.text(max_size=4),
        max_size=2,
    ),
    "body": st.dictionaries(st.text(max_size=4), json_values, max_size=2)
    | st.lists(json_values, max_size=2),
    "timeout": st.sampled_from([0.5, 2, 10]),
    "save": st.dictionaries(_NAME, st.sampled_from(["status", "order.status", "items.0.name"])),
}


@st.composite
def _spec(draw: st.DrawFn, ids: list[str], kind: str) -> dict[str, Any]:
    spec: dict[str, Any] = {"kind": kind}
    for field in FIELDS[kind]:
        required = kind == "collect" and field == "var"
        if required or draw(st.booleans()):
            spec[field] = draw(_FIELD_VALUES[field])
    keys = st.sampled_from(edge_order(kind, spec) or ("next", "ok")) | st.text(max_size=4)
    # Edges to nowhere are part of what a file can hold.
    targets = st.sampled_from(ids) | node_ids
    edges = draw(st.dictionaries(keys, targets, max_size=4))
    if edges or draw(st.booleans()):
        spec["edges"] = edges
    return spec


@st.composite
def documents(draw: st.DrawFn, max_nodes: int = 6) -> dict[str, Any]:
    """A flow document `fileformat.from_document` accepts, whatever validation would say of it.

    Node ids, kinds, fields, edges (to nodes or to nowhere), entry, recovery, environments and
    layout are all random; optional parts are sometimes left out.
    """
    ids = draw(st.lists(node_ids, max_size=max_nodes, unique=True))
    doc: dict[str, Any] = {"format": FORMAT, "version": VERSION}
    if draw(st.booleans()):
        doc["name"] = draw(st.text(max_size=8))
    if draw(st.booleans()):
        doc["description"] = draw(st.text(max_size=12))
    if ids or draw(st.booleans()):
        doc["entry"] = draw(st.sampled_from(ids) if ids and draw(st.booleans()) else st.none())
    if draw(st.booleans()):
        action = draw(st.sampled_from(["restart", "hangup"]))
        doc["recovery"] = {"action": action, "prompt": draw(prompts)}
    if draw(st.booleans()):
        doc["environments"] = draw(
            st.dictionaries(_NAME, st.dictionaries(_NAME, json_values, max_size=2), max_size=2)
        )
    if draw(st.booleans()):
        hosts = st.sampled_from(["127.0.0.1:8765", "api.example.com", "[::1]:80"])
        doc["allowed_hosts"] = draw(st.lists(hosts, max_size=2))
    doc["nodes"] = {node_id: draw(_spec(ids, draw(st.sampled_from(KINDS)))) for node_id in ids}
    if draw(st.booleans()):
        number = st.integers(-(10**6), 10**6) | st.floats(allow_nan=False, allow_infinity=False)
        placed = st.sampled_from(ids) | node_ids if ids else node_ids
        doc["layout"] = draw(st.dictionaries(placed, st.tuples(number, number).map(list)))
    return doc
