"""Canvas positions laid out by Graphviz's `dot`: where each card goes, top-left, in pixels.

The canvas draws every node as a card of one size (`CARD`); `dot` places cards of that size
with the flow's edges between them, and `layout` reads the placement back from `dot -Tplain`.

Example:
    >>> from jaxl_designer.core.examples import acme
    >>> places = layout(acme())
    >>> sorted(places) == sorted(acme().nodes)
    True
    >>> places["main"][1] < places["sales"][1]  # calls flow down the page
    True
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping

from ..core.flow import Flow
from .backend import run_dot
from .dot import LARGE_GRAPH, LARGE_LAYOUT

__all__ = ["CARD", "DIRECTIONS", "GAP", "GAP_LR", "complete", "layout", "place_near"]

#: Every card's width and height on the canvas, in pixels.
CARD = (240, 96)
#: The space between cards side by side and between ranks, in pixels: top to bottom, and left
#: to right (where edge labels run across the gap, so it is wider).
GAP = (40, 70)
GAP_LR = (40, 170)
#: From how many end cards under one node on, they stack in a line along the calls' direction.
STACK_AT = 4
#: The directions a flow can be laid out in: top to bottom, left to right.
DIRECTIONS = ("TB", "LR")
_POINTS = 72.0  # dot measures in inches of 72 points; the canvas in CSS pixels, taken as points


def _layout_dot(flow: Flow, direction: str) -> tuple[str, list[str]]:
    nodes = flow.nodes
    index = {node: i for i, node in enumerate(nodes)}
    width, height = (CARD[0] / _POINTS, CARD[1] / _POINTS)
    gap_across, gap_down = GAP if direction == "TB" else GAP_LR
    graph = {
        "rankdir": direction,
        "nodesep": f"{gap_across / _POINTS:.3f}",
        "ranksep": f"{gap_down / _POINTS:.3f}",
        "splines": "false",  # the canvas draws its own edges: dot need not route them
    }
    if len(nodes) >= LARGE_GRAPH:
        graph.update(LARGE_LAYOUT)
    lines = ["digraph layout {"]
    lines += [f"\tgraph [{' '.join(f'{k}={v}' for k, v in graph.items())}]"]
    lines += [f'\tnode [shape=box fixedsize=true width={width:.4f} height={height:.4f} label=""]']
    lines += [f"\tn{i}" for i in range(len(nodes))]
    stacks = _stacks(flow)
    stacked = {leaf: parent for parent, leaves in stacks.items() for leaf in leaves[1:]}
    under = {leaf: parent for parent, leaves in stacks.items() for leaf in leaves}
    for node in nodes:
        for target in flow.edges(node).values():
            # "Back to main" edges would pull every rank towards the entry and stretch the
            # drawing into a strip: they are drawn on the canvas, but do not shape the layout.
            # Nor do the edges to a stack's lower cards (the stack itself places them), or
            # back from a stacked card to its node.
            if target not in index or target in (node, flow.entry):
                continue
            if stacked.get(target) == node or under.get(node) == target:
                continue
            lines.append(f"\tn{index[node]} -> n{index[target]}")
    for leaves in stacks.values():
        for upper, lower in itertools.pairwise(leaves):
            lines.append(f"\tn{index[upper]} -> n{index[lower]} [weight=4]")
    lines.append("}")
    return "\n".join(lines) + "\n", nodes


def _stacks(flow: Flow) -> dict[str, list[str]]:
    """The end cards to stack under (or beside, left to right) their node: `STACK_AT` or more.

    An end card leads nowhere new: each of its exits goes back to the node above it, to the
    entry or to itself, and only that node leads to it. Side by side, a menu's eight end cards
    make the drawing eight cards wide for one menu; stacked, one, and a 200-node flow fits a
    laptop's canvas at a zoom where its shape reads.
    """
    stacks: dict[str, list[str]] = {}
    for node in flow.nodes:
        ends = []
        for target in dict.fromkeys(flow.edges(node).values()):
            if target not in flow or target in (node, flow.entry):
                continue
            leads = set(flow.edges(target).values()) - {node, flow.entry, target}
            if leads or set(flow.graph.predecessors(target)) - {node, target}:
                continue
            ends.append(target)
        if len(ends) >= STACK_AT:
            stacks[node] = ends
    return stacks


def layout(flow: Flow, direction: str = "TB", *, timeout: float = 60.0) -> dict[str, list[int]]:
    """Every node's card position, top-left in pixels, as `dot` lays the flow out.

    Args:
        flow: The flow to lay out (its `layout` section is not read).
        direction: "TB" (calls flow down the page) or "LR" (across it).
        timeout: Seconds `dot` may take.

    Raises:
        ValueError: `direction` is not one of `DIRECTIONS`.
        RenderError: `dot` is missing, failed or ran past `timeout`.
    """
    if direction not in DIRECTIONS:
        raise ValueError(f"direction {direction!r}: one of {', '.join(DIRECTIONS)}")
    if not flow.nodes:
        return {}
    source, nodes = _layout_dot(flow, direction)
    plain = run_dot(source, "plain", timeout, len(nodes)).decode("utf-8")
    places: dict[str, list[int]] = {}
    top = 0.0
    centres: dict[int, tuple[float, float]] = {}
    for line in plain.splitlines():
        parts = line.split()
        if parts[:1] == ["graph"]:
            top = float(parts[3])
        elif parts[:1] == ["node"]:
            centres[int(parts[1][1:])] = (float(parts[2]), float(parts[3]))
    for i, (x, y) in centres.items():
        # dot's y grows up the page from the bottom; the canvas's grows down from the top.
        left = x * _POINTS - CARD[0] / 2
        upper = (top - y) * _POINTS - CARD[1] / 2
        places[nodes[i]] = [round(left), round(upper)]
    return places


def place_near(
    positions: Mapping[str, list[int] | list[float]], near: str | None, direction: str = "TB"
) -> list[int]:
    """Where a new card goes: just past `near` (below it, or right of it in LR), on free space.

    Without `near` (or when it has no position) the card goes past the lowest (rightmost) card.

    Example:
        >>> place_near({"main": [0, 0]}, "main")
        [0, 166]
        >>> place_near({"main": [0, 0], "a": [0, 166]}, "main")
        [280, 166]
    """
    step_down = CARD[1] + GAP[1] if direction == "TB" else CARD[0] + GAP_LR[1]
    step_across = CARD[0] + GAP[0] if direction == "TB" else CARD[1] + GAP_LR[0]
    down, across = (1, 0) if direction == "TB" else (0, 1)
    if near is not None and near in positions:
        base = [round(v) for v in positions[near]]
        spot = list(base)
        spot[down] += step_down
    elif positions:
        furthest = max(round(p[down]) for p in positions.values())
        spot = [0, 0]
        spot[down] = furthest + step_down
    else:
        return [0, 0]
    taken = [[round(v) for v in p] for p in positions.values()]
    while any(_overlaps(spot, other) for other in taken):
        spot[across] += step_across
    return spot


def complete(flow: Flow, direction: str = "TB") -> dict[str, list[int]]:
    """A position for every node: the flow's own (`flow.layout`) where it has one.

    A flow with no positions at all is laid out by `dot`; a node added without a position goes
    next to a node that leads to it (else past the others), so nothing the user placed moves.
    """
    own = {n: [round(v) for v in flow.layout[n]] for n in flow.nodes if n in flow.layout}
    if not own:
        return layout(flow, direction)
    for node in flow.nodes:
        if node not in own:
            parent = next((p for p in flow.graph.predecessors(node) if p in own), None)
            own[node] = place_near(own, parent, direction)
    return own


def _overlaps(a: list[int], b: list[int]) -> bool:
    return abs(a[0] - b[0]) < CARD[0] and abs(a[1] - b[1]) < CARD[1]
