"""`jaxl-designer validate`: the real command, run as a user runs it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from jaxl_designer.core.examples import acme
from jaxl_designer.core.fileformat import save
from jaxl_designer.core.flow import Flow


def _validate(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "jaxl_designer", "validate", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_sound_flow_passes(tmp_path: Path) -> None:
    path = save(acme(), tmp_path / "acme.json")
    result = _validate(path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"{path}: ok (7 nodes)\n"
    assert result.stderr == ""
    assert _validate(path, "--strict").returncode == 0


def test_errors_fail_with_one_line_per_problem(tmp_path: Path) -> None:
    flow = acme()
    flow.connect("main", "3", "nowhere")
    flow.remove("thanks")
    path = save(flow, tmp_path / "broken.json")
    result = _validate(path)
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert lines == [
        f"{path}: error unknown-target main --3--> nowhere: key 3 leads to 'nowhere', "
        "which is not a node",
        f"{path}: error missing-key confirm: the prompt announces key 1 but no edge leaves on 1",
        f"{path}: warning unannounced-key main --3--> nowhere: "
        "key 3 has an edge but the prompt never announces it",
    ]


def test_a_broken_file_is_one_line_on_stderr(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text('{"format": "jaxl-designer/flow", "version": 1, "nodes": {"a": {"kind": 7}}}')
    result = _validate(path)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith(f"jaxl-designer validate: {path}: nodes.a.kind: unknown kind 7")
    assert "Traceback" not in result.stderr


def test_a_missing_file_is_one_line_on_stderr(tmp_path: Path) -> None:
    result = _validate(tmp_path / "gone.json")
    assert result.returncode == 2
    assert result.stderr == f"jaxl-designer validate: {tmp_path / 'gone.json'}: no such file\n"


def test_strict_fails_on_warnings(tmp_path: Path) -> None:
    flow = Flow("lonely")
    flow.hangup("bye", "Bye.")
    flow.hangup("lost", "Nobody hears this.")
    path = save(flow, tmp_path / "lonely.json")
    relaxed = _validate(path)
    assert relaxed.returncode == 0
    assert relaxed.stdout == (
        f"{path}: warning unreachable lost: no call can reach this node from the entry\n"
    )
    assert _validate(path, "--strict").returncode == 1
