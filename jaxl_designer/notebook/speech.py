"""Hear it: prompts spoken as WAV audio by a local text-to-speech engine (espeak-ng), if present."""

from __future__ import annotations

import functools
import io
import re
import shutil
import subprocess
import wave
from collections.abc import Sequence

from ..core.errors import JaxlDesignerError

__all__ = ["SpeechUnavailable", "available", "speak"]

_URL = re.compile(r"https?://", re.IGNORECASE)
# Sentences in Devanagari go to espeak-ng's Hindi voice; everything else to English.
_DEVANAGARI = re.compile(r"[\u0900-\u097F]")


class SpeechUnavailable(JaxlDesignerError, RuntimeError):
    """No text-to-speech engine on this machine: the phone carries on in text."""


@functools.cache
def available() -> str | None:
    """The path of the speech engine, or None when there is none."""
    return shutil.which("espeak-ng") or shutil.which("espeak")


def _voice(sentence: str, default: str) -> str:
    return "hi" if _DEVANAGARI.search(sentence) else default


def speak(
    sentences: Sequence[str], *, voice: str = "en", speed: int = 160, timeout: float = 20.0
) -> bytes:
    """WAV audio of `sentences` as the caller would hear them (prompt audio URLs are skipped).

    Raises:
        SpeechUnavailable: no engine is installed (Debian: `apt-get install espeak-ng`).
    """
    engine = available()
    if engine is None:
        raise SpeechUnavailable(
            "no text-to-speech engine found (install espeak-ng to hear prompts); showing text"
        )
    spoken = [line for line in sentences if line.strip() and not _URL.match(line.strip())]
    if not spoken:
        spoken = [" "]
    text = " ".join(spoken)
    command = [engine, "-v", _voice(text, voice), "-s", str(speed), "--stdout", "--", text]
    result = subprocess.run(command, capture_output=True, timeout=timeout, check=False)
    if result.returncode != 0 or not result.stdout.startswith(b"RIFF"):
        message = result.stderr.decode(errors="replace").strip().splitlines()
        raise SpeechUnavailable(f"{engine} failed: {message[0] if message else 'no audio'}")
    return _with_lengths(result.stdout)


def _with_lengths(audio: bytes) -> bytes:
    """Rewrite a streamed WAV (espeak-ng leaves its lengths unknown) with its real lengths."""
    with wave.open(io.BytesIO(audio)) as source:
        params = source.getparams()
        frames = source.readframes(source.getnframes())
    out = io.BytesIO()
    with wave.open(out, "wb") as target:
        target.setparams(params)
        target.writeframes(frames)
    return out.getvalue()
