"""The designer's state without widgets: the flow, selection, undo, the simulated call, files.

Example:
    >>> from jaxl_designer.core.flow import Flow
    >>> session = EditingSession(Flow("demo"))
    >>> session.add("bye", "hangup")
    Message(text='added hangup bye', error=False)
    >>> session.flow.nodes, session.selected
    (['bye'], 'bye')
    >>> session.undo().text, session.flow.nodes, session.selected
    ('undid: added hangup bye', [], '')
"""

from __future__ import annotations

import os
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from ..core.fileformat import FlowFileError, load, save
from ..core.flow import Flow
from ..core.simulator import Call, CallAssertionError, Lookups, Simulator
from ..core.validation import Problem, error_summary, validate
from ..exporter.export import ExportError
from ..exporter.export import export as export_flow

__all__ = ["Change", "EditingSession", "Listener", "Message", "call_state", "one_line"]

#: What a listener is told has changed: the flow (and so its problems), the selected node, the
#: simulated call, or the message line.
Change = Literal["flow", "selection", "call", "message"]
#: Called once per session action with everything the action changed; reads the session itself.
Listener = Callable[[frozenset[Change]], object]

# Errors an edit can meet in the flow model: each is a message, the flow left as it was.
_EDIT_ERRORS = (ValueError, KeyError, TypeError)
# A call action can fail anywhere the runtime checks a flow; each is one line for the user.
_CALL_ERRORS = (ValueError, KeyError, RuntimeError, CallAssertionError)


@dataclass(frozen=True)
class Message:
    """One line for the user about the last action; `error` when it did not happen."""

    text: str
    error: bool = False

    @property
    def ok(self) -> bool:
        """Whether the action happened."""
        return not self.error


@dataclass(frozen=True)
class _State:
    """What undo brings back: the flow's document and the folder its pieces are read from."""

    document: dict[str, Any]
    folder: Path | None


@dataclass(frozen=True)
class _Step:
    """One undoable edit: what it was, for the message, and the state on the other side of it."""

    what: str
    state: _State


def one_line(error: BaseException) -> str:
    """An error's message on one line (a KeyError's without its quotes).

    Example:
        >>> one_line(KeyError("no node 'x'")), one_line(ValueError("two\\n  lines"))
        ("no node 'x'", 'two lines')
    """
    text = error.args[0] if isinstance(error, KeyError) and error.args else error
    return " ".join(str(text).split())


def call_state(call: Call | None) -> str:
    """Where a simulated call is: `no call`, `waiting at <node>` or `the call has ended`."""
    if call is None:
        return "no call"
    if call.ended:
        return "the call has ended"
    return f"waiting at {call.path[-1] if call.path else '?'}"


