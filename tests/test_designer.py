"""The designer driven from Python, as a person clicking it would: build, dial, undo, files."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import missing

from jaxl_designer.core.examples import SORRY, acme
from jaxl_designer.core.fileformat import load, save
from jaxl_designer.core.flow import Flow
from jaxl_designer.core.simulator import Simulator
from jaxl_designer.notebook.designer import NONE, Designer

SVG = "{http://www.w3.org/2000/svg}"


def add(designer: Designer, kind: str, node: str) -> None:
    designer.kind.value = kind
    designer.node_id.value = node
    designer.add.click()


def fill(designer: Designer, node: str, **fields: str) -> None:
    designer.node_select.value = node
    for name, value in fields.items():
        designer.inspector.fields[name].value = value
    designer.inspector.apply.click()


def connect(designer: Designer, node: str, **targets: str) -> None:
    designer.node_select.value = node
    for key, target in targets.items():
        designer.inspector.connectors[_key(key)].value = target


def _key(name: str) -> str:
    return name[1:] if name.startswith("k") and name[1:].isdigit() else name


def build_acme(designer: Designer) -> None:
    """Acme, through the designer's controls only."""
    designer.flow_name.value = "acme"
    designer.flow_description.value = acme().description
    designer.set_flow.click()
    for kind, node in [
        ("menu", "main"),
        ("transfer", "sales"),
        ("collect", "order"),
        ("say", "main_invalid"),
        ("menu", "confirm"),
        ("hangup", "thanks"),
        ("say", "confirm_invalid"),
    ]:
        add(designer, kind, node)
    main_prompt = "\n".join(acme().node("main")["prompt"])
    fill(designer, "main", prompt=main_prompt)
    fill(designer, "sales", target_kind="phone", target="+918000000001")
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


@pytest.fixture
def empty() -> Designer:
    return Designer(Flow())


def test_builds_acme_from_an_empty_flow_through_its_controls(empty: Designer) -> None:
    flow = empty.flow
    build_acme(empty)
    assert empty.flow is flow
    assert flow.to_document() == acme().to_document()
    assert empty.problems == []
    assert empty.problem_list.options == ()


def test_dials_acme_on_the_phone_and_highlights_the_path() -> None:
    designer = Designer(acme())
    designer.phone.dial.click()
    designer.phone.keypad["2"].click()
    designer.phone.digits.value = "123*"
    designer.phone.enter.click()
    designer.phone.keypad["1"].click()
    expected = Simulator(acme()).dial()
    expected.press("2"), expected.enter("123*"), expected.press("1")
    assert designer.phone.transcript.value == expected.script()
    assert "You: 123*\nIVR: You entered 123." in designer.phone.transcript.value
    assert designer.phone.status.value == "The call has ended."
    assert designer.call is not None
    assert designer.call.path == ["main", "order", "confirm", "thanks"]
    drawn = _classes(designer)
    assert "jd-active" in drawn["thanks"]
    assert all("jd-visited" in drawn[node] for node in ["main", "order", "confirm"])
    assert "jd-active" in drawn["confirm --1--> thanks"]
    assert "jd-visited" not in drawn["sales"]


def _classes(designer: Designer) -> dict[str, list[str]]:
    """The CSS classes of each drawn node and edge, by node id or `source --key--> target`."""
    found = {}
    for group in ET.fromstring(designer.graph.svg).iter(f"{SVG}g"):
        target = designer.graph.targets.get(group.get("id", ""))
        classes = group.get("class", "").split()
        if target is None or "jd-start" in classes:
            continue
        if target["kind"] == "node":
            name = target["node"]
        else:
            name = f"{target['source']} --{target['key']}--> {target['target']}"
        found[name] = classes
    return found


def test_the_path_drawn_reaches_thanks_only_after_pressing_1() -> None:
    designer = Designer(acme())
    designer.phone.dial.click()
    designer.phone.keypad["2"].click()
    designer.phone.digits.value = "123*"
    designer.phone.enter.click()
    assert "jd-active" in _classes(designer)["confirm"]
    assert "jd-visited" not in _classes(designer)["thanks"]
    designer.phone.keypad["1"].click()
    assert "jd-active" in _classes(designer)["thanks"]


def test_start_again_hangs_up_and_dials_a_fresh_call() -> None:
    designer = Designer(acme())
    designer.phone.dial.click()
    designer.phone.keypad["2"].click()
    designer.phone.restart.click()
    assert designer.phone.status.value == "Waiting at main."
    assert "You:" not in designer.phone.transcript.value
    designer.phone.hangup.click()
    assert designer.phone.status.value == "The call has ended."
    assert "You: (hangs up)" in designer.phone.transcript.value


