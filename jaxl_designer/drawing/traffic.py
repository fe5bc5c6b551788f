"""A flow drawn with its traffic from logs: busy edges wide and hot, reach and drop-off per node.

Example:
    >>> from jaxl_designer.core.examples import acme
    >>> lines = ['{"v":1,"rev":"r","event":1,"call_id":1,"nodes":["main"],"wait":"main"}',
    ...          '{"v":1,"rev":"r","event":3,"call_id":1,"end":"caller_hangup","at":"main"}']
    >>> shown = report(acme(), lines)
    >>> shown.traffic.hung_up["main"], shown.drawing().nodes[0].lines
    (1, ('1 call (100%)', 'hung up here 1 (100%)'))
"""

from __future__ import annotations

import dataclasses
import html
import math
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ..core.fileformat import load
from ..core.files import write_atomic, write_atomic_bytes
from ..core.flow import Flow
from ..core.prepare import prepare
from ..core.report import MAX_OPEN_CALLS, Source, Traffic, read
from ..core.runtime import ENDINGS, revision
from . import dot
from .backend import run_dot
from .model import Drawing, DrawnEdge, DrawnNode, build
from .styles import EDGE_STYLES, NODE_STYLES, STATE_STYLES

__all__ = [
    "HEAT",
    "TRAFFIC_EDGE_STYLES",
    "TRAFFIC_NODE_STYLES",
    "TrafficReport",
    "report",
]

#: Edge colours from the least travelled to the busiest, in `len(HEAT)` steps.
HEAT = ("#9ecae1", "#6baed6", "#3182bd", "#fd8d3c", "#e6550d", "#a63603")
#: Edge styles by traffic: `heat-1` … `heat-6` wider and hotter, `unused` for no call.
TRAFFIC_EDGE_STYLES: dict[str, dict[str, str]] = {
    **{
        f"heat-{level}": {
            "color": colour,
            "fontcolor": "#333333",
            "penwidth": f"{1 + 1.4 * (level - 1):.1f}",
        }
        for level, colour in enumerate(HEAT, 1)
    },
    "unused": {"style": "dotted", "color": "#bbbbbb", "fontcolor": "#999999"},
}
#: Node styles by traffic: none reached it, or many callers left there.
TRAFFIC_NODE_STYLES: dict[str, dict[str, str]] = {
    "unused": {"style": "filled,dashed", "fillcolor": "#f5f5f5", "color": "#bbbbbb",
               "fontcolor": "#999999"},
    "dropoff": {"color": "#d93025", "penwidth": "3"},
}  # fmt: skip
#: A node where at least this share of the calls reaching it were dropped is outlined red.
DROPOFF_SHARE = 0.25
_LOOK = dot.Look(
    NODE_STYLES, {**STATE_STYLES, **TRAFFIC_NODE_STYLES}, {**EDGE_STYLES, **TRAFFIC_EDGE_STYLES}
)
_PREFIX = "jd-traffic-"


def report(
    flow: Flow | str | os.PathLike[str],
    *logs: Source,
    env: str | Mapping[str, Any] | None = None,
    max_open: int = MAX_OPEN_CALLS,
) -> TrafficReport:
    """Read request logs and show their calls on `flow`.

    Args:
        flow: The flow the calls ran on (a `Flow`, or a flow file).
        logs: Request logs: paths (plain or gzip), binary files, or lists of lines.
        env: The environment the flow was exported for (only its revision depends on it).
        max_open: Calls in progress kept at once while reading (see `core.report.read`).

    Raises:
        LogError: A log is missing or is not a request log.
    """
    if not isinstance(flow, Flow):
        flow = load(flow)
    return TrafficReport(flow, read(logs, max_open=max_open), env=env)


