"""The issue's acceptance test: a person builds, dials and tidies an IVR on the canvas.

In a real JupyterLab in headless Chromium, a notebook whose only cell shows
`Canvas(Flow("shop"))` (an empty flow). With the mouse and keyboard only, in at most 15
interactions (each click, drag or text typed into one field is one, counted by
`Hand`), the test builds a five-node IVR:

    menu_1 ──1──▶ collect_1 (order, ended by #) ──ok──▶ say_1 ──next──▶ hangup_1
       └───2──▶ transfer_1 (+918000000001)

by dragging from exit handles (the menu's "+" included) to empty canvas and picking a kind,
and typing into the inspector's fields. The kernel then saves the flow, and the test reads it
back and validates it. It dials the flow on the Phone tab with the keypad, undoes an edge with
Ctrl+Z, zooms with the wheel, fits and finds a node. A second test opens a 200-node flow.
Screenshots go to test-output/browser/build-*.png.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import Processes
from test_browser import SLOW, STEP, Lab, need_browser
from test_browser_canvas import (
    KEPT,
    SIZES,
    card,
    centre,
    chromium,
    drag,
    handle,
    inside,
    notebook,
    open_notebook,
    shoot,
)

from jaxl_designer import load, validate

pytestmark = pytest.mark.browser

#: The most interactions building the IVR may take (the issue's acceptance criterion).
BUDGET = 15
SHOP = 'from jaxl_designer import Canvas, Flow; flow = Flow("shop"); canvas = Canvas(flow); canvas'
BIG = (
    "from jaxl_designer import Canvas\n"
    "from jaxl_designer.core.generate import big_flow\n"
    "Canvas(big_flow(200))"
)


@pytest.fixture
def lab(spawn: Processes, tmp_path: Path) -> Iterator[Lab]:
    browser = need_browser()
    server = Lab(spawn, tmp_path, browser)
    (server.root / "shop.ipynb").write_text(notebook(SHOP), encoding="utf-8")
    (server.root / "big.ipynb").write_text(notebook(BIG), encoding="utf-8")
    try:
        yield server
    finally:
        server.stop()


def run_notebook(page: Any, lab: Lab, name: str) -> None:
    """Open a notebook, wait for its kernel, fold the file browser away and run it."""
    open_notebook(page, lab, name)
    page.evaluate(
        """() => {
            window.jupyterapp.shell.collapseLeft();
            window.jupyterapp.commands.execute("notebook:run-all-cells");
        }"""
    )


def run_in_kernel(page: Any, code: str) -> None:
    """Run `code` in the open notebook's kernel (as a console would) and wait for it."""
    failure = page.evaluate(
        """async (code) => {
            const panel = window.jupyterapp.shell.currentWidget;
            const future = panel.sessionContext.session.kernel.requestExecute({ code });
            let error = null;
            future.onIOPub = (msg) => {
                const said = msg.content;
                if (msg.header.msg_type === "error") error = `${said.ename}: ${said.evalue}`;
            };
            await future.done;
            return error;
        }""",
        code,
    )
    assert failure is None, failure


