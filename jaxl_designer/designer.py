"""The designer: one notebook cell to draw, edit, validate, dial, save and export a flow.

Example:
    >>> from jaxl_designer.flow import Flow
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

import copy
import html
import itertools
import json
import re
from collections.abc import Callable
from typing import Any

import ipywidgets as widgets

from .export import ExportError
from .export import export as export_flow
from .fileformat import FlowFileError, load, save
from .flow import FIELDS, KINDS, TARGETS, Flow, edge_order
from .graphview import GraphView, Target
from .render import RenderError, RenderOptions, render_svg, svg_ids
from .simulator import Call, CallAssertionError, Simulator
from .speech import SpeechUnavailable, speak
from .validation import Problem, validate

__all__ = ["NONE", "Designer", "css_name"]

#: The choice in a target drop-down that means "no edge".
NONE = "—"
_CSS_KEYS = {"*": "star", "#": "hash"}
_NUMBERS = ("max_invalid", "length", "min_length", "max_length")
#: The inspector fields each kind shows (transfer and branch have their own editors).
_SHOWN: dict[str, tuple[str, ...]] = {
    **{kind: FIELDS[kind] for kind in ("menu", "collect", "say", "hangup")},
    "transfer": ("target_kind", "target", "from_number"),
    "branch": ("rules",),
    "subflow": ("piece", "params"),
}
# Each designer's drawing has its own SVG ids, so two designers on one page never collide.
_DRAWINGS = itertools.count()
# A phone action can fail anywhere the runtime checks a flow; each is one line for the user.
_CALL_ERRORS = (ValueError, KeyError, RuntimeError, CallAssertionError)


def css_name(key: str) -> str:
    """The part of a CSS class that names an edge key: `*` is `star`, `#` is `hash`.

    Example:
        >>> css_name("1"), css_name("*"), css_name("gave_up")
        ('1', 'star', 'gave_up')
    """
    return _CSS_KEYS.get(key) or re.sub(r"[^A-Za-z0-9_-]", "_", key)


def _one_line(error: BaseException) -> str:
    text = error.args[0] if isinstance(error, KeyError) and error.args else error
    return " ".join(str(text).split())


def _restore(flow: Flow, document: dict[str, Any]) -> None:
    """Put a `Flow.to_document()` snapshot back into `flow` itself, so callers keep their object."""
    flow.graph.clear()
    nodes = document["nodes"]
    for node_id, spec in nodes.items():
        fields = {k: v for k, v in spec.items() if k != "edges"}
        flow.graph.add_node(node_id, **copy.deepcopy(fields))
    for node_id, spec in nodes.items():
        for key, target in spec.get("edges", {}).items():
            flow.graph.add_edge(node_id, target, key=key)
    flow.name = document["name"]
    flow.description = document.get("description", "")
    flow.entry = document["entry"]
    flow.recovery = copy.deepcopy(document.get("recovery"))
    flow.environments = copy.deepcopy(document.get("environments", {}))
    flow.layout = {n: list(point) for n, point in document.get("layout", {}).items()}


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


def _button(description: str, css: str, tooltip: str = "") -> widgets.Button:
    button = widgets.Button(description=description, tooltip=tooltip or description)
    button.add_class(css)
    return button


def _text(description: str, css: str, placeholder: str = "") -> widgets.Text:
    text = widgets.Text(description=description, placeholder=placeholder)
    text.add_class(css)
    return text


def _number(text: str, label: str) -> int | None:
    text = text.strip()
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"{label}: {text!r} is not a whole number") from None


def _json(text: str, label: str, wanted: type) -> Any:
    try:
        value = json.loads(text or ("[]" if wanted is list else "{}"))
    except json.JSONDecodeError as error:
        where = f"line {error.lineno} column {error.colno}"
        raise ValueError(f"{label}: not valid JSON at {where}: {error.msg}") from None
    if not isinstance(value, wanted):
        raise ValueError(f"{label}: expected a JSON {'list' if wanted is list else 'object'}")
    return value


def _target_value(kind: str, text: str) -> Any:
    """A transfer target from its text: a phone number, `{{parameter}}`, or whole numbers."""
    text = text.strip()
    if kind == "phone" or text.startswith("{{"):
        return text
    if kind == "ivr":
        return _number(text, "ivr")
    return [_number(part, kind) for part in text.split(",") if part.strip()]


class Inspector:
    """The fields of the selected node, an Apply button, and a drop-down per edge key."""

    def __init__(self, designer: Designer) -> None:
        self.designer = designer
        self.title = widgets.HTML()
        self.fields: dict[str, widgets.Widget] = {
            "prompt": widgets.Textarea(description="prompt", placeholder="one sentence a line"),
            "var": widgets.Text(description="var"),
            "terminator": widgets.Dropdown(
                description="terminator", options=[("none", ""), ("#", "#"), ("*", "*")]
            ),
            "pattern": widgets.Text(description="pattern"),
            **{name: widgets.Text(description=name) for name in _NUMBERS},
            "target_kind": widgets.Dropdown(description="transfer to", options=TARGETS),
            "target": widgets.Text(description="target", placeholder="+91…, 1,2 or {{name}}"),
            "from_number": widgets.Text(description="from_number"),
            "rules": widgets.Textarea(description="rules", placeholder='[{"outcome": …}]'),
            "piece": widgets.Text(description="piece"),
            "params": widgets.Textarea(description="params", placeholder="{}"),
        }
        for name, field in self.fields.items():
            field.add_class(f"jd-field-{name}")
        self.apply = _button("Apply", "jd-apply", "Apply these fields to the node")
        self.entry = _button("Set as entry", "jd-entry", "Calls start at this node")
        self.apply.on_click(lambda _: designer.apply_fields())
        self.entry.on_click(lambda _: designer.set_entry())
        self.connectors: dict[str, widgets.Dropdown] = {}
        self.box = widgets.VBox()
        self.box.add_class("jd-inspector")

    def show(self, flow: Flow, node: str) -> None:
        """Fill the inspector for `node` (or a hint when nothing is selected)."""
        if node not in flow:
            self.title.value = "<i>Select a node: click it, or choose it above.</i>"
            self.box.children = [self.title]
            return
        data = flow.node(node)
        kind = data["kind"]
        entry = " (entry)" if flow.entry == node else ""
        self.title.value = f"<b>{html.escape(node)}</b>: {kind}{entry}"
        self._load(data)
        shown = [self.fields[name] for name in _SHOWN[kind]]
        edges = self._connect_rows(flow, node, data)
        self.box.children = [self.title, *shown, widgets.HBox([self.apply, self.entry]), *edges]

    def _load(self, data: dict[str, Any]) -> None:
        text = {name: "" if data.get(name) is None else str(data[name]) for name in _NUMBERS}
        text |= {name: data.get(name) or "" for name in ("var", "pattern", "from_number", "piece")}
        text["prompt"] = "\n".join(data.get("prompt") or ())
        text["rules"] = json.dumps(data.get("rules") or [], indent=1, ensure_ascii=False)
        text["params"] = json.dumps(data.get("params") or {}, ensure_ascii=False)
        target = next((name for name in TARGETS if data.get(name) is not None), "phone")
        value = data.get(target)
        text["target_kind"] = target
        text["target"] = ", ".join(map(str, value)) if isinstance(value, list) else value or ""
        text["terminator"] = data.get("terminator") or ""
        for name, value in text.items():
            self.fields[name].value = str(value)

    def read(self, kind: str) -> dict[str, Any]:
        """The fields typed for a node of `kind`; ValueError names the field that is wrong."""
        value = {name: widget.value for name, widget in self.fields.items()}
        if kind == "transfer":
            target = value["target_kind"]
            return {target: _target_value(target, value["target"])} | {
                "from_number": value["from_number"].strip() or None
            }
        if kind == "branch":
            return {"rules": _json(value["rules"], "rules", list)}
        if kind == "subflow":
            return {
                "piece": value["piece"].strip(),
                "params": _json(value["params"], "params", dict),
            }
        fields: dict[str, Any] = {}
        for name in _SHOWN[kind]:
            if name == "prompt":
                fields[name] = [line.strip() for line in value[name].splitlines() if line.strip()]
            elif name in _NUMBERS:
                fields[name] = _number(value[name], name)
            else:
                fields[name] = value[name].strip() or None
        return fields

    def _connect_rows(self, flow: Flow, node: str, data: dict[str, Any]) -> list[widgets.Widget]:
        edges = flow.edges(node)
        keys = dict.fromkeys([*edge_order(data["kind"], data), *edges])
        options = [NONE, *flow.nodes]
        rows = []
        for key in keys:
            dropdown = self._connector(key)
            target = edges.get(key, NONE)
            dropdown.options = options if target in options else [*options, target]
            dropdown.value = target
            rows.append(dropdown)
        return rows

    def _connector(self, key: str) -> widgets.Dropdown:
        if key not in self.connectors:
            dropdown = widgets.Dropdown(description=f"{key} →", options=[NONE])
            dropdown.add_class(f"jd-connect-{css_name(key)}")
            dropdown.observe(lambda change: self.designer.connect(key, change["new"]), "value")
            self.connectors[key] = dropdown
        return self.connectors[key]


class Phone:
    """The simulated phone: dial, keypad, digits, hang up, and the transcript."""

    def __init__(self, designer: Designer) -> None:
        self.dial = _button("Dial", "jd-dial", "Call the flow")
        self.hangup = _button("Hang up", "jd-hangup")
        self.restart = _button("Start again", "jd-restart", "Hang up and dial again")
        self.keypad = {key: _button(key, f"jd-keypad-{css_name(key)}") for key in _keypad_order()}
        self.digits = _text("digits", "jd-digits", "e.g. 123*")
        self.enter = _button("Enter", "jd-enter", "Type these digits at a collect")
        self.transcript = widgets.Textarea(disabled=True, placeholder="Dial to start a call.")
        self.transcript.add_class("jd-transcript")
        self.status = widgets.Label("No call.")
        self.status.add_class("jd-call-status")
        self.env = widgets.Dropdown(description="environment", options=[NONE])
        self.env.add_class("jd-env")
        self.hear = widgets.Checkbox(description="Hear it", value=False, indent=False)
        self.hear.add_class("jd-hear")
        self.audio = widgets.Audio(format="wav", autoplay=True, controls=True)
        self.audio.add_class("jd-audio")
        self.dial.on_click(lambda _: designer.dial())
        self.restart.on_click(lambda _: designer.dial())
        self.hangup.on_click(lambda _: designer.act("hang up", lambda call: call.hangup()))
        self.enter.on_click(lambda _: designer.enter_digits())
        for key, button in self.keypad.items():
            button.on_click(lambda _, key=key: designer.act(f"press {key}", _presser(key)))
        rows = [list(self.keypad.values())[i : i + 3] for i in range(0, 12, 3)]
        for button in self.keypad.values():
            button.layout.width = "3em"
        keypad = widgets.VBox([widgets.HBox(row) for row in rows])
        controls = widgets.VBox([widgets.HBox([self.dial, self.hangup, self.restart]), keypad])
        entry = widgets.HBox([self.digits, self.enter])
        options = widgets.HBox([self.env, self.hear])
        self.box = widgets.VBox(
            [controls, entry, options, self.status, self.transcript, self.audio]
        )
        self.box.add_class("jd-phone")

    def show(self, call: Call | None) -> None:
        """Show the call's transcript and where it is."""
        self.transcript.value = call.script() if call else ""
        if call is None:
            self.status.value = "No call."
        elif call.ended:
            self.status.value = "The call has ended."
        else:
            self.status.value = f"Waiting at {call.path[-1] if call.path else '?'}."