class EditingSession:
    """Edit, check, dial, save and export one flow: what the designer does, without widgets.

    The session edits the `Flow` it is given, in place, so code and clicks can take turns on
    the same object; after changing the flow in code, call `refresh()`. Every action returns a
    `Message` (also kept in `message`) and tells each listener (`listen`) what it changed.
    An edit that fails leaves the flow as it was; every edit can be undone, and an undo after
    code edits returns to the flow as it was before the session's last edit.
    """

    def __init__(self, flow: Flow | None = None, *, lookups: Lookups = None) -> None:
        self.flow = flow if flow is not None else Flow()
        #: What answers the lookups of a call dialled here: stubs, "http" to ask the backends
        #: on the flow's `allowed_hosts`, or None (each lookup fails, saying it had no stub).
        self.lookups: Lookups = lookups
        #: The selected node, "" for none.
        self.selected = ""
        #: The flow's problems as of the last edit or `refresh()`.
        self.problems: list[Problem] = validate(self.flow)
        #: The simulated call on the phone, if one was dialled.
        self.call: Call | None = None
        #: The outcome of the last action.
        self.message = Message("")
        self._undo: list[_Step] = []
        self._redo: list[_Step] = []
        self._listeners: list[Listener] = []

    # -- listening --------------------------------------------------------------------------
    def listen(self, listener: Listener) -> Callable[[], None]:
        """Call `listener(changes)` after every action; returns a function that stops it."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def _notify(self, changes: Collection[Change]) -> None:
        changed = frozenset(changes)
        for listener in list(self._listeners):
            listener(changed)

    def tell(self, text: str, *, error: bool = False) -> Message:
        """Put one line in the message (for outcomes the widgets decide, like a bad field)."""
        return self._finish(Message(text, error), [])

    def _finish(self, message: Message, changes: Collection[Change]) -> Message:
        self.message = message
        self._notify({"message", *changes})
        return message

    # -- checking and selecting -------------------------------------------------------------
    def refresh(self) -> None:
        """Check the flow again and drop a selection that is gone (after code edits)."""
        self._recheck()
        self._notify({"flow", "selection"})

    def _recheck(self) -> None:
        if self.selected not in self.flow:
            self.selected = ""
        self.problems = validate(self.flow)

    def select(self, node: str) -> None:
        """Select a node ("" or a node that is not in the flow selects nothing)."""
        self.selected = node if node in self.flow else ""
        self._notify({"selection"})

    def _node(self, node: str | None) -> str | None:
        """The node an action is about: `node`, else the selected one; None when neither is."""
        node = self.selected if node is None else node
        return node if node in self.flow else None

    def _no_node(self, node: str | None) -> Message:
        text = "select a node first" if node is None else f"no node {node!r}"
        return self.tell(text, error=True)

    # -- editing ----------------------------------------------------------------------------
    def edit(self, what: str, change: Callable[[Flow], object], *, select: str = "") -> Message:
        """Run `change(flow)` as one undoable edit named `what`, then select `select` if given.

        A change that raises leaves the flow as it was: ValueError, KeyError and TypeError
        become an error message naming `what`; anything else is raised again.
        """
        before = self._state()
        try:
            change(self.flow)
        except _EDIT_ERRORS as error:
            self._restore(before)
            return self.tell(f"{what}: {one_line(error)}", error=True)
        except BaseException:
            self._restore(before)
            raise
        self._undo.append(_Step(what, before))
        self._redo.clear()
        if select:
            self.selected = select
        self._recheck()
        return self._finish(Message(what), {"flow", "selection"})

    def _state(self) -> _State:
        return _State(self.flow.to_document(), self.flow.folder)

    def _restore(self, state: _State) -> None:
        self.flow.restore(state.document)
        self.flow.folder = state.folder

    def add(self, node: str, kind: str) -> Message:
        """Add a node of `kind` with no fields yet, and select it."""
        node = node.strip()
        if not node:
            return self.tell("give the new node an id", error=True)
        if node in self.flow:
            return self.tell(f"a node {node!r} already exists", error=True)
        return self.edit(f"added {kind} {node}", lambda flow: flow.add(node, kind), select=node)

    def remove(self, node: str | None = None) -> Message:
        """Delete a node (by default the selected one) with every edge into and out of it."""
        found = self._node(node)
        if found is None:
            return self._no_node(node)
        return self.edit(f"deleted {found}", lambda flow: flow.remove(found))

    def rename(self, new: str, node: str | None = None) -> Message:
        """Give a node (by default the selected one) the id `new`, and select it."""
        found, new = self._node(node), new.strip()
        if found is None:
            return self._no_node(node)
        return self.edit(
            f"renamed {found} to {new}", lambda flow: flow.rename(found, new), select=new
        )

    def apply(self, fields: Mapping[str, Any], node: str | None = None) -> Message:
        """Replace a node's fields (by default the selected node's); its kind and edges stay."""
        found = self._node(node)
        if found is None:
            return self._no_node(node)
        kind = self.flow.kind(found)
        return self.edit(f"applied {found}", lambda flow: flow.add(found, kind, **fields))

    def connect(self, key: str, target: str | None, node: str | None = None) -> Message:
        """Send input `key` at a node (by default the selected one) to `target`; None: nowhere."""
        found = self._node(node)
        if found is None:
            return self._no_node(node)
        if target is None:
            what = f"{found} --{key}--> nowhere"
            return self.edit(what, lambda flow: flow.disconnect(found, key))
        what = f"{found} --{key}--> {target}"
        return self.edit(what, lambda flow: flow.connect(found, key, target))

    def set_entry(self, node: str | None = None) -> Message:
        """Make calls start at a node (by default the selected one)."""
        found = self._node(node)
        if found is None:
            return self._no_node(node)
        return self.edit(f"calls start at {found}", lambda flow: setattr(flow, "entry", found))

    def describe(self, name: str, description: str = "") -> Message:
        """Set the flow's name and its one line of description."""
        name, description = name.strip(), description.strip()
        if not name:
            return self.tell("give the flow a name", error=True)

        def change(flow: Flow) -> None:
            flow.name, flow.description = name, description

        return self.edit(f"flow named {name}", change)

    # -- undo -------------------------------------------------------------------------------
    @property
    def undo_label(self) -> str | None:
        """What `undo()` would take back (like `added hangup bye`), or None."""
        return self._undo[-1].what if self._undo else None

    @property
    def redo_label(self) -> str | None:
        """What `redo()` would make again, or None."""
        return self._redo[-1].what if self._redo else None

    def undo(self) -> Message:
        """Take back the last edit: the message names it (`undid: added hangup bye`)."""
        if not self._undo:
            return self.tell("nothing to undo", error=True)
        step = self._undo.pop()
        self._redo.append(_Step(step.what, self._state()))
        return self._step_to(step.state, f"undid: {step.what}")

    def redo(self) -> Message:
        """Make the last undone edit again: the message names it (`redid: added hangup bye`)."""
        if not self._redo:
            return self.tell("nothing to redo", error=True)
        step = self._redo.pop()
        self._undo.append(_Step(step.what, self._state()))
        return self._step_to(step.state, f"redid: {step.what}")

    def _step_to(self, state: _State, text: str) -> Message:
        self._restore(state)
        self._recheck()
        return self._finish(Message(text), {"flow", "selection"})

    # -- files ------------------------------------------------------------------------------
    def load(self, path: str | os.PathLike[str]) -> Message:
        """Replace the flow with a flow file's, in place, as one undoable edit.

        The flow takes the file's folder too (`Flow.folder`), so the pieces beside the file are
        found wherever the notebook runs. A file that will not load leaves the flow as it was.
        """
        name = str(path).strip()
        if not name:
            return self.tell("type a file name to load from", error=True)
        try:
            loaded = load(name)
        except FlowFileError as error:
            return self.tell(one_line(error), error=True)
        document, folder = loaded.to_document(), loaded.folder

        def change(flow: Flow) -> None:
            flow.restore(document)
            flow.folder = folder

        return self.edit(f"loaded {name}", change)

    def save(self, path: str | os.PathLike[str]) -> Message:
        """Write the flow to a flow file."""
        name = str(path).strip()
        if not name:
            return self.tell("type a file name to save to", error=True)
        try:
            written = save(self.flow, name)
        except OSError as error:
            return self.tell(f"{name}: cannot write: {error.strerror}", error=True)
        return self.tell(f"saved to {written}")

    def export(self, folder: str | os.PathLike[str]) -> Message:
        """Export the webhook into `folder`; a flow with errors is refused and nothing written.

        Piece files are read from the flow's own folder (`Flow.folder`), as `validate` reads them.
        """
        name = str(folder).strip()
        if not name:
            return self.tell("type a folder to export to", error=True)
        try:
            result = export_flow(self.flow, name, base=self.flow.folder)
        except ExportError as error:
            return self.tell(one_line(error), error=True)
        except OSError as error:
            return self.tell(f"{name}: cannot write: {error.strerror}", error=True)
        return self.tell(f"exported to {result}")

    # -- the simulated call -----------------------------------------------------------------
    def dial(self, env: str | None = None) -> Message:
        """Call the flow as it is now, in environment `env` (a call in progress is hung up)."""
        if self.call is not None and not self.call.ended:
            self.call.hangup()
        try:
            self.call = Simulator(self.flow, env=env, lookups=self.lookups).dial()
        except _CALL_ERRORS as error:
            self.call = None
            message = Message(f"cannot dial: {one_line(error)}", error=True)
        else:
            said = f"dialled {self.flow.name}: {call_state(self.call)}"
            # Dialling a flow with errors is allowed (it is being built), but said.
            summary = error_summary(self.problems)
            message = Message(f"{summary}; {said}" if summary else said, error=bool(summary))
        return self._finish(message, {"call"})

    def act(self, what: str, action: Callable[[Call], object]) -> Message:
        """Do `action` on the call in progress; the message is `what` and where the call is."""
        if self.call is None or self.call.ended:
            return self.tell("dial first: there is no call in progress", error=True)
        try:
            action(self.call)
        except _CALL_ERRORS as error:
            return self.tell(f"{what}: {one_line(error)}", error=True)
        return self._finish(Message(f"{what}: {call_state(self.call)}"), {"call"})

    def press(self, key: str) -> Message:
        """Press a key on the call in progress."""
        return self.act(f"press {key}", lambda call: call.press(key))

    def enter(self, digits: str) -> Message:
        """Type digits (with their terminator, like `123*`) at a collect."""
        digits = digits.strip()
        if not digits:
            return self.tell("type some digits first", error=True)
        return self.act(f"enter {digits}", lambda call: call.enter(digits))

    def hang_up(self) -> Message:
        """Hang up the call in progress."""
        return self.act("hang up", lambda call: call.hangup())

    def __repr__(self) -> str:
        return f"<EditingSession of {self.flow!r}, selected {self.selected or None!r}>"
