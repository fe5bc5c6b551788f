"""The generated Acme webhook, a real process, answers real Jaxl traffic exactly, however shaped."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import Processes, exchange, free_port, http_request, webhook_command

from jaxl_designer.core.examples import acme
from jaxl_designer.core.runtime import NEUTRAL, Runtime
from jaxl_designer.exporter.export import export, generate_gunicorn_conf, generate_webhook

MAIN = {
    "prompt": ["Welcome to Acme.", "Press 1 for sales.", "Press 2 to enter your order number.",
               "Press 9 to hear this again."],
    "num_characters": 1,
}  # fmt: skip
ORDER = {"prompt": ["Please enter your order number followed by star"], "num_characters": "*"}
LOST = "Sorry, we lost track of your call. Let us start again."
SALES = {
    "next": None,
    "phone": {"to_number": "+918000000001", "from_number": None},
    "devices": None,
    "appusers": None,
    "teams": None,
}


def confirm(order: str) -> dict[str, Any]:
    return {"prompt": [f"You entered {order}.", "Press 1 to confirm.", "Press 2 to re-enter."],
            "num_characters": 1}  # fmt: skip


def thanks(order: str) -> dict[str, Any]:
    return {"prompt": ["Thank you.", f"Your order {order} is on its way."], "num_characters": 0}


@pytest.fixture(scope="module")
def server(acme_webhook: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """The generated Acme webhook.py, one real process for the module."""
    processes = Processes(tmp_path_factory.mktemp("reliability"))
    port = free_port()
    process = processes.start(webhook_command(acme_webhook, port), port=port)
    yield port
    processes.stop_all()
    assert "Traceback" not in process.output()


def spec(event: int, call_id: Any, option: Any = None, data: Any = None) -> dict[str, Any]:
    """A request exactly as the specification prints it, placeholders and all but the call id."""
    return {
        "pk": "INTEGER-FLOW-ID",
        "event": event,
        "state": {
            "call_id": call_id,
            "from_number": "+91XXXXXXXXXX",
            "to_number": "+91YYYYYYYYYY",
            "direction": 1,
            "org": {"name": "Your Org Name As Registered With Jaxl Business Phone"},
            "metadata": None,
            "greeting_message": None,
        },
        "option": option,
        "data": data,
    }


def noisy(event: int, call_id: Any, option: Any = None, data: Any = None) -> dict[str, Any]:
    """A request as real traffic carries it: keys the specification does not show, everywhere."""
    payload = spec(event, call_id, option, data)
    payload.update({"pk": 41, "mark": {"name": "m-1", "seq": 3}, "future": [1, {"a": None}]})
    payload["state"].update({
        "options": [{"key": "1", "label": "Sales"}],
        "voice": {"lang": "en-IN", "name": "Aditi", "gender": "female", "speed": 1.1},
        "campaign_id": None,
        "campaign_type": 0,
        "metadata": {"crm": {"ticket": 12, "tags": ["vip"]}},
        "greeting_message": "Hello",
        "unknown_nested": {"deeper": {"deepest": [None, True, 1.5]}},
    })  # fmt: skip
    payload["state"]["org"].update({"id": 9, "plan": {"tier": "gold"}})
    return payload


def post(port: int, payload: Any, method: str = "POST") -> tuple[int, Any]:
    reply, raw = exchange(port, http_request(method, json.dumps(payload).encode()))
    assert reply is not None, raw
    assert reply.headers["content-type"] == "application/json"
    return reply.status, reply.json()


_ids = iter(range(70_000_000, 80_000_000))


@pytest.mark.parametrize("shape", [spec, noisy], ids=["as-in-the-spec", "unknown-keys-everywhere"])
def test_a_whole_order_call_in_each_shape(server: int, shape: Any) -> None:
    call_id = next(_ids)
    assert post(server, shape(1, call_id)) == (200, MAIN)
    assert post(server, shape(2, call_id, option="2")) == (200, ORDER)
    assert post(server, shape(2, call_id, option="2", data="4711*")) == (200, confirm("4711"))
    assert post(server, shape(2, call_id, option="1")) == (200, thanks("4711"))
    assert post(server, shape(3, call_id)) == (200, NEUTRAL)


@pytest.mark.parametrize("shape", [spec, noisy], ids=["as-in-the-spec", "unknown-keys-everywhere"])
def test_setup_user_data_event_1_then_sales(server: int, shape: Any) -> None:
    """The spec's "Setup User Data Event (1)" while the call waits in a menu: digits are no key
    of the menu, so the menu asks again, as for a wrong key (the call is not restarted)."""
    call_id = next(_ids)
    assert post(server, shape(1, call_id)) == (200, MAIN)
    status, answer = post(server, shape(1, call_id, data="123*"))
    assert (status, answer) == (200, post(server, shape(2, call_id, option="7"))[1])
    assert LOST not in answer["prompt"]
    assert post(server, shape(2, call_id, option="1")) == (200, SALES)


def test_call_id_as_a_numeric_string_is_the_same_call(server: int) -> None:
    call_id = next(_ids)
    assert post(server, noisy(1, str(call_id))) == (200, MAIN)
    assert post(server, noisy(2, call_id, option="2")) == (200, ORDER)
    assert post(server, noisy(2, f"{call_id}", option="2", data="55*")) == (200, confirm("55"))
    assert post(server, noisy(2, call_id, option="1")) == (200, thanks("55"))


@pytest.mark.parametrize("method", ["POST", "DELETE"])
def test_teardown_ends_the_call_by_post_and_by_delete(server: int, method: str) -> None:
    call_id = next(_ids)
    post(server, spec(1, call_id))
    assert post(server, spec(2, call_id, option="2")) == (200, ORDER)
    assert post(server, noisy(3, call_id), method) == (200, NEUTRAL)
    # the call is gone: a late key press starts again with the recovery prompt
    status, answer = post(server, spec(2, call_id, option="2"))
    assert (status, answer["prompt"][0]) == (200, LOST)
    assert post(server, spec(3, call_id), method) == (200, NEUTRAL)
    assert post(server, spec(3, call_id), method) == (200, NEUTRAL)  # twice: still fine


@pytest.mark.parametrize(
    "payload",
    [
        {"pk": "INTEGER-FLOW-ID", "event": 1, "state": None, "option": None, "data": None},
        {"pk": 41, "event": 1, "state": None},
        {"pk": 41, "event": 1, "state": None, "option": None, "data": None, "mark": None, "x": 1},
    ],
    ids=["spec-placeholders", "bare", "extra-keys"],
)
def test_the_configure_ping_gets_the_neutral_prompt(server: int, payload: Any) -> None:
    assert post(server, payload) == (200, NEUTRAL)


@pytest.mark.parametrize(("event", "answer"), [(4, NEUTRAL), (5, None), (99, NEUTRAL)])
def test_events_it_does_not_handle_are_answered_as_the_sdk_does_and_leave_the_call_alone(
    server: int, event: int, answer: Any
) -> None:
    call_id = next(_ids)
    post(server, spec(1, call_id))
    post(server, spec(2, call_id, option="2"))
    extra = noisy(event, call_id, option="1", data="9*")
    extra["mark"] = "prompt-2-done"  # event 5, the TTS mark callback, carries a top-level mark
    # A mark is answered null: a prompt with num_characters 0 would be spoken, then hang up.
    assert post(server, extra) == (200, answer)
    assert post(server, spec(2, call_id, option="2", data="8*")) == (200, confirm("8"))


def test_answers_equal_the_runtime_for_every_documented_request(server: int) -> None:
    """Every request above, once more, against the runtime in process: one source of truth."""
    runtime = Runtime(acme().to_document())
    call_id = next(_ids)
    steps = [spec(1, call_id), noisy(2, call_id, "9"), noisy(2, call_id, "7"),
             noisy(2, call_id, "2"), spec(2, call_id, "2", "0042*"), noisy(4, call_id),
             noisy(5, call_id), noisy(99, call_id), spec(2, call_id, "2"),
             spec(2, call_id, "2", "1*"), spec(2, call_id, "1"), spec(3, call_id)]  # fmt: skip
    for step in steps:
        assert post(server, step) == (200, runtime.handle(json.loads(json.dumps(step))))


# -- connections ------------------------------------------------------------------------------
def test_a_burst_of_new_connections_is_answered_at_once(server: int) -> None:
    """128 callers connecting in the same instant: none waits on TCP retries (a small backlog)."""
    results: list[tuple[Any, float]] = []
    barrier = threading.Barrier(128)

    def one(index: int) -> None:
        body = json.dumps(spec(1, 90_000_000 + index)).encode()
        barrier.wait()
        started = time.monotonic()
        try:
            reply, _ = exchange(server, http_request("POST", body), timeout=5)
            results.append((reply and (reply.status, reply.json()), time.monotonic() - started))
        except OSError as error:
            results.append((repr(error), time.monotonic() - started))

    threads = [threading.Thread(target=one, args=(index,)) for index in range(128)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [answer for answer, _ in results] == [(200, MAIN)] * 128
    assert max(seconds for _, seconds in results) < 3.0  # SYN retries start at 1 s, then 3 s


@pytest.mark.parametrize(
    ("line", "status"),
    [(b"GARBAGE", 400), (b"\xff\xfe\xfd", 400), (b"POST /webhook/", 400), (b"GET", 400),
     (b"POST /webhook/ HTTP/1.x", 400), (b"POST /webhook/ FTP/1.1", 400), (b"A B C D", 400),
     (b"POST /webhook/ HTTP/9.9", 505)],
)  # fmt: skip
def test_a_garbage_request_line_gets_an_http_answer_in_json(
    server: int, line: bytes, status: int
) -> None:
    """Not a bare body: an HTTP/1.1 status line and headers, so any client can read the refusal.

    505 (HTTP Version Not Supported) is the one 5xx answer: it refuses the client's protocol.
    """
    reply, raw = exchange(server, line + b"\r\nHost: x\r\n\r\n")
    assert reply is not None, raw
    assert raw.startswith(b"HTTP/1.1 ")
    assert reply.status == status
    assert reply.headers["content-type"] == "application/json"
    assert reply.headers["connection"] == "close"
    assert set(reply.json()) == {"error"}
    assert post(server, spec(1, next(_ids))) == (200, MAIN)


# -- the designer side: the user's files --------------------------------------------------------
import os  # noqa: E402
import random  # noqa: E402
import signal  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402

from jaxl_designer.core.fileformat import FlowFileError, dumps, load, save  # noqa: E402


def _broken(text: str) -> dict[str, bytes]:
    """Ways a hand edit or a crash of another program breaks a flow file."""
    return {
        "truncated": text[: len(text) // 2].encode(),
        "empty": b"",
        "a stray comma": text.replace('"main",', '"main",,', 1).encode(),
        "a wrong type": text.replace('"terminator": "*"', '"terminator": 7', 1).encode(),
        "an unknown kind": text.replace('"kind": "transfer"', '"kind": "teleport"', 1).encode(),
        "latin-1": text.replace("Acme", "Acmé").encode("latin-1"),
        "NUL bytes": text.encode()[:200] + b"\x00" * 50 + text.encode()[200:],
        "a list at the top": b"[" + text.encode() + b"]",
        "nested 10,000 deep": text.replace(
            '"version": 1', '"version": ' + "[" * 10_000 + "]" * 10_000, 1
        ).encode(),
    }


@pytest.mark.parametrize("how", list(_broken(dumps(acme()))))
def test_a_broken_flow_file_is_one_line_naming_the_place_and_is_left_byte_for_byte(
    tmp_path: Path, how: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from jaxl_designer.cli import main as cli

    path = tmp_path / "flow.json"
    path.write_bytes(_broken(dumps(acme()))[how])
    before = path.read_bytes()
    with pytest.raises(FlowFileError) as caught:
        load(path)
    message = str(caught.value)
    assert message.startswith(f"{path}") and "\n" not in message and "Traceback" not in message
    assert cli(["export", str(path), "-o", str(tmp_path / "out")]) != 0
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and str(path) in err, err
    assert not (tmp_path / "out").exists()
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["flow.json"]


def test_the_designer_keeps_the_users_flow_when_a_file_will_not_load(tmp_path: Path) -> None:
    pytest.importorskip("anywidget")
    from jaxl_designer.notebook.canvas import Designer

    path = tmp_path / "flow.json"
    path.write_bytes(_broken(dumps(acme()))["truncated"])
    before = path.read_bytes()
    designer = Designer(acme())
    designer.flow.add("extra", "hangup", prompt=["Unsaved work."])
    designer.refresh()
    work = designer.flow.to_document()
    said = designer.load(path)
    assert designer.flow.to_document() == work  # the unsaved work is still there
    assert str(path) in said and "\n" not in said.strip()
    assert path.read_bytes() == before


EXPORTER = """
import sys
from jaxl_designer.exporter.export import export
from jaxl_designer.core.generate import big_flow
flows = [big_flow(int(n)) for n in sys.argv[2:]]
print("ready", flush=True)
while True:
    for flow in flows:
        export(flow, sys.argv[1])