def test_keys_without_a_call_say_dial_first() -> None:
    designer = Designer(acme())
    designer.phone.keypad["1"].click()
    assert designer.said == "dial first: there is no call in progress"


def test_dialing_a_flow_with_no_entry_says_why(empty: Designer) -> None:
    empty.phone.dial.click()
    assert empty.said.startswith("cannot dial:")
    assert empty.call is None


@pytest.mark.parametrize(
    "edit",
    [
        lambda d: add(d, "say", "hello"),
        lambda d: fill(d, "main", prompt="Hi.\nPress 1 for sales."),
        lambda d: connect(d, "main", k9=NONE),
        lambda d: connect(d, "confirm", k9="main"),
        lambda d: (d.node_select.set_trait("value", "sales"), d.delete.click()),
        lambda d: (
            d.node_select.set_trait("value", "thanks"),
            d.rename_to.set_trait("value", "bye"),
            d.rename.click(),
        ),
        lambda d: (d.node_select.set_trait("value", "confirm"), d.inspector.entry.click()),
        lambda d: (d.flow_name.set_trait("value", "acme2"), d.set_flow.click()),
    ],
    ids=["add", "apply", "disconnect", "connect", "delete", "rename", "entry", "name"],
)
def test_every_edit_can_be_undone_and_redone(edit: Callable[[Designer], object]) -> None:
    flow = acme()
    designer = Designer(flow)
    before = flow.to_document()
    edit(designer)
    after = flow.to_document()
    assert after != before
    designer.undo_button.click()
    assert designer.flow is flow and flow.to_document() == before
    undone = designer.said
    assert undone.startswith("undid: ")
    designer.redo_button.click()
    assert flow.to_document() == after
    assert designer.said == "redid: " + undone.removeprefix("undid: ")


def test_undo_after_a_half_built_collect_restores_it(empty: Designer) -> None:
    add(empty, "collect", "pin")
    add(empty, "hangup", "bye")
    empty.undo_button.click()
    assert empty.flow.nodes == ["pin"]
    empty.undo_button.click()
    empty.undo_button.click()
    assert empty.said == "nothing to undo"


