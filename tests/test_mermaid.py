"""Mermaid charts: a shape per kind, labels that round-trip through entity codes, paths coloured."""

from __future__ import annotations

import re

from hypothesis import HealthCheck, given, settings
from strategies import documents
from test_render import HOSTILE_IDS, SECRETS, agents, every_kind, hostile, orders

from jaxl_designer.core.examples import acme
from jaxl_designer.core.fileformat import from_document
from jaxl_designer.core.flow import Flow
from jaxl_designer.core.simulator import Simulator
from jaxl_designer.drawing.mermaid import SHAPES, to_mermaid

NODE = re.compile(r'^    (n\d+)(\S*?)"(.*)"(\S*)$')
LINK = re.compile(r'^    (\w+) (-->|-\.->)(?:\|"(.*)"\|)? (n\d+)$')
ALLOWED_TAGS = re.compile(r"</?b>|<br/>")


def nodes(chart: str) -> dict[str, tuple[str, str, str]]:
    """`{n0: (opening, label, closing)}` for every node line."""
    found = {}
    for line in chart.splitlines():
        match = NODE.match(line)
        if match:
            found[match[1]] = (match[2], match[3], match[4])
    return found


def links(chart: str) -> list[tuple[str, str, str | None, str]]:
    return [match.groups() for line in chart.splitlines() if (match := LINK.match(line))]


def decode(label: str) -> str:
    return re.sub(r"#(\d+);", lambda m: chr(int(m[1])), label)


def test_each_kind_has_its_own_shape() -> None:
    flow = every_kind()
    drawn = nodes(to_mermaid(flow))
    for i, node in enumerate(flow.nodes):
        opening, _, closing = drawn[f"n{i}"]
        assert (opening, closing) == SHAPES[flow.kind(node)]
    assert len({SHAPES[flow.kind(node)] for node in flow.nodes}) == len(flow.nodes)


def test_edges_are_labelled_by_key_and_fallbacks_dotted() -> None:
    chart = to_mermaid(acme())
    drawn = links(chart)
    assert ("start", "-->", None, "n0") in drawn
    assert ("n0", "-->", "1", "n1") in drawn
    assert ("n0", "-.->", "invalid", "n3") in drawn
    assert len(drawn) == 1 + sum(len(acme().edges(n)) for n in acme().nodes)


def test_a_set_is_a_cylinder_of_its_values_and_a_templated_transfer_has_a_dotted_way_out() -> None:
    flow = agents()
    chart = to_mermaid(flow)
    drawn = nodes(chart)
    index = {node: f"n{i}" for i, node in enumerate(flow.nodes)}
    opening, label, closing = drawn[index["pick"]]
    assert (opening, closing) == ("[(", ")]")
    assert decode(label).split("<br/>") == [
        "<b>pick</b>",
        "agent_phone = +9180000{code}",
        "greeting = Hi {metadata.name}",
    ]
    assert decode(drawn[index["go"]][1]).split("<br/>")[1] == "→ phone from {agent_phone}"
    assert (index["go"], "-.->", "invalid", index["sorry"]) in links(chart)
    assert f"    class {index['pick']} set" in chart.splitlines()


def test_a_lookup_is_a_hexagon_of_what_it_asks_and_saves_with_three_exits() -> None:
    flow = orders()
    chart = to_mermaid(flow)
    drawn = nodes(chart)
    index = {node: f"n{i}" for i, node in enumerate(flow.nodes)}
    opening, label, closing = drawn[index["ask"]]
    assert (opening, closing) == ("{{", "}}")
    assert decode(label).split("<br/>") == [
        "<b>ask</b>",
        "POST orders.example.com:8443/orders/{order}?…",
        "status = order.status",
        "eta = order.eta",
    ]
    for key, target in (("ok", "status"), ("failed", "sorry"), ("timeout", "slow")):
        assert (index["ask"], "-->", key, index[target]) in links(chart)
    assert f"    class {index['ask']} lookup" in chart.splitlines()
    for secret in SECRETS:
        assert secret not in decode(chart), secret


def assert_labels_are_inert(flow: Flow, chart: str) -> None:
    drawn = nodes(chart)
    assert len(drawn) >= len(flow.nodes)
    for i, node in enumerate(flow.nodes):
        label = drawn[f"n{i}"][1]
        bare = re.sub(r"#\d+;", "", ALLOWED_TAGS.sub("", label))
        assert not set(bare) & set('"<>&|`#;\n[]{}()%')
        bold = re.match(r"<b>(.*?)</b>", label)
        assert bold and decode(bold[1]) == node


def test_hostile_labels_are_entity_codes_that_decode_to_what_was_typed() -> None:
    flow = hostile()
    chart = to_mermaid(flow)
    assert_labels_are_inert(flow, chart)
    assert "<script" not in chart
    assert len(nodes(chart)) == len(HOSTILE_IDS) + 1


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents())
def test_any_flow_a_file_can_hold_gives_inert_labels(document: dict) -> None:
    flow = from_document(document)
    chart = to_mermaid(flow)
    assert_labels_are_inert(flow, chart)
    edges = sum(len(flow.edges(node)) for node in flow.nodes)
    assert len(links(chart)) == edges + (flow.entry in flow)
    for _, _, key, _ in links(chart):
        assert key is None or not set(re.sub(r"#\d+;", "", key)) & set('"|#;\n')


def test_scripts_other_than_latin_stay_readable() -> None:
    flow = Flow("hindi")
    flow.hangup("अलविदा", "धन्यवाद")
    assert "<b>अलविदा</b><br/>धन्यवाद" in to_mermaid(flow)


def test_a_path_colours_its_nodes_and_the_links_taken() -> None:
    flow = acme()
    call = Simulator(flow).dial()
    call.press("2")
    chart = to_mermaid(flow, path=call).splitlines()
    assert "    class n0 visited" in chart and "    class n2 active" in chart
    assert "    class n4 visited" not in chart
    styled = next(line for line in chart if line.startswith("    linkStyle"))
    numbers = [int(n) for n in styled.split()[1].split(",")]
    drawn = links("\n".join(chart))
    assert [drawn[n] for n in numbers] == [("n0", "-->", "2", "n2")]


def test_without_a_path_nothing_is_coloured() -> None:
    chart = to_mermaid(acme())
    assert "linkStyle" not in chart
    assert not re.search(r"^    class n\d+ (visited|active)$", chart, re.MULTILINE)