"""


@pytest.mark.slow
def test_an_export_killed_at_any_moment_leaves_each_file_whole_old_or_new(tmp_path: Path) -> None:
    """kill -9 an exporting process at random moments; each file is always one whole version.

    The two files are replaced one after the other, so after a crash flow.json may already be
    the new version while webhook.py is still the old one: running the export again fixes that.
    """
    from jaxl_designer.core.generate import big_flow

    sizes = ("2000", "2400")
    out = tmp_path / "out"
    versions = {name: set() for name in ("flow.json", "webhook.py", "gunicorn.conf.py")}
    for size in sizes:
        flow = big_flow(int(size))
        versions["flow.json"].add(dumps(flow).encode())
        versions["webhook.py"].add(generate_webhook(flow).encode())
        versions["gunicorn.conf.py"].add(generate_gunicorn_conf().encode())
    export(big_flow(int(sizes[0])), out)
    rnd = random.Random(7)
    kills = 0
    for _ in range(8):
        process = subprocess.Popen([sys.executable, "-c", EXPORTER, str(out), *sizes],
                                   stdout=subprocess.PIPE, start_new_session=True)  # fmt: skip
        try:
            assert process.stdout is not None and process.stdout.readline() == b"ready\n"
            time.sleep(rnd.uniform(0.05, 2.0))
        finally:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)
            kills += 1
        for name, whole in versions.items():
            assert (out / name).read_bytes() in whole, f"{name} is partial after kill {kills}"
    leftovers = sorted(p.name for p in out.iterdir() if p.name not in versions)
    assert all(name.endswith(".tmp") for name in leftovers)  # temporary files, never the targets
    export(big_flow(int(sizes[1])), out)
    assert (out / "flow.json").read_bytes() == dumps(big_flow(int(sizes[1]))).encode()
    assert load(out / "flow.json") == big_flow(int(sizes[1]))


def test_save_after_a_failed_load_writes_the_users_flow(tmp_path: Path) -> None:
    path = tmp_path / "flow.json"
    path.write_bytes(b"{broken")
    with pytest.raises(FlowFileError):
        load(path)
    save(acme(), path)
    assert load(path) == acme()