class Hand:
    """A person's hand on the page: every click, drag, choice and typed field is counted."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.done: list[str] = []

    @property
    def count(self) -> int:
        return len(self.done)

    def click(self, target: Any, what: str) -> None:
        self.done.append(f"click {what}")
        target.click()

    def drag(self, start: Any, end: Any, what: str) -> None:
        """Press on `start` (a locator), move in steps, release on `end` (a locator or x, y)."""
        self.done.append(f"drag {what}")
        x0, y0 = centre(start)
        x1, y1 = end if isinstance(end, tuple) else centre(end)
        self.page.mouse.move(x0, y0)
        self.page.mouse.down()
        for step in range(1, 13):
            self.page.mouse.move(x0 + (x1 - x0) * step / 12, y0 + (y1 - y0) * step / 12)
        self.page.mouse.up()

    def type(self, text: str, what: str, into: Any = None) -> None:
        """Type into the field that has focus, or click `into` first (one interaction)."""
        self.done.append(f"type {what}")
        if into is not None:
            into.click()
        self.page.keyboard.type(text, delay=15)


def settled(locator: Any, timeout: float = STEP / 1000) -> Any:
    """Wait until `locator` stops moving (the canvas animates to a new node); its box."""
    deadline = time.monotonic() + timeout
    box = None
    while True:
        now = locator.bounding_box()
        if now is not None and now == box:
            return now
        assert time.monotonic() < deadline, "still moving"
        box = now
        time.sleep(0.15)


def on_top(page: Any, target: Any) -> bool:
    """True when the middle of `target` is on screen and nothing covers it."""
    return bool(
        target.evaluate(
            """(element) => {
                const box = element.getBoundingClientRect();
                const x = box.x + box.width / 2;
                const hit = document.elementFromPoint(x, box.y + box.height / 2);
                return !!hit && (hit === element || element.contains(hit));
            }"""
        )
    )


def empty_spot(page: Any, start: Any, frame: dict[str, float]) -> tuple[float, float]:
    """A point of empty canvas below or beside `start`, on screen, to drop a connection on."""
    x0, y0 = centre(start)
    height = page.viewport_size["height"]
    for dy in (150, 110, 200, 260, 70):
        for dx in (0, -160, 160, -300, 300):
            x, y = x0 + dx, y0 + dy
            if not (frame["x"] + 30 < x < frame["x"] + frame["width"] - 30):
                continue
            if not (frame["y"] + 30 < y < min(frame["y"] + frame["height"], height) - 30):
                continue
            free = page.evaluate(
                """([x, y]) => {
                    const hit = document.elementFromPoint(x, y);
                    return !!(hit && hit.classList.contains("react-flow__pane"));
                }""",
                [x, y],
            )
            if free:
                return x, y
    raise AssertionError("no empty canvas near the handle")


def build_the_shop(page: Any, hand: Hand, tmp_path: Path, size: str) -> None:
    """Step 1: the five-node IVR, by dragging and typing, within the budget."""
    from playwright.sync_api import expect

    shell = page.locator(".jd-shell").first
    canvas = shell.locator(".jd-flow")
    inspector = shell.locator(".jd-inspector")
    message = shell.locator(".jd-message")
    node_id = inspector.locator(".jd-node-id-input")

    def field(name: str) -> Any:
        return inspector.locator(
            f".jd-field-{name} textarea, .jd-field-{name} input, .jd-field-{name} select"
        ).first

    def added(kind: str, node: str) -> None:
        """The new card is drawn and selected; its first field has focus, ready to type."""
        expect(message).to_have_text(f"added {kind} {node}", timeout=STEP)
        expect(card(page, node)).to_have_count(1, timeout=STEP)
        expect(node_id).to_have_value(node, timeout=STEP)
        first = "phone" if kind == "transfer" else "prompt"
        expect(field(first)).to_be_focused(timeout=STEP)

    def from_exit_to_new(source: str, key: str, kind: str, shot: str = "") -> None:
        """Drag exit `key` of `source` to empty canvas and pick `kind` in the menu there."""
        start = (
            handle(page, source, key)
            if key != "add"
            else page.locator(f'.react-flow__handle[data-nodeid="{source}"][data-handleid="add"]')
        )
        settled(card(page, source))
        assert on_top(page, start), f"{source}'s {key} handle is not on screen to drag from"
        spot = empty_spot(page, start, canvas.bounding_box())
        hand.drag(start, spot, f"{source} {key} to empty canvas")
        menu = shell.get_by_role("menu")
        expect(menu).to_be_visible(timeout=STEP)
        if shot:
            shoot(page, shot, tmp_path)
        hand.click(menu.locator(f".jd-kind-choice-{kind}"), f"{kind} in the kind menu")
        expect(menu).to_have_count(0)

    expect(shell.locator(".jd-empty")).to_be_visible(timeout=SLOW)
    shell.scroll_into_view_if_needed()
    shoot(page, f"build-{size}-empty.png", tmp_path)

    # The menu, from the palette; its prompt takes the typing at once.
    hand.click(inspector.locator(".jd-palette-menu"), "menu in the palette")
    added("menu", "menu_1")
    hand.type("Press 1 to track your order.\nPress 2 to talk to sales.", "the menu's prompt")

    # Key 1: the menu's "+" handle dragged to empty canvas, a collect.
    from_exit_to_new("menu_1", "add", "collect", f"build-{size}-kind-menu.png")
    added("collect", "collect_1")
    hand.type("Enter your order number, then press hash.", "the collect's prompt")
    shoot(page, f"build-{size}-collect.png", tmp_path)
    hand.type("order", "the collect's variable", into=field("var"))
    # A new collect's digits already end with #: nothing to choose.
    expect(field("terminator")).to_have_value("#")

    # Key 2 (the "+" handle offers the next free key): a transfer to sales.
    from_exit_to_new("menu_1", "add", "transfer")
    added("transfer", "transfer_1")
    hand.type("+918000000001", "the transfer's phone number")

    # The collect's ok exit: a say that reads the order back, then a hang-up.
    from_exit_to_new("collect_1", "ok", "say")
    added("say", "say_1")
    hand.type("Your order {order:digits} is on its way. Goodbye.", "the say's prompt")
    from_exit_to_new("say_1", "next", "hangup")
    added("hangup", "hangup_1")

    assert hand.count <= BUDGET, hand.done
    # What was typed reached Python: no field is left unsaved or in error.
    expect(inspector.locator(".jd-saving, .jd-field-error")).to_have_count(0, timeout=STEP)
    expect(shell.locator(".jd-summary")).to_have_text(re.compile("✓"), timeout=STEP)
    edges = page.locator(".react-flow__edge")
    expect(edges).to_have_count(4, timeout=STEP)
    for source, key in [("menu_1", "1"), ("menu_1", "2"), ("collect_1", "ok"), ("say_1", "next")]:
        edge_id = "edge:" + json.dumps([source, key], separators=(",", ":"))
        expect(page.locator(f".react-flow__edge[data-id='{edge_id}']")).to_have_count(1)
    shoot(page, f"build-{size}-built.png", tmp_path)


def check_the_saved_flow(page: Any, lab: Lab) -> None:
    """The kernel saves the flow it holds; read back here, it is the IVR and validates."""
    saved = lab.root / "shop.json"
    run_in_kernel(page, f"from jaxl_designer import save; save(flow, {str(saved)!r})")
    flow = load(saved)
    assert sorted(flow.nodes) == ["collect_1", "hangup_1", "menu_1", "say_1", "transfer_1"]
    assert flow.entry == "menu_1"
    assert flow.edges("menu_1") == {"1": "collect_1", "2": "transfer_1"}
    assert flow.edges("collect_1") == {"ok": "say_1"}
    assert flow.edges("say_1") == {"next": "hangup_1"}
    menu, collect, say = flow.node("menu_1"), flow.node("collect_1"), flow.node("say_1")
    assert menu["prompt"] == ["Press 1 to track your order.", "Press 2 to talk to sales."]
    assert collect["prompt"] == ["Enter your order number, then press hash."]
    assert (collect["var"], collect["terminator"]) == ("order", "#")
    assert say["prompt"] == ["Your order {order:digits} is on its way. Goodbye."]
    assert flow.node("transfer_1")["phone"] == "+918000000001"
    assert [problem for problem in validate(flow) if problem.severity == "error"] == []


def dial_the_shop(page: Any, tmp_path: Path, size: str) -> None:
    """Step 2: the Phone tab's keypad: 1 at the menu, 4 2 # at the collect."""
    from playwright.sync_api import expect

    shell = page.locator(".jd-shell").first
    phone = shell.locator(".jd-phone")
    status = phone.locator(".jd-call-status")
    transcript = phone.locator(".jd-transcript")
    digits = phone.locator(".jd-digits")

    def key(name: str) -> None:
        phone.locator(f"button.jd-keypad-key.jd-key-{name}").click()

    shell.locator(".jd-tab-phone").click()
    phone.locator("button.jd-dial").click()
    expect(status).to_have_text("Waiting at menu_1.", timeout=STEP)
    expect(transcript).to_contain_text("Press 2 to talk to sales.")
    key("1")
    expect(status).to_have_text("Waiting at collect_1.", timeout=STEP)
    expect(transcript).to_contain_text("Enter your order number, then press hash.")
    key("4")
    key("2")
    expect(digits).to_have_text("42")  # gathered in the phone until the terminator
    shoot(page, f"build-{size}-phone-digits.png", tmp_path)
    key("hash")
    expect(status).to_have_text("The call has ended.", timeout=STEP)
    expect(transcript).to_contain_text("Your order 4 2 is on its way. Goodbye.")
    expect(transcript).to_contain_text("(hangs up)")
    caller = [
        line.strip()
        for line in transcript.locator(".jd-line-caller .jd-said-text").all_inner_texts()
    ]
    assert caller == ["1", "42#"], caller
    shoot(page, f"build-{size}-phone.png", tmp_path)


