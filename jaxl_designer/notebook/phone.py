"""The simulated phone: dial, keypad, digits, hang up, the transcript, and prompts spoken aloud."""

from __future__ import annotations

from collections.abc import Sequence

import ipywidgets as widgets

from ..core.simulator import Call
from ..editing.session import Change, EditingSession, call_state
from .controls import NONE, button, css_name, text
from .speech import SpeechUnavailable, speak

__all__ = ["Phone"]


class Phone:
    """The session's simulated phone: dial, keypad, digits, hang up, and the transcript.

    It calls the session's flow in the chosen environment and shows the session's call, however
    it was placed; with "Hear it" ticked, each response's prompt plays on the audio player.
    """

    def __init__(self, session: EditingSession) -> None:
        self.session = session
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
        self.dial.on_click(lambda _: self.place_call())
        self.restart.on_click(lambda _: self.place_call())
        self.hangup.on_click(lambda _: session.hang_up())
        self.enter.on_click(lambda _: self.enter_digits())
        for key, pressed in self.keypad.items():
            pressed.on_click(lambda _, key=key: session.press(key))
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
        session.listen(self._on_change)
        self._show_environments()
        self.show(session.call)

    def _on_change(self, changed: frozenset[Change]) -> None:
        if "flow" in changed:
            self._show_environments()
        if "call" in changed:
            call = self.session.call
            self.show(call)
            if self.hear.value and call is not None and call.steps:
                self.speak(call.response.get("prompt") or [])

    def _show_environments(self) -> None:
        """Offer the flow's environments, keeping the choice (else the first one) selected."""
        envs = [NONE, *sorted(self.session.flow.environments)]
        if list(self.env.options) != envs:
            current = self.env.value
            self.env.options = envs
            keep = current in envs and current != NONE
            self.env.value = current if keep else envs[min(1, len(envs) - 1)]

    def place_call(self) -> None:
        """Dial the flow in the chosen environment (a call in progress is hung up first)."""
        self.session.dial(None if self.env.value == NONE else self.env.value)

    def enter_digits(self) -> None:
        """Type the digits in `digits` at a collect, and clear the field."""
        digits = self.digits.value.strip()
        if digits:
            self.digits.value = ""
        self.session.enter(digits)

    def show(self, call: Call | None) -> None:
        """Show the call's transcript and where it is."""
        self.transcript.value = call.script() if call else ""
        state = call_state(call)
        self.status.value = f"{state[:1].upper()}{state[1:]}."

    def speak(self, sentences: Sequence[str]) -> None:
        """Play sentences on the audio player; without a speech engine, say so once and untick."""
        try:
            self.audio.value = speak(sentences)
            self.audio.layout.display = ""
        except SpeechUnavailable as error:
            self.hear.value = False
            self.session.tell(str(error), error=True)


def _keypad_order() -> tuple[str, ...]:
    return ("1", "2", "3", "4", "5", "6", "7", "8", "9", "*", "0", "#")
