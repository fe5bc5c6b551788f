"""Diff drawings: statuses coloured and struck, any text drawn safely, `dot` time-limited."""

from __future__ import annotations

import os
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from strategies import documents
from test_render import GRAPHVIZ_TAGS, HOSTILE_IDS, fake_dot

from jaxl_designer.core.diff import diff
from jaxl_designer.core.examples import acme
from jaxl_designer.core.fileformat import from_document
from jaxl_designer.core.flow import Flow
from jaxl_designer.core.generate import big_flow
from jaxl_designer.drawing.backend import RenderError
from jaxl_designer.drawing.diff import COLOURS, build, render_diff_svg, to_dot
from jaxl_designer.drawing.render import render_svg

SVG = "{http://www.w3.org/2000/svg}"
XLINK = "{http://www.w3.org/1999/xlink}"


def renamed_ending() -> Flow:
    """acme with `thanks` replaced by `bye` (so confirm's key 1 is retargeted) and main changed."""
    new = acme()
    new.remove("thanks")
    new.hangup("bye", "Goodbye.")
    new.connect("confirm", "1", "bye")
    new.update("main", max_invalid=2)
    return new


def nodes_by_id(svg: str) -> dict[str, ET.Element]:
    """The SVG's node groups by the node id they show in bold."""
    found = {}
    for group in ET.fromstring(svg).iter(f"{SVG}g"):
        if "node" in (group.get("class") or "").split():
            bold = [t.text for t in group.iter(f"{SVG}text") if t.get("font-weight") == "bold"]
            if bold:
                found[str(bold[0])] = group
    return found


def edges_by_tooltip(svg: str) -> dict[str, ET.Element]:
    found = {}
    for group in ET.fromstring(svg).iter(f"{SVG}g"):
        if "edge" in (group.get("class") or "").split():
            link = next(group.iter(f"{SVG}a"), None)
            if link is not None:
                found[str(link.get(f"{XLINK}title"))] = group
    return found


def stroke(group: ET.Element) -> str | None:
    shape = next(e for e in group.iter() if e.tag in (f"{SVG}polygon", f"{SVG}path"))
    return shape.get("stroke")


# -- the drawing as data and DOT text (no dot needed) ----------------------------------------
def test_every_node_and_edge_of_either_flow_has_its_status() -> None:
    drawing = build(diff(acme(), renamed_ending()))
    status = {node.id: node.states for node in drawing.nodes}
    assert status["thanks"] == ("removed",) and status["bye"] == ("added",)
    assert status["main"] == ("changed",) and status["order"] == ("same",)
    struck = {node.id for node in drawing.nodes if node.struck}
    assert struck == {"thanks"}
    # the retargeted key is drawn twice: the old arrow removed and struck, the new one changed
    key_1 = [(drawing.edge_ends(e), e.states, e.struck) for e in drawing.edges]
    assert (("confirm", "1", "thanks"), ("removed",), True) in key_1
    assert (("confirm", "1", "bye"), ("changed",), False) in key_1


def test_removed_text_is_struck_and_its_line_dashed_red() -> None:
    dot = to_dot(diff(acme(), renamed_ending()))
    line = next(line for line in dot.splitlines() if "<S>thanks</S>" in line)
    assert "label=<<B><S>thanks</S></B><BR/><S>hangup</S>>" in line
    assert 'style="dashed"' in line and f'color="{COLOURS["removed"]}"' in line
    added = next(line for line in dot.splitlines() if "<B>bye</B>" in line)
    assert 'shape="octagon"' in added and f'color="{COLOURS["added"]}"' in added


def test_labels_are_escaped_and_no_node_id_is_a_dot_name() -> None:
    new = acme()
    for node in [*HOSTILE_IDS, "a<b & c>"]:
        new.hangup(node, "Bye.")
    dot = to_dot(diff(acme(), new))
    assert "<B>a&lt;b &amp; c&gt;</B>" in dot
    heads = [line.split(" [")[0].strip() for line in dot.splitlines() if " [" in line]
    assert all(re.fullmatch(r"(n\d+|start\d*)( -> n\d+)?|graph|node|edge", h) for h in heads)


def test_a_changed_entry_has_an_old_and_a_new_marker() -> None:
    new = acme()
    new.entry = "confirm"
    drawing = build(diff(acme(), new))
    marked = {(drawing.nodes[s.target].id, s.states) for s in drawing.starts}
    assert marked == {("main", ("removed",)), ("confirm", ("added",))}


def test_a_missing_dot_program_is_a_render_error(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(RenderError, match="dot program was not found"):
        render_diff_svg(acme(), renamed_ending())


def test_a_dot_that_hangs_is_stopped_at_the_timeout(tmp_path: Path, monkeypatch) -> None:
    fake_dot(tmp_path, "exec sleep 30")
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    with pytest.raises(RenderError, match=r"took longer than 0\.5 s"):
        render_diff_svg(acme(), renamed_ending(), timeout=0.5)


# -- through dot -----------------------------------------------------------------------------
@pytest.mark.exe
def test_the_svg_shows_green_red_and_amber() -> None:
    svg = render_diff_svg(acme(), renamed_ending())
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg
    nodes, edges = nodes_by_id(svg), edges_by_tooltip(svg)
    assert stroke(nodes["bye"]) == COLOURS["added"]
    assert stroke(nodes["thanks"]) == COLOURS["removed"]
    assert stroke(nodes["main"]) == COLOURS["changed"]
    assert stroke(nodes["order"]) == COLOURS["same"]
    struck = [t.get("text-decoration") for t in nodes["thanks"].iter(f"{SVG}text")]
    assert struck == ["line-through", "line-through"]
    assert stroke(edges["confirm --1--> thanks (removed)"]) == COLOURS["removed"]
    assert stroke(edges["confirm --1--> bye (changed)"]) == COLOURS["changed"]
    assert "stroke-dasharray" in svg


@pytest.mark.exe
def test_lone_surrogates_and_control_characters_still_give_an_svg() -> None:
    # These raised UnicodeEncodeError before the diff drew through the shared DOT writer.
    old = acme()
    new = acme()
    new.name = "acme\ud800"
    new.hangup("a\ud800b", "bye \udfff now\x07")
    new.connect("main", "3", "a\ud800b")
    new.update("thanks", prompt=["Thank you \ud800.", "Goodbye."])
    svg = render_diff_svg(old, new)
    assert "a\ufffdb" in nodes_by_id(svg)


@pytest.mark.exe
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents(), documents())
def test_any_two_flows_files_can_hold_diff_into_well_formed_svg(old: dict, new: dict) -> None:
    svg = render_diff_svg(from_document(old), from_document(new))
    assert {e.tag.removeprefix(SVG) for e in ET.fromstring(svg).iter()} <= GRAPHVIZ_TAGS


@pytest.mark.exe
def test_a_diff_past_its_timeout_is_a_one_line_render_error() -> None:
    old = big_flow(2000)
    new = big_flow(2000)
    new.update("main", max_invalid=2)
    with pytest.raises(RenderError) as caught:
        render_diff_svg(old, new, timeout=0.0001)
    message = str(caught.value)
    assert re.fullmatch(r"dot took longer than 0\.0001 s to draw 2000 nodes: .*", message)
    assert "\n" not in message


@pytest.mark.exe
def test_a_diff_and_a_flow_drawn_on_one_page_share_no_id() -> None:
    ids = [
        {e.get("id") for e in ET.fromstring(svg).iter() if e.get("id")}
        for svg in (render_svg(acme()), render_diff_svg(acme(), renamed_ending()))
    ]
    assert ids[0] and ids[1] and not ids[0] & ids[1]
