"""Real calls as regression tests: logged calls rebuilt as scenarios that replay; what changes."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from jaxl_designer.cli import main
from jaxl_designer.core.examples import EXAMPLES, acme, language_select
from jaxl_designer.core.fileformat import save
from jaxl_designer.core.realcalls import altered, altered_edges, group, rebuild, scenarios
from jaxl_designer.core.runtime import Runtime, request
from jaxl_designer.core.scenarios import run
from jaxl_designer.webhook.app import WebhookApp

HEADERS = {"content-type": "application/json"}


def log_of(flow_name: str, calls: list[list[tuple[int, str | None, str | None]]], **app: bool):
    """The request log of `calls` (each a list of event, option, data) on an example flow."""
    lines: list[str] = []
    webhook = WebhookApp(Runtime(EXAMPLES[flow_name]().to_document()), log=lines.append, **app)
    for call_id, steps in enumerate(calls, 1):
        for event, option, data in steps:
            body = request(event, call_id, option=option, data=data)
            webhook.handle("POST", "/webhook/", "", HEADERS, json.dumps(body).encode())
    return lines


def random_acme_calls(count: int, seed: int) -> list[list[tuple[int, str | None, str | None]]]:
    rng = random.Random(seed)
    calls = []
    for _ in range(count):
        steps: list[tuple[int, str | None, str | None]] = [(1, None, None)]
        for _ in range(rng.randrange(1, 6)):
            kind = rng.random()
            if kind < 0.6:
                steps.append((2, rng.choice("1279#"), None))
            elif kind < 0.9:
                steps.append((2, None, rng.choice(["4711*", "12*", "x*", "1#", "99999*"])))
            else:
                steps.append((3, None, None))
                break
        calls.append(steps)
    return calls


def test_every_real_path_becomes_a_scenario_that_passes_on_its_flow() -> None:
    lines = log_of("acme", random_acme_calls(600, seed=1))
    paths, traffic = group([lines], per_path=2)
    assert sum(path.calls for path in paths) == traffic.calls - traffic.partial
    made, failed = scenarios(acme(), paths)
    assert not failed
    assert len(made) == sum(len(path.kept) for path in paths)
    for scenario in made:
        result = run(acme(), scenario)
        assert result.passed, str(result)
        assert [list(edge) for edge in result.call.edges] == scenario["edges"]


def test_digits_are_rebuilt_by_count_or_taken_as_logged() -> None:
    calls = [[(1, None, None), (2, None, "2#")], [(1, None, None), (2, None, "7#")]]
    by_count = group([log_of("language", calls)])[0]
    with_digits = group([log_of("language", calls, log_digits=True)])[0]
    for path in by_count:  # "2#" goes to hindi, "7#" is refused: rebuilt from the count only
        call = rebuild(language_select(), path.kept[0])
        assert call is not None and call.edges == list(path.edges)
    rebuilt = [rebuild(language_select(), path.kept[0]) for path in with_digits]
    entered = [call.steps[1].value for call in rebuilt if call is not None]
    assert sorted(entered) == ["2#", "7#"]


def test_a_call_at_any_hour_is_rebuilt_at_an_hour_that_takes_its_branch() -> None:
    lines = log_of("business_hours", [[(1, None, None)]])
    (path,), _ = group([lines])
    made, failed = scenarios(EXAMPLES["business_hours"](), [path])
    assert not failed and run(EXAMPLES["business_hours"](), made[0]).passed


def test_a_change_names_the_real_paths_it_alters_and_how_many_calls_took_them() -> None:
    lines = log_of("support", [[(1, None, None), (2, "7", None), (2, "7", None), (2, "7", None)],
                               [(1, None, None), (2, "1", None), (2, "1", None)]] * 5)  # fmt: skip
    made, _ = scenarios(EXAMPLES["support"](), group([lines])[0])
    new = EXAMPLES["support"]()
    new.connect("main", "gave_up", "main_retry")  # no more operator for callers who give up
    changed = altered(new, made)
    assert len(changed) == 1
    scenario, result = changed[0]
    assert scenario["calls"] == 5 and "gave_up" in scenario["name"]
    assert result.failures[0].startswith("step 4 (press ")  # a key without an edge, as 7 is


def test_cli_writes_scenarios_that_test_replays(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "calls.log"
    log.write_text("\n".join(log_of("acme", random_acme_calls(200, seed=2))) + "\n")
    old, new = tmp_path / "old.json", tmp_path / "new.json"
    save(acme(), old)
    changed = acme()
    changed.connect("confirm", "2", "main")
    save(changed, new)
    folder = tmp_path / "real"
    assert main(["report", str(old), str(log), "--scenarios", str(folder)]) == 0
    files = sorted(folder.glob("real-*.json"))
    assert files and main(["test", str(old), *map(str, files)]) == 0
    capsys.readouterr()
    assert main(["report", str(old), str(log), "--against", str(new)]) == 1
    said = capsys.readouterr().out
    assert "real paths" in said and "answer otherwise" in said and "confirm -2-> order" in said


def test_calls_through_a_lookup_are_rebuilt_taking_the_same_exits() -> None:
    """A logged call's lookup exits (ok, failed, timeout) come back as stubs that take them."""
    from backend import Backend

    from jaxl_designer.core.flow import Flow

    backend = Backend(slow=1.0)
    try:
        host = f"127.0.0.1:{backend.port}"
        flow = Flow("codes")
        flow.collect("ask", "Your code, then star.", "code", terminator="*", then="find")
        flow.lookup("find", f"http://{host}/codes/{{code}}", save={"phone": "target.phone"},
                    timeout=0.5, ok="agent", failed="sorry", timed_out="late")  # fmt: skip
        flow.transfer("agent", phone="{phone}", invalid="sorry")
        flow.hangup("sorry", "Sorry.")
        flow.hangup("late", "Too slow.")
        flow.allowed_hosts = [host]
        lines: list[str] = []
        webhook = WebhookApp(Runtime(flow.to_document()), log=lines.append)
        # 17 is found, 500 fails at the backend, 903 answers after the 0.5 s timeout
        for call_id, code in enumerate(["17*", "500*", "903*", "17*"], 1):
            for event, data in ((1, None), (1, code)):
                body = json.dumps(request(event, call_id, data=data)).encode()
                webhook.handle("POST", "/webhook/", "", HEADERS, body)
        paths, _ = group([lines], per_path=5)
        exits = sorted(
            {exit for path in paths for call in path.kept for turn in call.turns
             for _, exit in turn.lookups}
        )  # fmt: skip
        assert exits == ["failed", "ok", "timeout"]
        made, failed = scenarios(flow, paths)
        assert not failed and len(made) == 4
        for scenario in made:
            assert run(flow, scenario).passed
    finally:
        backend.close()


