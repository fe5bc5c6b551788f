"""The designer: the canvas front end (js/) in a notebook, with its inspector and phone.

Example:
    >>> from jaxl_designer.core.examples import acme
    >>> designer = Designer(acme())
    >>> designer.view["nodes"][0]["id"], designer.selected
    ('main', '')
    >>> designer.handle({"type": "add", "kind": "hangup", "from": ["order", "gave_up"]})
    'added hangup hangup_1'
    >>> designer.selected, designer.undo()
    ('hangup_1', 'undid: added hangup hangup_1')
    >>> designer.dial(), designer.press("2")
    ('dialled acme: waiting at main', 'press 2: waiting at order')
"""

from __future__ import annotations

import contextlib
import os
from typing import Any

import anywidget
import ipywidgets as widgets
import traitlets

from ..core.flow import Flow
from ..core.simulator import Call, Lookups
from ..core.validation import Problem
from ..drawing.render import RenderError, render_svg
from ..editing.canvas import BUNDLE, CanvasEditor
from ..editing.forms import forms
from ..editing.session import EditingSession
from .speech import speak

__all__ = ["BUNDLE", "Canvas", "Designer"]

_UNBUILT = (
    "export default { render({ el }) {"
    " el.textContent = 'The canvas is not built: run scripts/setup.'; } }"
)


