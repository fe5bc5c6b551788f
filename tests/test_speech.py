"""Hear it: prompts become real WAV audio with espeak-ng, and its absence is said once, clearly."""

from __future__ import annotations

import io
import wave

import pytest
from conftest import missing

from jaxl_designer.notebook import speech


def test_prompts_become_audible_wav() -> None:
    if speech.available() is None:
        missing("espeak-ng is not installed (scripts/setup installs it)")
    short = speech.speak(["Hi."])
    audio = speech.speak(["Welcome to Acme.", "Press 1 for sales.", "https://x.test/a.wav"])
    with wave.open(io.BytesIO(audio)) as wav:
        frames, rate = wav.getnframes(), wav.getframerate()
    assert frames / rate > 1.0  # two sentences take more than a second to say
    with wave.open(io.BytesIO(short)) as wav:
        assert wav.getnframes() < frames


def test_devanagari_is_spoken_too() -> None:
    if speech.available() is None:
        missing("espeak-ng is not installed (scripts/setup installs it)")
    audio = speech.speak(["स्वागत है।"])
    with wave.open(io.BytesIO(audio)) as wav:
        assert wav.getnframes() > 0


def test_without_an_engine_it_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(speech, "available", lambda: None)
    with pytest.raises(speech.SpeechUnavailable, match="install espeak-ng"):
        speech.speak(["Hello."])
