"""The tutorial notebooks are saved run, drawings included, with nothing tied to one machine.

nbval (configured in pyproject.toml) re-runs each notebook and compares its outputs; these tests
check, without a kernel, what a reader on a code host relies on before anything runs.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
PATHS = sorted(NOTEBOOKS.glob("*.ipynb"))
#: The notebooks that teach with drawings, and how many each shows at least.
DRAWINGS = {
    "01_quickstart": 1,
    "02_designer": 1,
    "03_simulate_and_test": 2,
    "04_export_and_deploy": 1,
    "05_ivr_patterns": 6,
    "06_backend_lookups": 2,
}


def cells(path: Path) -> list[dict[str, Any]]:
    return list(json.loads(path.read_text(encoding="utf-8"))["cells"])


def outputs(path: Path) -> list[dict[str, Any]]:
    return [output for cell in cells(path) for output in cell.get("outputs", ())]


def text(output: dict[str, Any]) -> str:
    value = output.get("text") or output.get("data", {}).get("text/plain") or ""
    return "".join(value)


def test_the_tutorials_are_there() -> None:
    names = [path.stem for path in PATHS]
    assert names == [
        "01_quickstart",
        "02_designer",
        "03_simulate_and_test",
        "04_export_and_deploy",
        "05_ivr_patterns",
        "06_backend_lookups",
        "07_production_loop",
    ]


@pytest.mark.parametrize("path", PATHS, ids=lambda path: path.stem)
def test_each_notebook_is_saved_run_top_to_bottom_without_errors(path: Path) -> None:
    code = [cell for cell in cells(path) if cell["cell_type"] == "code"]
    counts = [cell["execution_count"] for cell in code]
    assert counts == list(range(1, len(code) + 1)), f"{path.name}: re-run it on a fresh kernel"
    errors = [output for output in outputs(path) if output["output_type"] == "error"]
    assert not errors, f"{path.name}: saved with an error: {errors[0].get('evalue')}"


@pytest.mark.parametrize("name", sorted(DRAWINGS))
def test_drawings_are_saved_as_svg(name: str) -> None:
    svgs = [
        "".join(output["data"]["image/svg+xml"])
        for output in outputs(NOTEBOOKS / f"{name}.ipynb")
        if "image/svg+xml" in output.get("data", {})
    ]
    assert len(svgs) >= DRAWINGS[name]
    assert all("<svg" in svg and 'class="node' in svg for svg in svgs)


def test_the_designer_notebook_opens_an_empty_flow_first_and_stays_light() -> None:
    path = NOTEBOOKS / "02_designer.ipynb"
    widgets = [
        output
        for output in outputs(path)
        if "application/vnd.jupyter.widget-view+json" in output.get("data", {})
    ]
    assert [text(output) for output in widgets] == [
        "<Designer of <Flow 'my_ivr': 0 nodes, entry None>, selected None>",
        "<Designer of <Flow 'acme': 7 nodes, entry 'main'>, selected None>",
    ]
    document = json.loads(path.read_text(encoding="utf-8"))
    assert "widgets" not in document["metadata"], "save it without widget state"
    assert path.stat().st_size < 50_000


@pytest.mark.parametrize("path", PATHS, ids=lambda path: path.stem)
def test_no_saved_output_names_this_machine(path: Path) -> None:
    machine = re.compile(r"/tmp/|/home/|/root/|/Users/|127\.0\.0\.1:\d+|localhost:\d+")
    for output in outputs(path):
        found = machine.search(text(output))
        assert found is None, f"{path.name}: an output shows {found.group()!r}"
