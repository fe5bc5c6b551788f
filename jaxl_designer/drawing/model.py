"""A drawing as plain data: numbered nodes, edges and entry markers, with what each says and marks.

Every renderer (DOT, Mermaid, the diff) draws one of these, so all agree on what is drawn and
in what order: node `i` is the flow's `i`-th node, then the edge targets that are not nodes;
edge `j` runs node by node, each node's edges in file order.

Example:
    >>> from jaxl_designer.core.examples import acme
    >>> drawing = build(acme(), path=["main", "order"])
    >>> drawing.nodes[2].id, drawing.nodes[2].states, drawing.path
    ('order', ('visited', 'active'), (0, 2))
    >>> edge = drawing.edges[0]
    >>> drawing.nodes[edge.source].id, edge.key, drawing.nodes[edge.target].id
    ('main', '1', 'sales')
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..core.flow import Flow
from .labels import Edge, as_edge, shorten, summary
from .styles import FALLBACK_KEYS, STATE_ORDER

__all__ = [
    "TOOLTIP_CHARS",
    "Drawing",
    "DrawnEdge",
    "DrawnNode",
    "Start",
    "build",
    "edge_kind",
    "in_order",
]

#: Hover text is cut to this many characters.
TOOLTIP_CHARS = 400


@dataclass(frozen=True)
class DrawnNode:
    """One drawn node.

    Attributes:
        index: Its number: `n{index}` in DOT and Mermaid, `{prefix}node-{index}` in SVG.
        id: The node id the user typed (text only: renderers escape it).
        kind: The node's kind, or `missing` for an edge target that is no node.
        lines: What it says under its id.
        tooltip: What hovering shows.
        states: Style names over the kind's style, applied in order (a highlight or a status).
        entry: True for the node a call starts at.
        struck: True when its text is struck through (removed in a diff).
    """

    index: int
    id: str
    kind: str
    lines: tuple[str, ...]
    tooltip: str
    states: tuple[str, ...] = ()
    entry: bool = False
    struck: bool = False


@dataclass(frozen=True)
class DrawnEdge:
    """One drawn edge, from node number `source` to node number `target`, labelled `key`.

    Attributes:
        kind: `key` for a key or outcome, `fallback` for one the call takes by itself.
        states: Style names over the kind's style, applied in order.
        struck: True when its label is struck through (removed in a diff).
    """

    index: int
    source: int
    target: int
    key: str
    kind: str
    tooltip: str
    states: tuple[str, ...] = ()
    struck: bool = False


@dataclass(frozen=True)
class Start:
    """An entry marker: a dot with an arrow to node number `target`."""

    target: int
    tooltip: str = "the call starts here"
    states: tuple[str, ...] = ()


@dataclass(frozen=True)
class Drawing:
    """What a renderer draws: nodes, edges, entry markers, and a path's nodes in call order."""

    nodes: tuple[DrawnNode, ...]
    edges: tuple[DrawnEdge, ...]
    starts: tuple[Start, ...] = ()
    path: tuple[int, ...] = ()

    def edge_ends(self, edge: DrawnEdge) -> Edge:
        """The edge as (source id, key, target id)."""
        return self.nodes[edge.source].id, edge.key, self.nodes[edge.target].id


def edge_kind(key: str) -> str:
    """`fallback` for the keys a call takes by itself (`invalid`, `gave_up`), else `key`."""
    return "fallback" if key in FALLBACK_KEYS else "key"


def in_order(states: Iterable[str]) -> tuple[str, ...]:
    """`states` in `STATE_ORDER`, each once, unknown ones dropped."""
    found = set(states)
    return tuple(state for state in STATE_ORDER if state in found)


