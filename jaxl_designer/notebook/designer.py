"""The designer: one notebook cell to draw, edit, validate, dial, save and export a flow.

Example:
    >>> from jaxl_designer.core.flow import Flow
    >>> designer = Designer(Flow("demo"))
    >>> designer.kind.value, designer.node_id.value = "hangup", "bye"
    >>> designer.add.click()
    >>> designer.flow.nodes, designer.selected
    (['bye'], 'bye')
    >>> designer.undo_button.click()
    >>> designer.flow.nodes, designer.said
    ([], 'undid: added hangup bye')
"""

from __future__ import annotations

import html
import itertools
import re
from collections.abc import Callable, Sequence
from typing import Any

import ipywidgets as widgets

from ..core.flow import KINDS, Flow
from ..core.simulator import Call
from ..core.validation import Problem
from ..drawing.render import RenderError, RenderOptions, render_svg, svg_ids
from ..editing.session import Change, EditingSession, Message, one_line
from .controls import NONE, button, css_name, text
from .graphview import GraphView, Target
from .inspector import Inspector
from .phone import Phone

__all__ = ["NONE", "Designer", "css_name"]

# Each designer's drawing has its own SVG ids, so two designers on one page never collide.
_DRAWINGS = itertools.count()


def _targets(ids: dict[str, tuple[str, ...]]) -> dict[str, Target]:
    """`render.svg_ids` as the click targets a `GraphView` sends back."""
    found: dict[str, Target] = {}
    for svg_id, drawn in ids.items():
        if drawn[0] == "node":
            found[svg_id] = {"kind": "node", "node": drawn[1]}
        else:
            found[svg_id] = {
                "kind": "edge",
                "source": drawn[1],
                "key": drawn[2],
                "target": drawn[3],
            }
    return found


