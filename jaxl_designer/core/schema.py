"""The JSON Schema of flow files, shipped inside the package for editors and other tools."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

__all__ = ["SCHEMA", "flow_schema"]

#: The schema file's name inside this package.
SCHEMA = "flow-v1.schema.json"


def flow_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of flow files, version 1, as a fresh dict.

    Example:
        >>> schema = flow_schema()
        >>> schema["properties"]["format"]
        {'const': 'jaxl-designer/flow'}
    """
    text = (
        resources.files(__package__ or "jaxl_designer.core")
        .joinpath(SCHEMA)
        .read_text(encoding="utf-8")
    )
    document: dict[str, Any] = json.loads(text)
    return document
