"""The designer in a real JupyterLab, driven by headless Chromium as a person would use it.

The test starts JupyterLab on a free loopback port over a temporary copy of notebooks/, opens
02_designer.ipynb and runs every cell: the tutorial runs in the browser without an error, and
its second designer draws Acme. In the first designer (an empty flow) it then builds a
two-node IVR with the inspector alone: a menu from the palette, renamed `main`, whose key 1
leads to a new hangup, each prompt typed into its field. It dials on the Phone tab, presses 1
on the keypad and reads the transcript from the page. A screenshot is kept in the test's folder
and copied to test-output/browser/designer.png for a person to look at. (Building by dragging
is tests/test_browser_build.py's.)

This module also holds what every browser test shares: `Lab`, `need_browser`,
`CHROMIUM_FLAGS` and the waits `SLOW` and `STEP`.

Needs the `playwright` Python package and Debian's chromium (scripts/setup installs both); it is
skipped without them, except under CI (the CI variable set), where that is a failure.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import re
import shutil
import signal
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import BIN, ROOT, Process, Processes, children, free_port

pytestmark = pytest.mark.browser

NOTEBOOK = "02_designer.ipynb"
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
#: JupyterLab's "news" and update pop-up: off in the venv's overrides.json (scripts/setup), and
#: here again in the test's own user settings, so the pop-up never covers the page.
NOTIFICATION = "@jupyterlab/apputils-extension:notification"
QUIET = {"fetchNews": "false", "checkForUpdates": False}
#: Generous waits for a slow 2-core machine; each wait ends as soon as its selector is there.
STARTUP = 90.0  # JupyterLab answering, in seconds
SLOW = 60_000  # page load, kernel start, running every cell, in milliseconds
STEP = 20_000  # one click's answer from the kernel, in milliseconds


def chromium_path() -> str | None:
    """Debian's chromium, if it is installed."""
    found = shutil.which("chromium")
    if found:
        return found
    return "/usr/bin/chromium" if os.access("/usr/bin/chromium", os.X_OK) else None


def need_browser() -> str:
    """The chromium path; skip (fail under CI) when it or playwright is missing."""
    missing = []
    if importlib.util.find_spec("playwright") is None:
        missing.append("the playwright Python package")
    executable = chromium_path()
    if executable is None:
        missing.append("chromium (apt-get install chromium)")
    if missing:
        reason = f"browser test needs {' and '.join(missing)}: run scripts/setup"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    assert executable is not None
    return executable


def api(base: str, path: str, method: str = "GET", timeout: float = 10.0) -> Any:
    """One JupyterLab REST call (no token, XSRF checks off); its JSON answer or None."""
    request = urllib.request.Request(base + path, method=method)
    with urllib.request.urlopen(request, timeout=timeout) as answer:
        body = answer.read()
    return json.loads(body) if body else None


class Lab:
    """A JupyterLab server over a temporary copy of notebooks/, with its own settings."""

    def __init__(self, spawn: Processes, folder: Path, browser: str) -> None:
        self.browser = browser
        self.root = folder / "notebooks"
        shutil.copytree(
            ROOT / "notebooks", self.root, ignore=shutil.ignore_patterns(".ipynb_checkpoints")
        )
        settings = folder / "lab-user-settings"
        quiet = settings / Path(*NOTIFICATION.split(":"))
        quiet.parent.mkdir(parents=True)
        quiet.with_suffix(".jupyterlab-settings").write_text(json.dumps(QUIET), encoding="utf-8")
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = {
            # A fresh workspace and user settings: nothing left from a person's own JupyterLab.
            "JUPYTERLAB_SETTINGS_DIR": str(settings),
            "JUPYTERLAB_WORKSPACES_DIR": str(folder / "lab-workspaces"),
            "JUPYTER_CONFIG_DIR": str(folder / "jupyter-config"),
            "JUPYTER_DATA_DIR": str(folder / "jupyter-data"),  # no person's own kernelspecs
            "JUPYTER_RUNTIME_DIR": str(folder / "jupyter-runtime"),
        }
        args = [
            str(BIN / "jupyter"), "lab", "--no-browser", "--allow-root",
            "--IdentityProvider.token=", "--ServerApp.disable_check_xsrf=True",
            "--ip", "127.0.0.1", "--port", str(self.port), "--ServerApp.port_retries=0",
            f"--ServerApp.root_dir={self.root}", "--LabApp.expose_app_in_browser=True",
            "--LabApp.news_url=None", "--LabApp.extension_manager=readonly",
            "--LabApp.check_for_updates_class=jupyterlab.handlers.announcements.NeverCheckForUpdate",
        ]  # fmt: skip
        self.process: Process = spawn.start(args, env=env, cwd=self.root)
        self.kernels: dict[int, str] = {}  # pid: its start time, so a reused pid is left alone

    def wait_ready(self, timeout: float = STARTUP) -> None:
        """Wait until the server answers its REST API; fail at once if it exits."""
        deadline = time.monotonic() + timeout
        while True:
            if self.process.popen.poll() is not None:
                raise RuntimeError(f"JupyterLab exited early:\n{self.process.output()}")
            with contextlib.suppress(OSError, ValueError):
                api(self.base, "/api/status", timeout=2)
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"JupyterLab not answering after {timeout} s\n{self.tail()}")
            time.sleep(0.1)

    def remember_kernels(self) -> None:
        """Note the server's child processes (its kernels), to be sure they end with it."""
        for pid in children(self.process.popen.pid):
            started = started_at(pid)
            if started is not None:
                self.kernels[pid] = started

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.process.output().splitlines()[-lines:])

    def stop(self) -> None:
        """Shut down every kernel session, stop the server's process group, then any kernel."""
        with contextlib.suppress(OSError, ValueError):
            self.remember_kernels()
            for session in api(self.base, "/api/sessions") or []:
                with contextlib.suppress(OSError, ValueError):
                    api(self.base, f"/api/sessions/{session['id']}", method="DELETE", timeout=30)
        self.process.stop()
        # A kernel has a process group of its own, so killpg above does not reach it; it was
        # shut down with its session, but make sure: give each of the server's children a few
        # seconds to end, then kill the one still there (the same process: same start time).
        deadline = time.monotonic() + 10
        for pid, started in self.kernels.items():
            while time.monotonic() < deadline and started_at(pid) == started:
                time.sleep(0.1)
            if started_at(pid) == started:
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)