def tidy_the_canvas(page: Any, tmp_path: Path, size: str) -> None:
    """Step 3: a drag onto a card and Ctrl+Z, wheel zoom, Fit, and find a node."""
    from playwright.sync_api import expect

    shell = page.locator(".jd-shell").first
    canvas = shell.locator(".jd-flow")
    edges = page.locator(".react-flow__edge")
    shell.locator(".jd-tab-inspector").click()

    # Drop the collect's "gave up" exit onto the transfer's card; Ctrl+Z takes it back.
    page.locator("button", has_text="Fit").first.click()
    time.sleep(0.5)
    drag(page, handle(page, "collect_1", "gave_up"), card(page, "transfer_1"))
    gave_up = page.locator(".react-flow__edge[data-id*='gave_up']")
    expect(gave_up).to_have_count(1, timeout=STEP)
    expect(edges).to_have_count(5)
    page.keyboard.press("Control+z")
    expect(gave_up).to_have_count(0, timeout=STEP)
    expect(edges).to_have_count(4)

    viewport = page.locator(".react-flow__viewport").first
    scale = viewport.evaluate("element => element.style.transform")
    x, y = centre(canvas)
    page.mouse.move(x, y)
    for _ in range(5):
        page.mouse.wheel(0, -200)
    expect(viewport).not_to_have_attribute("style", re.compile(re.escape(scale)), timeout=STEP)
    page.locator("button", has_text="Fit").first.click()
    time.sleep(0.6)  # the fit animates
    frame = canvas.bounding_box()
    for node in ["menu_1", "collect_1", "say_1", "hangup_1", "transfer_1"]:
        assert inside(card(page, node).bounding_box(), frame), node

    search = shell.locator(".jd-search input")
    search.fill("transfer")
    search.press("Enter")
    expect(card(page, "transfer_1")).to_have_class(re.compile(r"\bselected\b"), timeout=STEP)
    expect(shell.locator(".jd-node-id-input")).to_have_value("transfer_1", timeout=STEP)
    shoot(page, f"build-{size}-found.png", tmp_path)


