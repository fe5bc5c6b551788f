"""A subflow card opened on the canvas as a group with its piece's cards, in headless Chromium.

`jaxl-designer design` serves notebook 05's bank (a `collect_and_confirm` subflow); the test
opens the piece from the keyboard, connects one of the group's exits by dragging, closes it
again, and keeps screenshots of both in test-output/browser/.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import Processes, free_port
from test_browser import SLOW, STEP
from test_browser_canvas import SIZES, card, centre, chromium, drag, handle, inside, shoot
from test_canvas_pieces import bank

from jaxl_designer import load, save

pytestmark = pytest.mark.browser

STEPS = ["account/ask", "account/confirm", "account/sorry"]


@pytest.fixture
def bank_page(spawn: Processes, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    path = save(bank(), tmp_path / "bank.json")
    port = free_port()
    command = [sys.executable, "-m", "jaxl_designer", "design", str(path), "--port", str(port)]
    spawn.start(command, port=port)
    yield f"http://127.0.0.1:{port}", path


def test_a_subflow_opens_as_a_group_of_its_piece_and_closes_again(
    bank_page: tuple[str, Path], tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    base, path = bank_page
    with chromium(tmp_path, SIZES["laptop"]) as page:
        page.goto(base + "/", timeout=SLOW)
        account = card(page, "account")
        account.wait_for(timeout=SLOW)
        toggle = account.locator("button.jd-piece-toggle")
        expect(toggle).to_have_text("▸ 3 steps")
        expect(toggle).to_have_attribute("aria-expanded", "false")
        closed = account.bounding_box()
        assert closed is not None
        shoot(page, "piece-collapsed.png", tmp_path)

        # Open it from the keyboard: the piece's cards appear inside the group.
        toggle.focus()
        page.keyboard.press("Enter")
        expect(toggle).to_have_attribute("aria-expanded", "true")
        for step in STEPS:
            expect(card(page, step)).to_be_visible(timeout=STEP)
        page.get_by_role("button", name="Fit", exact=True).click()  # the group, all on screen
        page.wait_for_timeout(500)
        group = account.bounding_box()
        assert group is not None and group["height"] > 3 * closed["height"]
        for step in STEPS:
            box = card(page, step).bounding_box()
            assert box is not None and inside(box, group), step
        expect(card(page, "account/ask").locator(".jd-piece-in")).to_have_count(1)
        # Its inner edges are drawn, and so are its own exits' edges, from its bottom edge.
        expect(page.locator('.react-flow__edge[data-id^="piece:"]')).not_to_have_count(0)
        expect(page.locator('.react-flow__edge[data-id*="confirmed"]').first).to_be_visible()
        _, exit_y = centre(handle(page, "account", "confirmed"))
        assert abs(exit_y - (group["y"] + group["height"])) < 8
        shoot(page, "piece-expanded.png", tmp_path)

        # An exit of the open group still connects by dragging; the group stays open.
        drag(page, handle(page, "account", "gave_up"), card(page, "welcome"))
        deadline = time.monotonic() + STEP / 1000
        while load(path).edges("account").get("gave_up") != "welcome":
            assert time.monotonic() < deadline, "the drag never reached the flow file"
            time.sleep(0.1)
        expect(page.locator('.react-flow__edge[data-id*="gave_up"]')).not_to_have_count(0)
        for step in STEPS:
            expect(card(page, step)).to_be_visible(timeout=STEP)

        # Closed again, it is one card; the edge from its exit is still drawn.
        toggle.click()
        for step in STEPS:
            expect(card(page, step)).to_have_count(0)
        expect(page.locator('.react-flow__edge[data-id^="piece:"]')).to_have_count(0)
        expect(
            page.locator('.react-flow__edge[data-id=\'edge:["account","confirmed"]\']')
        ).to_have_count(1)
        again = account.bounding_box()  # at Fit's zoom: compare its shape
        assert again is not None
        assert abs(again["height"] / again["width"] - closed["height"] / closed["width"]) < 0.02
