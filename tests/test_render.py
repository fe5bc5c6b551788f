"""Drawings: every kind drawn, hostile text inert, paths and problems marked, big flows fast."""

from __future__ import annotations

import os
import stat
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import graphviz
import pytest
from hypothesis import HealthCheck, given, settings
from strategies import documents

from jaxl_designer.core.diff import diff
from jaxl_designer.core.examples import acme, business_hours
from jaxl_designer.core.fileformat import from_document
from jaxl_designer.core.flow import KINDS, Flow
from jaxl_designer.core.generate import big_flow
from jaxl_designer.core.simulator import Simulator
from jaxl_designer.drawing.diff import to_dot as diff_dot
from jaxl_designer.drawing.render import (
    EDGE_STYLES,
    STATE_STYLES,
    RenderError,
    RenderOptions,
    render_file,
    render_png,
    render_svg,
    svg_ids,
    to_digraph,
    to_dot,
)

SVG = "{http://www.w3.org/2000/svg}"
# Everything graphviz draws with; anything else in a drawing came from a label.
GRAPHVIZ_TAGS = {"svg", "g", "title", "polygon", "polyline", "path", "ellipse", "text", "a"}
HOSTILE_IDS = [
    'say "hi"',
    "<script>alert(1)</script>",
    "Tom & Jerry",
    "back\\slash\\",
    "{braces}",
    "नमस्ते",
    "😀 emoji",
    "&amp; entity",
    "n0",
    "start",
    "node",
    "x -> y:z",
    "line\nbreak",
]
HOSTILE_PROMPTS = [
    'He said "stop" now',
    "{order} {{x}}",
    "<script>alert(1)</script>",
    "<b>bold</b> &lt; &amp;",
    "C:\\Users\\ trailing\\",
    "first\nsecond line",
    "😀 🎉 call us",
    "हिंदी के लिए 2 दबाएं।",
    "]; digraph x {a->b",
]


@dataclass(frozen=True)
class Trouble:
    """A problem as validation reports one: where, and how bad."""

    severity: str
    node: str | None = None
    edge: tuple[str, str, str] | None = None


def every_kind() -> Flow:
    flow = Flow("kinds")
    flow.menu("menu", ["Press 1 to leave a number."], keys={"1": "collect", "invalid": "say"})
    flow.collect("collect", ["Enter your number then hash."], "number", then="lookup")
    flow.lookup(
        "lookup",
        "https://api.example.com/people/{number}",
        save={"name": "person.name"},
        headers={"Authorization": "Bearer ${PEOPLE_TOKEN}"},
        ok="set",
        failed="say",
        timed_out="say",
    )
    flow.set("set", {"agent_phone": "+9180000{number}"}, then="branch")
    flow.say("say", "Sorry, that is not a choice.", then="menu")
    flow.branch(
        "branch",
        [{"outcome": "vip", "test": "prefix", "subject": "number", "value": "99"}],
        outcomes={"vip": "transfer", "default": "piece"},
    )
    flow.transfer("transfer", phone="+918000000001")
    flow.subflow("piece", "collect_and_confirm", {"var": "pin"}, exits={"done": "hangup"})
    flow.hangup("hangup", "Goodbye.")
    return flow


def hostile() -> Flow:
    flow = Flow('hostile "flow" <x>')
    for index, node in enumerate(HOSTILE_IDS):
        prompt = HOSTILE_PROMPTS[index % len(HOSTILE_PROMPTS)]
        following = HOSTILE_IDS[index + 1] if index + 1 < len(HOSTILE_IDS) else None
        flow.say(node, prompt, then=following)
    flow.menu("menu", "Press * or #.", keys={"*": HOSTILE_IDS[0], "#": "<script>alert(1)</script>"})
    flow.connect(HOSTILE_IDS[-1], "next", "menu")
    return flow


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)


def groups(root: ET.Element) -> dict[str, ET.Element]:
    """The SVG's node and edge groups by their id."""
    return {
        str(g.get("id")): g
        for g in root.iter(f"{SVG}g")
        if {"node", "edge"} & set((g.get("class") or "").split())
    }


def texts(element: ET.Element) -> list[str]:
    return [t.text or "" for t in element.iter(f"{SVG}text")]


def outline(group: ET.Element) -> ET.Element:
    """The first drawn shape of a node or edge group."""
    for element in group.iter():
        if element.tag in (f"{SVG}polygon", f"{SVG}path", f"{SVG}ellipse"):
            return element
    raise AssertionError("the group draws nothing")


