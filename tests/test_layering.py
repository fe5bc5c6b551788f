"""Layering: each folder of the package has one dependency rule, and no module imports in a circle.

The rules are checked by walking the folders: a new module is held to its folder's rule because
of where it sits. Every import counts, wherever it is written: at the top, inside a function,
under `if TYPE_CHECKING:`, or as `importlib.import_module("literal")`.
"""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

import networkx as nx
import pytest

import jaxl_designer
from jaxl_designer.exporter.export import SOURCES

PACKAGE = Path(jaxl_designer.__file__).parent
STDLIB = set(sys.stdlib_module_names) | {"__future__"}


@dataclass(frozen=True)
class Rule:
    """What the modules of one folder may import besides the standard library."""

    says: str
    layers: frozenset[str]  # folders of the package (and top-level modules) it may import
    libraries: frozenset[str] = frozenset()  # third-party packages, imported as usual
    optional: frozenset[str] = frozenset()  # third-party packages, only via importlib on demand
    modules: frozenset[str] = field(default_factory=frozenset)  # single modules of other layers


def _rule(
    says: str, layers: str, libraries: str = "", optional: str = "", modules: str = ""
) -> Rule:
    return Rule(
        says,
        frozenset(layers.split()),
        frozenset(libraries.split()),
        frozenset(optional.split()),
        frozenset(modules.split()),
    )


#: One rule per folder of the package.
RULES = {
    "core": _rule(
        "the flow and the call: the standard library, networkx and the core itself",
        "core",
        "networkx",
    ),
    "webhook": _rule(
        "carried verbatim into every export: the standard library, the runtime and its "
        "lookups client, each other (redis, uvicorn with h11, uvloop and the Jaxl SDK only "
        "through importlib, when a server asks for them)",
        "webhook",
        optional="redis jaxl uvicorn h11 uvloop",
        modules="jaxl_designer.core.runtime jaxl_designer.core.lookups",
    ),
    "drawing": _rule(
        "drawings of the core's flows: graphviz and the core", "core drawing", "graphviz"
    ),
    "interop": _rule("Jaxl's own IVR schema, both ways: the core", "core interop"),
    "exporter": _rule(
        "writes flow.json and webhook.py: the core (the webhook code is read as text)",
        "core exporter",
        modules="jaxl_designer.__about__",
    ),
    "editing": _rule(
        "editing without widgets (session, forms, the canvas's requests): core, drawing, exporter",
        "core drawing exporter editing",
    ),
    "notebook": _rule(
        "widgets over the editing layer; nothing imports them",
        "core drawing exporter editing notebook",
        "ipywidgets anywidget traitlets IPython",
    ),
    "web": _rule("the designer's own web page: the editing layer over HTTP", "core editing web"),
    "cli": _rule(
        "the command line: every layer but the notebook",
        "core drawing exporter interop webhook editing web cli",
    ),
}
#: The only modules at the top of the package: the public API, `python -m`, the version.
TOP_LEVEL = {"__init__", "__main__", "__about__"}


def _name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def _imports(module: str) -> list[tuple[str, bool]]:
    """Every module `module` imports, anywhere in it, and whether through importlib."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: list[tuple[str, bool]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(alias.name, False) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                found.append((sub if sub in MODULES else target, False))
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
        ):
            found.append((str(node.args[0].value), True))
    return found


def _layer(module: str) -> str:
    return module.split(".")[1] if "." in module else "__init__"


def test_every_module_sits_in_a_folder_with_a_rule() -> None:
    folders = {path.parent for path in PACKAGE.rglob("*.py")} - {PACKAGE}
    assert {folder.relative_to(PACKAGE).parts[0] for folder in folders} <= set(RULES)
    assert {path.stem for path in PACKAGE.glob("*.py")} <= TOP_LEVEL
    # The walk found the tree: each rule's folder holds modules.
    assert {_layer(module) for module in MODULES} >= set(RULES)


@pytest.mark.parametrize("folder", sorted(RULES))
def test_each_folder_imports_only_what_its_rule_allows(folder: str) -> None:
    rule = RULES[folder]
    checked = [module for module in MODULES if _layer(module) == folder]
    assert checked, f"no modules found in {folder}/"
    broken = []
    for module in checked:
        for target, lazy in _imports(module):
            top = target.split(".")[0]
            if top == "jaxl_designer":
                allowed = _layer(target) in rule.layers or target in rule.modules
            else:
                allowed = top in STDLIB or top in rule.libraries or (lazy and top in rule.optional)
            if not allowed:
                broken.append(f"{module} imports {target}")
    assert not broken, f"{folder}/ ({rule.says}): " + "; ".join(broken)


def test_no_module_imports_in_a_circle() -> None:
    graph = nx.DiGraph()
    graph.add_nodes_from(MODULES)
    for module in MODULES:
        for target, _ in _imports(module):
            if target in MODULES and target != module:
                graph.add_edge(module, target)
    assert graph.number_of_edges() > len(MODULES), "the walk found the imports"
    cycles = [" -> ".join([*cycle, cycle[0]]) for cycle in nx.simple_cycles(graph)]
    assert not cycles, cycles


def test_the_carried_code_imports_only_the_standard_library() -> None:
    """What an export carries must run on a bare Python: no third-party import at its top."""
    carried = [_name(PACKAGE / source) for source in SOURCES]
    assert "jaxl_designer.core.runtime" in carried
    for module in carried:
        for target, lazy in _imports(module):
            top = target.split(".")[0]
            assert top in STDLIB or target in carried or lazy, f"{module} imports {target}"


_IMPORT_BLOCKED = textwrap.dedent(
    """
    import importlib, sys

    class Block:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in {blocked!r}:
                raise ImportError(f"blocked: {{name}}")
            return None

    sys.meta_path.insert(0, Block())
    for module in {modules!r}:
        importlib.import_module(module)
    loaded = sorted({{name.split(".")[0] for name in sys.modules}} & set({blocked!r}))
    assert not loaded, loaded
    print("imported", len({modules!r}))
    """
)
BLOCKED = ["ipywidgets", "graphviz", "anywidget", "IPython", "traitlets"]


def _import_blocked(modules: list[str]) -> subprocess.CompletedProcess[str]:
    code = _IMPORT_BLOCKED.format(blocked=BLOCKED, modules=modules)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)


def test_the_blocker_blocks() -> None:
    result = _import_blocked(["graphviz"])
    assert result.returncode != 0
    assert "ImportError: blocked: graphviz" in result.stderr


def test_the_package_and_its_core_import_without_widgets_or_drawing() -> None:
    modules = ["jaxl_designer", *(m for m in MODULES if _layer(m) in ("core", "webhook"))]
    result = _import_blocked(modules)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"imported {len(modules)}"
