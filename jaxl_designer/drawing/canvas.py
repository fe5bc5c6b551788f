"""The canvas's view of a flow: cards with their exits, problems and places, as plain JSON data.

The canvas front end draws exactly this; every decision about what a card says, which exits it
offers and what an edge is called is made here, in Python, where it is tested.

Example:
    >>> from jaxl_designer.core.examples import acme
    >>> view = canvas_view(acme(), positions={})
    >>> main = view["nodes"][0]
    >>> main["id"], main["entry"], [exit["label"] for exit in main["exits"]][:2]
    ('main', True, ['1 · sales', '2 · enter your order number'])
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ..core.flow import Flow, edge_order
from ..core.pieces import PieceError
from ..core.prompts import announced
from ..core.report import Traffic
from ..core.runtime import KEYS, template_fields
from ..core.subflows import piece_exits
from .labels import clean, shorten, summary
from .layout import CARD, place_near
from .pieces_view import laid_out
from .styles import FALLBACK_KEYS

__all__ = [
    "FOLD_AT",
    "PREVIEW_LINES",
    "canvas_view",
    "exits",
    "folded_exits",
    "piece_card",
    "traffic_overlay",
]

#: How many lines of a node's summary its card shows.
PREVIEW_LINES = 2
#: From how many "back to the start" edges on, the canvas folds them into a marker on each exit.
FOLD_AT = 3
_LINE_CHARS = 34
_PROMPT_CHARS = 600


def exits(
    flow: Flow, node: str, folded: set[tuple[str, str]] | None = None
) -> list[dict[str, Any]]:
    """The exits a node's card offers: those in use, and the fixed ones a user may connect.

    A menu offers the keys that have an edge (a "+" handle adds others), then `invalid` and
    `gave_up`; a collect `ok`, `invalid`, `gave_up`; a say or set `next`; a branch each rule's
    outcome, then `default`; a subflow its piece's exits; a transfer `invalid` only when its
    number is filled from the call (`{agent_phone}`), since a fixed number never takes it.
    Keys the prompt announces are labelled with what they are for ("1 · sales"). An exit in
    `folded` (by default `folded_exits`) is drawn as a marker, not an edge.
    """
    data = flow.graph.nodes[node]
    kind = str(data["kind"])
    edges = flow.edges(node)
    if kind == "menu":
        offered = [key for key in KEYS if key in edges] + ["invalid", "gave_up"]
    elif kind == "subflow":
        try:
            offered = sorted(piece_exits(flow, node))
        except PieceError:
            offered = []
    elif kind == "transfer" and not template_fields(str(data.get("phone") or "")):
        offered = []
    else:
        offered = list(edge_order(kind, data))
    offered += [key for key in edges if key not in offered]
    meanings = announced(data.get("prompt") or ()) if kind == "menu" else {}
    fold = folded if folded is not None else folded_exits(flow)
    found = []
    for key in offered:
        meaning = meanings.get(key, "")
        label = f"{key} · {meaning}" if meaning else key.replace("_", " ")
        found.append(
            {
                "key": key,
                "label": shorten(clean(label), _LINE_CHARS),
                "target": edges.get(key),
                "fallback": key in FALLBACK_KEYS,
                "folded": (node, key) in fold,
            }
        )
    return found


def folded_exits(flow: Flow) -> set[tuple[str, str]]:
    """The exits drawn as a "back to the start" marker instead of an edge, as (node, key).

    They are the edges that lead back to the entry from elsewhere, once there are `FOLD_AT` or
    more: in a large menu tree nearly every node has one, and drawn as lines they would cover the
    canvas and say nothing new.

    Example:
        >>> from jaxl_designer.core.examples import acme
        >>> from jaxl_designer.core.generate import big_flow
        >>> sorted(folded_exits(big_flow(12)))[:2]
        [('branch_4', 'default'), ('branch_4', 'open')]
        >>> folded_exits(acme())  # nothing leads back to main from elsewhere
        set()
    """
    back = {
        (node, key)
        for node in flow.nodes
        for key, target in flow.edges(node).items()
        if target == flow.entry and node != flow.entry
    }
    return back if len(back) >= FOLD_AT else set()


def _preview(flow: Flow, node: str) -> list[str]:
    if flow.graph.nodes[node]["kind"] == "lookup":
        # What it asks and what it saves keep a line each: a long URL wrapped on into the saved
        # variables reads as neither.
        asks, *saved = summary(flow, node)
        lines = [asks, " · ".join(saved)][:PREVIEW_LINES]
        return [shorten(clean(line), _LINE_CHARS) for line in lines if line]
    text = clean(" · ".join(summary(flow, node, 16)))
    return textwrap.wrap(text, _LINE_CHARS, max_lines=PREVIEW_LINES, placeholder=" …")


def _problem(problem: Any) -> dict[str, str]:
    return {"severity": problem.severity, "code": problem.code, "message": str(problem.message)}


def _prompt(data: Mapping[str, Any]) -> str:
    lines = [str(line) for line in data.get("prompt") or ()]
    return shorten(clean("\n".join(lines)), _PROMPT_CHARS)


def piece_card(flow: Flow, node: str, direction: str = "TB") -> dict[str, Any]:
    """What a subflow card shows of its piece when opened: `piece`, or None and `piece_error`.

    `piece` is {name, entry, size, nodes}: each node a card like the flow's own ({id, kind,
    lines, prompt, position, exits}), placed relative to the top-left of the piece's cards,
    `size` [width, height] their box. An exit whose target starts with `@` leaves the piece
    by the subflow card's exit of that name.

    Example:
        >>> flow = Flow("bank")
        >>> flow.subflow("account", "collect_and_confirm", {"var": "account"})
        'account'
        >>> piece = piece_card(flow, "account")["piece"]
        >>> [(n["id"], n["position"]) for n in piece["nodes"]][:2]
        [('ask', [0, 0]), ('confirm', [0, 166])]
        >>> flow.subflow("lost", "nowhere.json")
        'lost'
        >>> piece_card(flow, "lost")["piece"] is None
        True
    """
    data = flow.graph.nodes[node]
    name = str(data.get("piece"))
    try:
        piece = laid_out(name, data.get("params"), flow.folder, direction)
    except PieceError as error:
        return {"piece": None, "piece_error": str(error)}
    inner = piece.flow
    nodes = [
        {
            "id": step,
            "kind": inner.graph.nodes[step]["kind"],
            "lines": _preview(inner, step),
            "prompt": _prompt(inner.graph.nodes[step]),
            "position": list(piece.places[step]),
            "exits": [
                {key: e[key] for key in ("key", "label", "target", "fallback")}
                for e in exits(inner, step, set())
            ],
        }
        for step in inner.nodes
    ]
    return {
        "piece": {"name": name, "entry": inner.entry, "size": list(piece.size), "nodes": nodes},
        "piece_error": None,
    }


def canvas_view(
    flow: Flow,
    *,
    positions: Mapping[str, Sequence[float]],
    problems: Iterable[Any] = (),
    path: Sequence[str] = (),
    path_edges: Sequence[Sequence[str]] = (),
    current: str | None = None,
    direction: str = "TB",
    undo: str | None = None,
    redo: str | None = None,
    traffic: Traffic | None = None,
) -> dict[str, Any]:
    """The view the canvas draws (see `js/src/view.js` for how it reads it).

    A subflow card also carries its piece, laid out, for the canvas to open (`piece_card`).

    Args:
        flow: The flow.
        positions: Each card's top-left, in pixels (`layout.layout`, or the flow's own).
        problems: What validation found (`Problem` objects).
        path: The nodes the simulated call went through; `current` is where it waits.
        path_edges: The edges it took, as (source, key, target).
        current: The node the call waits at, or None.
        direction: "TB" or "LR", how the cards are laid out (and so where handles sit).
        undo: What Undo would take back, for its tooltip; `redo` the same for Redo.
        traffic: Calls counted from request logs (`core.report`), drawn over the flow: each
            card's calls and hang-ups, each edge's calls.
    """
    on_node: dict[str, list[dict[str, str]]] = {}
    on_flow: list[dict[str, str]] = []
    counts = {"error": 0, "warning": 0}
    for problem in problems:
        if not flow.nodes and problem.code == "missing-entry":
            continue  # a new flow has no entry yet: the canvas shows a hint, not an error
        counts[problem.severity] = counts.get(problem.severity, 0) + 1
        where = problem.edge[0] if problem.edge else problem.node
        if where in flow:
            on_node.setdefault(str(where), []).append(_problem(problem))
        else:
            on_flow.append(_problem(problem))
    places = {node: [round(v) for v in point] for node, point in positions.items()}
    fold = folded_exits(flow)
    nodes = []
    for node in flow.nodes:
        data = flow.graph.nodes[node]
        point = places.get(node) or place_near(places, None, direction)
        places[node] = point
        card: dict[str, Any] = {}
        if data["kind"] == "subflow":
            card = piece_card(flow, node, direction)
        nodes.append(
            {
                "id": node,
                "kind": data["kind"],
                "entry": node == flow.entry,
                "lines": _preview(flow, node),
                "prompt": _prompt(data),
                "position": point,
                "problems": on_node.get(node, []),
                "exits": exits(flow, node, fold),
                "add_key": data["kind"] == "menu"
                and any(key not in flow.edges(node) for key in KEYS),
                **card,
            }
        )
    missing: list[dict[str, Any]] = []
    for node in flow.nodes:
        for target in flow.edges(node).values():
            if target not in flow and target not in {m["id"] for m in missing}:
                point = place_near(places, node, direction)
                places[target] = point
                missing.append({"id": target, "position": point})
    return {
        "flow": {"name": flow.name, "entry": flow.entry},
        "direction": direction,
        "card": list(CARD),
        "nodes": nodes,
        "missing": missing,
        "counts": counts,
        "flow_problems": on_flow,
        "path": {
            "nodes": list(path),
            "edges": [list(edge) for edge in path_edges],
            "current": current,
        },
        "undo": undo,
        "redo": redo,
        "traffic": None if traffic is None else traffic_overlay(flow, traffic),
    }


def traffic_overlay(flow: Flow, traffic: Traffic) -> dict[str, Any]:
    """What the canvas draws of real calls: per card and per edge, and the most on any edge.

    Example:
        >>> from jaxl_designer.core.examples import acme
        >>> from jaxl_designer.core.report import read
        >>> lines = ['{"v":1,"event":1,"call_id":1,"nodes":["main"],"wait":"main"}',
        ...          '{"v":1,"event":2,"call_id":1,"nodes":["sales"],'
        ...          '"edges":[["main","1","sales"]],"end":"transfer"}']
        >>> overlay = traffic_overlay(acme(), read([lines]))
        >>> overlay["edges"], overlay["nodes"]["sales"]
        ([['main', '1', 'sales', 1]], {'calls': 1, 'hung_up': 0, 'gave_up': 0})
    """
    nodes = {
        node: {
            "calls": traffic.reached[node],
            "hung_up": traffic.hung_up[node],
            "gave_up": traffic.gave_up[node],
        }
        for node in flow.nodes
        if traffic.reached[node]
    }
    edges: list[list[Any]] = [
        [source, key, target, traffic.edge_calls[(source, key, target)]]
        for source in flow.nodes
        for key, target in flow.edges(source).items()
        if traffic.edge_calls[(source, key, target)]
    ]
    return {
        "calls": traffic.calls,
        "nodes": nodes,
        "edges": edges,
        "most": max((int(edge[3]) for edge in edges), default=0),
    }
