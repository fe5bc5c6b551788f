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
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import graphviz

from ..core.files import write_atomic, write_atomic_bytes
from ..core.flow import Flow
from . import dot
from .backend import RenderError, run_dot
from .labels import Edge, path_parts, summary
from .mermaid import to_mermaid
from .model import Drawing, build
from .styles import EDGE_STYLES, NODE_STYLES, STATE_STYLES

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
        node_styles: Style per node kind (see `styles.NODE_STYLES`).
        state_styles: Style per node state (see `styles.STATE_STYLES`).
        edge_styles: Style per edge kind and state (see `styles.EDGE_STYLES`).
    """

    rankdir: str = "TB"
    prompt_words: int = 6
    path: tuple[str, ...] = ()
    path_edges: tuple[Edge, ...] = ()
    problems: tuple[Any, ...] = ()
    selected: str | None = None
    large_graph: int = dot.LARGE_GRAPH
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


def svg_ids(flow: Flow, options: RenderOptions | None = None) -> dict[str, tuple[str, ...]]:
    """What each SVG element id in a drawing of `flow` draws.

    Args:
        flow: The flow drawn.
        options: The options it was drawn with (only `id_prefix` matters).

    Returns:
        `{svg_id: ("node", node_id)}` for nodes and the entry marker,
        `{svg_id: ("edge", source, key, target)}` for edges.
    """
    return dot.svg_ids(build(flow, words=0), (options or RenderOptions()).id_prefix)


def _drawing(flow: Flow, options: RenderOptions) -> Drawing:
    return build(
        flow,
        words=options.prompt_words,
        path=options.path,
        path_edges=options.path_edges,
        problems=options.problems,
        selected=options.selected,
    )


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
    drawing = _drawing(flow, opts)
    look = dot.Look(opts.node_styles, opts.state_styles, opts.edge_styles)
    large = len(drawing.nodes) >= opts.large_graph
    return dot.to_digraph(
        drawing, look, name="flow", prefix=opts.id_prefix, rankdir=opts.rankdir, large=large
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
        return write_atomic(target, to_mermaid(flow, path=path))
    raise ValueError(
        f"{target}: cannot tell the format from {suffix or 'no suffix'!r} "
        "(use .svg, .png, .dot or .mmd)"
    )
