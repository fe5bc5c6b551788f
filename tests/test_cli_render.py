"""`jaxl-designer render`: drawings written by suffix, mistakes as one line with exit status 2."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from jaxl_designer.cli import main
from jaxl_designer.core.examples import acme
from jaxl_designer.core.fileformat import save


@pytest.fixture
def flow_file(tmp_path: Path) -> Path:
    return save(acme(), tmp_path / "acme.json")


@pytest.mark.exe
def test_svg_is_written_and_says_how_many_nodes(flow_file: Path, capsys) -> None:
    out = flow_file.with_name("acme.svg")
    assert main(["render", str(flow_file), "-o", str(out)]) == 0
    root = ET.fromstring(out.read_text(encoding="utf-8"))
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert capsys.readouterr().out == f"{out}: 7 nodes drawn\n"


@pytest.mark.exe
def test_png_is_an_image(flow_file: Path) -> None:
    out = flow_file.with_name("acme.png")
    assert main(["render", str(flow_file), "-o", str(out), "--rankdir", "LR"]) == 0
    assert out.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


def test_mermaid_and_dot_need_no_graphviz_program(flow_file: Path, monkeypatch) -> None:
    monkeypatch.setenv("PATH", str(flow_file.parent))
    mermaid, dot = flow_file.with_name("acme.mmd"), flow_file.with_name("acme.dot")
    assert main(["render", str(flow_file), "-o", str(mermaid)]) == 0
    assert main(["render", str(flow_file), "-o", str(dot), "--words", "0"]) == 0
    assert mermaid.read_text(encoding="utf-8").startswith("flowchart TD\n")
    assert "label=<<B>main</B>>" in dot.read_text(encoding="utf-8")


def test_a_missing_dot_is_one_line_and_writes_nothing(flow_file: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("PATH", str(flow_file.parent))
    out = flow_file.with_name("acme.svg")
    assert main(["render", str(flow_file), "-o", str(out)]) == 2
    assert capsys.readouterr().err == (
        "jaxl-designer render: graphviz's dot program was not found: install graphviz "
        "(apt-get install graphviz / brew install graphviz)\n"
    )
    assert not out.exists()


def test_an_unknown_format_is_refused_before_anything_runs(flow_file: Path, capsys) -> None:
    assert main(["render", str(flow_file), "-o", str(flow_file.with_name("acme.jpg"))]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unknown drawing format" in err and ".svg" in err


def test_a_folder_that_does_not_exist_is_one_line(flow_file: Path, capsys) -> None:
    out = flow_file.parent / "nowhere" / "acme.mmd"
    assert main(["render", str(flow_file), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"jaxl-designer render: {out}: cannot write") and err.count("\n") == 1


def test_a_broken_flow_file_is_one_line(tmp_path: Path, capsys) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text("{not json", encoding="utf-8")
    assert main(["render", str(broken), "-o", str(tmp_path / "x.svg")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"jaxl-designer render: {broken}") and err.count("\n") == 1