def build(
    flow: Flow,
    *,
    words: int = 6,
    path: Sequence[str] = (),
    path_edges: Sequence[Edge] = (),
    problems: Iterable[Any] = (),
    selected: str | None = None,
) -> Drawing:
    """The drawing of `flow` with its highlights.

    Args:
        flow: The flow to draw.
        words: How many words of a prompt a node shows (0: the id only).
        path: Nodes a call went through; the last is the current node.
        path_edges: Edges the call took, as (source, key, target).
        problems: Objects with `.node`, `.edge` and `.severity` ("error" or "warning").
        selected: The selected node.

    Returns:
        The drawing: states `visited`, `active`, `warning`, `error` and `selected` mark nodes
        and edges, in `STATE_ORDER`.
    """
    nodes = flow.nodes
    edges = [(node, key, target) for node in nodes for key, target in flow.edges(node).items()]
    extra = [target for _, _, target in edges if target not in flow]
    drawn = [*nodes, *dict.fromkeys(extra)]
    index = {node: i for i, node in enumerate(drawn)}
    node_problems, edge_problems = _severities(problems)
    node_states = _node_states(path, node_problems, selected)
    edge_states = _edge_states(path_edges, edge_problems)
    return Drawing(
        nodes=tuple(
            _node(flow, i, node, node_states.get(node, []), words) for i, node in enumerate(drawn)
        ),
        edges=tuple(
            DrawnEdge(
                index=j,
                source=index[source],
                target=index[target],
                key=key,
                kind=edge_kind(key),
                tooltip=shorten(f"{source} --{key}--> {target}", TOOLTIP_CHARS),
                states=in_order(edge_states.get((source, key, target), [])),
            )
            for j, (source, key, target) in enumerate(edges)
        ),
        starts=(Start(index[str(flow.entry)]),) if flow.entry in flow else (),
        path=tuple(index[node] for node in dict.fromkeys(path) if node in index),
    )


def _node(flow: Flow, index: int, node: str, states: list[str], words: int) -> DrawnNode:
    known = node in flow
    lines = summary(flow, node, words) if known else ["(not in the flow)"]
    # Hovering shows the whole prompt, which the label cuts to its first words.
    said = flow.graph.nodes[node].get("prompt") or lines
    return DrawnNode(
        index=index,
        id=node,
        kind=flow.kind(node) if known else "missing",
        lines=tuple(lines),
        tooltip=shorten("\n".join([node, *map(str, said)]), TOOLTIP_CHARS),
        states=in_order(states),
        entry=node == flow.entry,
    )


def _severities(problems: Iterable[Any]) -> tuple[dict[str, str], dict[Edge, str]]:
    nodes: dict[str, str] = {}
    edges: dict[Edge, str] = {}
    for problem in problems:
        severity = "error" if problem.severity == "error" else "warning"
        edge, node = getattr(problem, "edge", None), getattr(problem, "node", None)
        # An error outranks a warning on the same node or edge, whatever the order.
        if edge:
            edges[as_edge(edge)] = max(edges.get(as_edge(edge), ""), severity, key=_rank)
        elif node is not None:
            nodes[node] = max(nodes.get(node, ""), severity, key=_rank)
    return nodes, edges


def _rank(severity: str) -> int:
    return ("", "warning", "error").index(severity)


def _node_states(
    path: Sequence[str], problems: Mapping[str, str], selected: str | None
) -> dict[str, list[str]]:
    states: dict[str, list[str]] = {}
    for node in path:
        states.setdefault(node, ["visited"])
    if path:
        states.setdefault(path[-1], []).append("active")
    for node, severity in problems.items():
        states.setdefault(node, []).append(severity)
    if selected is not None:
        states.setdefault(selected, []).append("selected")
    return states


def _edge_states(path_edges: Sequence[Edge], problems: Mapping[Edge, str]) -> dict[Edge, list[str]]:
    states: dict[Edge, list[str]] = {}
    for edge in path_edges:
        states.setdefault(edge, ["visited"])
    if path_edges:
        states.setdefault(path_edges[-1], []).append("active")
    for edge, severity in problems.items():
        states.setdefault(edge, []).append(severity)
    return states