def test_loading_a_broken_file_leaves_the_flow_untouched(tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text('{"format": "jaxl-designer/flow", "version": 1, "nodes": {"a": {"kind": 7}}}')
    designer = Designer(acme())
    before = designer.flow.to_document()
    designer.file.value = str(broken)
    designer.load_button.click()
    assert designer.said.startswith(f"{broken}: nodes.a.kind: unknown kind 7")
    assert "\n" not in designer.said
    assert designer.flow.to_document() == before
    designer.undo_button.click()
    assert designer.said == "nothing to undo"


def test_save_then_load_into_the_same_flow_object(tmp_path: Path, empty: Designer) -> None:
    saver = Designer(acme())
    saver.file.value = str(tmp_path / "acme.json")
    saver.save_button.click()
    assert saver.said == f"saved to {tmp_path / 'acme.json'}"
    flow = empty.flow
    empty.file.value = str(tmp_path / "acme.json")
    empty.load_button.click()
    assert empty.flow is flow and flow == acme()
    assert "main" in empty.node_select.options


def test_export_writes_the_webhook_and_says_where(tmp_path: Path) -> None:
    designer = Designer(acme())
    designer.export_dir.value = str(tmp_path / "out")
    designer.export_button.click()
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["flow.json", "webhook.py"]
    assert str(tmp_path / "out") in designer.said
    assert load(tmp_path / "out" / "flow.json") == acme()


def test_export_lists_errors_and_writes_nothing(tmp_path: Path) -> None:
    flow = acme()
    flow.disconnect("main_invalid", "next")
    designer = Designer(flow)
    designer.export_dir.value = str(tmp_path / "out")
    designer.export_button.click()
    assert "missing-exit main_invalid" in designer.said
    assert not (tmp_path / "out").exists()


def test_choosing_a_problem_selects_its_node() -> None:
    flow = acme()
    flow.disconnect("main_invalid", "next")
    designer = Designer(flow)
    labels = [label for label, _ in designer.problem_list.options]
    index = next(i for i, label in enumerate(labels) if "missing-exit" in label)
    designer.problem_list.value = index
    assert designer.selected == "main_invalid"
    assert designer.node_select.value == "main_invalid"
    assert "missing-exit" in designer.said


def test_bad_rules_json_is_one_clear_line(empty: Designer) -> None:
    add(empty, "branch", "route")
    before = empty.flow.to_document()
    fill(empty, "route", rules='[{"outcome": "x",')
    assert empty.said.startswith("route: rules: not valid JSON at line 1 column")
    assert empty.flow.to_document() == before


def test_branch_rules_make_their_outcomes_connectable(empty: Designer) -> None:
    add(empty, "branch", "route")
    add(empty, "hangup", "bye")
    rules = [{"outcome": "vip", "test": "prefix", "subject": "from_number", "value": "+91"}]
    fill(empty, "route", rules=json.dumps(rules))
    connect(empty, "route", vip="bye", default="bye")
    assert empty.flow.edges("route") == {"vip": "bye", "default": "bye"}
    assert empty.flow.node("route")["rules"] == rules


def test_transfer_to_teams_reads_numbers(empty: Designer) -> None:
    add(empty, "transfer", "desk")
    fill(empty, "desk", target_kind="teams", target="101, 102")
    assert empty.flow.node("desk") == {"kind": "transfer", "teams": [101, 102]}
    fill(empty, "desk", target_kind="ivr", target="seven")
    assert empty.said == "desk: ivr: 'seven' is not a whole number"


def test_adding_an_existing_id_does_not_replace_it() -> None:
    designer = Designer(acme())
    add(designer, "hangup", "main")
    assert designer.said == "a node 'main' already exists"
    assert designer.flow.kind("main") == "menu"


def test_refresh_shows_edits_made_in_code() -> None:
    flow = acme()
    designer = Designer(flow)
    flow.say("extra", "Hello.", then="main")
    designer.refresh()
    assert "extra" in designer.node_select.options
    assert "extra" in designer.graph.svg


def test_code_and_clicks_edit_the_same_flow(tmp_path: Path) -> None:
    flow = acme()
    designer = Designer(flow)
    add(designer, "hangup", "bye")
    assert "bye" in flow
    save(flow, tmp_path / "f.json")
    assert "bye" in load(tmp_path / "f.json")


def test_hear_it_puts_the_prompt_on_the_audio_player() -> None:
    from jaxl_designer.notebook import speech

    if speech.available() is None:
        missing("espeak-ng is not installed (scripts/setup installs it)")
    designer = Designer(acme())
    designer.phone.hear.value = True
    designer.phone.dial.click()
    first = bytes(designer.phone.audio.value)
    assert first.startswith(b"RIFF")
    designer.phone.keypad["2"].click()
    second = bytes(designer.phone.audio.value)
    assert second.startswith(b"RIFF")
    assert second != first


def test_hear_it_without_an_engine_says_so_once_and_goes_on_in_text(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from jaxl_designer.notebook import speech

    monkeypatch.setattr(speech, "available", lambda: None)
    designer = Designer(acme())
    designer.phone.hear.value = True
    designer.phone.dial.click()
    assert "espeak-ng" in designer.said
    assert designer.phone.hear.value is False  # said once: the next step stays quiet
    designer.phone.keypad["2"].click()
    assert "Please enter your order number" in designer.phone.transcript.value


def test_the_phone_dials_in_the_chosen_environment() -> None:
    flow = acme()
    flow.update("sales", phone="{{sales_phone}}")
    flow.environments = {
        "dev": {"sales_phone": "+911000000001"},
        "prod": {"sales_phone": "+918000000001"},
    }
    designer = Designer(flow)
    assert designer.phone.env.value == "dev"
    designer.phone.env.value = "prod"
    designer.phone.dial.click()
    designer.phone.keypad["1"].click()
    assert "+918000000001" in designer.phone.transcript.value


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
    designer.phone.dial.click()
    assert "Welcome to the greeting piece." in designer.phone.transcript.value
    assert "Goodbye." in designer.phone.transcript.value
    assert designer.phone.status.value == "The call has ended."


def test_a_flow_loaded_from_elsewhere_finds_the_piece_beside_its_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _flows_with_a_piece(tmp_path / "flows")
    monkeypatch.chdir(tmp_path)
    _dials_through_the_piece(Designer(load(path)))

    designer = Designer(Flow())
    designer.file.value = "flows/main.json"
    designer.load_button.click()
    assert designer.said == "loaded flows/main.json"
    monkeypatch.chdir(tmp_path / "flows")  # the folder was kept whole, not relative to here
    _dials_through_the_piece(designer)
    designer.export_dir.value = str(tmp_path / "out")
    designer.export_button.click()
    assert designer.said.startswith(f"exported to {tmp_path / 'out'}")
    assert "Welcome to the greeting piece." in (tmp_path / "out" / "webhook.py").read_text()


def test_undoing_a_load_brings_back_the_pieces_of_the_flow_before(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    here = _flows_with_a_piece(tmp_path / "here")
    _flows_with_a_piece(tmp_path / "there")
    (tmp_path / "there" / "greet.json").unlink()
    designer = Designer(load(here))
    designer.file.value = str(tmp_path / "there" / "main.json")
    designer.load_button.click()
    assert "unknown-piece" in {p.code for p in designer.problems}
    designer.undo_button.click()
    monkeypatch.chdir(tmp_path)
    _dials_through_the_piece(designer)