def started_at(pid: int) -> str | None:
    """A live process's start time (from /proc), or None once it has ended (or is a zombie)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return None if fields[0] in "ZX" else fields[19]


@pytest.fixture
def lab(spawn: Processes, tmp_path: Path) -> Iterator[Lab]:
    """A JupyterLab server for one test; its kernels and process are stopped after it."""
    browser = need_browser()  # before anything starts
    server = Lab(spawn, tmp_path, browser)
    try:
        yield server
    finally:
        server.stop()


def test_a_person_builds_and_dials_an_ivr_in_the_designer(lab: Lab, tmp_path: Path) -> None:
    from playwright.sync_api import ConsoleMessage, expect, sync_playwright
    from playwright.sync_api import Error as PlaywrightError

    clock = Clock()
    shot = tmp_path / "designer.png"
    kept = ROOT / "test-output" / "browser"
    problems: list[str] = []  # console errors, shown when the test fails
    crashes: list[str] = []  # uncaught exceptions in the page: the test fails on any
    with sync_playwright() as playwright:
        # Chromium starts while JupyterLab does.
        browser = playwright.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),
            executable_path=lab.browser,
            headless=True,
            args=CHROMIUM_FLAGS,
            viewport={"width": 1400, "height": 1400},
        )
        try:
            page = browser.pages[0] if browser.pages else browser.new_page()
            page.on("pageerror", lambda error: crashes.append(str(error)))

            def console(message: ConsoleMessage) -> None:
                if message.type == "error":
                    problems.append(message.text)

            page.on("console", console)
            clock.mark("chromium")
            lab.wait_ready()
            clock.mark("lab")
            setting = api(lab.base, f"/lab/api/settings/{NOTIFICATION}")
            assert setting["settings"]["fetchNews"] == "false", setting["settings"]
            try:
                drive(page, lab, expect, clock)
                assert not crashes, f"uncaught errors in the page: {crashes}"
                page.screenshot(path=str(shot))
            except (AssertionError, PlaywrightError) as error:
                failed = tmp_path / "failure.png"
                with contextlib.suppress(PlaywrightError):
                    page.screenshot(path=str(failed))
                    kept.mkdir(parents=True, exist_ok=True)
                    shutil.copy(failed, kept / "failure.png")
                raise AssertionError(
                    f"{error}\n\nscreenshot: {failed}\n{clock}\nbrowser console errors:\n"
                    + "\n".join(crashes + problems[-20:])
                    + f"\n\nJupyterLab log (tail):\n{lab.tail()}"
                ) from error
        finally:
            lab.remember_kernels()
            browser.close()
    kept.mkdir(parents=True, exist_ok=True)
    shutil.copy(shot, kept / "designer.png")
    (kept / "failure.png").unlink(missing_ok=True)  # from an earlier run that failed
    print(f"browser test: {clock}; screenshot {kept / 'designer.png'}")


class Clock:
    """When each phase of the test ended, in seconds from the start, for the report."""

    def __init__(self) -> None:
        self.start = time.monotonic()
        self.marks: list[tuple[str, float]] = []

    def mark(self, phase: str) -> None:
        self.marks.append((phase, time.monotonic() - self.start))

    def __str__(self) -> str:
        return ", ".join(f"{phase} {at:.1f} s" for phase, at in self.marks)


def drive(page: Any, lab: Lab, expect: Any, clock: Clock) -> None:
    """Open the notebook, run it, and build and dial the IVR with clicks and typing."""
    page.goto(f"{lab.base}/lab/tree/{NOTEBOOK}", timeout=SLOW)
    clock.mark("page")
    page.wait_for_function(
        """(name) => {
            const app = window.jupyterapp;
            const panel = app && app.shell.currentWidget;
            return !!(panel && panel.context && panel.context.path === name
                && panel.sessionContext.session && panel.sessionContext.session.kernel
                && panel.sessionContext.session.kernel.status === "idle");
        }""",
        arg=NOTEBOOK,
        timeout=SLOW,
    )
    clock.mark("kernel")
    lab.remember_kernels()
    # Room for the designer: the file browser folds away, as a person would do. The saved
    # outputs are cleared first, so each output checked below is this run's.
    page.evaluate(
        """async () => {
            window.jupyterapp.shell.collapseLeft();
            await window.jupyterapp.commands.execute("notebook:clear-all-cell-outputs");
            window.jupyterapp.commands.execute("notebook:run-all-cells");
        }"""
    )

    # The notebook's first designer is on an empty flow; the second one draws Acme.
    designers = page.locator(".jd-shell")
    expect(designers).to_have_count(2, timeout=SLOW)
    expect(designers.nth(1).locator('.react-flow__node[data-id="thanks"]')).to_have_count(
        1, timeout=SLOW
    )
    # Every cell ran: the last one's output (the call's path) is on the page, and no cell failed.
    expect(page.locator(".jp-OutputArea-output", has_text="'confirm', 'thanks'")).to_have_count(
        1, timeout=SLOW
    )
    stderr = '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]'
    expect(page.locator(stderr)).to_have_count(0)
    clock.mark("run")

    designer = designers.first
    designer.scroll_into_view_if_needed()
    expect(designer.locator(".jd-empty")).to_be_visible(timeout=STEP)
    message = designer.locator(".jd-message")
    inspector = designer.locator(".jd-inspector")
    prompt = inspector.locator(".jd-field-prompt textarea")

    def write_prompt(node: str, text: str) -> None:
        """Type into the new node's prompt, which has the focus; wait until Python has it."""
        expect(prompt).to_be_focused(timeout=STEP)
        page.keyboard.type(text, delay=15)
        expect(message).to_have_text(re.compile(rf"^{node}: what the caller hears"), timeout=STEP)

    inspector.locator(".jd-palette-menu").click()
    expect(message).to_have_text("added menu menu_1", timeout=STEP)
    write_prompt("menu_1", "Press 1 for sales.")

    node_id = inspector.locator(".jd-node-id-input")
    node_id.fill("main")
    node_id.press("Enter")
    expect(message).to_have_text("renamed menu_1 to main", timeout=STEP)

    # Key 1 of the menu leads to a new hangup, chosen in the inspector's exits.
    inspector.locator("select.jd-add-key").select_option("1")
    target = inspector.locator("select.jd-exit-1")
    target.focus()  # its choices are built when it is pressed or focused, as a person does
    target.select_option("new:hangup")
    expect(message).to_have_text("added hangup hangup_1", timeout=STEP)
    write_prompt("hangup_1", "Goodbye.")
    edge = designer.locator(""".react-flow__edge[data-id='edge:["main","1"]']""")
    expect(edge).to_have_count(1, timeout=STEP)

    phone = designer.locator(".jd-phone")
    status = phone.locator(".jd-call-status")
    transcript = phone.locator(".jd-transcript")
    designer.locator(".jd-tab-phone").click()
    phone.locator("button.jd-dial").click()
    expect(status).to_have_text("Waiting at main.", timeout=STEP)
    expect(transcript).to_contain_text("Press 1 for sales.", timeout=STEP)
    phone.locator("button.jd-keypad-key.jd-key-1").click()
    expect(status).to_have_text("The call has ended.", timeout=STEP)
    expect(transcript).to_contain_text("Goodbye.", timeout=STEP)

    clock.mark("clicks")
    heard = transcript.inner_text()
    assert heard.index("Press 1 for sales.") < heard.index("Goodbye."), heard
    designer.evaluate("element => element.scrollIntoView({block: 'start'})")
