"""A flow diff drawn: both versions in one picture, added green, removed red, changed amber.

The drawing is a `model.Drawing` of the union of both flows (removed nodes and edges dashed and
struck through), written by the same DOT code as `render` and laid out by the same `dot` runner,
with its time limit.

Example:
    >>> from jaxl_designer.core.diff import diff
    >>> from jaxl_designer.core.examples import acme
    >>> old, new = acme(), acme()
    >>> new.remove("thanks")
    >>> new.connect("confirm", "1", new.hangup("bye", "Goodbye."))
    >>> drawing = build(diff(old, new))
    >>> [(node.id, node.states) for node in drawing.nodes if node.states != ("same",)]
    [('thanks', ('removed',)), ('bye', ('added',))]
    >>> [(drawing.edge_ends(e), e.states) for e in drawing.edges if e.states != ("same",)]
    [(('confirm', '1', 'thanks'), ('removed',)), (('confirm', '1', 'bye'), ('changed',))]
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from ..core.diff import FlowDiff, diff
from ..core.flow import Flow
from . import dot
from .backend import run_dot
from .labels import shorten
from .model import TOOLTIP_CHARS, Drawing, DrawnEdge, DrawnNode, Start, edge_kind
from .styles import DIFF_COLOURS, DIFF_NODE_STYLES, DIFF_STYLES

__all__ = ["COLOURS", "LOOK", "build", "render_diff", "render_diff_svg", "to_dot"]

#: The colour of each status: added, removed, changed, same (`styles.DIFF_COLOURS`).
COLOURS = DIFF_COLOURS
#: A diff keeps each kind's shape and colours nodes, edges and entry markers by status.
LOOK = dot.Look(DIFF_NODE_STYLES, DIFF_STYLES, DIFF_STYLES)
Edge = tuple[str, str, str]
# Its own id prefix: a diff shown next to a flow's drawing on one page shares no SVG id with it.
_PREFIX = "jd-diff-"

_Spec = tuple[str, str, str, str]  # source, key, target, status


def build(flow_diff: FlowDiff, real: Mapping[Edge, int] | None = None) -> Drawing:
    """The drawing of a diff: every node and edge of either flow, each with its status.

    Args:
        flow_diff: What `jaxl_designer.core.diff.diff` returned.
        real: Real calls on the paths the change alters, per edge of the old flow
            (`core.realcalls.altered_edges`): those edges are drawn heavy, with their calls.

    Returns:
        A drawing whose nodes and edges each have one state, `added`, `removed`, `changed` or
        `same`; removed ones are struck, and a retargeted edge is drawn twice (the old arrow
        removed, the new one changed). A changed entry has two markers, old and new.
    """
    old, new = flow_diff.old, flow_diff.new
    union = [*old.nodes, *(node for node in new.nodes if node not in old)]
    specs = [spec for node in union for spec in _edge_specs(flow_diff, node)]
    missing = dict.fromkeys(t for _, _, t, _ in specs if t not in old and t not in new)
    drawn = [*union, *missing]
    index = {node: i for i, node in enumerate(drawn)}
    real = real or {}
    said: dict[str | None, list[str]] = {}
    for change in flow_diff:
        said.setdefault(change.node, []).append(_unsecret(change.node, change.text))
    return Drawing(
        nodes=tuple(_node(flow_diff, i, node, said.get(node, [])) for i, node in enumerate(drawn)),
        edges=tuple(
            DrawnEdge(
                index=j,
                source=index[source],
                target=index[target],
                key=_real_key(key, real.get((source, key, target), 0), status),
                kind=edge_kind(key),
                tooltip=shorten(_edge_words(source, key, target, status), TOOLTIP_CHARS),
                states=(status, "real") if _real(real, source, key, target, status) else (status,),
                struck=status == "removed",
            )
            for j, (source, key, target, status) in enumerate(specs)
        ),
        starts=_starts(old, new, index),
    )


def _real(real: Mapping[Edge, int], source: str, key: str, target: str, status: str) -> bool:
    return status != "added" and real.get((source, key, target), 0) > 0


def _real_key(key: str, calls: int, status: str) -> str:
    if calls <= 0 or status == "added":
        return key
    return f"{key} · {calls:,} real call{'s' if calls != 1 else ''}"


def to_dot(flow_diff: FlowDiff, real: Mapping[Edge, int] | None = None) -> str:
    """The drawing of `flow_diff` as Graphviz DOT text (nodes named `n0`, `n1`, …).

    Args:
        flow_diff: What `jaxl_designer.core.diff.diff` returned.
        real: Real calls per edge on the paths the change alters (see `build`).

    Returns:
        DOT source text; removed nodes and edges are dashed with struck-through labels.
    """
    drawing = build(flow_diff, real)
    large = len(drawing.nodes) >= dot.LARGE_GRAPH
    digraph = dot.to_digraph(drawing, LOOK, name="diff", prefix=_PREFIX, rankdir="LR", large=large)
    return str(digraph.source)


def render_diff_svg(
    a: Flow, b: Flow, *, real: Mapping[Edge, int] | None = None, timeout: float = 60.0
) -> str:
    """The drawing of `diff(a, b)` as SVG text, laid out by Graphviz's `dot`.

    Args:
        a: The old flow.
        b: The new flow.
        real: Real calls per edge on the paths the change alters, drawn heavy with their
            counts (`core.realcalls.altered_edges`).
        timeout: Seconds `dot` may take.

    Returns:
        The SVG document as text.

    Raises:
        RenderError: `dot` is not installed, failed, or ran past `timeout` seconds.
    """
    return render_diff(a, b, "svg", real=real, timeout=timeout).decode("utf-8")


def render_diff(
    a: Flow,
    b: Flow,
    fmt: str,
    *,
    real: Mapping[Edge, int] | None = None,
    timeout: float = 60.0,
) -> bytes:
    """The drawing of `diff(a, b)` in format `fmt` ("svg", "png"), as `render_diff_svg` says."""
    flow_diff = diff(a, b)
    size = len({*flow_diff.old.nodes, *flow_diff.new.nodes})
    return run_dot(to_dot(flow_diff, real), fmt, timeout, size)


def _node(flow_diff: FlowDiff, index: int, node: str, said: list[str]) -> DrawnNode:
    old, new = flow_diff.old, flow_diff.new
    if node not in old and node not in new:
        words = "(not in the flow)"
        tooltip = shorten(f"{node}\n{words}", TOOLTIP_CHARS)
        return DrawnNode(index, node, "missing", (words,), tooltip, ("same",))
    before = old.kind(node) if node in old else None
    after = new.kind(node) if node in new else None
    kind = after or before or "missing"
    kinds = f"{before} → {after}" if before and after and before != after else kind
    status = flow_diff.node_status(node)
    return DrawnNode(
        index=index,
        id=node,
        kind=kind,
        lines=(kinds,),
        # Hovering lists what changed at the node, which the label has no room for.
        tooltip=shorten("\n".join([node, kinds, *said]), TOOLTIP_CHARS),
        states=(status,),
        entry=node == new.entry,
        struck=status == "removed",
    )


def _unsecret(node: str | None, text: str) -> str:
    """A change's words without a lookup's header values, which may be secrets pasted in.

    Example:
        >>> _unsecret("ask", "node ask: headers.X-Key changed from 'abc' to 'def'")
        'node ask: headers.X-Key changed'
        >>> _unsecret("ask", "node ask: headers set to {'X-Key': 'abc'}")
        'node ask: headers changed'
    """
    prefix = f"node {node}: headers"
    if node is None or not text.startswith(prefix):
        return text
    name = text[len(prefix) :].split(" ", 1)[0]
    return f"{prefix}{name} changed"


def _edge_specs(flow_diff: FlowDiff, node: str) -> Iterator[_Spec]:
    old, new = flow_diff.old, flow_diff.new
    before = old.edges(node) if node in old else {}
    after = new.edges(node) if node in new else {}
    for key in [*after, *(k for k in before if k not in after)]:
        # A retargeted edge is drawn twice: the old arrow struck in red, the new one amber.
        if key in before and before[key] != after.get(key):
            yield node, key, before[key], "removed"
        if key in after:
            status = "same"
            if key not in before:
                status = "added"
            elif before[key] != after[key]:
                status = "changed"
            yield node, key, after[key], status


def _edge_words(source: str, key: str, target: str, status: str) -> str:
    said = f"{source} --{key}--> {target}"
    return said if status == "same" else f"{said} ({status})"


def _starts(old: Flow, new: Flow, index: dict[str, int]) -> tuple[Start, ...]:
    marked: list[tuple[str | None, tuple[str, ...], str]] = [
        (new.entry, (), "the call starts here")
    ]
    if old.entry != new.entry:
        marked = [
            (new.entry, ("added",), "the call starts here (new entry)"),
            (old.entry, ("removed",), "the call started here (old entry)"),
        ]
    return tuple(
        Start(index[entry], words, states)
        for entry, states, words in marked
        if entry is not None and entry in index
    )
