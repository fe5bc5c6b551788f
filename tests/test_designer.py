"""The designer driven from Python as its front end drives it: build, dial, undo, files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import missing

from jaxl_designer.core.examples import SORRY, acme
from jaxl_designer.core.fileformat import load, save
from jaxl_designer.core.flow import Flow
from jaxl_designer.core.simulator import Simulator
from jaxl_designer.notebook import speech
from jaxl_designer.notebook.canvas import Designer

pytestmark = pytest.mark.exe  # the canvas lays cards out with dot


def add(designer: Designer, kind: str, node: str) -> str:
    return designer.handle({"type": "add", "kind": kind, "node": node})


def fill(designer: Designer, node: str, **fields: str) -> None:
    """Type into a node's fields one by one, as the inspector sends each field."""
    for name, value in fields.items():
        said = designer.handle({"type": "apply", "node": node, "field": name, "value": value})
        assert not designer.message["error"], said


def connect(designer: Designer, node: str, **targets: str) -> None:
    """Drag exits of `node` (`k1` is key 1) onto the cards named."""
    for key, target in targets.items():
        key = key[1:] if key.startswith("k") and key[1:].isdigit() else key
        designer.handle({"type": "connect", "source": node, "key": key, "target": target})


def without_places(flow: Flow) -> dict[str, Any]:
    """The flow's document but for where its cards sit on the canvas."""
    document = flow.to_document()
    document.pop("layout", None)
    return document


def card(designer: Designer, node: str) -> dict[str, Any]:
    return next(card for card in designer.view["nodes"] if card["id"] == node)


# -- the widget -----------------------------------------------------------------------------
def test_designer_is_the_canvas_and_shows_a_drawing_where_no_widget_runs() -> None:
    from jaxl_designer import Canvas
    from jaxl_designer import Designer as Public

    assert Public is Designer and Canvas is Designer
    designer = Designer(acme())
    assert designer.height == 540  # fits JupyterLab's notebook area on a 1366×768 screen
    assert repr(designer) == "<Designer of <Flow 'acme': 7 nodes, entry 'main'>, selected None>"
    bundle = designer._repr_mimebundle_()
    assert bundle is not None
    data, _ = bundle
    assert "application/vnd.jupyter.widget-view+json" in data
    assert "<svg" in data["image/svg+xml"] and "confirm_invalid" in data["image/svg+xml"]
    empty = Designer(Flow())._repr_mimebundle_()
    assert empty is not None and "image/svg+xml" not in empty[0]  # no blank picture


# -- building --------------------------------------------------------------------------------
def test_builds_acme_from_an_empty_flow_by_the_canvas_requests() -> None:
    flow = Flow("acme", description=acme().description)
    designer = Designer(flow)
    for kind, node in [
        ("menu", "main"),
        ("transfer", "sales"),
        ("collect", "order"),
        ("say", "main_invalid"),
        ("menu", "confirm"),
        ("hangup", "thanks"),
        ("say", "confirm_invalid"),
    ]:
        assert add(designer, kind, node) == f"added {kind} {node}"
        assert designer.selected == node
    fill(designer, "main", prompt="\n".join(acme().node("main")["prompt"]))
    fill(designer, "sales", phone="+918000000001")
    fill(
        designer,
        "order",
        prompt="Please enter your order number followed by star",
        var="order",
        terminator="*",
    )
    fill(designer, "main_invalid", prompt=SORRY)
    fill(
        designer,
        "confirm",
        prompt="You entered {order}.\nPress 1 to confirm.\nPress 2 to re-enter.",
    )
    fill(designer, "thanks", prompt="Thank you.\nYour order {order} is on its way.")
    fill(designer, "confirm_invalid", prompt=SORRY)
    connect(designer, "main", k1="sales", k2="order", k9="main", invalid="main_invalid")
    connect(designer, "order", ok="confirm")
    connect(designer, "main_invalid", next="main")
    connect(designer, "confirm", k1="thanks", k2="order", invalid="confirm_invalid")
    connect(designer, "confirm_invalid", next="confirm")
    assert designer.flow is flow
    assert without_places(flow) == acme().to_document()
    assert designer.problems == []
    assert designer.view["counts"] == {"error": 0, "warning": 0}
    assert sorted(flow.layout) == sorted(flow.nodes)  # every card has a place, kept in the flow


