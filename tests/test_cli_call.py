"""`jaxl-designer call` through a pseudo-terminal, and `jaxl-designer test` on what it recorded."""

from __future__ import annotations

import json
import subprocess
import sys

import pexpect
import pytest

from jaxl_designer.core.examples import acme
from jaxl_designer.core.fileformat import save

COMMAND = [sys.executable, "-m", "jaxl_designer"]


@pytest.fixture
def flow_file(tmp_path):
    path = tmp_path / "acme.json"
    save(acme(), path)
    return path


def phone(*args: str, cwd) -> pexpect.spawn:
    return pexpect.spawn(
        COMMAND[0], [*COMMAND[1:], "call", *args], cwd=str(cwd), encoding="utf-8", timeout=20
    )


def test_a_call_in_the_terminal_is_recorded_and_replays(flow_file, tmp_path) -> None:
    scenario = tmp_path / "order.json"
    child = phone(str(flow_file), "--record", str(scenario), cwd=tmp_path)
    child.expect_exact("IVR: Welcome to Acme.")
    child.expect_exact("IVR: Press 9 to hear this again.")
    child.expect_exact("press a key (h hangs up)> ")
    child.sendline("12")
    child.expect_exact("(one key at a time here)")
    child.sendline("2")
    child.expect_exact("IVR: Please enter your order number followed by star")
    child.expect_exact("enter digits, then * (h hangs up)> ")
    child.sendline("123")  # the terminator is added when left out
    child.expect_exact("IVR: You entered 123.")
    child.sendline("1")
    child.expect_exact("IVR: Thank you.")
    child.expect_exact("IVR: Your order 123 is on its way.")
    child.expect_exact("IVR: (hangs up)")
    child.expect_exact("Path: main → order → confirm → thanks")
    child.expect_exact(f"recorded {scenario} (4 steps)")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    steps = json.loads(scenario.read_text())["steps"]
    assert [(s["action"], s.get("input")) for s in steps] == [
        ("dial", None),
        ("press", "2"),
        ("enter", "123*"),
        ("press", "1"),
    ]

    test = subprocess.run(
        [*COMMAND, "test", str(flow_file), str(scenario)], capture_output=True, text=True
    )
    assert test.returncode == 0, test.stdout
    assert test.stdout.splitlines() == ["PASS order (4 steps)", "1 passed, 0 failed"]

    changed = acme()
    changed.update("thanks", prompt=["Thanks!"])
    save(changed, tmp_path / "changed.json")
    test = subprocess.run(
        [*COMMAND, "test", str(tmp_path / "changed.json"), str(scenario)],
        capture_output=True,
        text=True,
    )
    assert test.returncode == 1
    assert test.stdout.startswith("FAIL order\n  step 4 (press 1): expected")


@pytest.mark.parametrize("hang_up", ["h", "ctrl-d"])
def test_the_caller_can_hang_up(flow_file, tmp_path, hang_up) -> None:
    child = phone(str(flow_file), "--from", "+15550001111", cwd=tmp_path)
    child.expect_exact("press a key (h hangs up)> ")
    child.sendline("9")
    child.expect_exact("press a key (h hangs up)> ")
    if hang_up == "h":
        child.sendline("h")
    else:
        child.sendeof()
    child.expect_exact("You: (hang up)")
    child.expect_exact("Path: main → main")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0


def test_a_transfer_ends_the_call(flow_file, tmp_path) -> None:
    child = phone(str(flow_file), cwd=tmp_path)
    child.expect_exact("press a key (h hangs up)> ")
    child.sendline("1")
    child.expect_exact("IVR: (transfers the call: phone +918000000001)")
    child.expect_exact("Path: main → sales")
    child.expect(pexpect.EOF)


def test_keys_that_are_not_on_a_keypad_are_refused(flow_file, tmp_path) -> None:
    child = phone(str(flow_file), cwd=tmp_path)
    child.expect_exact("press a key (h hangs up)> ")
    child.sendline("x")
    child.expect_exact("(keys are 0-9, * and #)")
    child.sendline("h")
    child.expect(pexpect.EOF)


def test_test_reports_a_bad_scenario_file_and_fails(flow_file, tmp_path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "nope"}')
    run = subprocess.run(
        [*COMMAND, "test", str(flow_file), str(bad), str(tmp_path / "missing.json")],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 1
    assert run.stdout.splitlines() == [
        f'FAIL {bad}: format: expected "jaxl-designer/scenario": this is not a scenario file',
        f"FAIL {tmp_path / 'missing.json'}: no such file",
        "0 passed, 2 failed",
    ]


def test_a_bad_time_is_one_line(flow_file, tmp_path) -> None:
    run = subprocess.run(
        [*COMMAND, "call", str(flow_file), "--at", "2026-11-24T10:00:00"],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 2
    assert run.stderr == (
        "jaxl-designer call: give the time with its zone, like 2026-11-24T10:00:00+05:30\n"
    )


def test_an_outbound_call_with_metadata_from_the_terminal(tmp_path) -> None:
    flow = acme()
    flow.update("main", prompt=["Hello about order {metadata.order_id}, a {direction} call."])
    path = tmp_path / "out.json"
    save(flow, path)
    child = phone(
        str(path), "--context", "direction=outbound", "--context", "metadata.order_id=77",
        cwd=tmp_path,
    )  # fmt: skip
    child.expect_exact("IVR: Hello about order 77, a outbound call.")
    child.sendline("h")
    child.expect(pexpect.EOF)


@pytest.mark.parametrize(
    ("given", "said"),
    [
        ("direction", "--context direction: expected NAME=VALUE, like direction=outbound"),
        ("metdata.x=1", "--context: 'metdata.x' is not a context field"),
    ],
)
def test_a_bad_context_is_one_line(flow_file, tmp_path, given: str, said: str) -> None:
    run = subprocess.run(
        [*COMMAND, "call", str(flow_file), "--context", given], capture_output=True, text=True
    )
    assert run.returncode == 2
    assert run.stderr.startswith(f"jaxl-designer call: {said}")
    assert len(run.stderr.splitlines()) == 1


def test_a_flow_with_errors_is_said_before_it_is_dialled(tmp_path) -> None:
    flow = acme()
    flow.update("sales", phone="12345")  # not E.164: an error
    path = tmp_path / "broken.json"
    save(flow, path)
    child = pexpect.spawn(
        COMMAND[0],
        [*COMMAND[1:], "call", str(path)],
        cwd=str(tmp_path),
        encoding="utf-8",
        timeout=20,
    )
    child.expect_exact(
        "jaxl-designer call: this flow has 1 error: sales: phone '12345' is not E.164"
    )
    child.expect_exact("IVR: Welcome to Acme.")  # and then the call, as it stands
    child.sendline("h")
    child.expect(pexpect.EOF)
