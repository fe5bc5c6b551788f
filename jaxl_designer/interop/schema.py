"""Jaxl interop, shared: the schema's constants, the results, and the error for bad documents."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from ..core.errors import JaxlDesignerError
from ..core.flow import Flow

__all__ = [
    "CONFIRM_PROMPT",
    "DIRECTORIES",
    "EDGES",
    "IVR_FIELDS",
    "OPTION_FIELDS",
    "ExportResult",
    "ImportResult",
    "InteropError",
    "slug",
]

#: The confirm menu an imported `confirm_input` becomes; `{var}` is the collected digits.
CONFIRM_PROMPT = ["You entered {var}.", "Press 1 to confirm.", "Press 2 to re-enter."]
IVR_FIELDS = {"name", "pk", "greeting_message", "webhook", "hangup", "options", "tags"}
OPTION_FIELDS = {
    "name",
    "next",
    "webhook",
    "needs_input",
    "confirm_input",
    "groups",
    "devices",
    "phone",
    "hangup",
}
DIRECTORIES = ("groups", "devices", "phones")
EDGES = {"invalid": "what a wrong key does", "gave_up": "where too many wrong keys lead"}


class InteropError(JaxlDesignerError, ValueError):
    """A document that is not Jaxl's IVR schema: one line naming the place."""


@dataclass
class ImportResult:
    """A flow read from a Jaxl schema, and one line for each thing that did not map."""

    flow: Flow
    unmapped: list[str] = field(default_factory=list)
    #: The document's `phones`, `devices` and `groups`, for `to_jaxl(..., directory=)`.
    directory: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


@dataclass
class ExportResult:
    """A Jaxl schema document written from a flow, and one line for each thing left out."""

    document: dict[str, Any]
    unmapped: list[str] = field(default_factory=list)


def slug(text: str, fallback: str) -> str:
    """`text` as a node id: lower case, `_` for anything else, never starting with a digit."""
    slug = re.sub(r"[^A-Za-z0-9_]+", "_", text.strip()).strip("_").lower()
    if not slug or slug[0].isdigit():
        slug = f"{fallback}_{slug}" if slug else fallback
    return slug