@pytest.mark.parametrize(
    "request_",
    [
        {"type": "add", "kind": "say", "node": "hello"},
        {"type": "apply", "node": "main", "field": "prompt", "value": "Hi.\nPress 1 for sales."},
        {"type": "disconnect", "source": "main", "key": "9"},
        {"type": "connect", "source": "confirm", "key": "9", "target": "main"},
        {"type": "delete", "nodes": ["sales"]},
        {"type": "rename", "node": "thanks", "new": "bye"},
        {"type": "entry", "node": "confirm"},
    ],
    ids=["add", "apply", "disconnect", "connect", "delete", "rename", "entry"],
)
def test_every_edit_can_be_undone_and_redone_by_name(request_: dict[str, Any]) -> None:
    flow = acme()
    designer = Designer(flow)
    before = flow.to_document()
    did = designer.handle(request_)
    after = flow.to_document()
    assert after != before
    assert designer.view["undo"] == did  # what the Undo button says it will take back
    assert designer.undo() == f"undid: {did}"
    assert designer.flow is flow and flow.to_document() == before
    assert designer.view["redo"] == did
    assert designer.redo() == f"redid: {did}"
    assert flow.to_document() == after


def test_undo_after_a_half_built_collect_restores_it() -> None:
    designer = Designer(Flow())
    add(designer, "collect", "pin")
    add(designer, "hangup", "bye")
    designer.undo()
    assert designer.flow.nodes == ["pin"]
    assert [card["id"] for card in designer.view["nodes"]] == ["pin"]
    designer.undo()
    assert designer.undo() == designer.said == "nothing to undo"
    assert designer.message["error"] is True


def test_bad_rules_json_is_one_clear_line_and_changes_nothing() -> None:
    designer = Designer(Flow())
    add(designer, "branch", "route")
    before = designer.flow.to_document()
    said = designer.handle(
        {"type": "apply", "node": "route", "field": "rules", "value": '[{"outcome": "x",'}
    )
    assert said.startswith("Rules: not JSON (") and "\n" not in said
    assert designer.message["error"] is True
    assert designer.flow.to_document() == before


def test_branch_rules_make_their_outcomes_connectable() -> None:
    designer = Designer(Flow())
    add(designer, "branch", "route")
    add(designer, "hangup", "bye")
    rules = [{"outcome": "vip", "test": "prefix", "subject": "from_number", "value": "+91"}]
    fill(designer, "route", rules=json.dumps(rules))
    assert "vip" in [exit["key"] for exit in card(designer, "route")["exits"]]
    connect(designer, "route", vip="bye", default="bye")
    assert designer.flow.edges("route") == {"vip": "bye", "default": "bye"}
    assert designer.flow.node("route")["rules"] == rules


def test_transfer_to_teams_reads_numbers() -> None:
    designer = Designer(Flow())
    add(designer, "transfer", "desk")
    fill(designer, "desk", teams="101, 102")
    assert designer.flow.node("desk") == {"kind": "transfer", "teams": [101, 102]}
    said = designer.handle({"type": "apply", "node": "desk", "field": "ivr", "value": "seven"})
    assert said == 'Another IVR: "seven" is not a whole number'
    assert designer.flow.node("desk") == {"kind": "transfer", "teams": [101, 102]}


def test_adding_an_existing_id_does_not_replace_it() -> None:
    designer = Designer(acme())
    assert "a node 'main' already exists" in add(designer, "hangup", "main")
    assert designer.message["error"] is True
    assert designer.flow.kind("main") == "menu"


