"""Small widget helpers the designer's panels share: buttons, text fields, parsed values."""

from __future__ import annotations

import json
import re
from typing import Any

import ipywidgets as widgets

__all__ = ["NONE", "button", "css_name", "number", "parse_json", "text"]

#: The choice in a target drop-down that means "no edge".
NONE = "—"
_CSS_KEYS = {"*": "star", "#": "hash"}


def css_name(key: str) -> str:
    """The part of a CSS class that names an edge key: `*` is `star`, `#` is `hash`.

    Example:
        >>> css_name("1"), css_name("*"), css_name("gave_up")
        ('1', 'star', 'gave_up')
    """
    return _CSS_KEYS.get(key) or re.sub(r"[^A-Za-z0-9_-]", "_", key)


def button(description: str, css: str, tooltip: str = "") -> widgets.Button:
    button = widgets.Button(description=description, tooltip=tooltip or description)
    button.add_class(css)
    return button


def text(description: str, css: str, placeholder: str = "") -> widgets.Text:
    text = widgets.Text(description=description, placeholder=placeholder)
    text.add_class(css)
    return text


def number(text: str, label: str) -> int | None:
    text = text.strip()
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"{label}: {text!r} is not a whole number") from None


def parse_json(text: str, label: str, wanted: type) -> Any:
    try:
        value = json.loads(text or ("[]" if wanted is list else "{}"))
    except json.JSONDecodeError as error:
        where = f"line {error.lineno} column {error.colno}"
        raise ValueError(f"{label}: not valid JSON at {where}: {error.msg}") from None
    if not isinstance(value, wanted):
        raise ValueError(f"{label}: expected a JSON {'list' if wanted is list else 'object'}")
    return value
