"""Export: same flow same bytes, refusals, golden copies, one source of truth, lint-clean output."""

from __future__ import annotations

import ast
import importlib
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jaxl_designer.cli import main as cli_main
from jaxl_designer.core.examples import EXAMPLES, acme
from jaxl_designer.core.fileformat import dumps, load, save
from jaxl_designer.core.flow import Flow
from jaxl_designer.exporter.export import (
    SOURCES,
    ExportError,
    export,
    flow_literal,
    generate_gunicorn_conf,
    generate_webhook,
)

ROOT = Path(__file__).resolve().parent.parent
EXPORTED = ROOT / "exported"
BIN = Path(sys.executable).parent


def tricky() -> Flow:
    """A flow whose strings need every kind of escaping, and a prompt longer than a line."""
    flow = Flow('tricky "quotes" and \\ back', description='Says """ and \\n; ünïcode ✓.')
    flow.menu(
        "main",
        [
            'He said "hi" \\ then left.\ttab',
            "Line\nbreak, \u2028 separator, \x07 bell, emoji 📞 and हिंदी.",
            "A very long sentence that goes on and on past the width of any line a formatter "
            "would accept, so it cannot fit anywhere. Press 1 to leave.",
        ],
        keys={"1": "bye"},
    )
    flow.hangup("bye", "Goodbye {from_number:digits}, {{literal braces}}.")
    return flow


def load_module(path: Path) -> dict[str, Any]:
    spec = importlib.util.spec_from_file_location("webhook_under_test", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # as an import does: a dataclass looks its module up
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[spec.name]
    return vars(module)


def top_level(tree: ast.Module) -> dict[str, str]:
    found: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            assert node.name not in found, f"{node.name} is defined twice"
            found[node.name] = ast.dump(node)
    return found


# -- determinism ---------------------------------------------------------------------------
def test_the_same_flow_gives_the_same_bytes_in_any_process(tmp_path: Path) -> None:
    text = generate_webhook(acme())
    assert text == generate_webhook(acme())
    code = "from jaxl_designer.exporter.export import generate_webhook; from jaxl_designer.core.examples import acme; import sys; sys.stdout.write(generate_webhook(acme()))"  # noqa: E501
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        out = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, check=True, text=True
        )
        assert out.stdout == text
    assert "20" + "26-" not in text.split("FLOW")[0]  # no date in the header


def test_a_second_export_changes_nothing(tmp_path: Path) -> None:
    first = export(acme(), tmp_path / "out")
    assert {p.name for p in first.changed} == {"flow.json", "webhook.py", "gunicorn.conf.py"}
    mtime = first.webhook.stat().st_mtime_ns
    second = export(acme(), tmp_path / "out")
    assert second.changed == () and second.webhook.stat().st_mtime_ns == mtime
    files = "flow.json, webhook.py, gunicorn.conf.py"
    assert str(second) == f"{tmp_path / 'out'}: {files} up to date (0 warnings)"


def test_the_exported_flow_file_is_the_flow(tmp_path: Path) -> None:
    result = export(tricky(), tmp_path)
    assert result.flow_json.read_text(encoding="utf-8") == dumps(tricky())
    assert load(result.flow_json) == tricky()


# -- refusals ------------------------------------------------------------------------------
def test_a_flow_with_errors_is_refused_and_nothing_is_written(tmp_path: Path) -> None:
    flow = acme()
    flow.connect("main", "3", "nowhere")
    with pytest.raises(ExportError) as caught:
        export(flow, tmp_path / "out")
    assert "unknown-target main --3--> nowhere" in str(caught.value)
    assert "\n" not in str(caught.value)
    assert [p.code for p in caught.value.problems] == ["unknown-target"]
    assert not (tmp_path / "out").exists()


def test_warnings_do_not_stop_an_export(tmp_path: Path) -> None:
    flow = acme()
    flow.add("orphan", "hangup", prompt=["Nobody comes here."])
    result = export(flow, tmp_path)
    assert [p.code for p in result.warnings] == ["unreachable"]
    assert result.webhook.exists()


def test_a_link_in_place_of_a_file_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside.py"
    outside.write_text("precious\n")
    out = tmp_path / "out"
    out.mkdir()
    (out / "webhook.py").symlink_to(outside)
    for force in (False, True):
        with pytest.raises(ExportError, match="not a plain file"):
            export(acme(), out, force=force)
    assert outside.read_text() == "precious\n"
    assert not (out / "flow.json").exists()


