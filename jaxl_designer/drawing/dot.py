"""DOT text from a drawing model: quoted values, cleaned text, HTML labels, SVG ids and classes.

Nodes are named `n0`, `n1`, … and every value is cleaned (`labels.clean`) and escaped, so no
text a user typed can break the DOT or reach the SVG as markup.

Example:
    >>> from jaxl_designer.core.examples import acme
    >>> from jaxl_designer.drawing.model import build
    >>> from jaxl_designer.drawing.styles import EDGE_STYLES, NODE_STYLES, STATE_STYLES
    >>> look = Look(NODE_STYLES, STATE_STYLES, EDGE_STYLES)
    >>> source = to_digraph(build(acme()), look, name="flow", prefix="jd-").source
    >>> print(next(line for line in source.splitlines() if "n0 -> n1" in line).strip())
    n0 -> n1 [id="jd-edge-0" tooltip="main --1--&gt; sales" class="jd-key" label=<1>]
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import graphviz

from .labels import clean
from .model import Drawing, DrawnEdge, DrawnNode, Start
from .styles import EDGE_DEFAULTS, NODE_DEFAULTS, START_STYLES

__all__ = ["LARGE_GRAPH", "LARGE_LAYOUT", "Look", "svg_ids", "to_digraph"]

#: From this many nodes on, layout is tuned for speed over neatness.
LARGE_GRAPH = 500

Styles = Mapping[str, Mapping[str, str]]


@dataclass(frozen=True)
class Look:
    """The style tables a drawing's kinds and states pick from.

    Attributes:
        node_styles: Style per node kind.
        state_styles: Style per state, for nodes and entry markers.
        edge_styles: Style per edge kind and edge state.
    """

    node_styles: Styles
    state_styles: Styles
    edge_styles: Styles


#: Graph attributes for big drawings. Network simplex and crossing minimisation dominate big
#: layouts; these cut them short. remincross=false skips dot's second crossing pass over the
#: whole graph (~30% at 3,000 nodes); newrank=true ranks in one pass: the same ranks and size
#: here, and at 3,000 nodes it skips ~2 s that dot's classic ranking spends before crossing
#: minimisation even starts.
LARGE_LAYOUT = {
    "newrank": "true",
    "nslimit": "0.1",
    "nslimit1": "1",
    "mclimit": "0.1",
    "remincross": "false",
}


def svg_ids(drawing: Drawing, prefix: str) -> dict[str, tuple[str, ...]]:
    """What each SVG element id of `drawing` draws, as `render.svg_ids` describes."""
    ids: dict[str, tuple[str, ...]] = {
        _node_id(prefix, node.index): ("node", node.id) for node in drawing.nodes
    }
    ids.update({_edge_id(prefix, e.index): ("edge", *drawing.edge_ends(e)) for e in drawing.edges})
    for number, start in enumerate(drawing.starts):
        marker, arrow = _start_ids(prefix, number)
        ids[marker] = ids[arrow] = ("node", drawing.nodes[start.target].id)
    return ids


def to_digraph(
    drawing: Drawing,
    look: Look,
    *,
    name: str,
    prefix: str,
    rankdir: str = "TB",
    large: bool = False,
) -> graphviz.Digraph:
    """`drawing` as a `graphviz.Digraph`.

    Args:
        drawing: What to draw.
        look: The styles its kinds and states pick.
        name: The graph's name (a fixed word: it is written as given).
        prefix: Starts every SVG id.
        rankdir: Graphviz direction: TB, LR, BT or RL.
        large: Tune the layout for speed, and put edge keys at the edge's start.

    Returns:
        A Digraph whose `.source` is the DOT text: entry markers, then nodes, then edges.
    """
    body = [
        line for number, s in enumerate(drawing.starts) for line in _start(s, number, look, prefix)
    ]
    body += [_node(node, look, prefix) for node in drawing.nodes]
    body += [_edge(edge, look, prefix, large) for edge in drawing.edges]
    return graphviz.Digraph(
        name=name,
        graph_attr=_graph_attrs(rankdir, prefix, large),
        node_attr=NODE_DEFAULTS,
        edge_attr=EDGE_DEFAULTS,
        body=body,
    )


# -- ids -------------------------------------------------------------------------------------
def _node_id(prefix: str, index: int) -> str:
    return f"{prefix}node-{index}"


def _edge_id(prefix: str, index: int) -> str:
    return f"{prefix}edge-{index}"


def _start_ids(prefix: str, number: int) -> tuple[str, str]:
    marker = f"{prefix}start" if number == 0 else f"{prefix}start-{number}"
    return marker, f"{marker}-edge"


# -- text ------------------------------------------------------------------------------------
def _quote(value: str) -> str:
    # Values are escStrings, where Graphviz reads `\\` as one backslash and decodes entities.
    text = html.escape(clean(value), quote=False).replace("\\", "\\\\").replace('"', '\\"')
    return '"' + text.replace("\n", "\\n") + '"'


def _html_label(bold: str, lines: Sequence[str], struck: bool = False) -> str:
    parts = [_html_text(text) for text in ([bold] if bold else []) + list(lines)]
    if struck:
        # Graphviz refuses an empty <S></S>, as an edge with an empty key would give.
        parts = [f"<S>{part}</S>" if part else part for part in parts]
    if bold:
        parts[0] = f"<B>{parts[0]}</B>"
    return "<" + "<BR/>".join(parts) + ">"


def _html_text(text: str) -> str:
    # Graphviz drops a newline inside an HTML label, gluing words: show it as a space. It also
    # refuses a label that is only `]` (an edge keyed "]"), so that is always an entity.
    plain = html.escape(clean(text).replace("\n", " ").replace("\t", " "))
    return plain.replace("]", "&#93;")


def _statement(
    head: str, attrs: Mapping[str, str], label: str | None = None, where: str = "label"
) -> str:
    pairs = [f"{key}={_quote(value)}" for key, value in attrs.items()]
    if label is not None:
        pairs.append(f"{where}={label}")
    return f"\t{head} [{' '.join(pairs)}]\n"


def _merge(styles: Styles, names: Iterable[str]) -> dict[str, str]:
    merged: dict[str, str] = {}
    for name in names:
        merged.update(styles.get(name, {}))
    return merged


def _classes(names: Iterable[str]) -> str:
    return " ".join(f"jd-{name}" for name in names)


# -- statements ------------------------------------------------------------------------------
def _start(start: Start, number: int, look: Look, prefix: str) -> list[str]:
    name = "start" if number == 0 else f"start{number}"
    marker, arrow = _start_ids(prefix, number)
    marks = _merge(look.state_styles, start.states)
    shared = {"class": _classes(["start", *start.states]), "tooltip": start.tooltip}
    return [
        _statement(name, {**START_STYLES["marker"], **marks, "id": marker, **shared}),
        _statement(
            f"{name} -> n{start.target}", {**START_STYLES["arrow"], **marks, "id": arrow, **shared}
        ),
    ]


def _node(node: DrawnNode, look: Look, prefix: str) -> str:
    attrs = {**look.node_styles.get(node.kind, {}), **_merge(look.state_styles, node.states)}
    marks = ["entry", *node.states] if node.entry else list(node.states)
    attrs.update(
        {
            "id": _node_id(prefix, node.index),
            "tooltip": node.tooltip,
            "class": _classes([node.kind, *marks]),
        }
    )
    return _statement(f"n{node.index}", attrs, _html_label(node.id, node.lines, node.struck))


def _edge(edge: DrawnEdge, look: Look, prefix: str, large: bool) -> str:
    attrs = _merge(look.edge_styles, [edge.kind, *edge.states])
    attrs.update(
        {
            "id": _edge_id(prefix, edge.index),
            "tooltip": edge.tooltip,
            "class": _classes([edge.kind, *edge.states]),
        }
    )
    head = f"n{edge.source} -> n{edge.target}"
    # A mid-edge label is a node to dot, doubling the ranks: big drawings put keys at the tail.
    where = "taillabel" if large else "label"
    return _statement(head, attrs, _html_label("", [edge.key], edge.struck), where)


def _graph_attrs(rankdir: str, prefix: str, large: bool) -> dict[str, str]:
    attrs = {"rankdir": rankdir, "id": f"{prefix}graph"}
    if large:
        attrs.update(LARGE_LAYOUT)
    return attrs
