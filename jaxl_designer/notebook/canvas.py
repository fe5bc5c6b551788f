"""The canvas widget: the React Flow front end (js/) in a notebook, over a `CanvasEditor`.

Example:
    >>> from jaxl_designer.core.examples import acme
    >>> canvas = Canvas(acme())
    >>> canvas.view["nodes"][0]["id"], canvas.selected
    ('main', '')
    >>> canvas.handle({"type": "add", "kind": "hangup", "from": ["order", "gave_up"]})
    'added hangup hangup_1'
    >>> canvas.selected, canvas.message["text"]
    ('hangup_1', 'added hangup hangup_1')
"""

from __future__ import annotations

import contextlib
from typing import Any

import anywidget
import traitlets

from ..core.flow import Flow
from ..drawing.render import RenderError, render_svg
from ..editing.canvas import BUNDLE, CanvasEditor
from ..editing.forms import forms
from ..editing.session import EditingSession

__all__ = ["BUNDLE", "Canvas"]

_UNBUILT = (
    "export default { render({ el }) {"
    " el.textContent = 'The canvas is not built: run scripts/setup.'; } }"
)


class Canvas(anywidget.AnyWidget):  # type: ignore[misc, unused-ignore]
    """A flow on a canvas: drag to connect, move and delete cards, undo, zoom, find a node.

    Code and clicks share one `Flow`; after editing it in code, call `refresh()`. Every request
    the front end sends can be sent from Python too (`handle`), so every control is scriptable.

    Args:
        flow: The flow to edit, in place (a new empty one if None).
        session: An editing session to share (with other widgets); `flow` is then ignored.
        direction: "TB" (calls flow down) or "LR" (across).
        height: The canvas's height in pixels.
    """

    _esm = BUNDLE if BUNDLE.is_file() else _UNBUILT
    view = traitlets.Dict().tag(sync=True)
    selected = traitlets.Unicode("").tag(sync=True)
    message = traitlets.Dict().tag(sync=True)
    height = traitlets.Int(620).tag(sync=True)
    forms = traitlets.Dict().tag(sync=True)

    def __init__(
        self,
        flow: Flow | None = None,
        *,
        session: EditingSession | None = None,
        direction: str = "TB",
        height: int = 620,
    ) -> None:
        super().__init__(height=height, forms=forms())
        self.editor = CanvasEditor(flow, session=session, direction=direction)
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

        A notebook saved with a canvas then still shows the flow on a code host, and nbval
        has a picture to compare.
        """
        bundle = super()._repr_mimebundle_(**kwargs)
        if bundle is None:
            return None
        data, metadata = bundle
        # Without dot the live canvas still shows; only the static copy is missing.
        with contextlib.suppress(RenderError):
            data = {**data, "image/svg+xml": render_svg(self.flow)}
        return data, metadata

    def __repr__(self) -> str:
        return f"<Canvas of {self.flow!r}, selected {self.selected or None!r}>"
