"""Design, simulate, test and export phone IVR call trees for Jaxl's HTTP webhook protocol."""

from __future__ import annotations

import importlib
from typing import Any

from .__about__ import __version__ as __version__
from .core.errors import JaxlDesignerError
from .core.examples import acme
from .core.fileformat import FlowFileError, dumps, load, loads, save
from .core.flow import Flow
from .core.runtime import Runtime
from .core.simulator import Simulator, Stub
from .core.validation import Problem, validate
from .exporter.export import export

__all__ = [
    "Canvas",
    "Designer",
    "Flow",
    "FlowFileError",
    "JaxlDesignerError",
    "Problem",
    "Runtime",
    "Simulator",
    "Stub",
    "acme",
    "dumps",
    "explore",
    "export",
    "load",
    "loads",
    "render_svg",
    "report",
    "save",
    "validate",
]

# Layers above the core load on first use, so `import jaxl_designer` never pulls in widgets.
# (`export` is imported above instead: its submodule would otherwise shadow the function.)
_LAZY = {
    "Canvas": "jaxl_designer.notebook.canvas",
    "Designer": "jaxl_designer.notebook.canvas",
    "explore": "jaxl_designer.core.explorer",
    "render_svg": "jaxl_designer.drawing.render",
    "report": "jaxl_designer.drawing.traffic",
}


def _render_svg(flow: Flow) -> str:
    render: Any = __getattr__("render_svg")
    return str(render(flow))


# A notebook shows a Flow as its drawing; the model is handed the renderer instead of importing
# a layer above it.
Flow.svg_renderer = _render_svg


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'jaxl_designer' has no attribute {name!r}")