def test_the_change_is_drawn_with_the_real_paths_it_alters_heavy(tmp_path: Path) -> None:
    """--diff: the diff drawing, with the edges real callers took on altered paths counted."""
    import re

    log = tmp_path / "calls.log"
    log.write_text("\n".join(log_of("acme", random_acme_calls(200, seed=2))) + "\n")
    old, new = tmp_path / "old.json", tmp_path / "new.json"
    save(acme(), old)
    changed = acme()
    changed.connect("confirm", "2", "main")  # re-entering now goes back to the main menu
    save(changed, new)
    drawing = tmp_path / "change.svg"
    assert main(["report", str(old), str(log), "--against", str(new), "--diff", str(drawing)]) == 1
    svg = drawing.read_text()
    made, _ = scenarios(acme(), group([log.read_text().splitlines()])[0])
    real = altered_edges(altered(changed, made))
    calls = real[("confirm", "2", "order")]
    assert calls > 0, "some real callers re-entered their order number"
    assert f"2 · {calls:,} real calls" in svg
    assert len(re.findall(r'class="[^"]*\breal\b', svg)) == len([e for e in real if real[e]])
    assert real[("main", "1", "sales")] == 0, "paths the change leaves alone are not drawn heavy"
    assert main(["report", str(old), str(log), "--diff", str(drawing)]) == 2
