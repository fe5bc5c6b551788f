"""A clickable drawing widget: inline SVG from `render_svg`, clicks on nodes and edges sent back."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal, TypedDict

import anywidget
import traitlets

__all__ = ["Click", "EdgeClick", "EdgeTarget", "GraphView", "NodeClick", "NodeTarget", "Target"]


class NodeClick(TypedDict):
    """A click on a node: its id, and a count that grows with every click."""

    kind: Literal["node"]
    node: str
    count: int


class EdgeClick(TypedDict):
    """A click on an edge: input `key` at `source` leads to `target`; `count` grows per click."""

    kind: Literal["edge"]
    source: str
    key: str
    target: str
    count: int


class NodeTarget(TypedDict):
    """What a node's SVG element draws."""

    kind: Literal["node"]
    node: str


class EdgeTarget(TypedDict):
    """What an edge's SVG element draws."""

    kind: Literal["edge"]
    source: str
    key: str
    target: str


Click = NodeClick | EdgeClick
Target = NodeTarget | EdgeTarget

_ESM = """
function targetOf(box, element, targets) {
  const group = element.closest("g.node, g.edge");
  if (!group || !box.contains(group)) return null;
  if (targets[group.id]) return targets[group.id];
  const title = group.querySelector(":scope > title");
  if (!group.classList.contains("node") || !title) return null;
  return { kind: "node", node: title.textContent };
}

function label(box, targets, selected) {
  for (const group of box.querySelectorAll("g.node, g.edge")) {
    const target = targets[group.id];
    if (!target) continue;
    group.dataset.jdKind = target.kind;
    if (target.kind === "node") {
      group.dataset.jdNode = target.node;
    } else {
      group.dataset.jdSource = target.source;
      group.dataset.jdKey = target.key;
      group.dataset.jdTarget = target.target;
    }
    group.classList.toggle("jd-selected", target.kind === "node" && target.node === selected);
  }
}

function render({ model, el }) {
  const box = document.createElement("div");
  box.className = "jd-graph-svg";
  el.classList.add("jd-graph-view");
  el.appendChild(box);
  const mark = () => label(box, model.get("targets"), model.get("selected"));
  const draw = () => {
    const svg = model.get("svg");
    const start = svg.indexOf("<svg");
    box.innerHTML = start < 0 ? "" : svg.slice(start);
    mark();
  };
  const click = (event) => {
    const target = targetOf(box, event.target, model.get("targets"));
    if (!target) return;
    const count = (model.get("clicked").count || 0) + 1;
    model.set("clicked", { ...target, count });
    model.save_changes();
  };
  box.addEventListener("click", click);
  model.on("change:svg", draw);
  model.on("change:targets", mark);
  model.on("change:selected", mark);
  draw();
  return () => {
    box.removeEventListener("click", click);
    model.off("change:svg", draw);
    model.off("change:targets", mark);
    model.off("change:selected", mark);
  };
}

export default { render };
"""

_CSS = """
.jd-graph-view { overflow: auto; max-height: 70vh; }
.jd-graph-view svg { max-width: none; height: auto; }
.jd-graph-view g.node, .jd-graph-view g.edge { cursor: pointer; }
.jd-graph-view g.node.jd-selected { filter: drop-shadow(0 0 4px #1a73e8); }
"""


class GraphView(anywidget.AnyWidget):
    """Shows an SVG drawing inline (clickable, unlike an `<img>`) and reports clicks.

    Python sets `svg`, `targets` (SVG element id to the node or edge it draws; see
    `show`) and `selected`. The browser sets `clicked` to a `NodeClick` or `EdgeClick` on every
    click on a `<g class="node">` or `<g class="edge">`, so observe it with
    `view.observe(handler, "clicked")`; tests can play the browser by assigning `clicked`.

    In the page, the view is `.jd-graph-view`, and each drawn node's `<g>` carries
    `data-jd-kind="node"` and `data-jd-node="<node id>"` (edges: `data-jd-source`, `data-jd-key`,
    `data-jd-target`), so a browser test clicks node `main` with
    `.jd-graph-view g.node[data-jd-node="main"]:not(.jd-start)` (the entry's start marker is
    mapped to the entry node too, so a click on it selects the entry). The selected node's `<g>`
    has class `jd-selected`.
    """

    _esm = _ESM
    _css = _CSS
    svg = traitlets.Unicode("").tag(sync=True)
    targets = traitlets.Dict({}).tag(sync=True)
    selected = traitlets.Unicode("").tag(sync=True)
    clicked = traitlets.Dict({}).tag(sync=True)

    def show(self, svg: str, targets: Mapping[str, Target], selected: str = "") -> None:
        """Replace the drawing in one message: its SVG, what its elements draw, the selection."""
        with self.hold_sync():
            self.targets = dict(targets)
            self.svg = svg
            self.selected = selected

    def __repr__(self) -> str:
        selected = f", selected {self.selected!r}" if self.selected else ""
        return f"<GraphView: {len(self.svg)} characters of SVG{selected}>"
