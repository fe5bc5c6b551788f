"""`jaxl-designer explore` as a user runs it: a real process, its output and exit status."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from jaxl_designer.core.examples import acme
from jaxl_designer.core.fileformat import save
from jaxl_designer.core.flow import Flow


def explore(*args: str | Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "jaxl_designer", "explore", *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)


def test_acme_explores_clean(tmp_path: Path) -> None:
    path = tmp_path / "acme.json"
    save(acme(), path)
    done = explore(path)
    assert done.returncode == 0, done.stderr
    assert "nodes reached: 7 of 7 (100%)" in done.stdout
    assert "edges taken: 10 of 10 (100%)" in done.stdout
    assert "endless calls: none" in done.stdout


def test_an_endless_call_fails_with_the_route(tmp_path: Path) -> None:
    flow = Flow("loop")
    flow.menu("main", "Press 1 to hear this again.", keys={"1": "main"})
    path = tmp_path / "loop.json"
    save(flow, path)
    done = explore(path)
    assert done.returncode == 1
    assert "endless calls: 1" in done.stdout and "dead ends: 1" in done.stdout
    assert "reached by: dial" in done.stdout


def test_depth_limits_the_search(tmp_path: Path) -> None:
    path = tmp_path / "acme.json"
    save(acme(), path)
    done = explore(path, "--depth", "1")
    assert done.returncode == 0
    assert "stopped early (depth 1)" in done.stdout
    assert "nodes never reached: confirm, thanks, confirm_invalid" in done.stdout


def test_bad_input_is_one_line_and_exit_2(tmp_path: Path) -> None:
    missing = explore(tmp_path / "nope.json")
    assert missing.returncode == 2 and len(missing.stderr.strip().splitlines()) == 1
    path = tmp_path / "acme.json"
    path.write_text(json.dumps(acme().to_document()), encoding="utf-8")
    negative = explore(path, "--depth", "-1")
    assert negative.returncode == 2 and "--depth -1" in negative.stderr
