"""Flows as Mermaid flowcharts, for Markdown that GitHub, GitLab and many wikis draw.

Node ids become `n0`, `n1`, … (in `flow.nodes` order) and every character of a label outside
letters, digits and plain punctuation becomes a Mermaid entity code (`#35;` for `#`), so no node
id or prompt can break the chart or bring markup into the page.

Example:
    >>> from jaxl_designer.core.examples import acme
    >>> chart = to_mermaid(acme()).splitlines()
    >>> chart[0]
    'flowchart TD'
    >>> print(*(line for line in chart if line.startswith("    n0")), sep="\\n")
        n0["<b>main</b><br/>Welcome to Acme. Press 1 for …"]
        n0 -->|"1"| n1
        n0 -->|"2"| n2
        n0 -->|"9"| n0
        n0 -.->|"invalid"| n3
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from typing import Any

from ..core.flow import Flow
from .labels import path_parts, summary
from .render import EDGE_STYLES, NODE_STYLES, STATE_STYLES

__all__ = ["SHAPES", "to_mermaid"]

#: The opening and closing brackets of each kind's Mermaid shape.
SHAPES: dict[str, tuple[str, str]] = {
    "menu": ("[", "]"),
    "collect": ("[/", "/]"),
    "say": ("(", ")"),
    "hangup": ("([", "])"),
    "transfer": (">", "]"),
    "branch": ("{", "}"),
    "subflow": ("[[", "]]"),
    "missing": ("[", "]"),
}
_PLAIN = frozenset(" .,:!?'+-_=@")
_DASHED = frozenset({"invalid", "gave_up"})


def _text(value: Any) -> str:
    # Letters, marks and digits of every script pass; anything that could be syntax is a code.
    out = []
    for char in str(value):
        plain = (char.isascii() and char.isalnum()) or char in _PLAIN
        script = not char.isascii() and unicodedata.category(char)[0] in "LMN"
        out.append(char if plain or script or char == "…" else f"#{ord(char)};")
    return "".join(out)


def _node(index: int, node: str, kind: str, lines: Iterable[str]) -> str:
    label = "<br/>".join([f"<b>{_text(node)}</b>", *map(_text, lines)])
    opening, closing = SHAPES[kind]
    return f'    n{index}{opening}"{label}"{closing}'


def _class_defs() -> list[str]:
    lines = []
    for kind, style in NODE_STYLES.items():
        fill = style.get("fillcolor", "#ffffff")
        dash = ",stroke-dasharray:4 3" if "dashed" in style.get("style", "") else ""
        lines.append(f"    classDef {kind} fill:{fill},stroke:{style.get('color', '#333')}{dash}")
    for state in ("visited", "active"):
        style = STATE_STYLES[state]
        css = (
            f"fill:{style['fillcolor']},stroke:{style['color']},stroke-width:{style['penwidth']}px"
        )
        lines.append(f"    classDef {state} {css}")
    return lines


def to_mermaid(flow: Flow, *, path: Any = None, words: int = 6) -> str:
    """The flow as a Mermaid `flowchart TD`: one shape per kind, edges labelled by key.

    Args:
        flow: The flow to draw.
        path: A call's path to highlight (any form `jaxl_designer.drawing.render.path_parts` takes).
        words: How many words of a prompt a node shows.

    Returns:
        Mermaid source text; `invalid` and `gave_up` edges are dotted, the entry has a start
        circle, and a path's nodes and edges are coloured (the current node strongest).
    """
    nodes = flow.nodes
    edges = [(node, key, target) for node in nodes for key, target in flow.edges(node).items()]
    drawn = [*nodes, *dict.fromkeys(t for _, _, t in edges if t not in flow)]
    index = {node: i for i, node in enumerate(drawn)}
    lines = ["flowchart TD", *_class_defs()]
    for i, node in enumerate(drawn):
        kind = flow.kind(node) if node in flow else "missing"
        said = summary(flow, node, words) if node in flow else ["(not in the flow)"]
        lines += [_node(i, node, kind, said), f"    class n{i} {kind}"]
    links = []
    if flow.entry in flow:
        lines.append('    start(("start"))')
        links.append(f"    start --> n{index[str(flow.entry)]}")
    for source, key, target in edges:
        arrow = "-.->" if key in _DASHED else "-->"
        links.append(f'    n{index[source]} {arrow}|"{_text(key)}"| n{index[target]}')
    lines += links
    lines += _highlight(flow, path, index, edges, offset=len(links) - len(edges))
    return "\n".join(lines) + "\n"


def _highlight(
    flow: Flow,
    path: Any,
    index: dict[str, int],
    edges: list[tuple[str, str, str]],
    offset: int,
) -> list[str]:
    visited, taken = path_parts(flow, path)
    lines = [
        f"    class n{index[node]} visited" for node in dict.fromkeys(visited) if node in index
    ]
    if visited and visited[-1] in index:
        lines.append(f"    class n{index[visited[-1]]} active")
    # linkStyle counts links in the order they were written, the start arrow first.
    taken_set = set(taken)
    numbers = [str(offset + j) for j, edge in enumerate(edges) if edge in taken_set]
    if numbers:
        colour = EDGE_STYLES["visited"]["color"]
        lines.append(f"    linkStyle {','.join(numbers)} stroke:{colour},stroke-width:3px")
    return lines