def test_refresh_shows_edits_made_in_code() -> None:
    flow = acme()
    designer = Designer(flow)
    flow.say("extra", "Hello.", then="main")
    designer.refresh()
    assert card(designer, "extra")["fields"]["prompt"] == "Hello."
    assert "extra" in flow.layout  # placed, and the place kept with the flow


def test_code_and_the_canvas_edit_the_same_flow(tmp_path: Path) -> None:
    flow = acme()
    designer = Designer(flow)
    add(designer, "hangup", "bye")
    assert "bye" in flow
    save(flow, tmp_path / "f.json")
    assert "bye" in load(tmp_path / "f.json")


def test_selecting_follows_the_card_and_a_gone_node_selects_nothing() -> None:
    designer = Designer(acme())
    designer.select("confirm")
    assert designer.selected == "confirm"  # what the front end draws as selected
    designer.selected = "nowhere"  # a click on a card deleted meanwhile
    assert designer.selected == "" and designer.session.selected == ""


# -- the phone --------------------------------------------------------------------------------
def test_dials_acme_on_the_phone_and_the_path_follows_the_call() -> None:
    designer = Designer(acme())
    assert designer.dial() == "dialled acme: waiting at main"
    designer.press("2")
    assert designer.enter("123*") == "enter 123*: waiting at confirm"
    path = designer.view["path"]
    assert path["current"] == "confirm" and "thanks" not in path["nodes"]
    assert designer.press("1") == "press 1: the call has ended"
    expected = Simulator(acme()).dial()
    expected.press("2"), expected.enter("123*"), expected.press("1")
    call = designer.view["call"]
    assert call["transcript"] == [list(line) for line in expected.transcript]
    assert ["caller", "123*"] in call["transcript"]
    assert call["status"] == "The call has ended."
    assert designer.call is not None and designer.call.script() == expected.script()
    path = designer.view["path"]
    assert path["nodes"] == ["main", "order", "confirm", "thanks"]
    assert ["confirm", "1", "thanks"] in path["edges"] and path["current"] is None


def test_dialling_again_starts_a_fresh_call_and_hang_up_ends_it() -> None:
    designer = Designer(acme())
    designer.dial()
    designer.press("2")
    designer.dial()
    call = designer.view["call"]
    assert call["status"] == "Waiting at main." and call["waiting_at"] == "main"
    assert not [line for line in call["transcript"] if line[0] == "caller"]
    assert designer.hang_up() == "hang up: the call has ended"
    assert ["caller", "(hangs up)"] in designer.view["call"]["transcript"]


def test_keys_without_a_call_say_dial_first() -> None:
    designer = Designer(acme())
    assert designer.press("1") == "dial first: there is no call in progress"
    assert designer.message["error"] is True


def test_dialling_a_flow_with_no_entry_says_why() -> None:
    designer = Designer(Flow())
    assert designer.dial().startswith("cannot dial:")
    assert designer.call is None and designer.view["call"]["status"] == "No call."


def test_the_phone_dials_in_the_environment_named() -> None:
    flow = acme()
    flow.update("sales", phone="{{sales_phone}}")
    flow.environments = {
        "dev": {"sales_phone": "+911000000001"},
        "prod": {"sales_phone": "+918000000001"},
    }
    designer = Designer(flow)
    designer.dial("prod")
    designer.press("1")
    heard = [text for who, text in designer.view["call"]["transcript"] if who == "ivr"]
    assert any("+918000000001" in text for text in heard), heard


def test_hear_plays_what_the_caller_heard_last() -> None:
    if speech.available() is None:
        missing("espeak-ng is not installed (scripts/setup installs it)")
    designer = Designer(acme())
    designer.dial()
    first = bytes(designer.hear().value)
    assert first.startswith(b"RIFF")
    designer.press("2")
    second = bytes(designer.hear().value)
    assert second.startswith(b"RIFF") and second != first


def test_hear_without_an_engine_says_so_and_the_call_goes_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(speech, "available", lambda: None)
    designer = Designer(acme())
    designer.dial()
    with pytest.raises(speech.SpeechUnavailable, match="espeak-ng"):
        designer.hear()
    designer.press("2")
    assert ["ivr", "Please enter your order number followed by star"] in designer.view["call"][
        "transcript"
    ]


