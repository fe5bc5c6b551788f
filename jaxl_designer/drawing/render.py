"""Flow drawings: DOT text built from a flow, kept apart from running Graphviz's `dot` on it.

Every drawn node and edge gets a stable SVG `id`: node `i` (in `flow.nodes` order, then edge
targets that are not nodes) is `{prefix}node-{i}`, edge `j` (node by node, each node's edges in
file order) is `{prefix}edge-{j}`, and the entry marker is `{prefix}start` with its arrow
`{prefix}start-edge`. A widget that shows the SVG inline finds the clicked element's
`closest("g.node, g.edge")` and looks its `id` up in `svg_ids(flow, options)`, which answers
`("node", node_id)` or `("edge", source, key, target)` (the entry marker answers the entry node).
Each `<g>` also carries classes such as `jd-menu`, `jd-visited`, `jd-error` for CSS. Node ids
never reach the DOT text as names: a drawing is safe whatever a user typed.

Example:
    >>> from jaxl_designer.core.examples import acme
    >>> svg_ids(acme())["jd-edge-0"]
    ('edge', 'main', '1', 'sales')
    >>> 'label=<<B>sales</B><BR/>→ +918000000001>' in to_dot(acme())
    True
"""

from __future__ import annotations

import dataclasses
import html
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import graphviz

from ..core.files import write_atomic, write_atomic_bytes
from ..core.flow import Flow
from .backend import RenderError, run_dot
from .labels import Edge, as_edge, clean, path_parts, shorten, summary

__all__ = [
    "EDGE_STYLES",
    "NODE_STYLES",
    "STATE_STYLES",
    "RenderError",
    "RenderOptions",
    "path_parts",
    "render_file",
    "render_png",
    "render_svg",
    "summary",
    "svg_ids",
    "to_digraph",
    "to_dot",
]


#: How each kind of node is drawn (Graphviz node attributes); `missing` is an edge target that
#: is not a node of the flow.
NODE_STYLES: dict[str, dict[str, str]] = {
    "menu": {"shape": "box", "style": "rounded,filled", "fillcolor": "#e8f0fe", "color": "#3b5998"},
    "collect": {
        "shape": "parallelogram",
        "style": "filled",
        "fillcolor": "#e6f4ea",
        "color": "#2e7d32",
    },
    "say": {"shape": "note", "style": "filled", "fillcolor": "#fef7e0", "color": "#8d6e00"},
    "hangup": {"shape": "octagon", "style": "filled", "fillcolor": "#fce8e6", "color": "#a03030"},
    "transfer": {"shape": "cds", "style": "filled", "fillcolor": "#f3e8fd", "color": "#6a3ea1"},
    "branch": {"shape": "diamond", "style": "filled", "fillcolor": "#e0f7fa", "color": "#00695c"},
    "subflow": {
        "shape": "component",
        "style": "filled",
        "fillcolor": "#eeeeee",
        "color": "#555555",
    },
    "missing": {"shape": "box", "style": "dashed", "color": "#a03030", "fontcolor": "#a03030"},
}
#: What each state changes over the kind's style, applied in this order (later wins), so a
#: problem's outline shows on a visited node and a selection shows on everything.
STATE_STYLES: dict[str, dict[str, str]] = {
    "visited": {"color": "#1a73e8", "penwidth": "2.5", "fillcolor": "#d2e3fc"},
    "active": {"color": "#0b57d0", "penwidth": "4", "fillcolor": "#fde293"},
    "warning": {"color": "#e37400", "penwidth": "3.5"},
    "error": {"color": "#d93025", "penwidth": "3.5"},
    "selected": {"peripheries": "2"},
}
#: How edges are drawn: a plain key, a fallback (`invalid`, `gave_up`), then the states.
EDGE_STYLES: dict[str, dict[str, str]] = {
    "key": {},
    "fallback": {"style": "dashed", "color": "#777777", "fontcolor": "#555555"},
    "visited": {"color": "#1a73e8", "fontcolor": "#1a73e8", "penwidth": "2.5"},
    "active": {"color": "#0b57d0", "fontcolor": "#0b57d0", "penwidth": "4"},
    "warning": {"color": "#e37400", "fontcolor": "#e37400", "penwidth": "2.5"},
    "error": {"color": "#d93025", "fontcolor": "#d93025", "penwidth": "2.5"},
}
_FALLBACK_KEYS = frozenset({"invalid", "gave_up"})
_STATE_ORDER = ("visited", "active", "warning", "error", "selected")
# Characters XML 1.0 forbids, and lone surrogates UTF-8 cannot carry: replaced, never passed on.
_PREFIX = re.compile(r"[A-Za-z0-9_-]*")


