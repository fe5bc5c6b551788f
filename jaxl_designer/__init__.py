"""Design, simulate, test and export phone IVR call trees for Jaxl's HTTP webhook protocol."""

from __future__ import annotations

import importlib
from typing import Any

from .examples import acme
from .export import export
from .fileformat import FlowFileError, dumps, load, loads, save
from .flow import Flow
from .runtime import Runtime
from .simulator import Simulator
from .validation import Problem, validate

__all__ = [
    "Designer",
    "Flow",
    "FlowFileError",
    "Problem",
    "Runtime",
    "Simulator",
    "acme",
    "dumps",
    "explore",
    "export",
    "load",
    "loads",
    "render_svg",
    "save",
    "validate",
]
__version__ = "0.1.0"

# Layers above the core load on first use, so `import jaxl_designer` never pulls in widgets.
# (`export` is imported above instead: its submodule would otherwise shadow the function.)
_LAZY = {
    "Designer": "jaxl_designer.designer",
    "explore": "jaxl_designer.explorer",
    "render_svg": "jaxl_designer.render",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'jaxl_designer' has no attribute {name!r}")
