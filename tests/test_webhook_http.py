"""The generated webhook over real HTTP answers exactly as the runtime does in process."""

from __future__ import annotations

import itertools
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import Processes, free_port, missing, request

from jaxl_designer.core.examples import acme
from jaxl_designer.core.runtime import STORE_DOWN_PROMPT, Runtime
from jaxl_designer.core.simulator import request as webhook_request
from jaxl_designer.exporter.export import export

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
SDK_PYTHON = ROOT / ".venv-sdk" / "bin" / "python"

# Each call is a list of (event, option, data); the call id is added per call.
CALLS: list[list[tuple[int, str | None, str | None]]] = [
    [(1, None, None), (2, "1", None)],  # sales: a transfer
    [(1, None, None), (2, "2", None), (1, None, "123*"), (2, "1", None), (3, None, None)],
    [(1, None, None), (2, "7", None), (2, "9", None), (2, "2", None), (2, None, "12a*"),
     (2, None, "4711*"), (2, "3", None), (2, "2", None), (2, None, "99*"), (2, "1", None)],
    [(1, None, None), (3, None, None), (2, "2", None), (2, "1", None)],  # lost: recovery
    [(2, "1", None), (2, None, "5*")],  # never set up
    [(1, None, None), (2, "2", None), (5, None, None), (1, None, "77*")],  # a mark: null, no change
]  # fmt: skip
_ids = itertools.count(8_000_000)


def scripts() -> list[list[dict[str, Any]]]:
    """Every Acme call as the requests Jaxl sends, each call with a fresh call id."""
    calls = []
    for steps in CALLS:
        call_id = next(_ids)
        sent = [webhook_request(e, call_id, option=o, data=d) for e, o, d in steps]
        for one in sent:
            if one["event"] == 5:
                one["mark"] = "prompt-done"  # the TTS mark callback carries the mark it names
        calls.append(sent)
    calls.append([{"pk": 1, "event": 1, "state": None, "option": None, "data": None}])
    return calls