def test_a_folder_in_place_of_a_file_or_a_file_in_place_of_the_folder_is_refused(
    tmp_path: Path,
) -> None:
    (tmp_path / "out" / "flow.json").mkdir(parents=True)
    with pytest.raises(ExportError, match="not a plain file"):
        export(acme(), tmp_path / "out")
    (tmp_path / "file").write_text("x")
    with pytest.raises(ExportError, match="not a folder"):
        export(acme(), tmp_path / "file")


def test_a_file_someone_else_wrote_is_kept_unless_forced(tmp_path: Path) -> None:
    (tmp_path / "webhook.py").write_text("# my own webhook\n")
    with pytest.raises(ExportError, match="not written by jaxl-designer"):
        export(acme(), tmp_path)
    assert (tmp_path / "webhook.py").read_text() == "# my own webhook\n"
    export(acme(), tmp_path, force=True)
    assert (tmp_path / "webhook.py").read_text(encoding="utf-8") == generate_webhook(acme())


def test_a_gunicorn_conf_someone_else_wrote_is_kept_unless_forced(tmp_path: Path) -> None:
    (tmp_path / "gunicorn.conf.py").write_text("workers = 9\n")
    with pytest.raises(ExportError, match="not written by jaxl-designer"):
        export(acme(), tmp_path)
    assert (tmp_path / "gunicorn.conf.py").read_text() == "workers = 9\n"
    assert not (tmp_path / "webhook.py").exists()
    export(acme(), tmp_path, force=True)
    assert (tmp_path / "gunicorn.conf.py").read_text(encoding="utf-8") == generate_gunicorn_conf()
    export(acme(), tmp_path)  # ours now: rewritten without --force


def test_parameters_are_filled_from_the_chosen_environment(tmp_path: Path) -> None:
    flow = acme()
    flow.update("sales", phone="{{sales_phone}}")
    flow.environments = {
        "dev": {"sales_phone": "+911111111111"},
        "prod": {"sales_phone": "+912222222222"},
    }
    with pytest.raises(ExportError, match="choose an environment"):
        generate_webhook(flow)
    result = export(flow, tmp_path, env="dev")
    module = load_module(result.webhook)
    assert module["FLOW"]["nodes"]["sales"]["phone"] == "+911111111111"
    assert "environments" not in module["FLOW"]
    assert json.loads(result.flow_json.read_text())["environments"] == flow.environments


# -- golden copies -------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_the_committed_exports_are_what_the_generator_writes(name: str) -> None:
    flow = EXAMPLES[name]()
    folder = EXPORTED / name
    hint = "regenerate with: jaxl-designer export --examples exported/"
    assert (folder / "flow.json").read_text(encoding="utf-8") == dumps(flow), hint
    assert (folder / "webhook.py").read_text(encoding="utf-8") == generate_webhook(flow), hint
    conf = (folder / "gunicorn.conf.py").read_text(encoding="utf-8")
    assert conf == generate_gunicorn_conf(), hint