class Designer(anywidget.AnyWidget):  # type: ignore[misc, unused-ignore]
    """A flow on a canvas, with an inspector and a test phone beside it.

    Drag from an exit to a card to connect, drag cards to move them, type into the inspector's
    fields, undo, zoom, find a node, and dial the flow on the phone tab. Code and clicks share
    one `Flow`; after editing it in code, call `refresh()`.

    Every request the front end sends can be sent from Python too (`handle`), so every control
    is scriptable; `undo()`, `dial()`, `press()` and the like are the same actions by name,
    each returning the message line it leaves (`said`).

    Args:
        flow: The flow to edit, in place (a new empty one if None).
        session: An editing session to share (with other widgets); `flow` is then ignored.
        direction: "TB" (calls flow down) or "LR" (across).
        height: The widget's height in pixels (540 fits JupyterLab on a 1366×768 screen).
        lookups: What answers the lookups of calls dialled on its phone: stubs (`Stub`), "http"
            to ask the backends on the flow's `allowed_hosts`, or None (each lookup fails,
            saying it had no stub).
    """

    _esm = BUNDLE if BUNDLE.is_file() else _UNBUILT
    view = traitlets.Dict().tag(sync=True)
    selected = traitlets.Unicode("").tag(sync=True)
    message = traitlets.Dict().tag(sync=True)
    height = traitlets.Int(540).tag(sync=True)
    forms = traitlets.Dict().tag(sync=True)

    def __init__(
        self,
        flow: Flow | None = None,
        *,
        session: EditingSession | None = None,
        direction: str = "TB",
        height: int = 540,
        lookups: Lookups = None,
    ) -> None:
        super().__init__(height=height, forms=forms())
        self.editor = CanvasEditor(flow, session=session, direction=direction, lookups=lookups)
        self.session = self.editor.session
        self._serial = 0
        self.session.listen(lambda _changes: self._show())
        self.observe(self._on_selected, "selected")
        self.on_msg(self._on_message)
        self._show()

    @property
    def flow(self) -> Flow:
        """The flow being edited."""
        return self.session.flow

    def refresh(self) -> None:
        """Re-check and redraw the flow after it was edited in code."""
        self.editor.refresh()
        self._show()

    def handle(self, request: Any) -> str:
        """Carry out one request, as the front end sends it; returns the message it leaves."""
        return self.editor.handle(request)

    # -- what the session holds ------------------------------------------------------------
    @property
    def said(self) -> str:
        """The message line: what the last action did, or why it did not happen."""
        return self.session.message.text

    @property
    def problems(self) -> list[Problem]:
        """The flow's problems, as the badges and the counter show them."""
        return self.session.problems

    @property
    def call(self) -> Call | None:
        """The call on the phone, if one was dialled (its `script()`, `path`, `heard`)."""
        return self.session.call

    def show_traffic(self, traffic: Any) -> None:
        """Draw real calls over the canvas: what `jaxl_designer.report(flow, *logs)` gave.

        Each card shows its calls and how many hung up there; each edge its calls, wider with
        more. `show_traffic(None)` takes the overlay away.
        """
        self.editor.show_traffic(traffic)
        self._show()

    def select(self, node: str) -> None:
        """Select a node, as a click on its card does ("" or a missing node: none)."""
        self.session.select(node)

    # -- the toolbar and the phone, by name ------------------------------------------------
    def undo(self) -> str:
        """Take back the last edit; the message names it (`undid: added hangup bye`)."""
        return self.session.undo().text

    def redo(self) -> str:
        """Make the last undone edit again (`redid: added hangup bye`)."""
        return self.session.redo().text

    def dial(self, env: str | None = None) -> str:
        """Call the flow as it is now, in environment `env` (a call in progress is hung up)."""
        return self.session.dial(env).text

    def press(self, key: str) -> str:
        """Press a key on the call in progress."""
        return self.session.press(key).text

    def enter(self, digits: str) -> str:
        """Type digits with their terminator (`123*`) at a collect."""
        return self.session.enter(digits).text

    def hang_up(self) -> str:
        """Hang up the call in progress."""
        return self.session.hang_up().text

    def hear(self) -> widgets.Audio:
        """What the caller heard last, spoken by espeak-ng: an audio player that plays it.

        Raises:
            SpeechUnavailable: no speech engine is installed (the call goes on in text).
        """
        call = self.session.call
        sentences = (call.response.get("prompt") or []) if call is not None and call.steps else []
        return widgets.Audio(value=speak(sentences), format="wav", autoplay=True)

    # -- files ------------------------------------------------------------------------------
    def load(self, path: str | os.PathLike[str]) -> str:
        """Replace the flow with a flow file's, in place, as one undoable edit."""
        return self.session.load(path).text

    def save(self, path: str | os.PathLike[str]) -> str:
        """Write the flow to a flow file."""
        return self.session.save(path).text

    def export(self, folder: str | os.PathLike[str]) -> str:
        """Write `flow.json` and `webhook.py` into `folder`; a flow with errors writes nothing."""
        return self.session.export(folder).text

    # -- showing ----------------------------------------------------------------------------
    def _show(self) -> None:
        self.view = self.editor.view()
        self.selected = self.session.selected
        message = self.session.message
        self._serial += 1  # tells the front end a message is new, even the same text again
        self.message = {"text": message.text, "error": message.error, "serial": self._serial}

    def _on_selected(self, change: dict[str, Any]) -> None:
        if change["new"] != self.session.selected:
            self.session.select(change["new"])

    def _on_message(self, _widget: Any, content: Any, _buffers: Any) -> None:
        self.handle(content)

    def _repr_mimebundle_(self, **kwargs: Any) -> tuple[dict[str, Any], dict[str, Any]] | None:
        """The live canvas, and a static drawing beside it for where no widget can run.

        A notebook saved with a designer then still shows the flow on a code host, and nbval
        has a picture to compare.
        """
        bundle = super()._repr_mimebundle_(**kwargs)
        if bundle is None:
            return None
        data, metadata = bundle
        if not len(self.flow):  # nothing to draw: no blank picture
            return data, metadata
        # Without dot the live canvas still shows; only the static copy is missing.
        with contextlib.suppress(RenderError):
            data = {**data, "image/svg+xml": render_svg(self.flow)}
        return data, metadata

    def __repr__(self) -> str:
        return f"<Designer of {self.flow!r}, selected {self.selected or None!r}>"


#: The designer under the name it was introduced with.
Canvas = Designer