def interleaved(calls: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """The calls' requests taken in turn, as concurrent calls reach a server."""
    return [r for turn in itertools.zip_longest(*calls) for r in turn if r is not None]


def replay(port: int, requests: list[dict[str, Any]], *, sdk: bool = False) -> None:
    """Send each request over HTTP; each answer must equal the in-process runtime's answer.

    With `sdk`, the `"mark": null` the SDK's response model adds to every prompt is dropped.
    """
    expected = Runtime(acme().to_document())
    for sent in requests:
        method = "DELETE" if sent["event"] == 3 else "POST"
        status, _, answer = request(port, method, body=sent)
        if sdk and isinstance(answer, dict) and answer.get("mark", 0) is None:
            del answer["mark"]
        assert (status, answer) == (200, expected.handle(json.loads(json.dumps(sent)))), sent


@pytest.fixture
def webhook(tmp_path: Path) -> Path:
    """Acme exported to a fresh folder: the webhook.py under test."""
    return export(acme(), tmp_path / "acme").webhook


def python_webhook(webhook: Path, port: int, *extra: str) -> list[str]:
    return [sys.executable, str(webhook), "--port", str(port), "--no-log", *extra]


def test_the_generated_webhook_answers_like_the_runtime(webhook: Path, spawn: Processes) -> None:
    port = free_port()
    spawn.start(python_webhook(webhook, port), port=port)
    replay(port, interleaved(scripts()))


def test_the_generated_webhook_logs_one_json_line_per_request(
    webhook: Path, spawn: Processes
) -> None:
    port = free_port()
    process = spawn.start([sys.executable, str(webhook), "--port", str(port)], port=port)
    replay(port, scripts()[0])
    process.stop()
    lines = process.output().splitlines()
    assert lines[0].startswith(f"webhook: serving 'acme' on http://127.0.0.1:{port}/webhook/")
    logged = [json.loads(line) for line in lines[1:]]
    assert [(entry["event"], entry["status"]) for entry in logged] == [(1, 200), (2, 200)]


def test_a_busy_port_is_one_clear_line(webhook: Path, spawn: Processes) -> None:
    port = free_port()
    spawn.start(python_webhook(webhook, port), port=port)
    second = spawn.start(python_webhook(webhook, port))
    assert second.popen.wait(10) == 1
    assert second.output().strip().endswith("Address already in use")
    assert "Traceback" not in second.output()


# -- several workers sharing Redis ---------------------------------------------------------
def uvicorn_command(webhook: Path, port: int) -> list[str]:
    return [str(BIN / "uvicorn"), "webhook:asgi", "--app-dir", str(webhook.parent),
            "--port", str(port), "--workers", "2", "--no-access-log"]  # fmt: skip


def gunicorn_command(webhook: Path, port: int) -> list[str]:
    return [str(BIN / "gunicorn"), "webhook:wsgi", "--chdir", str(webhook.parent),
            "--bind", f"127.0.0.1:{port}", "--workers", "2"]  # fmt: skip


@pytest.mark.redis
@pytest.mark.parametrize("command", [uvicorn_command, gunicorn_command], ids=["asgi", "wsgi"])
def test_two_workers_sharing_redis_answer_like_the_runtime(
    command: Any, webhook: Path, spawn: Processes, redis_server: Any
) -> None:
    port = free_port()
    env = {"JAXL_REDIS_URL": redis_server.url, "JAXL_WEBHOOK_LOG": "0"}
    spawn.start(command(webhook, port), port=port, env=env)
    replay(port, interleaved(scripts()))
    assert request(port, "GET", "/healthz")[::2] == (200, {"ok": True})


@pytest.mark.redis
def test_a_call_survives_a_restart_of_the_webhook(
    webhook: Path, spawn: Processes, redis_server: Any
) -> None:
    port = free_port()
    args = python_webhook(webhook, port, "--redis-url", redis_server.url)
    first = spawn.start(args, port=port)
    call = scripts()[2]
    expected = Runtime(acme().to_document())
    for sent in call[:4]:
        assert request(port, body=sent)[2] == expected.handle(sent)
    first.kill()  # mid-call, as a crash would
    spawn.start(args, port=port)
    for sent in call[4:]:
        assert request(port, body=sent)[2] == expected.handle(sent)


@pytest.mark.redis
def test_redis_down_at_start_is_said_and_callers_hear_an_apology_until_it_is_back(
    webhook: Path, spawn: Processes, redis_server: Any
) -> None:
    redis_server.stop()
    port = free_port()
    process = spawn.start(python_webhook(webhook, port, "--redis-url", redis_server.url),
                          port=port)  # fmt: skip
    first_line = process.output().splitlines()[0]
    assert first_line.startswith(f"webhook: Redis at {redis_server.url} is not answering")
    assert request(port, "GET", "/healthz")[::2] == (
        503,
        {"ok": False, "error": "the store is not answering"},
    )
    setup = webhook_request(1, 4242)
    assert request(port, body=setup)[::2] == (
        200,
        {"prompt": STORE_DOWN_PROMPT, "num_characters": 0},
    )
    redis_server.start()
    assert request(port, "GET", "/healthz")[::2] == (200, {"ok": True})
    replay(port, interleaved(scripts()))


@pytest.mark.redis
def test_redis_going_away_mid_call_is_an_apology_not_an_error(
    webhook: Path, spawn: Processes, redis_server: Any
) -> None:
    port = free_port()
    spawn.start(python_webhook(webhook, port, "--redis-url", redis_server.url), port=port)
    call_id = next(_ids)
    assert request(port, body=webhook_request(1, call_id))[0] == 200
    redis_server.stop()
    started = time.monotonic()
    status, _, answer = request(port, body=webhook_request(2, call_id, option="2"))
    assert (status, answer["prompt"]) == (200, STORE_DOWN_PROMPT)
    assert time.monotonic() - started < 3


# -- the official SDK ----------------------------------------------------------------------
SDK_SERVER = """
import sys
sys.path.insert(0, sys.argv[1])
import uvicorn
from jaxl.api.resources.apps import _load_app, _start_server
uvicorn.run(_start_server(_load_app("webhook:JaxlApp")), host="127.0.0.1",
            port=int(sys.argv[2]), log_level="warning")
"""


def sdk_available() -> bool:
    if not SDK_PYTHON.exists():
        return False
    probe = [str(SDK_PYTHON), "-c", "import jaxl.api.resources.apps, uvicorn"]
    return os.spawnv(os.P_WAIT, probe[0], probe) == 0


def test_jaxl_app_under_the_sdk_server_answers_like_the_runtime(
    webhook: Path, spawn: Processes
) -> None:
    if not sdk_available():
        missing("no .venv-sdk with jaxl-python (scripts/sdk-venv makes it)")
    port = free_port()
    spawn.start([str(SDK_PYTHON), "-c", SDK_SERVER, str(webhook.parent), str(port)], port=port)
    calls = scripts()
    for call in calls:
        for sent in call:
            if sent["state"] is not None:
                sent["state"]["options"] = None  # the SDK's model requires the key
    replay(port, interleaved(calls), sdk=True)