def _keypad_order() -> tuple[str, ...]:
    return ("1", "2", "3", "4", "5", "6", "7", "8", "9", "*", "0", "#")


def _presser(key: str) -> Callable[[Call], object]:
    return lambda call: call.press(key)


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
        self.node_id = _text("id", "jd-node-id", "new node id")
        self.add = _button("Add", "jd-add", "Add a node of this kind")
        self.delete = _button("Delete", "jd-delete", "Delete the selected node and its edges")
        self.rename_to = _text("rename to", "jd-rename-to", "new id")
        self.rename = _button("Rename", "jd-rename", "Give the selected node this id")
        self.undo_button = _button("Undo", "jd-undo")
        self.redo_button = _button("Redo", "jd-redo")
        self.node_select = widgets.Dropdown(description="node", options=[NONE])
        self.node_select.add_class("jd-select")
        self.flow_name = _text("flow", "jd-flow-name", "flow name")
        self.flow_description = _text("about", "jd-flow-description", "one line about the flow")
        self.set_flow = _button("Set", "jd-flow-apply", "Set the flow's name and description")
        self.file = _text("file", "jd-file", "flow.json")
        self.load_button = _button("Load", "jd-load", "Read the flow from this file")
        self.save_button = _button("Save", "jd-save", "Write the flow to this file")
        self.export_dir = _text("folder", "jd-export-dir", "exported/")
        self.export_button = _button("Export", "jd-export", "Write the webhook to this folder")
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
            self.say(_one_line(error), error=True)
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
            _restore(self.flow, before)
            self.say(f"{what}: {_one_line(error)}", error=True)
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
            self.say(f"{node}: {_one_line(error)}", error=True)
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
        _restore(self.flow, source.pop())
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
            self.say(_one_line(error), error=True)
            return
        document = loaded.to_document()
        self.edit(f"loaded {self.file.value.strip()}", lambda flow: _restore(flow, document))

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
            self.say(_one_line(error), error=True)
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
            self.say(f"cannot dial: {_one_line(error)}", error=True)
        self._after_call()

    def act(self, what: str, action: Callable[[Call], object]) -> None:
        """Do something on the call in progress (press a key, enter digits, hang up)."""
        if self.call is None or self.call.ended:
            self.say("dial first: there is no call in progress", error=True)
            return
        try:
            action(self.call)
        except _CALL_ERRORS as error:
            self.say(f"{what}: {_one_line(error)}", error=True)
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
        except SpeechUnavailable as error:
            self.phone.hear.value = False
            self.say(str(error), error=True)

    def __repr__(self) -> str:
        return f"<Designer of {self.flow!r}, selected {self.selected or None!r}>"