class TrafficReport:
    """Calls counted from logs, drawn on their flow: SVG, PNG, an HTML page, text."""

    def __init__(
        self, flow: Flow, traffic: Traffic, *, env: str | Mapping[str, Any] | None = None
    ) -> None:
        self.flow = flow
        self.traffic = traffic
        #: The flow's revision, as the webhook exported from it names it on each line.
        self.revision = revision(prepare(flow, env).to_document())

    # -- numbers ----------------------------------------------------------------------------
    def top_paths(self, count: int = 10) -> list[tuple[tuple[str, ...], int]]:
        """The `count` most taken paths: their nodes then how they ended, and their calls."""
        return self.traffic.paths.most_common(count)

    def notes(self) -> list[str]:
        """What a reader should know before trusting the numbers, one line each."""
        traffic, said = self.traffic, []
        others = [rev for rev in traffic.revisions if rev != self.revision]
        if others:
            calls = sum(traffic.revisions[rev] for rev in others)
            said.append(
                f"{calls} calls ran on another revision of the flow ({', '.join(others[:3])}; "
                f"this flow is {self.revision})"
            )
        if traffic.evicted:
            said.append(f"{traffic.evicted} calls were still open when too many were: unfinished")
        if traffic.partial:
            said.append(f"{traffic.partial} calls began before the log did")
        unknown = [node for node in traffic.reached if node not in self.flow]
        if unknown:
            said.append(f"nodes not in this flow: {', '.join(sorted(unknown)[:5])}")
        if traffic.bad:
            source, number, why = traffic.bad_lines[0]
            said.append(f"{traffic.bad} lines are no log lines (first: {source}:{number}: {why})")
        return said

    def node_rows(self) -> list[tuple[str, str, int, int, int, int, int]]:
        """Per node, in flow order: id, kind, calls reaching it, hung up, gave up, left
        waiting, ended by the flow there."""
        traffic = self.traffic
        rows = []
        for node in self.flow.nodes:
            ended = sum(traffic.ended[node, how] for how in ENDINGS)
            rows.append(
                (
                    node,
                    self.flow.kind(node),
                    traffic.reached[node],
                    traffic.hung_up[node],
                    traffic.gave_up[node],
                    traffic.left[node],
                    ended,
                )
            )
        return rows

    def __str__(self) -> str:
        traffic = self.traffic
        lines = [f"{self.flow.name}: {traffic}"]
        lines += [f"note: {note}" for note in self.notes()]
        lines.append("top paths:")
        for path, calls in self.top_paths(5):
            lines.append(f"  {calls:>8,}  {_path_text(path)}")
        for node, _, reached, hung_up, gave_up, left, _ in self.node_rows():
            if hung_up or gave_up or left:
                lines.append(
                    f"  {node}: {reached:,} reached, {hung_up:,} hung up, {gave_up:,} gave up, "
                    f"{left:,} left waiting"
                )
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"<TrafficReport {self.flow.name!r}: {self.traffic.calls} calls>"

    # -- drawings ---------------------------------------------------------------------------
    def drawing(self) -> Drawing:
        """The flow's drawing with each node's counts under its id and edges styled by calls."""
        base = build(self.flow, words=0)
        traffic = self.traffic
        busiest = max(traffic.edge_calls.values(), default=0)
        nodes = tuple(self._node(node) for node in base.nodes)
        edges = tuple(self._edge(base, edge, busiest) for edge in base.edges)
        return dataclasses.replace(base, nodes=nodes, edges=edges)

    def _node(self, node: DrawnNode) -> DrawnNode:
        traffic = self.traffic
        reached = traffic.reached[node.id]
        if not reached:
            return dataclasses.replace(node, lines=("no calls",), states=("unused",))
        calls = max(traffic.calls, 1)
        lines = [f"{_calls(reached)} ({_share(reached, calls)})"]
        gone = [
            (word, count)
            for word, count in (
                ("hung up here", traffic.hung_up[node.id]),
                ("gave up", traffic.gave_up[node.id]),
                ("left waiting", traffic.left[node.id]),
            )
            if count
        ]
        lines += [f"{word} {count:,} ({_share(count, reached)})" for word, count in gone]
        ended = [(how, traffic.ended[node.id, how]) for how in ENDINGS]
        lines += [f"{how} {count:,}" for how, count in ended if count and how != node.kind]
        states = ("dropoff",) if traffic.dropped(node.id) >= DROPOFF_SHARE * reached else ()
        tooltip = "\n".join([node.id, *lines])
        return dataclasses.replace(node, lines=tuple(lines), states=states, tooltip=tooltip)

    def _edge(self, base: Drawing, edge: DrawnEdge, busiest: int) -> DrawnEdge:
        ends = base.edge_ends(edge)
        calls = self.traffic.edge_calls[ends]
        if not calls:
            return dataclasses.replace(edge, states=("unused",))
        level = max(1, math.ceil(len(HEAT) * calls / busiest))
        taken = self.traffic.taken[ends]
        times = f", taken {taken:,} times" if taken != calls else ""
        return dataclasses.replace(
            edge,
            key=f"{edge.key} · {calls:,}",
            states=(f"heat-{level}",),
            tooltip=f"{edge.tooltip}: {_calls(calls)}{times}",
        )

    def dot(self, rankdir: str = "TB") -> str:
        """The drawing as DOT text."""
        drawing = self.drawing()
        large = len(drawing.nodes) >= dot.LARGE_GRAPH
        return str(
            dot.to_digraph(
                drawing, _LOOK, name="traffic", prefix=_PREFIX, rankdir=rankdir, large=large
            ).source
        )

    def svg(self, *, rankdir: str = "TB", timeout: float = 60.0) -> str:
        """The drawing as SVG, laid out by `dot` (RenderError when it cannot)."""
        return run_dot(self.dot(rankdir), "svg", timeout, len(self.flow)).decode("utf-8")

    def png(self, *, rankdir: str = "TB", timeout: float = 60.0) -> bytes:
        """The drawing as a PNG image, laid out by `dot`."""
        return run_dot(self.dot(rankdir), "png", timeout, len(self.flow))

    # -- the page ---------------------------------------------------------------------------
    def html(self, *, top: int = 10, timeout: float = 60.0) -> str:
        """A self-contained HTML page: the drawing and the tables, no scripts or fonts."""
        title = html.escape(f"{self.flow.name}: calls from the logs")
        return (
            f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f"<title>{title}</title><style>{_CSS}</style></head>"
            f"<body><h1>{title}</h1>{self._body(top, timeout)}</body></html>\n"
        )

    def _repr_html_(self) -> str:
        return f"<div class='jd-report'><style>{_CSS}</style>{self._body(10, 60.0)}</div>"

    def _body(self, top: int, timeout: float) -> str:
        traffic = self.traffic
        calls = max(traffic.calls, 1)
        summary = [
            ("log lines", f"{traffic.lines:,}"),
            ("calls", f"{traffic.calls:,}"),
            ("finished", f"{traffic.finished:,}"),
            ("unfinished", f"{traffic.unfinished:,}"),
            *((f"ended: {how}", f"{traffic.endings[how]:,}") for how in ENDINGS),
            ("not log lines", f"{traffic.bad:,}"),
            ("flow revision", self.revision),
        ]
        parts = [_table(["", ""], summary, "summary")]
        parts += [f'<p class="note">{html.escape(note)}</p>' for note in self.notes()]
        svg = self.svg(timeout=timeout)
        # Inline, the SVG needs no XML prolog or doctype (which names an external DTD).
        parts.append(f'<div class="drawing">{svg[svg.find("<svg") :]}</div>')
        funnel = traffic.funnel()
        if funnel:
            first = max(funnel[0][1], 1)
            rows = []
            for index, (node, count) in enumerate(funnel):
                before = funnel[index - 1][1] if index else count
                rows.append((node, f"{count:,}", _share(count, first), _share(count, before)))
            parts.append("<h2>Funnel along the top path</h2>")
            parts.append(_table(["step", "calls", "of the first", "of the step before"], rows))
        paths = [
            (str(rank), f"{count:,}", _share(count, calls), _path_text(path))
            for rank, (path, count) in enumerate(self.top_paths(top), 1)
        ]
        parts.append(f"<h2>Top {len(paths)} paths</h2>")
        parts.append(_table(["#", "calls", "share", "path"], paths))
        nodes = [
            (n, kind, f"{r:,}", _share(r, calls), f"{h:,}", f"{g:,}", f"{w:,}", f"{e:,}")
            for n, kind, r, h, g, w, e in self.node_rows()
        ]
        parts.append("<h2>Nodes</h2>")
        heads = ["node", "kind", "reached", "of calls", "hung up", "gave up", "left waiting"]
        parts.append(_table([*heads, "ended here"], nodes))
        if traffic.bad_lines:
            bad = [(s, str(n), why) for s, n, why in traffic.bad_lines]
            parts.append(f"<h2>Lines that are no log lines ({traffic.bad:,})</h2>")
            parts.append(_table(["file", "line", "why"], bad))
        return "".join(parts)

    def save(self, out: str | os.PathLike[str], *, top: int = 10, timeout: float = 60.0) -> Path:
        """Write the report to `out`, in the format its suffix names: .html, .svg, .png, .dot."""
        target = Path(out)
        suffix = target.suffix.lower()
        if suffix in (".html", ".htm"):
            return write_atomic(target, self.html(top=top, timeout=timeout))
        if suffix == ".svg":
            return write_atomic(target, self.svg(timeout=timeout))
        if suffix == ".png":
            return write_atomic_bytes(target, self.png(timeout=timeout))
        if suffix in (".dot", ".gv"):
            return write_atomic(target, self.dot())
        raise ValueError(f"{target}: unknown report format (use .html, .svg, .png or .dot)")


