"""The canvas: its view of a flow, the layout it stands on, and the edits its front end sends."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from jaxl_designer import Flow, acme, validate
from jaxl_designer.core.flow import KINDS
from jaxl_designer.core.generate import big_flow
from jaxl_designer.drawing.canvas import canvas_view, exits
from jaxl_designer.drawing.layout import CARD, complete, layout, place_near
from jaxl_designer.notebook.canvas import BUNDLE, Canvas

pytestmark = pytest.mark.exe


def _overlap(a: list[int], b: list[int]) -> bool:
    return abs(a[0] - b[0]) < CARD[0] and abs(a[1] - b[1]) < CARD[1]


# -- layout ----------------------------------------------------------------------------------
@pytest.mark.parametrize("direction", ["TB", "LR"])
def test_dot_lays_cards_out_without_overlaps_in_the_calls_direction(direction: str) -> None:
    places = layout(acme(), direction)
    assert sorted(places) == sorted(acme().nodes)
    cards = list(places.values())
    assert not any(_overlap(a, b) for i, a in enumerate(cards) for b in cards[i + 1 :])
    axis = 1 if direction == "TB" else 0
    assert places["main"][axis] < places["sales"][axis] < places["thanks"][axis]


def test_edges_back_to_the_entry_do_not_stretch_a_big_flow() -> None:
    flow = big_flow(200)
    places = layout(flow)
    without = big_flow(200)
    for node in without.nodes:
        for key, target in list(without.edges(node).items()):
            if target == "main":
                without.disconnect(node, key)
    # the 1,400 or so back-to-main edges change nothing: not a rank, not a card's place
    assert places == layout(without)


def test_a_flow_keeps_the_places_it_has_and_new_cards_go_beside_a_parent() -> None:
    flow = acme()
    flow.layout = {node: [0, 1000 * i] for i, node in enumerate(flow.nodes)}
    flow.hangup("bye", "Goodbye.")
    flow.connect("confirm", "2", "bye")
    places = complete(flow)
    assert all(places[node] == flow.layout[node] for node in flow.layout)
    assert places["bye"][1] > flow.layout["confirm"][1]
    assert not any(_overlap(places["bye"], places[node]) for node in flow.layout)


def test_a_new_card_never_lands_on_another() -> None:
    taken = {"main": [0, 0], "a": [0, 166], "b": [280, 166]}
    spot = place_near(taken, "main")
    assert not any(_overlap(spot, point) for point in taken.values())


# -- the view --------------------------------------------------------------------------------
def test_menu_exits_are_the_keys_in_use_with_what_the_prompt_says_they_are_for() -> None:
    found = {exit["key"]: exit for exit in exits(acme(), "main")}
    assert list(found) == ["1", "2", "9", "invalid", "gave_up"]
    assert found["1"]["label"] == "1 · sales" and found["1"]["target"] == "sales"
    assert found["gave_up"]["target"] is None and found["gave_up"]["fallback"]
    assert [exit["key"] for exit in exits(acme(), "order")] == ["ok", "invalid", "gave_up"]


def test_problems_sit_on_their_card_and_are_counted() -> None:
    flow = acme()
    flow.connect("main", "3", "ghost")
    view = canvas_view(flow, positions=complete(flow), problems=validate(flow))
    main = view["nodes"][0]
    assert {p["code"] for p in main["problems"]} == {"unknown-target", "unannounced-key"}
    assert view["counts"] == {"error": 1, "warning": 1}
    assert [m["id"] for m in view["missing"]] == ["ghost"]


def test_an_empty_flow_is_an_empty_view_not_an_error() -> None:
    view = Canvas(Flow("new")).view
    assert view["nodes"] == [] and view["flow_problems"] == []
    assert view["counts"] == {"error": 0, "warning": 0}


# -- edits from the front end ----------------------------------------------------------------
def test_opening_a_flow_without_places_lays_it_out_and_keeps_them() -> None:
    flow = acme()
    canvas = Canvas(flow)
    assert sorted(flow.layout) == sorted(flow.nodes)
    assert canvas.view["nodes"][0]["position"] == flow.layout["main"]


def test_drag_to_connect_delete_and_undo_each_change_the_shared_flow() -> None:
    flow = acme()
    canvas = Canvas(flow)
    canvas.handle({"type": "connect", "source": "order", "key": "gave_up", "target": "sales"})
    assert flow.edges("order")["gave_up"] == "sales"
    gave_up = next(e for e in canvas.view["nodes"][2]["exits"] if e["key"] == "gave_up")
    assert gave_up["target"] == "sales"
    canvas.handle({"type": "delete", "nodes": ["sales"], "edges": [["main", "9"]]})
    assert "sales" not in flow and "9" not in flow.edges("main")
    assert canvas.view["undo"] == "deleted sales, main --9-->"
    assert canvas.handle({"type": "undo"}) == "undid: deleted sales, main --9-->"
    assert "sales" in flow and flow.edges("main")["9"] == "main"


def test_moving_cards_is_saved_in_the_flow_and_undoable() -> None:
    flow = acme()
    canvas = Canvas(flow)
    before = list(flow.layout["main"])
    canvas.handle({"type": "move", "positions": {"main": [500.4, -20.6]}})
    assert flow.layout["main"] == [500, -21]
    assert canvas.view["nodes"][0]["position"] == [500, -21]
    canvas.handle({"type": "undo"})
    assert flow.layout["main"] == before


def test_tidy_and_direction_lay_out_again_in_one_undoable_step() -> None:
    flow = acme()
    canvas = Canvas(flow)
    canvas.handle({"type": "move", "positions": {"thanks": [5000, 5000]}})
    assert canvas.handle({"type": "tidy"}) == "tidied up the layout"
    assert flow.layout["thanks"] != [5000, 5000]
    canvas.handle({"type": "direction", "value": "LR"})
    assert canvas.view["direction"] == "LR"
    assert flow.layout["main"][0] < flow.layout["thanks"][0]


def test_selection_is_shared_both_ways() -> None:
    canvas = Canvas(acme())
    canvas.selected = "order"  # what the front end writes on a click
    assert canvas.session.selected == "order"
    canvas.session.select("confirm")
    assert canvas.selected == "confirm"


@pytest.mark.parametrize(
    "request_",
    [
        {"type": "explode"},
        "not a dict",
        {"type": "connect", "source": "main"},
        {"type": "move", "positions": {"nobody": [1, 2]}},
        {"type": "move", "positions": {"main": "up"}},
        {"type": "direction", "value": "diagonal"},
        {"type": "connect", "source": "ghost", "key": "1", "target": "main"},
    ],
)
def test_a_malformed_request_is_one_line_and_changes_nothing(request_: object) -> None:
    flow = acme()
    canvas = Canvas(flow)
    before = flow.to_document()
    said = canvas.handle(request_)
    assert canvas.message["error"] is True and canvas.message["text"] == said
    assert "\n" not in said and said
    assert flow.to_document() == before


def test_the_front_end_is_bundled_into_the_package() -> None:
    text = BUNDLE.read_text(encoding="utf-8")
    assert "export" in text and len(text) > 100_000  # React and React Flow are inside
    # Offline at run time: no module, stylesheet or font is fetched from elsewhere.
    compact = re.sub(r"\s+", "", text)
    for fetch in ('from"http', 'import("http', "url(http", "@importurl(", 'src="http'):
        assert fetch not in compact


# -- the inspector and the phone -------------------------------------------------------------
def test_a_node_added_from_an_exit_is_placed_beside_it_connected_and_selected() -> None:
    flow = acme()
    canvas = Canvas(flow)
    said = canvas.handle({"type": "add", "kind": "hangup", "from": ["order", "gave_up"]})
    assert said == "added hangup hangup_1"
    assert flow.edges("order")["gave_up"] == "hangup_1"
    assert canvas.selected == "hangup_1"
    spot = flow.layout["hangup_1"]
    assert spot[1] > flow.layout["order"][1]
    assert not any(_overlap(spot, flow.layout[n]) for n in flow.nodes if n != "hangup_1")


def test_a_new_collect_ends_its_digits_with_hash_instead_of_starting_with_an_error() -> None:
    canvas = Canvas(acme())
    canvas.handle({"type": "add", "kind": "collect", "from": ["main", "3"]})
    assert canvas.flow.node("collect_1")["terminator"] == "#"
    card = next(n for n in canvas.view["nodes"] if n["id"] == "collect_1")
    assert card["fields"]["terminator"] == "#"
    assert not any("terminator" in p["message"] for p in card["problems"]), card["problems"]


def test_each_typed_field_is_one_undoable_step_and_bad_text_is_one_line() -> None:
    flow = acme()
    canvas = Canvas(flow)
    typed = "Please enter your order number.\nThen press star."
    said = canvas.handle({"type": "apply", "node": "order", "field": "prompt", "value": typed})
    assert said == "order: what the caller hears"
    assert flow.node("order")["prompt"] == typed.splitlines()
    card = next(n for n in canvas.view["nodes"] if n["id"] == "order")
    assert card["fields"]["prompt"] == typed and card["fields"]["var"] == "order"
    bad = canvas.handle({"type": "apply", "node": "order", "field": "length", "value": "four"})
    assert bad == 'Exactly this many digits: "four" is not a whole number'
    assert "length" not in flow.node("order")
    canvas.handle({"type": "undo"})
    assert flow.node("order")["prompt"] == ["Please enter your order number followed by star"]


def test_the_phone_dials_presses_and_enters_through_the_canvas() -> None:
    canvas = Canvas(acme())
    canvas.handle({"type": "dial"})
    call = canvas.view["call"]
    assert call["waiting_at"] == "main" and call["expects"] == 1
    canvas.handle({"type": "press", "key": "2"})
    assert canvas.view["call"]["expects"] == "*"
    assert canvas.view["path"]["current"] == "order"
    canvas.handle({"type": "enter", "digits": "123*"})
    canvas.handle({"type": "press", "key": "1"})
    call = canvas.view["call"]
    assert call["status"] == "The call has ended." and call["waiting_at"] is None
    assert ["ivr", "Your order 123 is on its way."] in call["transcript"]
    assert canvas.view["path"]["nodes"][-1] == "thanks"


def test_the_phone_dials_a_flow_with_parameters_in_the_environment_chosen() -> None:
    flow = acme()
    flow.connect("main", "1", "sales")
    flow.update("sales", phone="{{sales_phone}}")
    flow.environments = {
        "prod": {"sales_phone": "+918000000009"},
        "test": {"sales_phone": "+15550100"},
    }
    canvas = Canvas(flow)
    assert canvas.view["environments"] == ["prod", "test"]
    refused = canvas.handle({"type": "dial"})
    assert refused.startswith("cannot dial") and "environment" in refused
    canvas.handle({"type": "dial", "env": "prod"})
    canvas.handle({"type": "press", "key": "1"})
    assert canvas.call is not None and canvas.call.ended
    assert "+918000000009" in str(canvas.call.response)


def test_the_flow_is_named_and_described_from_the_canvas_and_undone_in_one_step() -> None:
    canvas = Canvas(acme())
    before = canvas.flow.description
    said = canvas.handle({"type": "describe", "name": "acme-2", "description": "Orders line"})
    assert said == "flow named acme-2"
    assert canvas.view["flow"]["name"] == "acme-2"
    assert canvas.view["flow"]["description"] == "Orders line"
    assert canvas.handle({"type": "describe", "name": "  "}) == "give the flow a name"
    canvas.handle({"type": "undo"})
    assert (canvas.flow.name, canvas.flow.description) == ("acme", before)


def orders() -> Flow:
    flow = Flow("orders")
    flow.collect("order", "Enter your order number.", "order", then="ask")
    flow.lookup(
        "ask",
        "https://orders.example.com/orders/{order}?key=abc",
        save={"status": "order.status"},
        headers={"Authorization": "Bearer ${ORDERS_TOKEN}"},
        ok="status",
        failed="sorry",
    )
    flow.say("status", "Your order is {status}.", then="sorry")
    flow.hangup("sorry", "Goodbye.")
    flow.allowed_hosts = ["orders.example.com"]
    return flow


def test_a_lookup_card_offers_ok_failed_and_timeout_and_says_what_it_asks() -> None:
    canvas = Canvas(orders())
    card = next(n for n in canvas.view["nodes"] if n["id"] == "ask")
    assert [(e["key"], e["target"], e["fallback"]) for e in card["exits"]] == [
        ("ok", "status", False),
        ("failed", "sorry", False),
        ("timeout", None, False),
    ]
    # What it asks and what it saves keep a line each, however long the URL.
    assert card["lines"] == ["GET orders.example.com/orders/{or…", "status = order.status"]
    assert "ORDERS_TOKEN" not in str(card["lines"]) and "abc" not in str(card["lines"])
    # No method stored means GET: the inspector's select shows it rather than a blank.
    assert card["fields"]["method"] == "GET" and card["fields"]["timeout"] == ""
    assert "lookup" in canvas.forms["kinds"]
    inputs = {f["name"]: f["input"] for f in canvas.forms["fields"]["lookup"]}
    assert inputs["method"] == "choice" and inputs["timeout"] == "seconds"


def test_a_lookup_added_from_an_exit_then_typed_into_field_by_field() -> None:
    flow = orders()
    canvas = Canvas(flow)
    said = canvas.handle({"type": "add", "kind": "lookup", "from": ["ask", "timeout"]})
    assert said == "added lookup lookup_1"
    assert flow.edges("ask")["timeout"] == "lookup_1"
    card = next(n for n in canvas.view["nodes"] if n["id"] == "lookup_1")
    assert [e["key"] for e in card["exits"]] == ["ok", "failed", "timeout"]
    assert card["fields"]["method"] == "GET"

    def apply(field: str, value: str) -> str:
        return canvas.handle({"type": "apply", "node": "lookup_1", "field": field, "value": value})

    assert apply("url", "https://orders.example.com/slow/{order}") == "lookup_1: url"
    assert apply("method", "POST") == "lookup_1: method"
    assert apply("timeout", "2.50") == "lookup_1: wait at most (seconds)"
    assert flow.node("lookup_1")["timeout"] == 2.5
    assert apply("timeout", "11") == "Wait at most (seconds): 11 is not above 0 and at most 10"
    assert apply("timeout", "soon").startswith('Wait at most (seconds): "soon" is not')
    card = next(n for n in canvas.view["nodes"] if n["id"] == "lookup_1")
    assert card["fields"]["method"] == "POST" and card["fields"]["timeout"] == "2.5"
    assert card["lines"] == ["POST orders.example.com/slow/{ord…"]
    apply("timeout", "")
    assert "timeout" not in flow.node("lookup_1")
    canvas.handle({"type": "undo"})
    assert flow.node("lookup_1")["timeout"] == 2.5


def test_the_canvas_gives_every_kind_a_colour_of_its_own() -> None:
    source = (Path(__file__).parent.parent / "js" / "src" / "view.js").read_text(encoding="utf-8")
    block = source.split("export const KIND_COLOURS = {", 1)[1].split("};", 1)[0]
    colours = dict(re.findall(r'^\s*(\w+): "(#[0-9a-f]{6})",$', block, re.MULTILINE))
    assert set(colours) == set(KINDS)
    assert len(set(colours.values())) == len(KINDS)


def test_the_forms_name_fields_in_the_callers_words() -> None:
    canvas = Canvas(acme())
    labels = {f["name"]: f["label"] for f in canvas.forms["fields"]["collect"]}
    assert labels["var"] == "Save digits as" and labels["max_invalid"] == "Tries before giving up"
    assert canvas.forms["node_id"]


@pytest.mark.parametrize("direction", ["TB", "LR"])
def test_a_menus_end_cards_stack_so_a_200_node_flow_fits_a_laptop_canvas(direction: str) -> None:
    flow = big_flow(200)
    places = layout(flow, direction)
    cards = list(places.values())
    assert not any(_overlap(a, b) for i, a in enumerate(cards) for b in cards[i + 1 :])
    # menu_3's eight end cards (transfers, says, collects...) line up under it (beside it, LR).
    ends = [target for key, target in flow.edges("menu_3").items() if key in "12345678"]
    across, down = (0, 1) if direction == "TB" else (1, 0)
    assert len({places[end][across] for end in ends}) == 1, "one line"
    steps = [places[end][down] for end in ends]
    assert steps == sorted(steps) and steps[0] > places["menu_3"][down]
    # The whole flow fits the canvas of a 1366x768 laptop (about 900 x 540 px) at a zoom where
    # its shape reads: side by side it would need 0.03 (a 20,000 px strip).
    width = max(x for x, _ in cards) + CARD[0] - min(x for x, _ in cards)
    height = max(y for _, y in cards) + CARD[1] - min(y for _, y in cards)
    assert min(900 / width, 540 / height) > 0.1


def test_a_menu_with_few_end_cards_keeps_them_side_by_side() -> None:
    places = layout(acme())
    assert places["sales"][1] == places["order"][1], "main's two ends share a rank"


def test_edges_back_to_the_start_are_folded_into_markers_once_there_are_three() -> None:
    flow = big_flow(12)
    view = canvas_view(flow, positions={})
    folded = {
        (node["id"], exit["key"])
        for node in view["nodes"]
        for exit in node["exits"]
        if exit["folded"]
    }
    back = {
        (node, key)
        for node in flow.nodes
        for key, target in flow.edges(node).items()
        if target == "main" and node != "main"
    }
    assert folded == back and len(back) >= 3
    assert ("main", "9") not in folded, "main's own 'hear this again' is not a way back"
    two = Flow("two")
    two.menu("main", ["Press 1 or 2."], keys={"1": "a", "2": "b"})
    two.say("a", "A.", then="main")
    two.say("b", "B.", then="main")
    assert not any(e["folded"] for n in canvas_view(two, positions={})["nodes"] for e in n["exits"])


def test_real_calls_can_be_drawn_over_the_canvas() -> None:
    """show_traffic: each card's calls and hang-ups and each edge's calls reach the view."""
    import json as _json

    from jaxl_designer.core.report import read
    from jaxl_designer.core.runtime import Runtime, request
    from jaxl_designer.webhook.app import WebhookApp

    lines: list[str] = []
    app = WebhookApp(Runtime(acme().to_document()), log=lines.append)
    for call_id in range(1, 11):
        app.handle("POST", "/webhook/", "", {}, _json.dumps(request(1, call_id)).encode())
        option = "1" if call_id <= 6 else "2"
        app.handle(
            "POST", "/webhook/", "", {}, _json.dumps(request(2, call_id, option=option)).encode()
        )
    canvas = Canvas(acme())
    assert canvas.view["traffic"] is None
    canvas.show_traffic(read([lines]))
    traffic = canvas.view["traffic"]
    assert traffic["calls"] == 10 and traffic["most"] == 6
    assert traffic["nodes"]["main"] == {"calls": 10, "hung_up": 0, "gave_up": 0}
    assert sorted(traffic["edges"]) == [["main", "1", "sales", 6], ["main", "2", "order", 4]]
    canvas.show_traffic(None)
    assert canvas.view["traffic"] is None
