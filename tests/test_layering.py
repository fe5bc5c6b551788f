"""Layering: the core imports the standard library and networkx, never widgets or drawing."""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import jaxl_designer

PACKAGE = Path(jaxl_designer.__file__).parent
#: The core: what a call does and what a flow is, with no drawing, widgets or server.
CORE = [
    "flow",
    "fileformat",
    "files",
    "validation",
    "runtime",
    "simulator",
    "scenarios",
    "examples",
    "environments",
    "pieces",
    "subflows",
    "prepare",
    "schema",
]
BLOCKED = ["ipywidgets", "graphviz", "anywidget", "IPython"]

_IMPORT_BLOCKED = textwrap.dedent(
    """
    import importlib, sys

    class Block:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in {blocked!r}:
                raise ImportError(f"blocked: {{name}}")
            return None

    sys.meta_path.insert(0, Block())
    module = importlib.import_module("jaxl_designer.{module}")
    loaded = sorted({{name.split(".")[0] for name in sys.modules}} & set({blocked!r}))
    assert not loaded, loaded
    print(module.__name__)
    """
)


def _module_imports(path: Path) -> set[str]:
    """The top-level names of the modules a file imports at module level (relative ones as '.')."""
    names = set()
    for statement in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(statement, ast.Import):
            names |= {alias.name.split(".")[0] for alias in statement.names}
        elif isinstance(statement, ast.ImportFrom):
            module = statement.module or ""
            names.add(f".{module}" if statement.level else module.split(".")[0])
    return names - {"__future__"}


def _source(module: str) -> Path:
    folder = PACKAGE / module
    return folder / "__init__.py" if folder.is_dir() else PACKAGE / f"{module}.py"


def test_the_blocker_blocks() -> None:
    code = _IMPORT_BLOCKED.format(blocked=BLOCKED, module="flow").replace(
        'importlib.import_module("jaxl_designer.core.flow")', 'importlib.import_module("graphviz")'
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode != 0
    assert "ImportError: blocked: graphviz" in result.stderr


@pytest.mark.parametrize("module", CORE)
def test_core_module_imports_without_widgets_or_drawing(module: str) -> None:
    code = _IMPORT_BLOCKED.format(blocked=BLOCKED, module=module)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"jaxl_designer.{module}"


@pytest.mark.parametrize("module", CORE)
def test_core_module_imports_only_stdlib_networkx_and_the_core(module: str) -> None:
    allowed = set(sys.stdlib_module_names) | {"networkx"} | {f".{name}" for name in CORE}
    assert _module_imports(_source(module)) <= allowed


def test_runtime_imports_only_the_standard_library() -> None:
    tree = ast.parse((PACKAGE / "runtime.py").read_text(encoding="utf-8"))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, "the runtime is one module: no relative imports"
            imported.add((node.module or "").split(".")[0])
    assert imported, "the runtime imports something: the check looked at the right file"
    assert imported - {"__future__"} <= set(sys.stdlib_module_names)
