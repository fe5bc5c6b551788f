"""The canvas's view of a subflow card: the piece it includes, laid out for drawing inside it."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from jaxl_designer import Flow, save
from jaxl_designer.drawing import pieces_view
from jaxl_designer.drawing.canvas import canvas_view
from jaxl_designer.drawing.layout import CARD, complete

pytestmark = pytest.mark.exe


@pytest.fixture(autouse=True)
def fresh_cache() -> Iterator[None]:
    pieces_view._laid_out.cache_clear()
    yield
    pieces_view._laid_out.cache_clear()


def bank(params: dict[str, Any] | None = None) -> Flow:
    """Notebook 05's bank: a welcome, then `collect_and_confirm` as one subflow node."""
    flow = Flow("bank")
    flow.say("welcome", "Welcome to Example Bank.", then="account")
    flow.subflow(
        "account",
        "collect_and_confirm",
        params or {"var": "account", "prompt": ["Your account number, then hash."]},
        exits={"confirmed": "balance", "gave_up": "agent"},
    )
    flow.hangup("balance", "Thank you.")
    flow.transfer("agent", teams=[301])
    return flow


def view_of(flow: Flow, direction: str = "TB") -> dict[str, Any]:
    return canvas_view(flow, positions=complete(flow, direction), direction=direction)


def card(view: dict[str, Any], node: str) -> dict[str, Any]:
    return next(c for c in view["nodes"] if c["id"] == node)


@pytest.mark.parametrize("direction", ["TB", "LR"])
def test_a_subflow_card_carries_its_piece_laid_out_without_overlaps(direction: str) -> None:
    view = view_of(bank(), direction)
    piece = card(view, "account")["piece"]
    assert piece["name"] == "collect_and_confirm" and piece["entry"] == "ask"
    steps = {step["id"]: step for step in piece["nodes"]}
    assert sorted(steps) == ["ask", "confirm", "sorry"]
    assert steps["ask"]["kind"] == "collect" and steps["confirm"]["kind"] == "menu"
    assert "Your account number" in " ".join(steps["ask"]["lines"])
    places = [step["position"] for step in piece["nodes"]]
    for a, b in itertools.combinations(places, 2):
        assert abs(a[0] - b[0]) >= CARD[0] or abs(a[1] - b[1]) >= CARD[1], (a, b)
    # Relative to the piece's own top-left, and inside the box it says it takes.
    assert min(p[0] for p in places) == 0 and min(p[1] for p in places) == 0
    width, height = piece["size"]
    assert all(x + CARD[0] <= width and y + CARD[1] <= height for x, y in places)
    inner = {
        (step["id"], exit["key"]): exit["target"]
        for step in piece["nodes"]
        for exit in step["exits"]
        if exit["target"] is not None
    }
    assert inner[("ask", "ok")] == "confirm" and inner[("confirm", "2")] == "ask"
    # Edges that leave the piece name the subflow card's own exits.
    leaving = {target[1:] for target in inner.values() if target.startswith("@")}
    assert leaving == {exit["key"] for exit in card(view, "account")["exits"]}
    assert card(view, "account")["piece_error"] is None
    assert "piece" not in card(view, "welcome")


def test_a_piece_that_cannot_be_built_is_null_with_the_reason(tmp_path: Path) -> None:
    flow = bank()
    flow.subflow("greet", "greeting.json", exits={"done": "account"})
    flow.entry = "greet"
    flow.folder = tmp_path
    view = view_of(flow)
    greet = card(view, "greet")
    assert greet["piece"] is None
    assert "greeting.json" in greet["piece_error"]
    assert card(view, "account")["piece"] is not None  # the others are still drawn


def test_a_change_of_parameters_or_of_the_piece_file_shows_at_once(tmp_path: Path) -> None:
    first = card(view_of(bank()), "account")["piece"]
    again = card(view_of(bank({"var": "pin", "prompt": ["Your PIN, then hash."]})), "account")
    asked = next(step for step in again["piece"]["nodes"] if step["id"] == "ask")
    assert "Your PIN" in " ".join(asked["lines"]) and asked != first["nodes"][0]

    piece = Flow("greeting")
    piece.say("hello", "Hello there.", then="@done")
    save(piece, tmp_path / "greeting.json")
    flow = Flow("main")
    flow.subflow("greet", "greeting.json", exits={"done": "bye"})
    flow.hangup("bye", "Goodbye.")
    flow.folder = tmp_path
    assert [s["id"] for s in card(view_of(flow), "greet")["piece"]["nodes"]] == ["hello"]
    piece.say("again", "Hello again.", then="@done")
    piece.connect("hello", "next", "again")
    save(piece, tmp_path / "greeting.json")
    stat = (tmp_path / "greeting.json").stat()
    os.utime(tmp_path / "greeting.json", ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    assert [s["id"] for s in card(view_of(flow), "greet")["piece"]["nodes"]] == [
        "hello",
        "again",
    ]


def test_a_new_view_lays_a_piece_out_once(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    real = pieces_view.layout

    def counted(flow: Flow, direction: str = "TB") -> dict[str, list[int]]:
        calls.append(flow.name)
        return real(flow, direction)

    monkeypatch.setattr(pieces_view, "layout", counted)
    flow = bank()
    flow.subflow("pin", "collect_and_confirm", {"var": "account"}, exits={"confirmed": "agent"})
    flow.update("pin", params={"prompt": ["Your account number, then hash."], "var": "account"})
    for _ in range(3):
        view = view_of(flow)
    # "account" and "pin" include the same piece with the same parameters, in another order.
    assert calls == ["collect_and_confirm"]
    assert card(view, "pin")["piece"] == card(view, "account")["piece"]
    # What one view carries is its own: changing it changes no other view.
    card(view, "pin")["piece"]["nodes"][0]["lines"].append("changed")
    assert "changed" not in card(view_of(flow), "pin")["piece"]["nodes"][0]["lines"]