class Designer(widgets.VBox):  # type: ignore[misc, unused-ignore]  # ipywidgets is untyped
    """Design a flow in one notebook cell: the drawing, a toolbar, an inspector and a phone.

    The designer edits the `Flow` it is given, in place: code and clicks can take turns on the
    same object. After changing the flow from code, call `refresh()` to redraw. Every edit made
    through the designer can be undone (`undo()`, `redo()`); an undo after code edits returns
    to the flow as it was before the designer's last edit.

    What the designer does lives in its widget-free `session` (an `EditingSession`); the
    widgets show the session and pass clicks on to it. Every control is a widget attribute that
    works from Python as in the browser (set `.value`, call `.click()`), and carries a `jd-…`
    CSS class for browser tests.
    """

    def __init__(self, flow: Flow | None = None) -> None:
        super().__init__()
        self.add_class("jd-designer")
        self.session = EditingSession(flow)
        self._syncing = False
        self.drawing = RenderOptions(id_prefix=f"jd{next(_DRAWINGS)}-")
        self._build_toolbar()
        self._build_panels()
        self.session.listen(self._on_change)
        self._on_change(frozenset({"flow", "selection", "call"}))

    # -- the session's state ----------------------------------------------------------------
    @property
    def flow(self) -> Flow:
        """The flow being designed (the one given, edited in place)."""
        return self.session.flow

    @property
    def selected(self) -> str:
        """The selected node, "" for none."""
        return self.session.selected

    @property
    def call(self) -> Call | None:
        """The simulated call on the phone, if one was dialled."""
        return self.session.call

    @property
    def problems(self) -> list[Problem]:
        """The flow's problems, as listed under the drawing."""
        return self.session.problems

    # -- layout -----------------------------------------------------------------------------
    def _build_toolbar(self) -> None:
        self.kind = widgets.Dropdown(description="kind", options=KINDS)
        self.kind.add_class("jd-kind")
        self.node_id = text("id", "jd-node-id", "new node id")
        self.add = button("Add", "jd-add", "Add a node of this kind")
        self.delete = button("Delete", "jd-delete", "Delete the selected node and its edges")
        self.rename_to = text("rename to", "jd-rename-to", "new id")
        self.rename = button("Rename", "jd-rename", "Give the selected node this id")
        self.undo_button = button("Undo", "jd-undo")
        self.redo_button = button("Redo", "jd-redo")
        self.node_select = widgets.Dropdown(description="node", options=[NONE])
        self.node_select.add_class("jd-select")
        self.flow_name = text("flow", "jd-flow-name", "flow name")
        self.flow_description = text("about", "jd-flow-description", "one line about the flow")
        self.set_flow = button("Set", "jd-flow-apply", "Set the flow's name and description")
        self.file = text("file", "jd-file", "flow.json")
        self.load_button = button("Load", "jd-load", "Read the flow from this file")
        self.save_button = button("Save", "jd-save", "Write the flow to this file")
        self.export_dir = text("folder", "jd-export-dir", "exported/")
        self.export_button = button("Export", "jd-export", "Write the webhook to this folder")
        self.message = widgets.HTML()
        self.message.add_class("jd-message")
        self.add.on_click(lambda _: self.add_node())
        self.delete.on_click(lambda _: self.delete_selected())
        self.rename.on_click(lambda _: self.rename_selected())
        self.undo_button.on_click(lambda _: self.undo())
        self.redo_button.on_click(lambda _: self.redo())
        self.set_flow.on_click(lambda _: self.set_name())
        self.load_button.on_click(lambda _: self.load())
        self.save_button.on_click(lambda _: self.save())
        self.export_button.on_click(lambda _: self.export())
        self.node_select.observe(self._on_node_select, "value")

    def _build_panels(self) -> None:
        self.graph = GraphView()
        self.graph.add_class("jd-graph")
        self.graph.observe(self._on_click, "clicked")
        self.inspector = Inspector(self.session)
        self.problem_list = widgets.Select(description="problems", rows=6)
        self.problem_list.add_class("jd-problems")
        self.problem_list.layout.width = "100%"
        self.problem_list.observe(self._on_problem, "value")
        self.phone = Phone(self.session)
        rows = [
            widgets.HBox([self.kind, self.node_id, self.add, self.undo_button, self.redo_button]),
            widgets.HBox([self.node_select, self.delete, self.rename_to, self.rename]),
            widgets.HBox([self.flow_name, self.flow_description, self.set_flow]),
            widgets.HBox([self.file, self.load_button, self.save_button]),
            widgets.HBox([self.export_dir, self.export_button]),
            self.message,
        ]
        side = widgets.VBox([self.inspector.box, self.phone.box])
        self.graph.layout.flex = "1 1 60%"
        side.layout.flex = "0 0 40%"
        self.children = [*rows, widgets.HBox([self.graph, side]), self.problem_list]

    # -- showing ----------------------------------------------------------------------------
    def refresh(self) -> None:
        """Validate and redraw everything from the flow (call it after editing the flow in code)."""
        self.session.refresh()

    def _on_change(self, changed: frozenset[Change]) -> None:
        """Show what a session action changed (the inspector and phone show their own parts)."""
        if changed & {"flow", "selection"}:
            self._show_flow(names="flow" in changed)
        if changed & {"flow", "selection", "call"}:
            self.draw()
        if "message" in changed:
            self._show_message(self.session.message)

    def _show_flow(self, *, names: bool) -> None:
        session = self.session
        self._syncing = True
        try:
            self.node_select.options = [NONE, *session.flow.nodes]
            self.node_select.value = session.selected or NONE
            self.problem_list.options = [(str(p), i) for i, p in enumerate(session.problems)]
            self.problem_list.value = None
            if names:
                self.flow_name.value = session.flow.name
                self.flow_description.value = session.flow.description
        finally:
            self._syncing = False
        undo, redo = session.undo_label, session.redo_label
        self.undo_button.tooltip = f"Undo: {undo}" if undo else "Nothing to undo"
        self.redo_button.tooltip = f"Redo: {redo}" if redo else "Nothing to redo"

    def draw(self) -> None:
        """Redraw only the drawing: selection, the call's path and problems marked."""
        call, selected = self.session.call, self.session.selected
        path = None if call is None else (call.path, call.edges)
        try:
            svg = render_svg(
                self.flow,
                self.drawing,
                path=path,
                problems=self.session.problems,
                selected=selected or None,
            )
        except RenderError as error:
            self.say(one_line(error), error=True)
            return
        self.graph.show(svg, _targets(svg_ids(self.flow, self.drawing)), selected)

    def say(self, text: str, *, error: bool = False) -> None:
        """Show one line in the message area (red when it is an error)."""
        self.session.tell(text, error=error)

    def _show_message(self, message: Message) -> None:
        if not message.text:
            self.message.value = ""
            return
        style = "color: #b00020" if message.error else "color: inherit"
        kind = "jd-error" if message.error else "jd-info"
        escaped = html.escape(message.text)
        self.message.value = f'<span class="{kind}" style="{style}">{escaped}</span>'

    @property
    def said(self) -> str:
        """The message line as plain text."""
        return html.unescape(re.sub(r"<[^>]*>", "", self.message.value))

    # -- selecting --------------------------------------------------------------------------
    def select(self, node: str) -> None:
        """Select a node ("" for none): the inspector shows it and the drawing marks it."""
        self.session.select(node)

    def _on_node_select(self, change: dict[str, Any]) -> None:
        if not self._syncing:
            self.select("" if change["new"] == NONE else change["new"])

    def _on_problem(self, change: dict[str, Any]) -> None:
        if self._syncing or change["new"] is None:
            return
        problem = self.session.problems[change["new"]]
        self.select(problem.node or (problem.edge[0] if problem.edge else ""))
        self.say(str(problem), error=problem.severity == "error")

    def _on_click(self, change: dict[str, Any]) -> None:
        click = change["new"]
        if click.get("kind") == "node":
            self.select(str(click.get("node", "")))
        elif click.get("kind") == "edge":
            self.select(str(click.get("source", "")))
            self.say(f"{click.get('source')} --{click.get('key')}--> {click.get('target')}")

    # -- editing ----------------------------------------------------------------------------
    def edit(self, what: str, change: Callable[[Flow], object]) -> bool:
        """Run `change(flow)` as one undoable edit; on an error the flow is left as it was."""
        return self.session.edit(what, change).ok

    def add_node(self) -> None:
        """Add a node of the chosen kind with the typed id, and select it."""
        if self.session.add(self.node_id.value, self.kind.value).ok:
            self.node_id.value = ""

    def delete_selected(self) -> None:
        """Delete the selected node with every edge into and out of it."""
        self.session.remove()

    def rename_selected(self) -> None:
        """Give the selected node the id typed in `rename_to`."""
        if self.session.rename(self.rename_to.value).ok:
            self.rename_to.value = ""

    def apply_fields(self) -> None:
        """Apply the inspector's fields to the selected node (its edges stay)."""
        self.inspector.apply_fields()

    def connect(self, key: str, target: str) -> None:
        """Send input `key` at the selected node to `target` (`NONE` removes the edge)."""
        self.inspector.connect(key, target)

    def set_entry(self) -> None:
        """Make calls start at the selected node."""
        self.session.set_entry()

    def set_name(self) -> None:
        """Set the flow's name and description from their text fields."""
        self.session.describe(self.flow_name.value, self.flow_description.value)

    def undo(self) -> None:
        """Take back the last edit."""
        self.session.undo()

    def redo(self) -> None:
        """Make the last undone edit again."""
        self.session.redo()

    # -- files ------------------------------------------------------------------------------
    def load(self) -> None:
        """Replace the flow with the file named in `file`, as an undoable edit."""
        self.session.load(self.file.value)

    def save(self) -> None:
        """Write the flow to the file named in `file`."""
        self.session.save(self.file.value)

    def export(self) -> None:
        """Export the webhook into `export_dir`; on errors, list them and write nothing."""
        self.session.export(self.export_dir.value)

    # -- the phone --------------------------------------------------------------------------
    def dial(self) -> None:
        """Call the flow as it is now (a call in progress is hung up first)."""
        self.phone.place_call()

    def act(self, what: str, action: Callable[[Call], object]) -> None:
        """Do something on the call in progress (press a key, enter digits, hang up)."""
        self.session.act(what, action)

    def enter_digits(self) -> None:
        """Type the digits in `digits` at a collect."""
        self.phone.enter_digits()

    def hear(self, sentences: Sequence[str]) -> None:
        """Speak sentences on the phone's audio player; without a speech engine, say so once."""
        self.phone.speak(sentences)

    def __repr__(self) -> str:
        return f"<Designer of {self.flow!r}, selected {self.selected or None!r}>"
