"""The canvas's editor: the requests its front end sends, carried out on an editing session.

Selection, zoom, pan and search happen in the browser; every edit (connect by dragging, move,
delete, a typed field, undo) and every phone action comes back as a request, goes through the
session as one undoable step, and the front end is sent the new `view()`. The notebook widget
and the designer's web page both drive one of these.

Example:
    >>> from jaxl_designer.core.examples import acme
    >>> editor = CanvasEditor(acme())
    >>> editor.view()["nodes"][0]["id"], editor.view()["counts"]
    ('main', {'error': 0, 'warning': 0})
    >>> editor.handle({"type": "connect", "source": "main", "key": "gave_up", "target": "sales"})
    'main --gave_up--> sales'
    >>> editor.flow.edges("main")["gave_up"]
    'sales'
    >>> editor.handle({"type": "undo"})
    'undid: main --gave_up--> sales'
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ..core.flow import Flow
from ..core.report import Traffic
from ..core.simulator import Call, Lookups
from ..drawing.backend import RenderError
from ..drawing.canvas import canvas_view
from ..drawing.layout import DIRECTIONS, complete, layout, place_near
from ..drawing.traffic import TrafficReport
from .forms import FORMS, NODE_ID, read, shown
from .session import EditingSession, Message, call_state

__all__ = ["BUNDLE", "PAGE_BUNDLE", "STARTING_FIELDS", "CanvasEditor"]

#: What a node added on the canvas starts with, where one choice serves nearly every flow: a
#: collect's digits end with # (as `Flow.collect`'s do), rather than an error until one is picked.
STARTING_FIELDS: dict[str, dict[str, Any]] = {"collect": {"terminator": "#"}}
#: What a choice field shows when the node has no value for it, where absent means a choice:
#: a lookup without a method asks with GET, so its method select shows GET, not a blank.
_SHOWN_WHEN_ABSENT: dict[tuple[str, str], str] = {("lookup", "method"): "GET"}

#: The canvas front end, built from js/ by `npm run build` into the package.
BUNDLE = Path(__file__).resolve().parent.parent / "static" / "canvas.js"
#: The same front end as a web page of its own (js/src/page.js), for `jaxl-designer design`.
PAGE_BUNDLE = BUNDLE.with_name("page.js")


class CanvasEditor:
    """Carries out the canvas's requests on an editing session, and says what to draw.

    Args:
        flow: The flow to edit, in place (a new empty one if None).
        session: An editing session to share (with other widgets); `flow` is then ignored.
        direction: "TB" (calls flow down) or "LR" (across), for laying out and handles.
        lookups: What answers the lookups of calls dialled on the phone (see `Simulator`):
            stubs, "http" to ask the backends, or None (each lookup fails, saying so).
    """

    def __init__(
        self,
        flow: Flow | None = None,
        *,
        session: EditingSession | None = None,
        direction: str = "TB",
        lookups: Lookups = None,
    ) -> None:
        if direction not in DIRECTIONS:
            raise ValueError(f"direction {direction!r}: one of {', '.join(DIRECTIONS)}")
        if session is None:
            session = EditingSession(flow, lookups=lookups)
        elif lookups is not None:
            session.lookups = lookups
        self.session = session
        self.direction = direction
        #: Real calls drawn over the flow (`show_traffic`), or None.
        self.traffic: Traffic | None = None
        self._handlers: dict[str, Callable[[Mapping[str, Any]], Message]] = {
            "connect": self._connect,
            "disconnect": self._disconnect,
            "move": self._move,
            "delete": self._delete,
            "undo": lambda _: self.session.undo(),
            "redo": lambda _: self.session.redo(),
            "tidy": lambda _: self.tidy(),
            "direction": self._direction,
            "open": self._open,
            "add": self._add,
            "apply": self._apply,
            "rename": lambda r: self.session.rename(str(r["new"]), node=str(r["node"])),
            "entry": lambda r: self.session.set_entry(str(r["node"])),
            "dial": lambda r: self.session.dial(str(r["env"]) if r.get("env") else None),
            "describe": lambda r: self.session.describe(
                str(r["name"]), str(r.get("description") or "")
            ),
            "press": lambda r: self.session.press(str(r["key"])),
            "enter": lambda r: self.session.enter(str(r["digits"])),
            "hangup": lambda _: self.session.hang_up(),
        }

    @property
    def flow(self) -> Flow:
        """The flow being edited (the session's)."""
        return self.session.flow

    def refresh(self) -> None:
        """Re-check the flow after it was edited in code (listeners redraw)."""
        self.session.refresh()

    def tidy(self) -> Message:
        """Lay every card out again with `dot` (one undoable step)."""
        try:
            places = layout(self.flow, self.direction)
        except RenderError as error:
            return self.session.tell(str(error), error=True)

        def change(flow: Flow) -> None:
            flow.layout = {node: list(point) for node, point in places.items()}

        return self.session.edit("tidied up the layout", change)

    def handle(self, request: Any) -> str:
        """Carry out one request from the front end; returns the message it leaves.

        A request that is not one the canvas sends is refused with a one-line message.
        """
        kind = request.get("type") if isinstance(request, Mapping) else None
        handler = self._handlers.get(str(kind))
        if handler is None:
            return self.session.tell(
                f"the canvas sent an unknown request {kind!r}", error=True
            ).text
        try:
            return handler(request).text
        except (KeyError, TypeError, ValueError) as error:
            return self.session.tell(f"{kind}: a malformed request ({error})", error=True).text

    # -- requests ---------------------------------------------------------------------------
    def _connect(self, request: Mapping[str, Any]) -> Message:
        source, key, target = (str(request[name]) for name in ("source", "key", "target"))
        return self.session.connect(key, target, node=source)

    def _disconnect(self, request: Mapping[str, Any]) -> Message:
        return self.session.connect(str(request["key"]), None, node=str(request["source"]))

    def _move(self, request: Mapping[str, Any]) -> Message:
        moved: dict[str, list[float]] = {
            str(node): [round(float(x)), round(float(y))]
            for node, (x, y) in dict(request["positions"]).items()
        }
        unknown = [node for node in moved if node not in self.flow]
        if unknown:
            raise ValueError(f"no node {unknown[0]!r}")

        def change(flow: Flow) -> None:
            flow.layout.update(moved)

        names = ", ".join(sorted(moved))
        return self.session.edit(f"moved {names}", change)

    def _delete(self, request: Mapping[str, Any]) -> Message:
        nodes = [str(node) for node in request.get("nodes") or ()]
        edges = [(str(source), str(key)) for source, key in request.get("edges") or ()]

        def change(flow: Flow) -> None:
            for source, key in edges:
                if source in flow and key in flow.edges(source):
                    flow.disconnect(source, key)
            for node in nodes:
                flow.remove(node)
                flow.layout.pop(node, None)

        said = [*nodes, *(f"{source} --{key}-->" for source, key in edges)]
        return self.session.edit(f"deleted {', '.join(said) or 'nothing'}", change)

    def _add(self, request: Mapping[str, Any]) -> Message:
        """A new node of a kind, next to `near` (or the exit it is added from), connected."""
        kind = str(request["kind"])
        start = request.get("from")
        source, key = (str(start[0]), str(start[1])) if start else (None, None)
        near = str(request.get("near") or source or "") or None
        node = str(request.get("node") or "") or self._fresh(kind)
        if not re.fullmatch(NODE_ID, node):
            raise ValueError(f"{node!r} is not a node id (letters, digits, _ - .)")
        if node in self.flow:
            raise ValueError(f"a node {node!r} already exists")
        spot = place_near(self.flow.layout, near, self.direction)

        def change(flow: Flow) -> None:
            flow.add(node, kind, **STARTING_FIELDS.get(kind, {}))
            flow.layout[node] = [*spot]
            if source is not None and key is not None:
                flow.connect(source, key, node)

        return self.session.edit(f"added {kind} {node}", change, select=node)

    def show_traffic(self, traffic: Traffic | TrafficReport | None) -> None:
        """Draw real calls over the flow: each card's calls and hang-ups, each edge's calls.

        `traffic` is what `jaxl_designer.report(flow, *logs)` gave (or its `traffic`); None
        takes the overlay away.
        """
        self.traffic = traffic.traffic if isinstance(traffic, TrafficReport) else traffic

    def _fresh(self, kind: str) -> str:
        number = 1
        while f"{kind}_{number}" in self.flow:
            number += 1
        return f"{kind}_{number}"

    def _apply(self, request: Mapping[str, Any]) -> Message:
        """One field of one node, from its typed text: one undoable step per field edit."""
        node, name = str(request["node"]), str(request["field"])
        kind = self.flow.kind(node)
        try:
            value = read(kind, name, str(request["value"]))
        except ValueError as error:  # a typing mistake, said as it is; the text stays typed
            return self.session.tell(str(error), error=True)
        label = next(field.label for field in FORMS[kind] if field.name == name)
        return self.session.edit(
            f"{node}: {label.lower()}", lambda flow: flow.update(node, **{name: value})
        )

    def _direction(self, request: Mapping[str, Any]) -> Message:
        direction = str(request["value"])
        if direction not in DIRECTIONS:
            raise ValueError(f"direction {direction!r}: one of {', '.join(DIRECTIONS)}")
        self.direction = direction
        return self.tidy()

    def _open(self, request: Mapping[str, Any]) -> Message:
        self.session.select(str(request["node"]))
        return self.session.message

    # -- showing ----------------------------------------------------------------------------
    def view(self) -> dict[str, Any]:
        """What the front end draws: the cards, each with its form's text, and the call.

        Cards without a place are placed now, and keep it: it is saved with the flow.
        """
        flow = self.flow
        placed = complete(flow, self.direction)
        flow.layout.update(
            {node: [*point] for node, point in placed.items() if node not in flow.layout}
        )
        call = self.session.call
        path = call.path if call is not None else []
        current = path[-1] if call is not None and not call.ended and path else None
        view = canvas_view(
            flow,
            positions={node: flow.layout[node] for node in flow.nodes},
            problems=self.session.problems,
            path=path,
            path_edges=call.edges if call is not None else [],
            current=current,
            direction=self.direction,
            undo=self.session.undo_label,
            redo=self.session.redo_label,
            traffic=self.traffic,
        )
        for card in view["nodes"]:
            fields = shown(card["kind"], flow.graph.nodes[card["id"]])
            for (kind, name), text in _SHOWN_WHEN_ABSENT.items():
                if card["kind"] == kind and not fields.get(name):
                    fields[name] = text
            card["fields"] = fields
        view["call"] = _call_view(call)
        view["flow"]["description"] = flow.description
        # The phone dials a flow with {{parameters}} in one of its environments.
        view["environments"] = sorted(flow.environments)
        return view

    def __repr__(self) -> str:
        return f"<CanvasEditor of {self.flow!r}>"


def _call_view(call: Call | None) -> dict[str, Any]:
    """The simulated call for the phone panel: status, transcript, what the flow waits for."""
    if call is None:
        return {"status": "No call.", "transcript": [], "waiting_at": None, "expects": None}
    waiting = not call.ended and bool(call.path)
    expects = call.response.get("num_characters") if waiting and call.steps else None
    return {
        "status": call_state(call).capitalize() + ".",
        "transcript": [list(line) for line in call.transcript],
        "waiting_at": call.path[-1] if waiting else None,
        "expects": expects,
    }
