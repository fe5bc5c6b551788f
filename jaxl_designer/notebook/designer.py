"""The designer: one notebook cell to draw, edit, validate, dial, save and export a flow.

Example:
    >>> from jaxl_designer.core.flow import Flow
    >>> designer = Designer(Flow("demo"))
    >>> designer.kind.value, designer.node_id.value = "hangup", "bye"
    >>> designer.add.click()
    >>> designer.flow.nodes, designer.selected
    (['bye'], 'bye')
    >>> designer.undo_button.click()
    >>> designer.flow.nodes
    []
"""

from __future__ import annotations

import html
import itertools
import re
from collections.abc import Callable
from typing import Any

import ipywidgets as widgets

from ..core.fileformat import FlowFileError, load, save
from ..core.flow import KINDS, Flow
from ..core.simulator import Call, CallAssertionError, Simulator
from ..core.validation import Problem, validate
from ..drawing.render import RenderError, RenderOptions, render_svg, svg_ids
from ..exporter.export import ExportError
from ..exporter.export import export as export_flow
from .controls import NONE, button, css_name, one_line, text
from .graphview import GraphView, Target
from .inspector import Inspector
from .phone import Phone
from .speech import SpeechUnavailable, speak

__all__ = ["NONE", "Designer", "css_name"]

# Each designer's drawing has its own SVG ids, so two designers on one page never collide.
_DRAWINGS = itertools.count()
# A phone action can fail anywhere the runtime checks a flow; each is one line for the user.
_CALL_ERRORS = (ValueError, KeyError, RuntimeError, CallAssertionError)


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


