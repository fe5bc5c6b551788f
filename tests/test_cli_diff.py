"""`jaxl-designer diff`: one line per change, diff(1)'s exit codes, and the drawing."""

from __future__ import annotations

import pytest

from jaxl_designer.cli import main
from jaxl_designer.core.examples import acme
from jaxl_designer.core.fileformat import save
from jaxl_designer.drawing.diff import COLOURS


@pytest.fixture
def files(tmp_path):
    old, new = tmp_path / "old.json", tmp_path / "new.json"
    save(acme(), old)
    flow = acme()
    flow.connect("main", "3", "sales")
    flow.update(
        "confirm", prompt=["You entered {order}.", "Press 1 to accept.", "Press 2 to re-enter."]
    )
    save(flow, new)
    return old, new


def test_changes_are_printed_and_exit_1(files, capsys) -> None:
    old, new = files
    assert main(["diff", str(old), str(new)]) == 1
    assert capsys.readouterr().out.splitlines() == [
        "main: key 3 added → sales",
        "node confirm: prompt line 2 changed from 'Press 1 to confirm.' to 'Press 1 to accept.'",
    ]


def test_the_same_flow_exits_0(files, capsys) -> None:
    old, _ = files
    assert main(["diff", str(old), str(old)]) == 0
    assert capsys.readouterr().out == "no changes\n"


def test_layout_only_exits_0_and_says_so(files, tmp_path, capsys) -> None:
    old, _ = files
    moved = acme()
    moved.layout = {"main": [1.0, 2.0]}
    save(moved, tmp_path / "moved.json")
    assert main(["diff", str(old), str(tmp_path / "moved.json")]) == 0
    assert capsys.readouterr().out == "no changes (only the layout differs)\n"


def test_a_missing_file_is_one_line_and_exit_2(files, tmp_path, capsys) -> None:
    old, _ = files
    assert main(["diff", str(old), str(tmp_path / "nope.json")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "nope.json: no such file" in err


@pytest.mark.exe
def test_dash_o_draws_the_changes(files, tmp_path) -> None:
    old, new = files
    svg = tmp_path / "diff.svg"
    assert main(["diff", str(old), str(new), "-o", str(svg)]) == 1
    text = svg.read_text()
    assert "<svg" in text and COLOURS["added"] in text and COLOURS["changed"] in text


def test_a_missing_dot_is_one_line_exit_2_and_writes_nothing(files, monkeypatch, capsys) -> None:
    old, new = files
    svg = old.with_name("diff.svg")
    monkeypatch.setenv("PATH", str(old.parent))
    assert main(["diff", str(old), str(new), "-o", str(svg)]) == 2
    err = capsys.readouterr().err
    assert (
        err.count("\n") == 1 and f"cannot draw {svg}: graphviz's dot program was not found" in err
    )
    assert not svg.exists()
