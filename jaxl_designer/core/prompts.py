"""What a menu's prompt announces: the keys it names, and what each key is for.

Example:
    >>> announced(["Welcome to Acme.", "Press 1 for sales.", "To hear our hours, press two."])
    {'1': 'sales', '2': 'hear our hours'}
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["announced"]

_WORDS = {
    "zero": "0",
    "one": "1",
    "two": "2",
    "three": "3",
    "four": "4",
    "five": "5",
    "six": "6",
    "seven": "7",
    "eight": "8",
    "nine": "9",
    "star": "*",
    "hash": "#",
    "pound": "#",
}
_KEY = r"([0-9*#]|" + "|".join(_WORDS) + r")(?![0-9])"
_ANNOUNCE = re.compile(r"\b(?:press|dial|push)\s+(?:the\s+)?" + _KEY, re.IGNORECASE)
# "Press 1 for sales", "press 2 to hear our hours": the words after the key, up to a stop.
_AFTER = re.compile(r"\s*(?:key\s+)?(?:for|to)\s+(?:the\s+)?([^.,;:!?]+)", re.IGNORECASE)
# "For sales, press 1", "To speak to us, press 0": the clause before the key.
_BEFORE = re.compile(r"(?:^|[.;:!?]\s*)(?:for|to)\s+(?:the\s+)?([^.,;:!?]+),?\s*$", re.IGNORECASE)
_MEANING_WORDS = 4


def _short(text: str) -> str:
    words = text.split()
    return " ".join(words[:_MEANING_WORDS]) + (" …" if len(words) > _MEANING_WORDS else "")


def announced(prompt: Iterable[str]) -> dict[str, str]:
    """The keys a prompt tells the caller to press, each with what it is for ("" if unsaid).

    The meaning is a few words: after the key ("press 1 for sales") or before it ("for sales,
    press 1"). Keys come in the order the prompt says them; a key said twice keeps its first.
    """
    found: dict[str, str] = {}
    for line in prompt:
        for match in _ANNOUNCE.finditer(line):
            key = _WORDS.get(match.group(1).lower(), match.group(1))
            after = _AFTER.match(line, match.end())
            before = _BEFORE.search(line[: match.start()])
            meaning = after.group(1) if after else before.group(1) if before else ""
            found.setdefault(key, _short(meaning.strip()))
    return found
