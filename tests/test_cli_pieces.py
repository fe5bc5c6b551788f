"""Every verb finds a piece file beside the flow that includes it, from any working directory."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from jaxl_designer import Flow, Simulator, load, save, validate
from jaxl_designer.core.scenarios import record

COMMAND = [sys.executable, "-m", "jaxl_designer"]


@pytest.fixture
def flows(tmp_path: Path) -> Path:
    """flows/main.json includes flows/ask.json by its bare name; the shell stays in tmp_path."""
    folder = tmp_path / "flows"
    folder.mkdir()
    piece = Flow("ask")
    piece.collect("ask", "Enter your account number, then hash.", "acct", terminator="#")
    piece.connect("ask", "ok", "@done")
    piece.entry = "ask"
    save(piece, folder / "ask.json")
    main = Flow("main")
    main.subflow("account", "ask.json", exits={"done": "bye"})
    main.hangup("bye", "Account {acct:digits}. Goodbye.")
    main.entry = "account"
    return save(main, folder / "main.json")


def _run(*args: str, cwd: Path, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*COMMAND, *args], cwd=cwd, input=stdin, capture_output=True, text=True, timeout=60
    )


def test_validate_finds_the_piece_beside_the_flow(flows: Path, tmp_path: Path) -> None:
    result = _run("validate", "flows/main.json", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "unknown-piece" not in result.stdout
    assert result.stdout == "flows/main.json: ok (2 nodes)\n"


def test_a_call_in_the_terminal_runs_through_the_piece(flows: Path, tmp_path: Path) -> None:
    result = _run("call", "flows/main.json", cwd=tmp_path, stdin="42#\n")
    assert result.returncode == 0, result.stderr
    assert "IVR: Enter your account number, then hash." in result.stdout
    assert "IVR: Account 4 2. Goodbye." in result.stdout


def test_explore_reaches_the_piece(flows: Path, tmp_path: Path) -> None:
    result = _run("explore", "flows/main.json", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "nodes reached: 2 of 2 (100%)" in result.stdout


def test_a_scenario_replays_through_the_piece(flows: Path, tmp_path: Path) -> None:
    call = Simulator(load(flows)).dial()
    call.enter("42#")
    scenario = tmp_path / "account.json"
    scenario.write_text(json.dumps(record(call, "account")), encoding="utf-8")
    result = _run("test", "flows/main.json", "account.json", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines()[0] == "PASS account (2 steps)"


def test_render_and_export_read_the_piece(flows: Path, tmp_path: Path) -> None:
    drawn = _run("render", "flows/main.json", "-o", "main.svg", cwd=tmp_path)
    assert drawn.returncode == 0, drawn.stderr
    assert "<svg" in (tmp_path / "main.svg").read_text(encoding="utf-8")
    exported = _run("export", "flows/main.json", "-o", "out", cwd=tmp_path)
    assert exported.returncode == 0, exported.stderr
    assert "Enter your account number" in (tmp_path / "out" / "webhook.py").read_text("utf-8")


def test_a_loaded_flow_knows_its_folder_and_a_built_one_uses_the_current_one(
    flows: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    loaded = load(flows)
    assert loaded.folder == flows.parent
    assert validate(loaded) == []
    built = loaded.copy()
    built.folder = None  # as if typed in a notebook: pieces are read from the current directory
    assert "unknown-piece" in [p.code for p in validate(built)]
    monkeypatch.chdir(flows.parent)
    assert validate(built) == []