class Designer(widgets.VBox):
    """Design a flow in one notebook cell: the drawing, a toolbar, an inspector and a phone.

    The designer edits the `Flow` it is given, in place: code and clicks can take turns on the
    same object. After changing the flow from code, call `refresh()` to redraw. Every edit made
    through the designer can be undone (`undo()`, `redo()`); an undo after code edits returns
    to the flow as it was before the designer's last edit.

    Every control is a widget attribute that works from Python as in the browser (set `.value`,
    call `.click()`), and carries a `jd-…` CSS class for browser tests.
    """

    def __init__(self, flow: Flow | None = None) -> None:
        super().__init__()
        self.add_class("jd-designer")
        self.flow = flow if flow is not None else Flow()
        self.selected = ""
        self.call: Call | None = None
        self.problems: list[Problem] = []
        self._undo: list[dict[str, Any]] = []
        self._redo: list[dict[str, Any]] = []
        self._syncing = False
        self.drawing = RenderOptions(id_prefix=f"jd{next(_DRAWINGS)}-")
        self._build_toolbar()
        self._build_panels()
        self.refresh()

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
        self.inspector = Inspector(self)
        self.problem_list = widgets.Select(description="problems", rows=6)
        self.problem_list.add_class("jd-problems")
        self.problem_list.layout.width = "100%"
        self.problem_list.observe(self._on_problem, "value")
        self.phone = Phone(self)
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
        if self.selected not in self.flow:
            self.selected = ""
        self.problems = validate(self.flow)
        self._syncing = True
        try:
            self.node_select.options = [NONE, *self.flow.nodes]
            self.node_select.value = self.selected or NONE
            self.problem_list.options = [(str(p), i) for i, p in enumerate(self.problems)]
            self.problem_list.value = None
            self.flow_name.value, self.flow_description.value = (
                self.flow.name,
                self.flow.description,
            )
            self.inspector.show(self.flow, self.selected)
            envs = [NONE, *sorted(self.flow.environments)]
            if list(self.phone.env.options) != envs:
                current = self.phone.env.value
                self.phone.env.options = envs
                keep = current in envs and current != NONE
                self.phone.env.value = current if keep else envs[min(1, len(envs) - 1)]
        finally:
            self._syncing = False
        self.phone.show(self.call)
        self.draw()

    def draw(self) -> None:
        """Redraw only the drawing: selection, the call's path and problems marked."""
        path = None
        if self.call is not None:
            path = (self.call.path, self.call.edges)
        try:
            svg = render_svg(
                self.flow,
                self.drawing,
                path=path,
                problems=self.problems,
                selected=self.selected or None,
            )
        except RenderError as error:
            self.say(one_line(error), error=True)
            return
        self.graph.show(svg, _targets(svg_ids(self.flow, self.drawing)), self.selected)

    def say(self, text: str, *, error: bool = False) -> None:
        """Show one line in the message area (red when it is an error)."""
        style = "color: #b00020" if error else "color: inherit"
        kind = "jd-error" if error else "jd-info"
        self.message.value = f'<span class="{kind}" style="{style}">{html.escape(text)}</span>'

    @property
    def said(self) -> str:
        """The message line as plain text."""
        return html.unescape(re.sub(r"<[^>]*>", "", self.message.value))

    # -- selecting --------------------------------------------------------------------------
    def select(self, node: str) -> None:
        """Select a node ("" for none): the inspector shows it and the drawing marks it."""
        self.selected = node if node in self.flow else ""
        self.refresh()

    def _on_node_select(self, change: dict[str, Any]) -> None:
        if not self._syncing:
            self.select("" if change["new"] == NONE else change["new"])

    def _on_problem(self, change: dict[str, Any]) -> None:
        if self._syncing or change["new"] is None:
            return
        problem = self.problems[change["new"]]
        node = problem.node or (problem.edge[0] if problem.edge else "")
        self.select(node or "")
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
        before = self.flow.to_document()
        try:
            change(self.flow)
        except (ValueError, KeyError, TypeError) as error:
            self.flow.restore(before)
            self.say(f"{what}: {one_line(error)}", error=True)
            return False
        self._undo.append(before)
        self._redo.clear()
        self.say(what)
        self.refresh()
        return True

    def add_node(self) -> None:
        """Add a node of the chosen kind with the typed id, and select it."""
        node, kind = self.node_id.value.strip(), self.kind.value
        if not node:
            self.say("give the new node an id", error=True)
        elif node in self.flow:
            self.say(f"a node {node!r} already exists", error=True)
        elif self.edit(f"added {kind} {node}", lambda flow: flow.add(node, kind)):
            self.node_id.value = ""
            self.select(node)

    def delete_selected(self) -> None:
        """Delete the selected node with every edge into and out of it."""
        node = self.selected
        if self._need_selection():
            self.edit(f"deleted {node}", lambda flow: flow.remove(node))

    def rename_selected(self) -> None:
        """Give the selected node the id typed in `rename_to`."""
        old, new = self.selected, self.rename_to.value.strip()
        if self._need_selection() and self.edit(
            f"renamed {old} to {new}", lambda flow: flow.rename(old, new)
        ):
            self.rename_to.value = ""
            self.select(new)

    def apply_fields(self) -> None:
        """Apply the inspector's fields to the selected node (its edges stay)."""
        node = self.selected
        if not self._need_selection():
            return
        kind = self.flow.kind(node)
        try:
            fields = self.inspector.read(kind)
        except ValueError as error:
            self.say(f"{node}: {one_line(error)}", error=True)
            return
        self.edit(f"applied {node}", lambda flow: flow.add(node, kind, **fields))

    def connect(self, key: str, target: str) -> None:
        """Send input `key` at the selected node to `target` (`NONE` removes the edge)."""
        node = self.selected
        if self._syncing or not self._need_selection():
            return
        if target == NONE:
            self.edit(f"{node} --{key}--> nowhere", lambda flow: flow.disconnect(node, key))
        else:
            self.edit(f"{node} --{key}--> {target}", lambda flow: flow.connect(node, key, target))

    def set_entry(self) -> None:
        """Make calls start at the selected node."""
        node = self.selected
        if self._need_selection():
            self.edit(f"calls start at {node}", lambda flow: setattr(flow, "entry", node))

    def set_name(self) -> None:
        """Set the flow's name and description from their text fields."""
        name, about = self.flow_name.value.strip(), self.flow_description.value.strip()
        if not name:
            self.say("give the flow a name", error=True)
            return

        def change(flow: Flow) -> None:
            flow.name, flow.description = name, about

        self.edit(f"flow named {name}", change)

    def undo(self) -> None:
        """Take back the last edit."""
        self._step(self._undo, self._redo, "undid the last edit", "nothing to undo")

    def redo(self) -> None:
        """Make the last undone edit again."""
        self._step(self._redo, self._undo, "redid the edit", "nothing to redo")

    def _step(self, source: list[Any], other: list[Any], done: str, empty: str) -> None:
        if not source:
            self.say(empty, error=True)
            return
        other.append(self.flow.to_document())
        self.flow.restore(source.pop())
        self.say(done)
        self.refresh()

    def _need_selection(self) -> bool:
        if self.selected in self.flow:
            return True
        self.say("select a node first", error=True)
        return False

    # -- files ------------------------------------------------------------------------------
    def load(self) -> None:
        """Replace the flow with the file named in `file` (an undoable edit)."""
        try:
            loaded = load(self.file.value.strip())
        except FlowFileError as error:
            self.say(one_line(error), error=True)
            return
        document = loaded.to_document()
        self.edit(f"loaded {self.file.value.strip()}", lambda flow: flow.restore(document))

    def save(self) -> None:
        """Write the flow to the file named in `file`."""
        name = self.file.value.strip()
        if not name:
            self.say("type a file name to save to", error=True)
            return
        try:
            written = save(self.flow, name)
        except OSError as error:
            self.say(f"{name}: cannot write: {error.strerror}", error=True)
            return
        self.say(f"saved to {written}")

    def export(self) -> None:
        """Export the webhook into `export_dir`; on errors, list them and write nothing."""
        folder = self.export_dir.value.strip()
        if not folder:
            self.say("type a folder to export to", error=True)
            return
        try:
            result = export_flow(self.flow, folder)
        except ExportError as error:
            self.say(one_line(error), error=True)
            return
        except OSError as error:
            self.say(f"{folder}: cannot write: {error.strerror}", error=True)
            return
        self.say(f"exported to {result}")

    # -- the phone --------------------------------------------------------------------------
    def dial(self) -> None:
        """Call the flow as it is now (a call in progress is hung up first)."""
        if self.call is not None and not self.call.ended:
            self.call.hangup()
        try:
            env = None if self.phone.env.value == NONE else self.phone.env.value
            self.call = Simulator(self.flow, env=env).dial()
        except _CALL_ERRORS as error:
            self.call = None
            self.say(f"cannot dial: {one_line(error)}", error=True)
        self._after_call()

    def act(self, what: str, action: Callable[[Call], object]) -> None:
        """Do something on the call in progress (press a key, enter digits, hang up)."""
        if self.call is None or self.call.ended:
            self.say("dial first: there is no call in progress", error=True)
            return
        try:
            action(self.call)
        except _CALL_ERRORS as error:
            self.say(f"{what}: {one_line(error)}", error=True)
        self._after_call()

    def enter_digits(self) -> None:
        """Type the digits in `digits` at a collect."""
        digits = self.phone.digits.value.strip()
        if not digits:
            self.say("type some digits first", error=True)
            return
        self.phone.digits.value = ""
        self.act(f"enter {digits}", lambda call: call.enter(digits))

    def _after_call(self) -> None:
        self.phone.show(self.call)
        self.draw()
        if self.phone.hear.value and self.call is not None and self.call.steps:
            self.hear(self.call.response.get("prompt") or [])

    def hear(self, sentences: list[str]) -> None:
        """Speak sentences on the phone's audio player; without a speech engine, say so once."""
        try:
            self.phone.audio.value = speak(sentences)
            self.phone.audio.layout.display = ""
        except SpeechUnavailable as error:
            self.phone.hear.value = False
            self.say(str(error), error=True)

    def __repr__(self) -> str:
        return f"<Designer of {self.flow!r}, selected {self.selected or None!r}>"
