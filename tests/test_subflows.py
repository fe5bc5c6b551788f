"""Sub-flows and the piece library: included as one node, expanded to run, checked inside."""

from __future__ import annotations

import pytest

from jaxl_designer import Flow, Simulator, loads, validate
from jaxl_designer.core.fileformat import dumps, save
from jaxl_designer.core.pieces import LIBRARY, PieceError, build, exits
from jaxl_designer.core.subflows import expand


def bank() -> Flow:
    flow = Flow("bank")
    flow.subflow(
        "account",
        "collect_and_confirm",
        {"var": "acct", "prompt": ["Enter your account number, then hash."], "retries": 2},
        exits={"confirmed": "found", "gave_up": "operator"},
    )
    flow.hangup("found", "Account {acct:digits} found. Goodbye.")
    flow.transfer("operator", phone="+918000000000")
    return flow


def test_a_subflow_node_round_trips_as_one_node() -> None:
    flow = bank()
    again = loads(dumps(flow))
    assert again == flow
    assert again.node("account")["piece"] == "collect_and_confirm"
    assert validate(again) == []


def test_collect_and_confirm_reads_back_confirms_and_re_enters() -> None:
    call = Simulator(bank()).dial()
    assert call.response["num_characters"] == "#"
    call.enter("42#")
    call.assert_heard("You entered 4 2.")
    call.press("2")  # re-enter
    call.enter("7#")
    call.press("1")
    call.assert_heard("Account 7 found. Goodbye.")
    assert call.path == [
        "account/ask",
        "account/confirm",
        "account/ask",
        "account/confirm",
        "found",
    ]


def test_the_gave_up_exit_is_taken_after_the_retries() -> None:
    call = Simulator(bank()).dial()
    call.enter("x#")
    call.enter("y#")
    call.assert_transferred(phone="+918000000000")


def test_business_hours_gate_exits_open_and_closed() -> None:
    flow = Flow("shop")
    flow.subflow(
        "gate",
        "business_hours_gate",
        {"tz": "Europe/London", "start": "09:00", "end": "17:30", "holidays": ["2026-12-25"]},
        exits={"open": "shop", "closed": "shut"},
    )
    flow.transfer("shop", teams=[7])
    flow.hangup("shut", "We are closed.")
    assert validate(flow) == []
    Simulator(flow, now="2026-11-24T12:00:00+00:00").dial().assert_transferred(teams=[7])
    Simulator(flow, now="2026-12-25T12:00:00+00:00").dial().assert_heard("We are closed.")


def test_language_selection_leaves_by_the_language_chosen() -> None:
    flow = Flow("lang")
    flow.subflow("pick", "language_selection", exits={"english": "en", "hindi": "hi"})
    flow.hangup("en", "Hello.")
    flow.hangup("hi", "नमस्ते।")
    call = Simulator(flow).dial()
    call.press("2")
    call.assert_heard("नमस्ते।")


def test_a_flow_file_can_be_a_piece(tmp_path) -> None:
    piece = Flow("pin")
    piece.collect("pin", "PIN then hash.", "pin", then="@done")
    save(piece, tmp_path / "pin.json")
    flow = Flow("main")
    flow.subflow("login", "pin.json", exits={"done": "bye"})
    flow.hangup("bye", "PIN {pin} accepted.")
    assert exits(build("pin.json", base=tmp_path)) == {"done"}
    assert validate(flow, base=tmp_path) == []
    expanded = expand(flow, tmp_path)
    assert expanded.entry == "login/pin"
    assert expanded.edges("login/pin") == {"ok": "bye"}


def test_problems_inside_a_piece_point_at_the_subflow_node() -> None:
    flow = bank()
    flow.disconnect("account", "gave_up")
    flow.connect("account", "nowhere", "found")
    flow.subflow("broken", "collect_and_confirm", {"var": "x", "colour": "red"})
    codes = {(p.code, p.node or p.edge[0]) for p in validate(flow)}
    assert ("missing-exit", "account") in codes
    assert ("illegal-key", "account") in codes
    assert ("unknown-piece", "broken") in codes


def test_pieces_that_include_themselves_are_refused(tmp_path) -> None:
    loop = Flow("loop")
    loop.subflow("again", "loop.json")
    save(loop, tmp_path / "loop.json")
    with pytest.raises(PieceError, match="deeper"):
        expand(loop, tmp_path)


@pytest.mark.parametrize("name", sorted(LIBRARY))
def test_every_library_piece_is_valid_on_its_own(name: str) -> None:
    params = {"var": "digits"} if name == "collect_and_confirm" else {}
    flow = Flow("host")
    flow.allowed_hosts = ["127.0.0.1:8765"]  # where order_status looks orders up by default
    piece = build(name, params)
    flow.subflow("piece", name, params, exits={exit: "end" for exit in exits(piece)})
    flow.hangup("end", "Bye.")
    assert validate(flow) == []


def test_bad_piece_parameters_are_a_piece_error() -> None:
    with pytest.raises(PieceError, match="bad parameters"):
        build("language_selection", {"languages": [{}]})
