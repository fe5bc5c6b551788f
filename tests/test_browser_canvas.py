"""The canvas in a real JupyterLab and as its own web page, driven by headless Chromium.

In JupyterLab: a notebook shows `Canvas(acme())`; the test checks the flow fits the view on
open, selects a card, connects an exit to a card by dragging (the edit goes to Python and comes
back as a new view), deletes the edge with the keyboard and undoes with Ctrl+Z, zooms, fits and
finds a node. As a web page (`jaxl-designer design flow.json`): the same drag is saved to the
flow file. Screenshots at 1366×768 and 1920×1080 go to test-output/browser/ for review.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT, Processes, free_port
from test_browser import CHROMIUM_FLAGS, SLOW, STEP, Lab, need_browser

from jaxl_designer import acme, load, save

pytestmark = pytest.mark.browser

KEPT = ROOT / "test-output" / "browser"
SIZES = {"laptop": (1366, 768), "large": (1920, 1080)}
CANVAS = (
    "from jaxl_designer import acme\n"
    "from jaxl_designer.notebook.canvas import Canvas\n"
    "flow = acme()\n"
    "canvas = Canvas(flow)\n"
    "canvas"
)


def notebook(source: str) -> str:
    """A notebook of one code cell, as JupyterLab opens it (a kernel chosen, so it runs)."""
    cell = {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": []}
    kernel = {"display_name": "Python 3", "language": "python", "name": "python3"}
    document = {
        "cells": [{**cell, "source": source}],
        "metadata": {"kernelspec": kernel},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    return json.dumps(document)


@pytest.fixture
def lab(spawn: Processes, tmp_path: Path) -> Iterator[Lab]:
    browser = need_browser()
    server = Lab(spawn, tmp_path, browser)
    (server.root / "canvas.ipynb").write_text(notebook(CANVAS), encoding="utf-8")
    try:
        yield server
    finally:
        server.stop()


@contextlib.contextmanager
def chromium(tmp_path: Path, size: tuple[int, int]) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch_persistent_context(
            str(tmp_path / f"chromium-{size[0]}"),
            executable_path=need_browser(),
            headless=True,
            args=CHROMIUM_FLAGS,
            viewport={"width": size[0], "height": size[1]},
        )
        try:
            page = browser.pages[0] if browser.pages else browser.new_page()
            crashes: list[str] = []
            page.on("pageerror", lambda error: crashes.append(str(error)))
            yield page
            assert not crashes, f"uncaught errors in the page: {crashes}"
        finally:
            browser.close()


def centre(locator: Any) -> tuple[float, float]:
    box = locator.bounding_box()
    assert box is not None, "not on screen"
    return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2


def drag(page: Any, start: Any, end: Any) -> None:
    """Press on `start`, move in steps as a hand does, release on `end`."""
    x0, y0 = centre(start)
    x1, y1 = centre(end)
    page.mouse.move(x0, y0)
    page.mouse.down()
    for step in range(1, 11):
        page.mouse.move(x0 + (x1 - x0) * step / 10, y0 + (y1 - y0) * step / 10)
    page.mouse.up()


def card(page: Any, node: str) -> Any:
    return page.locator(f'.react-flow__node[data-id="{node}"]')


def handle(page: Any, node: str, key: str) -> Any:
    return page.locator(f'.react-flow__handle[data-nodeid="{node}"][data-handleid="out:{key}"]')


def inside(inner: dict[str, float], outer: dict[str, float]) -> bool:
    return (
        inner["x"] >= outer["x"] - 1
        and inner["y"] >= outer["y"] - 1
        and inner["x"] + inner["width"] <= outer["x"] + outer["width"] + 1
        and inner["y"] + inner["height"] <= outer["y"] + outer["height"] + 1
    )


def shoot(page: Any, name: str, tmp_path: Path) -> None:
    shot = tmp_path / name
    page.screenshot(path=str(shot))
    KEPT.mkdir(parents=True, exist_ok=True)
    shutil.copy(shot, KEPT / name)


def open_notebook(page: Any, lab: Lab, name: str) -> None:
    """Open a notebook in JupyterLab and wait until its kernel is idle (not yet run)."""
    page.goto(f"{lab.base}/lab/tree/{name}", timeout=SLOW)
    page.wait_for_function(
        """() => {
            const panel = window.jupyterapp && window.jupyterapp.shell.currentWidget;
            const kernel = panel && panel.sessionContext && panel.sessionContext.session
                && panel.sessionContext.session.kernel;
            return !!(kernel && kernel.status === "idle");
        }""",
        timeout=SLOW,
    )
    lab.remember_kernels()


def open_canvas(page: Any, lab: Lab) -> Any:
    open_notebook(page, lab, "canvas.ipynb")
    page.evaluate('() => window.jupyterapp.commands.execute("notebook:run-all-cells")')
    canvas = page.locator(".react-flow").first
    card(page, "thanks").wait_for(timeout=SLOW)
    return canvas


@pytest.mark.parametrize("size", sorted(SIZES))
def test_a_person_edits_acme_on_the_canvas_in_jupyterlab(
    lab: Lab, tmp_path: Path, size: str
) -> None:
    from playwright.sync_api import expect

    lab.wait_ready()
    with chromium(tmp_path, SIZES[size]) as page:
        canvas = open_canvas(page, lab)
        # Fit on open: every card of Acme is inside the canvas.
        frame = canvas.bounding_box()
        for node in acme().nodes:
            assert inside(card(page, node).bounding_box(), frame), node
        shoot(page, f"canvas-{size}.png", tmp_path)

        # Selecting is the browser's own: no kernel round trip.
        card(page, "order").click()
        expect(card(page, "order")).to_have_class(_has("selected"), timeout=2_000)

        # Connect main's unused "gave up" exit to sales by dragging: Python draws the new edge.
        edges = page.locator(".react-flow__edge")
        before = edges.count()
        drag(page, handle(page, "main", "gave_up"), card(page, "sales"))
        expect(edges).to_have_count(before + 1, timeout=STEP)
        edge = page.locator('.react-flow__edge[data-id*="gave_up"]')
        expect(edge).to_have_count(1, timeout=STEP)

        # Select the new edge and delete it with the keyboard; Ctrl+Z brings it back.
        edge.click(force=True)
        page.keyboard.press("Delete")
        expect(edges).to_have_count(before, timeout=STEP)
        page.keyboard.press("Control+z")
        expect(edges).to_have_count(before + 1, timeout=STEP)

        # Zoom in with the wheel, then Fit brings every card back into view.
        zoom_in = page.locator(".react-flow__viewport")
        scale = zoom_in.evaluate("element => element.style.transform")
        x, y = centre(canvas)
        page.mouse.move(x, y)
        for _ in range(5):
            page.mouse.wheel(0, -200)
        expect(zoom_in).not_to_have_attribute("style", f"transform: {scale};", timeout=STEP)
        page.locator("button", has_text="Fit").first.click()
        time.sleep(0.5)  # the fit animates
        frame = canvas.bounding_box()
        for node in acme().nodes:
            assert inside(card(page, node).bounding_box(), frame), node

        # Find a node: typing its name and Enter centres and selects it.
        search = page.locator(".jd-search input, input.jd-search").first
        search.fill("confirm")
        search.press("Enter")
        expect(card(page, "confirm")).to_have_class(_has("selected"), timeout=STEP)
        shoot(page, f"canvas-{size}-edited.png", tmp_path)


def _has(name: str) -> Any:
    import re

    return re.compile(rf"\b{name}\b")


@pytest.fixture
def designer_page(spawn: Processes, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    path = save(acme(), tmp_path / "acme.json")
    port = free_port()
    command = [sys.executable, "-m", "jaxl_designer", "design", str(path), "--port", str(port)]
    spawn.start(command, port=port)
    yield f"http://127.0.0.1:{port}", path


def test_the_designer_web_page_saves_each_edit_to_the_file(
    designer_page: tuple[str, Path], tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    base, path = designer_page
    with chromium(tmp_path, SIZES["laptop"]) as page:
        page.goto(base + "/", timeout=SLOW)
        card(page, "thanks").wait_for(timeout=SLOW)
        drag(page, handle(page, "order", "gave_up"), card(page, "sales"))
        deadline = time.monotonic() + STEP / 1000
        while load(path).edges("order").get("gave_up") != "sales":
            assert time.monotonic() < deadline, "the drag never reached the flow file"
            time.sleep(0.1)
        expect(page.locator('.react-flow__edge[data-id*="gave_up"]')).to_have_count(1)
        shoot(page, "design-page-laptop.png", tmp_path)
    checked = subprocess.run([sys.executable, "-m", "jaxl_designer", "validate", str(path)])
    assert checked.returncode == 0