def group_of(flow: Flow, root: ET.Element, *target: str, options: RenderOptions | None = None):
    ids = {value: key for key, value in svg_ids(flow, options).items() if "start" not in key}
    return groups(root)[ids[target]]


def classes(group: ET.Element) -> set[str]:
    return set((group.get("class") or "").split())


# -- text only (no dot needed) ---------------------------------------------------------------
def test_dot_text_never_contains_a_node_id_as_a_name() -> None:
    source = to_dot(hostile())
    assert "<script>" not in source
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in source
    assert "label=<<B>say &quot;hi&quot;</B>" in source


def test_the_digraph_is_a_graphviz_digraph_carrying_the_options() -> None:
    digraph = to_digraph(acme(), RenderOptions(rankdir="LR"))
    assert isinstance(digraph, graphviz.Digraph)
    assert digraph.graph_attr["rankdir"] == "LR"
    assert to_digraph(acme()).graph_attr["rankdir"] == "TB"


def test_labels_show_the_first_words_and_the_destination() -> None:
    source = to_dot(business_hours())
    assert "<B>reception</B><BR/>→ teams 101" in source
    assert "<B>hours</B><BR/>open: mon–fri 09:00–18:00" in source
    assert "Thank you for calling. We are …" in source
    assert "<B>main</B>>" in to_dot(acme(), RenderOptions(prompt_words=0))


def agents() -> Flow:
    """A set node picks the number a transfer dials; a bad one goes to `sorry`."""
    flow = Flow("agents")
    flow.collect("code", "Enter the code.", "code", then="pick")
    flow.set("pick", {"agent_phone": "+9180000{code}", "greeting": "Hi {metadata.name}"})
    flow.connect("pick", "next", "go")
    flow.transfer("go", phone="{agent_phone}", invalid="sorry")
    flow.hangup("sorry", "Sorry.")
    return flow


def test_a_set_lists_its_values_and_a_templated_transfer_says_where_its_number_comes_from() -> None:
    source = to_dot(agents())
    assert "<B>pick</B><BR/>agent_phone = +9180000{code}<BR/>greeting = Hi {metadata.name}" in (
        source
    )
    assert "<B>go</B><BR/>→ phone from {agent_phone}" in source
    assert "<B>sorry</B>" in source
    fixed = Flow("fixed")
    fixed.transfer("go", phone="+918000000001")
    assert "<B>go</B><BR/>→ +918000000001" in to_dot(fixed)


def orders() -> Flow:
    """A lookup asks an order's status, with a secret header, and goes on by how it went."""
    flow = Flow("orders")
    flow.collect("order", "Enter your order number.", "order", then="ask")
    flow.lookup(
        "ask",
        "https://user:hunter2@orders.example.com:8443/orders/{order}?api_key=abc123",
        method="POST",
        save={"status": "order.status", "eta": "order.eta"},
        headers={"Authorization": "Bearer ${ORDERS_TOKEN}", "X-Api-Key": "pasted-in-secret"},
        body={"caller": "{from_number}"},
        timeout=3,
        prompt="One moment while I look that up.",
        ok="status",
        failed="sorry",
        timed_out="slow",
    )
    flow.say("status", "Your order is {status}, arriving {eta}.", then="sorry")
    flow.hangup("slow", "Our system is slow; please call again.")
    flow.hangup("sorry", "Goodbye.")
    flow.allowed_hosts = ["orders.example.com:8443"]
    return flow


#: What a drawing of `orders()` must never show: its headers, and the URL's password and query.
SECRETS = ("ORDERS_TOKEN", "Authorization", "X-Api-Key", "pasted-in-secret", "hunter2", "abc123")


def test_a_lookup_says_what_it_asks_and_what_it_saves_never_its_headers() -> None:
    source = to_dot(orders())
    assert (
        "<B>ask</B><BR/>POST orders.example.com:8443/orders/{order}?…"
        "<BR/>status = order.status<BR/>eta = order.eta>"
    ) in source
    for secret in SECRETS:
        assert secret not in source, secret
    bare = Flow("bare")
    bare.lookup("ask", "http://127.0.0.1:8765/orders/{order}")
    assert "<B>ask</B><BR/>GET 127.0.0.1:8765/orders/{order}>" in to_dot(bare), "GET by default"


