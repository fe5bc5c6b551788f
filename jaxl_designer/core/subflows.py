"""Sub-flows: expand each `subflow` node into the piece it includes, wiring its named exits.

A `subflow` node names a piece (`jaxl_designer.core.pieces`) and its parameters; its edges are
keyed by the piece's exit names. `expand` returns a flow with no `subflow` nodes, the piece's
nodes taking ids `<subflow node>/<piece node>`, which is what the simulator runs and export
writes.

Example:
    >>> from jaxl_designer.core.flow import Flow
    >>> flow = Flow("bank")
    >>> flow.add("account", "subflow", piece="collect_and_confirm", params={"var": "acct"})
    'account'
    >>> flow.connect("account", "confirmed", "thanks")
    >>> flow.connect("account", "gave_up", "thanks")
    >>> flow.hangup("thanks", "Thank you.")
    'thanks'
    >>> expanded = expand(flow)
    >>> expanded.entry, expanded.edges("account/confirm")["1"]
    ('account/ask', 'thanks')
"""

from __future__ import annotations

from pathlib import Path

from .flow import Flow
from .pieces import PieceError, build, exits

__all__ = ["MAX_DEPTH", "PieceError", "expand", "has_subflows", "piece_exits"]

#: How deep pieces may include pieces; deeper means a piece includes itself.
MAX_DEPTH = 8


def has_subflows(flow: Flow) -> bool:
    """Whether any node of the flow is a `subflow`."""
    return any(flow.kind(node) == "subflow" for node in flow.nodes)


def piece_exits(flow: Flow, node: str, base: Path | None = None) -> set[str]:
    """The exit names the piece of a `subflow` node offers (piece files read from `base`)."""
    data = flow.graph.nodes[node]
    folder = base if base is not None else flow.folder
    return exits(build(str(data.get("piece")), data.get("params"), folder))


def expand(flow: Flow, base: Path | None = None, *, strict: bool = True, _depth: int = 0) -> Flow:
    """A copy of `flow` with every `subflow` node replaced by the nodes of its piece.

    Piece files are read from `base`, else from the flow's own folder (`Flow.folder`), else
    from the current directory; a piece file's own pieces are read from its folder.
    With `strict=False` a piece that cannot be built is left in place instead of raising.
    """
    folder = base if base is not None else flow.folder
    if not has_subflows(flow):
        return flow.copy()
    if _depth >= MAX_DEPTH:
        raise PieceError(f"pieces nest deeper than {MAX_DEPTH}: does a piece include itself?")
    out = flow.copy()
    for node in [n for n in flow.nodes if flow.kind(n) == "subflow"]:
        data = flow.graph.nodes[node]
        try:
            piece = build(str(data.get("piece")), data.get("params"), folder)
            piece = expand(piece, piece.folder or folder, strict=strict, _depth=_depth + 1)
        except PieceError:
            if strict:
                raise
            continue
        _inline(out, node, piece)
    return out


def _inline(out: Flow, node: str, piece: Flow) -> None:
    """Put `piece` in place of `node` in `out`, in the piece's node order."""
    leaving = out.edges(node)
    coming = [(source, key) for source, _, key in out.graph.in_edges(node, keys=True)]
    position = out.layout.get(node)
    was_entry = out.entry == node
    out.remove(node)
    prefix = f"{node}/"
    start = prefix + str(piece.entry)
    for inner in piece.nodes:
        fields = piece.node(inner)
        out.add(prefix + inner, fields.pop("kind"), **fields)
    for inner in piece.nodes:
        for key, target in piece.edges(inner).items():
            if target.startswith("@"):
                # An exit the including node leaves unconnected stays visible to validation.
                destination = leaving.get(target[1:], f"{node}@{target[1:]}")
                destination = start if destination == node else destination
            else:
                destination = prefix + target
            out.graph.add_edge(prefix + inner, destination, key=key)
    for source, key in coming:
        if source != node:
            out.graph.add_edge(source, start, key=key)
    if was_entry:
        out.entry = start
    if position is not None:
        out.layout[start] = position