@dataclass(frozen=True)
class RenderOptions:
    """How a flow is drawn: direction, text, highlights and styles.

    Attributes:
        rankdir: Graphviz direction, "TB" (top to bottom) or "LR" (left to right).
        prompt_words: How many words of a prompt a node shows (0: the id only).
        path: Nodes a call went through; the last is the current node, drawn strongest.
        path_edges: Edges the call took, as (source, key, target).
        problems: Objects with `.node`, `.edge` and `.severity` ("error" or "warning"),
            such as `jaxl_designer.core.validation.Problem`.
        selected: The selected node, drawn with a double outline.
        large_graph: From this many nodes on, layout is tuned for speed over neatness and
            edge keys sit at the edge's start instead of its middle.
        id_prefix: Starts every SVG id, so several drawings on one page never collide.
        node_styles: Style per node kind (see `NODE_STYLES`).
        state_styles: Style per node state (see `STATE_STYLES`).
        edge_styles: Style per edge kind and state (see `EDGE_STYLES`).
    """

    rankdir: str = "TB"
    prompt_words: int = 6
    path: tuple[str, ...] = ()
    path_edges: tuple[Edge, ...] = ()
    problems: tuple[Any, ...] = ()
    selected: str | None = None
    large_graph: int = 500
    id_prefix: str = "jd-"
    node_styles: Mapping[str, Mapping[str, str]] = field(default_factory=lambda: NODE_STYLES)
    state_styles: Mapping[str, Mapping[str, str]] = field(default_factory=lambda: STATE_STYLES)
    edge_styles: Mapping[str, Mapping[str, str]] = field(default_factory=lambda: EDGE_STYLES)

    def __post_init__(self) -> None:
        # The prefix lands in SVG ids and CSS selectors: keep it to characters safe in both.
        if not _PREFIX.fullmatch(self.id_prefix):
            raise ValueError(f"id_prefix {self.id_prefix!r}: use letters, digits, - and _ only")
        if self.rankdir not in ("TB", "LR", "BT", "RL"):
            raise ValueError(f"rankdir {self.rankdir!r}: one of TB, LR, BT, RL")


# -- the drawing as data ---------------------------------------------------------------------
@dataclass
class _Plan:
    nodes: list[str]  # the flow's nodes, then edge targets that are not nodes
    edges: list[Edge]  # node by node, each node's edges in file order
    index: dict[str, int]


def _plan(flow: Flow) -> _Plan:
    nodes = flow.nodes
    edges = [(node, key, target) for node in nodes for key, target in flow.edges(node).items()]
    extra = [target for _, _, target in edges if target not in flow]
    drawn = [*nodes, *dict.fromkeys(extra)]
    return _Plan(drawn, edges, {node: i for i, node in enumerate(drawn)})


def svg_ids(flow: Flow, options: RenderOptions | None = None) -> dict[str, tuple[str, ...]]:
    """What each SVG element id in a drawing of `flow` draws.

    Args:
        flow: The flow drawn.
        options: The options it was drawn with (only `id_prefix` matters).

    Returns:
        `{svg_id: ("node", node_id)}` for nodes and the entry marker,
        `{svg_id: ("edge", source, key, target)}` for edges.
    """
    prefix = (options or RenderOptions()).id_prefix
    plan = _plan(flow)
    ids: dict[str, tuple[str, ...]] = {
        f"{prefix}node-{i}": ("node", node) for i, node in enumerate(plan.nodes)
    }
    ids.update({f"{prefix}edge-{j}": ("edge", *edge) for j, edge in enumerate(plan.edges)})
    if flow.entry in flow:
        ids[f"{prefix}start"] = ids[f"{prefix}start-edge"] = ("node", str(flow.entry))
    return ids


# -- DOT text --------------------------------------------------------------------------------
def _quote(value: str) -> str:
    # Values are escStrings, where Graphviz reads `\\` as one backslash and decodes entities.
    text = html.escape(clean(value), quote=False).replace("\\", "\\\\").replace('"', '\\"')
    return '"' + text.replace("\n", "\\n") + '"'


def _html_label(bold: str, lines: Sequence[str]) -> str:
    # Graphviz drops a newline inside an HTML label, gluing words: show it as a space.
    parts = [f"<B>{_html_text(bold)}</B>"] if bold else []
    parts += [_html_text(line) for line in lines]
    return "<" + "<BR/>".join(parts) + ">"


def _html_text(text: str) -> str:
    return html.escape(clean(text).replace("\n", " ").replace("\t", " "))


def _statement(
    head: str, attrs: Mapping[str, str], label: str | None = None, where: str = "label"
) -> str:
    pairs = [f"{key}={_quote(value)}" for key, value in attrs.items()]
    if label is not None:
        pairs.append(f"{where}={label}")
    return f"\t{head} [{' '.join(pairs)}]\n"