def test_a_diff_drawing_names_changed_headers_but_never_their_values() -> None:
    old, new = orders(), orders()
    new.update("ask", headers={"X-Api-Key": "another-secret", "X-Trace": "on"})
    said = diff_dot(diff(old, new))
    assert "node ask: headers.X-Api-Key changed" in said
    assert "node ask: headers.X-Trace changed" in said
    assert "another-secret" not in said and "pasted-in-secret" not in said
    gone = Flow("orders")
    gone.hangup("ask", "Goodbye.")
    said = diff_dot(diff(old, gone))
    assert "node ask: headers changed" in said
    assert "pasted-in-secret" not in said and "ORDERS_TOKEN" not in said


def test_bad_options_are_refused_early() -> None:
    with pytest.raises(ValueError, match="id_prefix"):
        RenderOptions(id_prefix='a" onclick="x')
    with pytest.raises(ValueError, match="rankdir"):
        RenderOptions(rankdir="sideways")


def test_big_flows_are_tuned_for_speed_and_small_ones_are_not() -> None:
    assert "nslimit" in to_dot(big_flow(600))
    assert "nslimit" not in to_dot(acme())
    assert "ortho" not in to_dot(big_flow(600))


def test_svg_ids_name_every_node_and_edge_once() -> None:
    flow = acme()
    ids = svg_ids(flow, RenderOptions(id_prefix="left-"))
    nodes = [v[1] for k, v in ids.items() if v[0] == "node" and "start" not in k]
    edges = [v[1:] for v in ids.values() if v[0] == "edge"]
    assert sorted(nodes) == sorted(flow.nodes)
    assert len(edges) == len(set(edges)) == sum(len(flow.edges(n)) for n in flow.nodes)
    assert ids["left-start"] == ("node", "main")
    assert all(key.startswith("left-") for key in ids)


# -- through dot -----------------------------------------------------------------------------
@pytest.mark.exe
def test_every_kind_is_drawn_in_its_own_colour_with_its_label() -> None:
    flow = every_kind()
    root = parse(render_svg(flow))
    fills = {}
    for node in flow.nodes:
        group = group_of(flow, root, "node", node)
        kind = flow.kind(node)
        assert f"jd-{kind}" in classes(group)
        assert texts(group)[0] == node
        fills[kind] = outline(group).get("fill")
    assert len(set(fills.values())) == len(KINDS)
    drawn = " ".join(texts(root))
    for words in (
        "→ +918000000001",
        "vip: number starts 99",
        "into number",
        "piece collect_",
        "agent_phone = +9180000{number}",
        "GET api.example.com/people/{number}",
        "name = person.name",
    ):
        assert words in drawn
    assert "PEOPLE_TOKEN" not in drawn and "Authorization" not in drawn


@pytest.mark.exe
def test_the_entry_has_a_start_arrow_and_fallback_edges_are_dashed() -> None:
    flow = acme()
    root = parse(render_svg(flow))
    found = groups(root)
    assert "jd-start" in found and "jd-start-edge" in found
    invalid = group_of(flow, root, "edge", "main", "invalid", "main_invalid")
    pressed = group_of(flow, root, "edge", "main", "2", "order")
    assert outline(invalid).get("stroke-dasharray")
    assert not outline(pressed).get("stroke-dasharray")
    assert texts(invalid) == ["invalid"] and texts(pressed) == ["2"]


@pytest.mark.exe
def test_a_set_is_drawn_as_a_cylinder_and_a_transfers_invalid_edge_dashed() -> None:
    flow = agents()
    root = parse(render_svg(flow))
    pick = group_of(flow, root, "node", "pick")
    assert "jd-set" in classes(pick)
    assert texts(pick) == ["pick", "agent_phone = +9180000{code}", "greeting = Hi {metadata.name}"]
    # Graphviz draws a cylinder as a path, the other shapes as polygons.
    assert outline(pick).tag == f"{SVG}path"
    invalid = group_of(flow, root, "edge", "go", "invalid", "sorry")
    assert texts(invalid) == ["invalid"]
    assert outline(invalid).get("stroke-dasharray")


@pytest.mark.exe
def test_a_lookup_is_a_hexagon_with_its_three_exits_labelled() -> None:
    flow = orders()
    svg = render_svg(flow)
    root = parse(svg)
    ask = group_of(flow, root, "node", "ask")
    assert "jd-lookup" in classes(ask)
    assert texts(ask) == [
        "ask",
        "POST orders.example.com:8443/orders/{order}?…",
        "status = order.status",
        "eta = order.eta",
    ]
    assert len(outline(ask).get("points", "").split()) == 7, "a hexagon (closed: 7 points)"
    for key, target in (("ok", "status"), ("failed", "sorry"), ("timeout", "slow")):
        assert texts(group_of(flow, root, "edge", "ask", key, target)) == [key]
    for secret in SECRETS:
        assert secret not in svg, secret