def _calls(count: int) -> str:
    return f"{count:,} call" + ("" if count == 1 else "s")


def _share(part: int, whole: int) -> str:
    if not whole:
        return "–"
    share = 100 * part / whole
    return f"{share:.0f}%" if share >= 10 or share == 0 else f"{share:.1f}%"


def _path_text(path: Iterable[str]) -> str:
    *nodes, ending = path
    return f"{' → '.join(nodes) or '(no node)'} ({ending})"


def _table(heads: list[str], rows: Iterable[Iterable[str]], kind: str = "") -> str:
    head = "".join(f"<th>{html.escape(text)}</th>" for text in heads)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(cell))}</td>" for cell in row) + "</tr>"
        for row in rows
    )
    return f'<table class="{kind}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


_CSS = (
    "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:1.5em;color:#222}"
    "h1{font-size:1.4em}h2{font-size:1.1em;margin-top:1.5em}"
    "table{border-collapse:collapse;margin:.5em 0;font-size:.9em}"
    "th,td{border:1px solid #ddd;padding:.25em .6em;text-align:left}"
    "td:nth-child(n+2){font-variant-numeric:tabular-nums}"
    "th{background:#f3f3f3}table.summary thead{display:none}"
    ".note{color:#a03030}.drawing svg{max-width:100%;height:auto}"
)
