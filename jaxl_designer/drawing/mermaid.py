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
from typing import Any

from ..core.flow import Flow
from .labels import path_parts
from .model import Drawing, DrawnNode, build
from .styles import EDGE_STYLES, MERMAID_SHAPES, NODE_STYLES, STATE_STYLES

__all__ = ["SHAPES", "to_mermaid"]

#: The opening and closing brackets of each kind's Mermaid shape (`styles.MERMAID_SHAPES`).
SHAPES = MERMAID_SHAPES
_PLAIN = frozenset(" .,:!?'+-_=@")


def _text(value: Any) -> str:
    # Letters, marks and digits of every script pass; anything that could be syntax is a code.
    out = []
    for char in str(value):
        plain = (char.isascii() and char.isalnum()) or char in _PLAIN
        script = not char.isascii() and unicodedata.category(char)[0] in "LMN"
        out.append(char if plain or script or char == "…" else f"#{ord(char)};")
    return "".join(out)


def _node(node: DrawnNode) -> str:
    label = "<br/>".join([f"<b>{_text(node.id)}</b>", *map(_text, node.lines)])
    opening, closing = SHAPES[node.kind]
    return f'    n{node.index}{opening}"{label}"{closing}'


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
        path: A call's path to highlight (any form `jaxl_designer.drawing.labels.path_parts`
            takes).
        words: How many words of a prompt a node shows.

    Returns:
        Mermaid source text; `invalid` and `gave_up` edges are dotted, the entry has a start
        circle, and a path's nodes and edges are coloured (the current node strongest).
    """
    visited, taken = path_parts(flow, path)
    drawing = build(flow, words=words, path=visited, path_edges=taken)
    lines = ["flowchart TD", *_class_defs()]
    for node in drawing.nodes:
        lines += [_node(node), f"    class n{node.index} {node.kind}"]
    links = []
    for number, start in enumerate(drawing.starts):
        name = "start" if number == 0 else f"start{number}"
        lines.append(f'    {name}(("start"))')
        links.append(f"    {name} --> n{start.target}")
    for edge in drawing.edges:
        arrow = "-.->" if edge.kind == "fallback" else "-->"
        links.append(f'    n{edge.source} {arrow}|"{_text(edge.key)}"| n{edge.target}')
    lines += links
    return "\n".join([*lines, *_highlight(drawing, offset=len(drawing.starts))]) + "\n"


def _highlight(drawing: Drawing, offset: int) -> list[str]:
    lines = [f"    class n{index} visited" for index in drawing.path]
    lines += [
        f"    class n{node.index} active" for node in drawing.nodes if "active" in node.states
    ]
    # linkStyle counts links in the order they were written, the start arrows first.
    numbers = [str(offset + edge.index) for edge in drawing.edges if "visited" in edge.states]
    if numbers:
        colour = EDGE_STYLES["visited"]["color"]
        lines.append(f"    linkStyle {','.join(numbers)} stroke:{colour},stroke-width:3px")
    return lines