@pytest.mark.exe
def test_hostile_ids_and_prompts_render_as_text_and_inject_nothing() -> None:
    flow = hostile()
    svg = render_svg(flow)
    root = parse(svg)
    tags = {element.tag.removeprefix(SVG) for element in root.iter()}
    assert tags <= GRAPHVIZ_TAGS
    assert "<script" not in svg
    bold = [t.text for t in root.iter(f"{SVG}text") if t.get("font-weight") == "bold" and t.text]
    assert sorted(bold) == sorted(node.replace("\n", " ") for node in flow.nodes)
    drawn = " ".join(texts(root))
    for words in ['He said "stop" now', "{order} {{x}}", "<b>bold</b> &lt; &amp;", "😀 🎉 call"]:
        assert words in drawn
    assert "C:\\Users\\ trailing\\" in drawn
    assert "हिंदी के लिए 2 दबाएं।" in drawn
    assert "]; digraph x {a->b" in drawn
    assert (
        len(groups(root)) == len(flow.nodes) + 1 + sum(len(flow.edges(n)) for n in flow.nodes) + 1
    )


@pytest.mark.exe
def test_control_characters_and_lone_surrogates_still_give_well_formed_svg() -> None:
    flow = Flow("controls")
    flow.say("bell\x07", "ding\x01dong \x0b\ud800 done", then="end\x1b")
    flow.hangup("end\x1b", "bye\x00")
    root = parse(render_svg(flow))
    assert "ding\ufffddong" in " ".join(texts(root))


@pytest.mark.exe
def test_a_bracket_alone_as_a_key_or_an_id_still_draws() -> None:
    # dot refused an HTML label that is only "]" with a syntax error.
    flow = Flow("brackets")
    flow.menu("]", "Press ].", keys={"]": "]"})
    root = parse(render_svg(flow))
    assert texts(group_of(flow, root, "edge", "]", "]", "]")) == ["]"]


@pytest.mark.exe
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents())
def test_any_flow_a_file_can_hold_draws_as_well_formed_svg(document: dict) -> None:
    flow = from_document(document)
    root = parse(render_svg(flow))
    assert {e.tag.removeprefix(SVG) for e in root.iter()} <= GRAPHVIZ_TAGS
    assert set(groups(root)) == set(svg_ids(flow))


@pytest.mark.exe
def test_a_calls_path_is_highlighted_and_its_current_node_strongest() -> None:
    flow = acme()
    call = Simulator(flow).dial()
    call.press("2")
    root = parse(render_svg(flow, path=call))
    main = group_of(flow, root, "node", "main")
    order = group_of(flow, root, "node", "order")
    confirm = group_of(flow, root, "node", "confirm")
    assert "jd-visited" in classes(main) and "jd-active" not in classes(main)
    assert {"jd-visited", "jd-active"} <= classes(order)
    assert "jd-visited" not in classes(confirm)
    assert outline(main).get("fill") == STATE_STYLES["visited"]["fillcolor"]
    assert outline(order).get("fill") == STATE_STYLES["active"]["fillcolor"]
    assert outline(confirm).get("fill") != outline(main).get("fill")
    taken = group_of(flow, root, "edge", "main", "2", "order")
    other = group_of(flow, root, "edge", "main", "1", "sales")
    assert outline(taken).get("stroke") == EDGE_STYLES["active"]["color"]
    assert outline(other).get("stroke") != outline(taken).get("stroke")


@pytest.mark.exe
def test_a_path_given_as_nodes_or_as_nodes_and_edges_draws_the_same() -> None:
    flow = acme()
    call = Simulator(flow).dial()
    call.press("2")
    as_call = render_svg(flow, path=call)
    assert render_svg(flow, path=(call.path, call.edges)) == as_call
    assert render_svg(flow, path=["main", "order"]) == as_call


@pytest.mark.exe
def test_problems_are_outlined_errors_red_warnings_orange_even_on_the_path() -> None:
    flow = acme()
    problems = [
        Trouble("warning", node="sales"),
        Trouble("error", node="main"),
        Trouble("warning", node="main"),
        Trouble("error", edge=("confirm", "2", "order")),
    ]
    root = parse(render_svg(flow, path=["main"], problems=problems))
    main = group_of(flow, root, "node", "main")
    sales = group_of(flow, root, "node", "sales")
    thanks = group_of(flow, root, "node", "thanks")
    assert outline(main).get("stroke") == STATE_STYLES["error"]["color"]
    assert outline(sales).get("stroke") == STATE_STYLES["warning"]["color"]
    assert outline(thanks).get("stroke") not in (
        STATE_STYLES["error"]["color"],
        STATE_STYLES["warning"]["color"],
    )
    assert {"jd-error", "jd-visited"} <= classes(main)
    edge = group_of(flow, root, "edge", "confirm", "2", "order")
    assert outline(edge).get("stroke") == EDGE_STYLES["error"]["color"]


