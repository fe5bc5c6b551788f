"""The designer's simulated phone: dial, keypad, digits, hang up, transcript and audio."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import ipywidgets as widgets

from ..core.simulator import Call
from .controls import NONE, button, css_name, text

if TYPE_CHECKING:
    from .designer import Designer

__all__ = ["Phone"]


class Phone:
    """The simulated phone: dial, keypad, digits, hang up, and the transcript."""

    def __init__(self, designer: Designer) -> None:
        self.dial = button("Dial", "jd-dial", "Call the flow")
        self.hangup = button("Hang up", "jd-hangup")
        self.restart = button("Start again", "jd-restart", "Hang up and dial again")
        self.keypad = {key: button(key, f"jd-keypad-{css_name(key)}") for key in _keypad_order()}
        self.digits = text("digits", "jd-digits", "e.g. 123*")
        self.enter = button("Enter", "jd-enter", "Type these digits at a collect")
        self.transcript = widgets.Textarea(
            disabled=True, placeholder="Dial to start a call.", rows=10
        )
        self.transcript.layout.width = "100%"
        self.transcript.add_class("jd-transcript")
        self.status = widgets.Label("No call.")
        self.status.add_class("jd-call-status")
        self.env = widgets.Dropdown(description="environment", options=[NONE])
        self.env.add_class("jd-env")
        self.hear = widgets.Checkbox(description="Hear it", value=False, indent=False)
        self.hear.add_class("jd-hear")
        self.audio = widgets.Audio(format="wav", autoplay=True, controls=True)
        self.audio.add_class("jd-audio")
        self.audio.layout.display = "none"  # an empty player is noise: shown once it has sound
        self.dial.on_click(lambda _: designer.dial())
        self.restart.on_click(lambda _: designer.dial())
        self.hangup.on_click(lambda _: designer.act("hang up", lambda call: call.hangup()))
        self.enter.on_click(lambda _: designer.enter_digits())
        for key, pressed in self.keypad.items():
            pressed.on_click(lambda _, key=key: designer.act(f"press {key}", _presser(key)))
        rows = [list(self.keypad.values())[i : i + 3] for i in range(0, 12, 3)]
        for key_button in self.keypad.values():
            key_button.layout.width = "3em"
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