def test_the_examples_command_regenerates_every_example(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "jaxl_designer", "export", "--examples", str(tmp_path)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(EXAMPLES)
    assert out.stdout.count("written") == len(EXAMPLES)
    for name in EXAMPLES:
        for file in ("flow.json", "webhook.py", "gunicorn.conf.py"):
            assert (tmp_path / name / file).read_bytes() == (EXPORTED / name / file).read_bytes()


# -- one source of truth -------------------------------------------------------------------
#: Every module the export carries (exporter.export.SOURCES), so a new one is checked too.
CARRIED = [
    importlib.import_module("jaxl_designer." + name.removesuffix(".py").replace("/", "."))
    for name in SOURCES
]


@pytest.mark.parametrize("module", CARRIED, ids=lambda m: m.__name__.rsplit(".", 1)[-1])
def test_every_function_and_class_is_carried_verbatim(module: Any) -> None:
    source = top_level(ast.parse(Path(module.__file__).read_text(encoding="utf-8")))
    webhook = top_level(ast.parse((EXPORTED / "acme" / "webhook.py").read_text(encoding="utf-8")))
    assert source, "nothing to compare"
    for name, dumped in source.items():
        assert webhook.get(name) == dumped, f"{name} differs from {module.__name__}"


def test_the_carried_modules_define_no_name_twice() -> None:
    """They share one namespace in webhook.py: a second definition would silently win."""
    names = []
    for module in CARRIED:
        tree = ast.parse(Path(str(module.__file__)).read_text(encoding="utf-8"))
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.append(node.name)
            elif isinstance(node, (ast.Assign, ast.AnnAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                names += [t.id for t in targets if isinstance(t, ast.Name) and t.id != "__all__"]
    assert len(names) == len(set(names)), sorted(n for n in names if names.count(n) > 1)


def test_the_webhook_runs_on_the_standard_library_alone(tmp_path: Path) -> None:
    export(acme(), tmp_path)
    # -S: no site-packages, so no redis, uvicorn or jaxl_designer to lean on
    out = subprocess.run(
        [sys.executable, "-I", "-S", str(tmp_path / "webhook.py"), "--help"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr
    assert "--redis-url" in out.stdout


def test_jaxl_app_without_the_sdk_says_how_to_get_it(tmp_path: Path) -> None:
    if importlib.util.find_spec("jaxl") is not None:
        pytest.skip("the Jaxl SDK is installed here")
    module = load_module(export(acme(), tmp_path).webhook)
    with pytest.raises(AttributeError, match="pip install 'jaxl-python"):
        module["__getattr__"]("JaxlApp")


# -- the text itself -----------------------------------------------------------------------
def test_the_flow_literal_is_the_document(tmp_path: Path) -> None:
    module = load_module(export(tricky(), tmp_path).webhook)
    expected = {k: v for k, v in tricky().to_document().items() if k != "layout"}
    assert module["FLOW"] == expected
    assert module["app"].runtime.flow == expected


def test_each_node_is_named_in_a_comment() -> None:
    text = generate_webhook(acme())
    for node in acme().nodes:
        assert f"        # {node}: {acme().kind(node)}\n        {json.dumps(node)}: " in text


@settings(max_examples=300, deadline=None)
@given(st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
))  # fmt: skip
def test_any_json_value_reads_back_from_its_literal(value: Any) -> None:
    document = {"nodes": {"n": {"kind": "say", "value": value}}, "extra": value}
    assert ast.literal_eval(flow_literal(document)) == document


def test_generated_files_pass_ruff_and_mypy(tmp_path: Path) -> None:
    files = [EXPORTED / name / "webhook.py" for name in sorted(EXAMPLES)]
    files.append(export(tricky(), tmp_path / "tricky").webhook)
    config = ["--config", str(ROOT / "pyproject.toml")]
    ruff = str(BIN / "ruff")
    check = subprocess.run([ruff, "check", *config, *map(str, files)], capture_output=True)
    assert check.returncode == 0, check.stdout.decode()
    fmt = subprocess.run([ruff, "format", "--check", "--diff", *config, *map(str, files)],
                         capture_output=True)  # fmt: skip
    assert fmt.returncode == 0, fmt.stdout.decode() + fmt.stderr.decode()
    mypy = subprocess.run(
        [str(BIN / "mypy"), "--config-file", str(ROOT / "pyproject.toml"), str(files[0])],
        capture_output=True,
        cwd=tmp_path,
    )
    assert mypy.returncode == 0, mypy.stdout.decode()


# -- the command line ----------------------------------------------------------------------
def test_the_export_verb_writes_and_reports(tmp_path: Path, capsys: Any) -> None:
    save(acme(), tmp_path / "acme.json")
    assert cli_main(["export", str(tmp_path / "acme.json"), "-o", str(tmp_path / "out")]) == 0
    assert "flow.json, webhook.py, gunicorn.conf.py written" in capsys.readouterr().out
    assert (tmp_path / "out" / "webhook.py").read_text(encoding="utf-8") == generate_webhook(acme())


def test_the_export_verb_refuses_a_flow_with_errors_in_one_line(
    tmp_path: Path, capsys: Any
) -> None:
    flow = acme()
    flow.disconnect("main_invalid", "next")
    save(flow, tmp_path / "bad.json")
    assert cli_main(["export", str(tmp_path / "bad.json"), "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("jaxl-designer export: flow 'acme' has 1 error(s): error missing-exit")
    assert err.count("\n") == 1
