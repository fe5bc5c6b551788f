"""How drawings look, as data: styles per node kind, state and edge, diff colours, shapes.

The Graphviz, Mermaid and diff renderers all read these tables, so a colour is changed here once.
Values are Graphviz attributes (strings); the Mermaid renderer translates the ones it can show.

Example:
    >>> NODE_STYLES["menu"]["shape"], STATE_STYLES["active"]["color"]
    ('box', '#0b57d0')
    >>> DIFF_STYLES["removed"]["style"], MERMAID_SHAPES["branch"]
    ('dashed', ('{', '}'))
"""

from __future__ import annotations

__all__ = [
    "DIFF_COLOURS",
    "DIFF_NODE_STYLES",
    "DIFF_STYLES",
    "EDGE_DEFAULTS",
    "EDGE_STYLES",
    "FALLBACK_KEYS",
    "MERMAID_SHAPES",
    "NODE_DEFAULTS",
    "NODE_STYLES",
    "START_STYLES",
    "STATE_COLOURS",
    "STATE_ORDER",
    "STATE_STYLES",
]


def _inked(colour: str, **more: str) -> dict[str, str]:
    # An edge or a diff mark writes its label in its line's colour.
    return {"color": colour, "fontcolor": colour, **more}


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
    # A set stores values, as a database does: a cylinder, smaller text than a prompt.
    "set": {
        "shape": "cylinder",
        "style": "filled",
        "fillcolor": "#efebe9",
        "color": "#6d4c41",
        "fontsize": "10",
    },
    "hangup": {"shape": "octagon", "style": "filled", "fillcolor": "#fce8e6", "color": "#a03030"},
    "transfer": {"shape": "cds", "style": "filled", "fillcolor": "#f3e8fd", "color": "#6a3ea1"},
    "branch": {"shape": "diamond", "style": "filled", "fillcolor": "#e0f7fa", "color": "#00695c"},
    "subflow": {
        "shape": "component",
        "style": "filled",
        "fillcolor": "#eeeeee",
        "color": "#555555",
    },
    # A lookup asks a system outside the call: a hexagon, as a flowchart's external process.
    "lookup": {"shape": "hexagon", "style": "filled", "fillcolor": "#fff3e0", "color": "#e65100"},
    "missing": {"shape": "box", "style": "dashed", "color": "#a03030", "fontcolor": "#a03030"},
}
#: The colour of each highlight, for nodes and edges alike.
STATE_COLOURS: dict[str, str] = {
    "visited": "#1a73e8",
    "active": "#0b57d0",
    "warning": "#e37400",
    "error": "#d93025",
}
#: What each state changes over the kind's style, applied in `STATE_ORDER` (later wins), so a
#: problem's outline shows on a visited node and a selection shows on everything.
STATE_STYLES: dict[str, dict[str, str]] = {
    "visited": {"color": STATE_COLOURS["visited"], "penwidth": "2.5", "fillcolor": "#d2e3fc"},
    "active": {"color": STATE_COLOURS["active"], "penwidth": "4", "fillcolor": "#fde293"},
    "warning": {"color": STATE_COLOURS["warning"], "penwidth": "3.5"},
    "error": {"color": STATE_COLOURS["error"], "penwidth": "3.5"},
    "selected": {"peripheries": "2"},
}
#: The order states are applied in: a later one wins where two set the same attribute.
STATE_ORDER = ("visited", "active", "warning", "error", "selected")
#: How edges are drawn: a plain key, a fallback (`FALLBACK_KEYS`), then the states.
EDGE_STYLES: dict[str, dict[str, str]] = {
    "key": {},
    "fallback": {"style": "dashed", "color": "#777777", "fontcolor": "#555555"},
    "visited": _inked(STATE_COLOURS["visited"], penwidth="2.5"),
    "active": _inked(STATE_COLOURS["active"], penwidth="4"),
    "warning": _inked(STATE_COLOURS["warning"], penwidth="2.5"),
    "error": _inked(STATE_COLOURS["error"], penwidth="2.5"),
}
#: The edges a call takes when the caller does not choose one: drawn dashed (Mermaid: dotted).
FALLBACK_KEYS = frozenset({"invalid", "gave_up"})
#: The entry marker: a dot with an arrow to the entry node.
START_STYLES: dict[str, dict[str, str]] = {
    "marker": {"shape": "point", "width": "0.15"},
    "arrow": {"penwidth": "1.5"},
}
#: What every node and edge of a Graphviz drawing starts from.
NODE_DEFAULTS: dict[str, str] = {"fontname": "Helvetica", "fontsize": "11"}
EDGE_DEFAULTS: dict[str, str] = {
    "fontname": "Helvetica",
    "fontsize": "10",
    "labelfontsize": "10",
    "arrowsize": "0.7",
}

#: The colour of each status in a diff drawing: added, removed, changed, unchanged.
DIFF_COLOURS: dict[str, str] = {
    "added": "#2e7d32",
    "removed": "#c62828",
    "changed": "#ff8f00",
    "same": "#555555",
}
#: How a diff draws each status, for nodes, edges and entry markers: what changed is thicker,
#: what was removed is dashed too (its labels are struck through).
DIFF_STYLES: dict[str, dict[str, str]] = {
    "added": _inked(DIFF_COLOURS["added"], penwidth="2"),
    "removed": _inked(DIFF_COLOURS["removed"], style="dashed", penwidth="2"),
    "changed": _inked(DIFF_COLOURS["changed"], penwidth="2"),
    "same": _inked(DIFF_COLOURS["same"]),
    # An edge real calls took on a path the change alters: its status colour, drawn heavy.
    "real": {"penwidth": "5", "arrowsize": "1.2"},
}
#: A diff keeps each kind's shape but not its fill, so the status colours stand out.
DIFF_NODE_STYLES: dict[str, dict[str, str]] = {
    kind: {"shape": style["shape"]} for kind, style in NODE_STYLES.items()
}

#: The opening and closing brackets of each kind's Mermaid shape.
MERMAID_SHAPES: dict[str, tuple[str, str]] = {
    "menu": ("[", "]"),
    "collect": ("[/", "/]"),
    "say": ("(", ")"),
    "set": ("[(", ")]"),
    "hangup": ("([", "])"),
    "transfer": (">", "]"),
    "branch": ("{", "}"),
    "subflow": ("[[", "]]"),
    "lookup": ("{{", "}}"),
    "missing": ("[", "]"),
}