# -- files ------------------------------------------------------------------------------------
def test_loading_a_broken_file_leaves_the_flow_untouched(tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text('{"format": "jaxl-designer/flow", "version": 1, "nodes": {"a": {"kind": 7}}}')
    designer = Designer(acme())
    before = designer.flow.to_document()
    said = designer.load(broken)
    assert said.startswith(f"{broken}: nodes.a.kind: unknown kind 7") and "\n" not in said
    assert designer.message["error"] is True
    assert designer.flow.to_document() == before
    assert designer.undo() == "nothing to undo"


def test_save_then_load_into_the_same_flow_object(tmp_path: Path) -> None:
    path = tmp_path / "acme.json"
    assert Designer(acme()).save(path) == f"saved to {path}"
    designer = Designer(Flow())
    flow = designer.flow
    assert designer.load(path) == f"loaded {path}"
    assert designer.flow is flow and without_places(flow) == acme().to_document()
    assert [card["id"] for card in designer.view["nodes"]] == acme().nodes


def test_export_writes_the_webhook_and_says_where(tmp_path: Path) -> None:
    designer = Designer(acme())
    said = designer.export(tmp_path / "out")
    written = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert written == ["flow.json", "gunicorn.conf.py", "webhook.py"]
    assert said.startswith(f"exported to {tmp_path / 'out'}")
    assert without_places(load(tmp_path / "out" / "flow.json")) == acme().to_document()


def test_export_lists_errors_and_writes_nothing(tmp_path: Path) -> None:
    flow = acme()
    flow.disconnect("main_invalid", "next")
    designer = Designer(flow)
    assert "missing-exit main_invalid" in designer.export(tmp_path / "out")
    assert designer.message["error"] is True
    assert not (tmp_path / "out").exists()


def _flows_with_a_piece(folder: Path) -> Path:
    """`main.json` whose first node includes `greet.json`, the piece file beside it."""
    folder.mkdir()
    piece = Flow("greet")
    piece.say("hello", "Welcome to the greeting piece.", then="@done")
    save(piece, folder / "greet.json")
    flow = Flow("main")
    flow.add("greet", "subflow", piece="greet.json", params={})
    flow.connect("greet", "done", "bye")
    flow.hangup("bye", "Goodbye.")
    return save(flow, folder / "main.json")


def _dials_through_the_piece(designer: Designer) -> None:
    assert [p for p in designer.problems if p.code == "unknown-piece"] == []
    designer.dial()
    heard = [text for _, text in designer.view["call"]["transcript"]]
    assert "Welcome to the greeting piece." in heard and "Goodbye." in heard
    assert designer.view["call"]["status"] == "The call has ended."


def test_a_flow_loaded_from_elsewhere_finds_the_piece_beside_its_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _flows_with_a_piece(tmp_path / "flows")
    monkeypatch.chdir(tmp_path)
    _dials_through_the_piece(Designer(load(path)))

    designer = Designer(Flow())
    assert designer.load("flows/main.json") == "loaded flows/main.json"
    monkeypatch.chdir(tmp_path / "flows")  # the folder was kept whole, not relative to here
    _dials_through_the_piece(designer)
    assert designer.export(tmp_path / "out").startswith(f"exported to {tmp_path / 'out'}")
    assert "Welcome to the greeting piece." in (tmp_path / "out" / "webhook.py").read_text()


def test_undoing_a_load_brings_back_the_pieces_of_the_flow_before(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    here = _flows_with_a_piece(tmp_path / "here")
    _flows_with_a_piece(tmp_path / "there")
    (tmp_path / "there" / "greet.json").unlink()
    designer = Designer(load(here))
    designer.load(tmp_path / "there" / "main.json")
    assert "unknown-piece" in {p.code for p in designer.problems}
    designer.undo()
    monkeypatch.chdir(tmp_path)
    _dials_through_the_piece(designer)