def _merge(styles: Mapping[str, Mapping[str, str]], names: Iterable[str]) -> dict[str, str]:
    merged: dict[str, str] = {}
    for name in names:
        merged.update(styles.get(name, {}))
    return merged


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


def _node_states(options: RenderOptions, problems: Mapping[str, str]) -> dict[str, list[str]]:
    states: dict[str, list[str]] = {}
    for node in options.path:
        states.setdefault(node, ["visited"])
    if options.path:
        states.setdefault(options.path[-1], []).append("active")
    for node, severity in problems.items():
        states.setdefault(node, []).append(severity)
    if options.selected is not None:
        states.setdefault(options.selected, []).append("selected")
    return states


def _node_line(flow: Flow, plan: _Plan, node: str, states: list[str], opts: RenderOptions) -> str:
    index = plan.index[node]
    kind = flow.kind(node) if node in flow else "missing"
    lines = summary(flow, node, opts.prompt_words) if node in flow else ["(not in the flow)"]
    ordered = [s for s in _STATE_ORDER if s in states]
    attrs = {**opts.node_styles.get(kind, {}), **_merge(opts.state_styles, ordered)}
    marks = ["entry", *ordered] if node == flow.entry else ordered
    # Hovering shows the whole prompt, which the label cuts to its first words.
    said = flow.graph.nodes[node].get("prompt") or lines
    attrs.update(
        id=f"{opts.id_prefix}node-{index}",
        tooltip=shorten("\n".join([node, *map(str, said)]), 400),
        **{"class": " ".join(f"jd-{name}" for name in [kind, *marks])},
    )
    return _statement(f"n{index}", attrs, _html_label(node, lines))


def _edge_line(
    plan: _Plan, j: int, edge: Edge, states: list[str], opts: RenderOptions, large: bool
) -> str:
    source, key, target = edge
    base = "fallback" if key in _FALLBACK_KEYS else "key"
    ordered = [s for s in _STATE_ORDER if s in states]
    attrs = _merge(opts.edge_styles, [base, *ordered])
    attrs.update(
        id=f"{opts.id_prefix}edge-{j}",
        tooltip=shorten(f"{source} --{key}--> {target}", 400),
        **{"class": " ".join(f"jd-{name}" for name in [base, *ordered])},
    )
    head = f"n{plan.index[source]} -> n{plan.index[target]}"
    # A mid-edge label is a node to dot, doubling the ranks: big drawings put keys at the tail.
    where = "taillabel" if large else "label"
    return _statement(head, attrs, _html_label("", [key]), where)


def _edge_states(options: RenderOptions, problems: Mapping[Edge, str]) -> dict[Edge, list[str]]:
    states: dict[Edge, list[str]] = {}
    for edge in options.path_edges:
        states.setdefault(edge, ["visited"])
    if options.path_edges:
        states.setdefault(options.path_edges[-1], []).append("active")
    for edge, severity in problems.items():
        states.setdefault(edge, []).append(severity)
    return states


def _start_lines(flow: Flow, plan: _Plan, prefix: str) -> list[str]:
    if flow.entry not in flow:
        return []
    entry = plan.index[str(flow.entry)]
    point = {"shape": "point", "width": "0.15", "id": f"{prefix}start", "class": "jd-start"}
    arrow = {"penwidth": "1.5", "id": f"{prefix}start-edge", "class": "jd-start"}
    return [
        _statement("start", {**point, "tooltip": "the call starts here"}),
        _statement(f"start -> n{entry}", {**arrow, "tooltip": "the call starts here"}),
    ]


def _graph_attrs(large: bool, options: RenderOptions) -> dict[str, str]:
    attrs = {"rankdir": options.rankdir, "id": f"{options.id_prefix}graph"}
    if large:
        # Network simplex and crossing minimisation dominate big layouts; this cuts them short.
        # remincross=false skips dot's second crossing pass over the whole graph (~30% at 3,000).
        # newrank=true ranks in one pass: the same ranks and size here, and at 3,000 nodes it
        # skips ~2 s that dot's classic ranking spends before crossing minimisation even starts.
        attrs.update(newrank="true", nslimit="0.1", nslimit1="1", mclimit="0.1", remincross="false")
    return attrs


def _with(
    flow: Flow, options: RenderOptions | None, path: Any, problems: Any, selected: str | None
) -> RenderOptions:
    options = options or RenderOptions()
    changes: dict[str, Any] = {}
    if path is not None:
        nodes, edges = path_parts(flow, path)
        changes.update(path=tuple(nodes), path_edges=tuple(edges))
    if problems is not None:
        changes["problems"] = tuple(problems)
    if selected is not None:
        changes["selected"] = selected
    return dataclasses.replace(options, **changes) if changes else options