@pytest.mark.exe
def test_a_target_that_is_not_a_node_is_drawn_and_marked() -> None:
    flow = acme()
    flow.connect("main", "3", "nowhere")
    root = parse(render_svg(flow))
    group = group_of(flow, root, "node", "nowhere")
    assert "jd-missing" in classes(group)
    assert texts(group) == ["nowhere", "(not in the flow)"]


@pytest.mark.exe
def test_the_selected_node_gets_a_double_outline() -> None:
    flow = acme()
    root = parse(render_svg(flow, selected="confirm"))
    confirm = group_of(flow, root, "node", "confirm")
    main = group_of(flow, root, "node", "main")
    shapes = (f"{SVG}path", f"{SVG}polygon")
    assert "jd-selected" in classes(confirm) and "jd-selected" not in classes(main)
    outlines = [sum(e.tag in shapes for e in group.iter()) for group in (confirm, main)]
    assert outlines[0] == 2 * outlines[1]


@pytest.mark.exe
def test_two_drawings_on_one_page_share_no_id() -> None:
    left = parse(render_svg(acme(), RenderOptions(id_prefix="left-")))
    right = parse(render_svg(acme(), RenderOptions(id_prefix="right-")))
    ids = [{e.get("id") for e in root.iter() if e.get("id")} for root in (left, right)]
    assert ids[0] and ids[1] and not ids[0] & ids[1]
    assert set(groups(left)) == set(svg_ids(acme(), RenderOptions(id_prefix="left-")))


@pytest.mark.exe
def test_a_thousand_node_flow_renders_to_svg() -> None:
    flow = big_flow(1000)
    root = parse(render_svg(flow, timeout=120))
    assert set(groups(root)) == set(svg_ids(flow))
    assert "main" in texts(root)


@pytest.mark.exe
def test_png_is_an_image() -> None:
    assert render_png(acme()).startswith(b"\x89PNG\r\n\x1a\n")


@pytest.mark.exe
@pytest.mark.parametrize("suffix", [".svg", ".png", ".dot", ".mmd"])
def test_render_file_writes_the_format_its_suffix_names(tmp_path: Path, suffix: str) -> None:
    out = render_file(acme(), tmp_path / f"acme{suffix}")
    data = out.read_bytes()
    first = {".svg": b"<?xml", ".png": b"\x89PNG", ".dot": b"digraph", ".mmd": b"flowchart"}
    assert data.startswith(first[suffix])
    assert [p.name for p in tmp_path.iterdir()] == [f"acme{suffix}"]


def test_render_file_refuses_a_suffix_it_cannot_write(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"\.jpg"):
        render_file(acme(), tmp_path / "acme.jpg")
    assert list(tmp_path.iterdir()) == []


# -- when dot is missing, broken or slow -----------------------------------------------------
def fake_dot(folder: Path, script: str) -> None:
    dot = folder / "dot"
    dot.write_text("#!/bin/sh\n" + script + "\n")
    dot.chmod(dot.stat().st_mode | stat.S_IXUSR)


def test_a_missing_dot_program_is_one_clear_line(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(RenderError) as caught:
        render_svg(acme())
    message = str(caught.value)
    assert message == (
        "graphviz's dot program was not found: install graphviz "
        "(apt-get install graphviz / brew install graphviz)"
    )


def test_a_failing_dot_says_why_in_one_line(tmp_path: Path, monkeypatch) -> None:
    fake_dot(tmp_path, 'echo "Error: something broke" >&2\necho "more" >&2\nexit 1')
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    with pytest.raises(
        RenderError, match=r"^dot failed \(exit status 1\): Error: something broke$"
    ):
        render_svg(acme())


def test_a_dot_that_hangs_is_stopped_at_the_timeout(tmp_path: Path, monkeypatch) -> None:
    fake_dot(tmp_path, "exec sleep 30")
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    started = time.monotonic()
    with pytest.raises(RenderError, match=r"took longer than 0\.5 s"):
        render_svg(acme(), timeout=0.5)
    assert time.monotonic() - started < 10