@pytest.mark.parametrize("size", sorted(SIZES))
def test_a_person_builds_dials_and_tidies_an_ivr_on_the_canvas(
    lab: Lab, tmp_path: Path, size: str
) -> None:
    lab.wait_ready()
    with chromium(tmp_path, SIZES[size]) as page:
        run_notebook(page, lab, "shop.ipynb")
        hand = Hand(page)
        try:
            build_the_shop(page, hand, tmp_path, size)
            print(f"built in {hand.count} interactions: {'; '.join(hand.done)}")
            assert hand.count <= BUDGET
            check_the_saved_flow(page, lab)
            dial_the_shop(page, tmp_path, size)
            tidy_the_canvas(page, tmp_path, size)
        except AssertionError:
            shoot(page, f"build-{size}-failure.png", tmp_path)
            raise
    (KEPT / f"build-{size}-failure.png").unlink(missing_ok=True)  # from an earlier run


def test_a_200_node_flow_fits_the_view_when_it_opens(lab: Lab, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    lab.wait_ready()
    with chromium(tmp_path, SIZES["laptop"]) as page:
        run_notebook(page, lab, "big.ipynb")
        cards = page.locator(".react-flow__node")
        expect(cards).to_have_count(200, timeout=SLOW)
        time.sleep(0.5)
        frame = page.locator(".jd-flow").first.bounding_box()
        boxes = cards.evaluate_all(
            "nodes => nodes.map(n => { const b = n.getBoundingClientRect();"
            " return {id: n.dataset.id, x: b.x, y: b.y, width: b.width, height: b.height}; })"
        )
        shoot(page, "build-big-200.png", tmp_path)
        outside = [box["id"] for box in boxes if not inside(box, frame)]
        assert not outside, f"{len(outside)} of 200 cards outside the canvas: {outside[:10]}"