def to_digraph(
    flow: Flow,
    options: RenderOptions | None = None,
    *,
    path: Any = None,
    problems: Iterable[Any] | None = None,
    selected: str | None = None,
) -> graphviz.Digraph:
    """The flow as a `graphviz.Digraph`: one shape and colour per kind, edges labelled by key.

    Args:
        flow: The flow to draw.
        options: How to draw it; `path`, `problems` and `selected` override its fields.
        path: A call's path to highlight (see `path_parts` for the forms it takes).
        problems: Problems to outline: errors red, warnings orange.
        selected: The selected node.

    Returns:
        A Digraph whose `.source` is the DOT text; nodes are named `n0`, `n1`, … so no node
        id a user typed can break the DOT.
    """
    opts = _with(flow, options, path, problems, selected)
    plan = _plan(flow)
    node_problems, edge_problems = _severities(opts.problems)
    node_states = _node_states(opts, node_problems)
    edge_states = _edge_states(opts, edge_problems)
    large = len(plan.nodes) >= opts.large_graph
    body = _start_lines(flow, plan, opts.id_prefix)
    body += [_node_line(flow, plan, n, node_states.get(n, []), opts) for n in plan.nodes]
    body += [
        _edge_line(plan, j, edge, edge_states.get(edge, []), opts, large)
        for j, edge in enumerate(plan.edges)
    ]
    return graphviz.Digraph(
        name="flow",
        graph_attr=_graph_attrs(large, opts),
        node_attr={"fontname": "Helvetica", "fontsize": "11"},
        edge_attr={
            "fontname": "Helvetica",
            "fontsize": "10",
            "labelfontsize": "10",
            "arrowsize": "0.7",
        },
        body=body,
    )


def to_dot(
    flow: Flow,
    options: RenderOptions | None = None,
    *,
    path: Any = None,
    problems: Iterable[Any] | None = None,
    selected: str | None = None,
) -> str:
    """The DOT text of `to_digraph` (same arguments)."""
    return str(to_digraph(flow, options, path=path, problems=problems, selected=selected).source)


def render_svg(
    flow: Flow,
    options: RenderOptions | None = None,
    *,
    path: Any = None,
    problems: Iterable[Any] | None = None,
    selected: str | None = None,
    timeout: float = 60.0,
) -> str:
    """The flow drawn as SVG text by `dot`; arguments as `to_digraph`.

    Raises:
        RenderError: `dot` is not installed, failed, or ran past `timeout` seconds.
    """
    source = to_dot(flow, options, path=path, problems=problems, selected=selected)
    return run_dot(source, "svg", timeout, len(flow)).decode("utf-8")


def render_png(
    flow: Flow,
    options: RenderOptions | None = None,
    *,
    path: Any = None,
    problems: Iterable[Any] | None = None,
    selected: str | None = None,
    timeout: float = 60.0,
) -> bytes:
    """The flow drawn as a PNG image by `dot`; arguments as `render_svg`."""
    source = to_dot(flow, options, path=path, problems=problems, selected=selected)
    return run_dot(source, "png", timeout, len(flow))


def render_file(
    flow: Flow,
    out: str | os.PathLike[str],
    options: RenderOptions | None = None,
    *,
    path: Any = None,
    problems: Iterable[Any] | None = None,
    selected: str | None = None,
    timeout: float = 60.0,
) -> Path:
    """Write the drawing to `out`, in the format its suffix names: .svg, .png, .dot or .mmd.

    The file is replaced atomically, so a reader never sees half a drawing. Other arguments
    as `render_svg` (a Mermaid file takes only `path`).

    Raises:
        ValueError: The suffix names no format this function writes.
        RenderError: `dot` is not installed, failed or ran too long (.svg and .png).
    """
    target = Path(out)
    suffix = target.suffix.lower()
    drawn = {"path": path, "problems": problems, "selected": selected}
    if suffix == ".svg":
        return write_atomic(target, render_svg(flow, options, **drawn, timeout=timeout))
    if suffix == ".png":
        return write_atomic_bytes(target, render_png(flow, options, **drawn, timeout=timeout))
    if suffix in (".dot", ".gv"):
        return write_atomic(target, to_dot(flow, options, **drawn))
    if suffix == ".mmd":
        from .mermaid import to_mermaid  # mermaid builds on this module's text helpers

        return write_atomic(target, to_mermaid(flow, path=path))
    raise ValueError(
        f"{target}: cannot tell the format from {suffix or 'no suffix'!r} "
        "(use .svg, .png, .dot or .mmd)"
    )
