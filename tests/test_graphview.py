"""The clickable drawing: its ES module, its element map, and clicks that select nodes."""

from __future__ import annotations

import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from jaxl_designer.core.examples import acme
from jaxl_designer.notebook.designer import Designer
from jaxl_designer.notebook.graphview import _ESM, GraphView

SVG = "{http://www.w3.org/2000/svg}"


@pytest.mark.skipif(shutil.which("node") is None, reason="needs node to parse JavaScript")
def test_the_es_module_parses(tmp_path: Path) -> None:
    module = tmp_path / "graphview.mjs"
    module.write_text(_ESM)
    result = subprocess.run(["node", "--check", str(module)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_show_replaces_drawing_map_and_selection_and_repr_stays_short() -> None:
    view = GraphView()
    view.show("<svg>" + "x" * 10_000 + "</svg>", {"n1": {"kind": "node", "node": "main"}}, "main")
    assert view.targets == {"n1": {"kind": "node", "node": "main"}}
    assert view.selected == "main"
    assert repr(view) == "<GraphView: 10011 characters of SVG, selected 'main'>"


def test_every_drawn_node_and_edge_is_in_the_element_map() -> None:
    designer = Designer(acme())
    root = ET.fromstring(designer.graph.svg)
    groups = {
        g.get("id"): g.get("class", "").split()
        for g in root.iter(f"{SVG}g")
        if {"node", "edge"} & set(g.get("class", "").split())
    }
    targets = designer.graph.targets
    assert set(groups) <= set(targets)
    nodes = {t["node"] for t in targets.values() if t["kind"] == "node"}
    edges = {(t["source"], t["key"], t["target"]) for t in targets.values() if t["kind"] == "edge"}
    assert nodes == set(acme().nodes)
    assert ("main", "2", "order") in edges and ("confirm", "1", "thanks") in edges


def test_clicking_a_node_selects_it_even_twice() -> None:
    designer = Designer(acme())
    designer.graph.clicked = {"kind": "node", "node": "confirm", "count": 1}
    assert designer.selected == "confirm"
    assert designer.node_select.value == "confirm"
    assert "confirm" in designer.inspector.title.value
    designer.node_select.value = "main"
    designer.graph.clicked = {"kind": "node", "node": "confirm", "count": 2}
    assert designer.selected == "confirm"
    assert designer.graph.selected == "confirm"


def test_clicking_an_edge_selects_its_source_and_names_it() -> None:
    designer = Designer(acme())
    designer.graph.clicked = {
        "kind": "edge",
        "source": "main",
        "key": "2",
        "target": "order",
        "count": 1,
    }
    assert designer.selected == "main"
    assert designer.said == "main --2--> order"


def test_clicking_a_node_that_is_gone_selects_nothing() -> None:
    designer = Designer(acme())
    designer.graph.clicked = {"kind": "node", "node": "nowhere", "count": 1}
    assert designer.selected == ""
