"""The inspector: the selected node's fields, Apply, and a drop-down per edge key."""

from __future__ import annotations

import html
import json
from typing import Any

import ipywidgets as widgets

from ..core.flow import FIELDS, TARGETS, Flow, edge_order
from ..editing.session import Change, EditingSession, one_line
from .controls import NONE, button, css_name, number, parse_json

__all__ = ["Inspector"]

_NUMBERS = ("max_invalid", "length", "min_length", "max_length")
#: The inspector fields each kind shows (transfer and branch have their own editors).
_SHOWN: dict[str, tuple[str, ...]] = {
    **{kind: FIELDS[kind] for kind in ("menu", "collect", "say", "hangup")},
    "transfer": ("target_kind", "target", "from_number"),
    "branch": ("rules",),
    "subflow": ("piece", "params"),
}


def _target_value(kind: str, text: str) -> Any:
    """A transfer target from its text: a phone number, `{{parameter}}`, or whole numbers."""
    text = text.strip()
    if kind == "phone" or text.startswith("{{"):
        return text
    if kind == "ivr":
        return number(text, "ivr")
    return [number(part, kind) for part in text.split(",") if part.strip()]


class Inspector:
    """The fields of the session's selected node, an Apply button, and a drop-down per edge key.

    It shows whatever the session selects, and edits through the session: Apply replaces the
    node's fields, a drop-down connects its key (`NONE` removes the edge).
    """

    def __init__(self, session: EditingSession) -> None:
        self.session = session
        # While `show` fills the drop-downs, their changes are the flow's, not the user's.
        self._showing = False
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
        self.apply = button("Apply", "jd-apply", "Apply these fields to the node")
        self.entry = button("Set as entry", "jd-entry", "Calls start at this node")
        self.apply.on_click(lambda _: self.apply_fields())
        self.entry.on_click(lambda _: session.set_entry())
        self.connectors: dict[str, widgets.Dropdown] = {}
        self.box = widgets.VBox()
        self.box.add_class("jd-inspector")
        session.listen(self._on_change)
        self.show(session.flow, session.selected)

    def _on_change(self, changed: frozenset[Change]) -> None:
        if changed & {"flow", "selection"}:
            self.show(self.session.flow, self.session.selected)

    def apply_fields(self) -> None:
        """Apply the fields to the selected node (its edges stay); a bad field is one line."""
        node = self.session.selected
        if node not in self.session.flow:
            self.session.tell("select a node first", error=True)
            return
        try:
            fields = self.read(self.session.flow.kind(node))
        except ValueError as error:
            self.session.tell(f"{node}: {one_line(error)}", error=True)
            return
        self.session.apply(fields, node)

    def connect(self, key: str, target: str) -> None:
        """Send input `key` at the selected node to `target` (`NONE` removes the edge)."""
        if not self._showing:
            self.session.connect(key, None if target == NONE else target)

    def show(self, flow: Flow, node: str) -> None:
        """Fill the inspector for `node` (or a hint when nothing is selected)."""
        self._showing = True
        try:
            self._show(flow, node)
        finally:
            self._showing = False

    def _show(self, flow: Flow, node: str) -> None:
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
            return {"rules": parse_json(value["rules"], "rules", list)}
        if kind == "subflow":
            return {
                "piece": value["piece"].strip(),
                "params": parse_json(value["params"], "params", dict),
            }
        fields: dict[str, Any] = {}
        for name in _SHOWN[kind]:
            if name == "prompt":
                fields[name] = [line.strip() for line in value[name].splitlines() if line.strip()]
            elif name in _NUMBERS:
                fields[name] = number(value[name], name)
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
            dropdown.observe(lambda change: self.connect(key, change["new"]), "value")
            self.connectors[key] = dropdown
        return self.connectors[key]
