"""Lookups over real HTTP: each serving form asks a real backend its own way, and waits well.

The flows are the official SDK's three IVR examples, finished as their TODOs ask: (a) a code
ended by star, looked up by GET, the call transferred to the phone the backend gives; (b) the
same with a confirm menu first; (c) the lookup as a POST with a JSON body. Each is exported and
served for real on loopback (`python webhook.py`, uvicorn, gunicorn, uvicorn with call state in
Redis, the Jaxl SDK's own server), asking a real backend in this process (tests/backend.py).

How each form waits on a backend: http.server has a thread per connection, which blocks on the
lookup; gunicorn's gthread workers likewise (its sync workers would serve one request at a
time, so one slow backend would stall every other call of the worker); uvicorn and the SDK
await the lookup on their event loop. `-s` prints the latency figures of the slow-backend test.
"""

from __future__ import annotations

import json
import os
import statistics
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from backend import LATE, Backend, phone_for
from conftest import BIN, PYTHON, Process, Processes, free_port, missing
from conftest import request as send_request

from jaxl_designer.core.flow import Flow
from jaxl_designer.core.runtime import DEFAULT_FROM_NUMBER, STORE_DOWN_PROMPT
from jaxl_designer.core.runtime import request as webhook_request
from jaxl_designer.exporter.export import export

ROOT = Path(__file__).resolve().parent.parent
SDK_PYTHON = ROOT / ".venv-sdk" / "bin" / "python"
#: The secret the lookups' Authorization header reads from the serving process's environment.
TOKEN = "s3cr3t-orders-token-7f3a9c"
ASK = "Please enter your code followed by star sign"
UNKNOWN = "Sorry, we could not find that code."
SLOW = "Sorry, our systems are slow right now. Please call again later."
#: How long the backend takes over a code starting with 9, in the slow-backend test.
SLOW_SECONDS = 1.5

FORMS = [
    "stdlib",
    "uvicorn",
    "gunicorn",
    pytest.param("uvicorn-redis", marks=pytest.mark.redis),
    "sdk",
]


# -- the flows ------------------------------------------------------------------------------
def _endings(flow: Flow, backend: Backend) -> None:
    flow.transfer("connect", phone="{phone}")
    flow.hangup("unknown", UNKNOWN)
    flow.hangup("late", SLOW)
    flow.allowed_hosts = [f"127.0.0.1:{backend.port}"]


def _find(flow: Flow, url: str, **fields: Any) -> None:
    options: dict[str, Any] = {
        "save": {"phone": "target.phone"},
        "headers": {"Authorization": "Bearer ${ORDERS_TOKEN}"},
        "timeout": 0.5,
        "ok": "connect",
        "failed": "unknown",
        "timed_out": "late",
    }
    options.update(fields)
    flow.lookup("find", url, **options)


def code_flow(backend: Backend) -> Flow:
    """(a) A code followed by star, looked up by GET; the call goes to the phone it gives."""
    flow = Flow("code_lookup")
    flow.collect("ask", ASK, "code", terminator="*", then="find")
    _find(flow, f"http://127.0.0.1:{backend.port}/codes/{{code}}")
    _endings(flow, backend)
    return flow


def confirm_flow(backend: Backend) -> Flow:
    """(b) As (a), with the code read back and confirmed (or entered again) first."""
    flow = Flow("code_confirm")
    flow.collect("ask", ASK, "code", terminator="*", then="confirm")
    flow.menu(
        "confirm",
        ["You entered {code}.", "Press 1 to confirm.", "Press 2 to re-enter your code."],
        keys={"1": "find", "2": "ask"},
    )
    _find(flow, f"http://127.0.0.1:{backend.port}/codes/{{code}}")
    _endings(flow, backend)
    return flow


def post_flow(backend: Backend) -> Flow:
    """(c) As (a), the lookup a POST of the code and the caller's number as JSON."""
    flow = Flow("code_post")
    flow.collect("ask", ASK, "code", terminator="*", then="find")
    body = {"code": "{code}", "caller": "{from_number}"}
    _find(flow, f"http://127.0.0.1:{backend.port}/codes", method="POST", body=body)
    _endings(flow, backend)
    return flow


def greeting_flow(backend: Backend) -> Flow:
    """A lookup whose values are kept: the call then waits at a menu that says them."""
    flow = Flow("code_greeting")
    flow.collect("ask", ASK, "code", terminator="*", then="find")
    _find(flow, f"http://127.0.0.1:{backend.port}/codes/{{code}}", timeout=5,
          save={"phone": "target.phone", "name": "name"}, ok="hello")  # fmt: skip
    flow.menu("hello", ["Hello {name}.", "Press 1 to reach {phone}."], keys={"1": "connect"})
    _endings(flow, backend)
    return flow


def host_flow(backend: Backend) -> Flow:
    """(a) with the backend's host filled per call, from the call's metadata."""
    flow = Flow("code_host")
    flow.collect("ask", ASK, "code", terminator="*", then="find")
    _find(flow, f"http://{{metadata.backend}}:{backend.port}/codes/{{code}}")
    _endings(flow, backend)
    return flow


# -- serving --------------------------------------------------------------------------------
SDK_SERVER = """
import sys
sys.path.insert(0, sys.argv[1])
import uvicorn
from jaxl.api.resources.apps import _load_app, _start_server
uvicorn.run(_start_server(_load_app("webhook:JaxlApp")), host="127.0.0.1",
            port=int(sys.argv[2]), log_level="warning")
"""


def clean_env(**variables: str) -> dict[str, str]:
    """This environment without JAXL_ or gunicorn variables, plus the lookups' secret."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("JAXL_", "GUNICORN_")) and k not in ("WEB_CONCURRENCY", "ORDERS_TOKEN")
    }
    return {**env, "GUNICORN_CMD_ARGS": "--no-control-socket", "ORDERS_TOKEN": TOKEN, **variables}


@dataclass
class Served:
    """A webhook being served: its port, its process and whether it is the SDK's server."""

    port: int
    process: Process
    sdk: bool

    def call(self, call_id: int, **options: Any) -> Call:
        return Call(self, call_id, **options)


def serve(form: str, flow: Flow, folder: Path, spawn: Processes, pytest_request: Any) -> Served:
    """Export `flow` into `folder` and serve its webhook.py as `form` says, request log on."""
    webhook = export(flow, folder).webhook
    port = free_port()
    where = str(webhook.parent)
    env = clean_env()
    if form in ("stdlib", "stdlib-redis"):
        args = [PYTHON, str(webhook), "--host", "127.0.0.1", "--port", str(port)]
        if form == "stdlib-redis":
            args += ["--redis-url", pytest_request.getfixturevalue("redis_server").url]
    elif form in ("uvicorn", "uvicorn-redis"):
        workers = "1"
        if form == "uvicorn-redis":
            env["JAXL_REDIS_URL"] = pytest_request.getfixturevalue("redis_server").url
            workers = "2"  # calls in Redis: any worker may take any step of a call
        args = [str(BIN / "uvicorn"), "webhook:asgi", "--app-dir", where, "--host", "127.0.0.1",
                "--port", str(port), "--workers", workers, "--no-access-log"]  # fmt: skip
    elif form == "gunicorn":
        # gthread: a thread per request in flight, so a call waiting on a slow backend holds
        # one thread, not the worker (a sync worker would serve nothing else meanwhile).
        args = [str(BIN / "gunicorn"), "webhook:wsgi", "--chdir", where, "--bind",
                f"127.0.0.1:{port}", "--worker-class", "gthread", "--workers", "1",
                "--threads", "8"]  # fmt: skip
    else:
        if not SDK_PYTHON.exists():
            missing("no .venv-sdk with jaxl-python (scripts/sdk-venv makes it)")
        args = [str(SDK_PYTHON), "-c", SDK_SERVER, where, str(port)]
    process = spawn.start(args, port=port, env=env)
    return Served(port, process, form == "sdk")


class Call:
    """One caller on a served webhook: dial, enter digits, press keys; each answer returned."""

    def __init__(self, served: Served, call_id: int, context: dict[str, str] | None = None):
        self.served = served
        self.call_id = call_id
        self.context = context
        self.option: str | None = None

    def send(self, event: int, option: str | None = None, data: str | None = None) -> Any:
        payload = webhook_request(event, self.call_id, option=option, data=data,
                                  context=self.context)  # fmt: skip
        if self.served.sdk:
            payload["state"]["options"] = None  # the SDK's model requires the key
        status, _, answer = send_request(self.served.port, body=payload)
        assert status == 200, (status, answer)
        if self.served.sdk and isinstance(answer, dict) and answer.get("mark", 0) is None:
            del answer["mark"]  # the SDK's response model adds it to every prompt
        return answer

    def dial(self) -> Any:
        return self.send(1)

    def enter(self, digits: str) -> Any:
        if self.option is None:  # digits before any key: the setup prompt's data
            return self.send(1, data=digits)
        return self.send(2, option=self.option, data=digits)

    def press(self, key: str) -> Any:
        self.option = key
        return self.send(2, option=key)


def transfer_to(phone: str) -> dict[str, Any]:
    return {"next": None, "phone": {"to_number": phone, "from_number": None},
            "devices": None, "appusers": None, "teams": None}  # fmt: skip


def said(text: str | list[str]) -> dict[str, Any]:
    return {"prompt": [text] if isinstance(text, str) else text, "num_characters": 0}


def logged_lookups(process: Process) -> list[dict[str, Any]]:
    """Every lookup the request log names, from its JSON lines (each strict JSON)."""

    def strict(constant: str) -> Any:
        raise ValueError(f"{constant} is not JSON")

    found = []
    for line in process.output().splitlines():
        if line.startswith("{"):
            entry = json.loads(line, parse_constant=strict)
            found += entry.get("lookups", [])
    return found


@pytest.fixture
def backend() -> Any:
    server = Backend(slow=SLOW_SECONDS)
    yield server
    server.close()


# -- (a): every way a lookup ends ----------------------------------------------------------
@pytest.mark.parametrize("form", FORMS)
def test_a_code_lookup_ends_every_way_it_can(
    form: str, backend: Backend, spawn: Processes, tmp_path: Path, request: Any
) -> None:
    served = serve(form, code_flow(backend), tmp_path / "a", spawn, request)
    ids = iter(range(7000, 7100))

    def ask(code: str) -> tuple[Any, float]:
        call = served.call(next(ids))
        assert call.dial() == {"prompt": [ASK], "num_characters": "*"}
        started = time.monotonic()
        answer = call.enter(code + "*")
        return answer, time.monotonic() - started

    assert ask("42")[0] == transfer_to(phone_for("42")), "ok: the backend's phone"
    assert ask("500")[0] == said(UNKNOWN), "status 500: failed"
    assert ask("501")[0] == said(UNKNOWN), "not JSON: failed"
    assert ask("502")[0] == said(UNKNOWN), "no target.phone in the answer: failed"
    assert ask("504")[0] == said(UNKNOWN), "an answer over 64 KiB: failed"
    assert ask("505")[0] == said(UNKNOWN), "a redirect: failed, not followed"
    answer, took = ask("503")
    assert answer == said(SLOW), "no answer within the node's 0.5 s: its timeout way"
    assert 0.45 < took < LATE - 0.5, "answered at the lookup's deadline, not the backend's"

    assert not backend.requests("/elsewhere"), "the redirect's target was requested"
    asked = backend.requests("/codes/")
    assert [seen.path for seen in asked] == [
        f"/codes/{code}" for code in ("42", "500", "501", "502", "504", "505", "503")
    ]
    for seen in asked:
        assert seen.method == "GET"
        assert seen.headers["authorization"] == f"Bearer {TOKEN}", "the secret reaches it"
        assert seen.headers["accept"] == "application/json"

    served.process.stop()  # every log line written
    output = served.process.output()
    assert TOKEN not in output, "a secret header's value is in the server's log"
    if not served.sdk:  # the SDK's server writes no request log of ours
        exits = [(entry["node"], entry["exit"]) for entry in logged_lookups(served.process)]
        assert sorted(exits) == sorted(
            [("find", "ok")] + [("find", "failed")] * 5 + [("find", "timeout")]
        )


# -- (b): confirmed first ------------------------------------------------------------------
@pytest.mark.parametrize("form", FORMS)
def test_a_confirmed_code_is_looked_up_once_confirmed(
    form: str, backend: Backend, spawn: Processes, tmp_path: Path, request: Any
) -> None:
    served = serve(form, confirm_flow(backend), tmp_path / "b", spawn, request)
    call = served.call(7201)
    call.dial()
    confirm = ["You entered {}.", "Press 1 to confirm.", "Press 2 to re-enter your code."]
    assert call.enter("42*") == {"prompt": [confirm[0].format(42), *confirm[1:]],
                                 "num_characters": 1}  # fmt: skip
    assert call.press("2") == {"prompt": [ASK], "num_characters": "*"}
    assert call.enter("43*")["prompt"][0] == "You entered 43."
    assert not backend.requests(), "nothing is looked up before the caller confirms"
    assert call.press("1") == transfer_to(phone_for("43"))

    failing = served.call(7202)
    failing.dial()
    failing.enter("500*")
    assert failing.press("1") == said(UNKNOWN)
    assert [seen.path for seen in backend.requests()] == ["/codes/43", "/codes/500"]


# -- (c): a POST with a JSON body ----------------------------------------------------------
@pytest.mark.parametrize("form", FORMS)
def test_a_code_is_posted_as_json_with_the_callers_number(
    form: str, backend: Backend, spawn: Processes, tmp_path: Path, request: Any
) -> None:
    served = serve(form, post_flow(backend), tmp_path / "c", spawn, request)
    call = served.call(7301)
    call.dial()
    assert call.enter("42*") == transfer_to(phone_for("42"))
    failing = served.call(7302)
    failing.dial()
    assert failing.enter("502*") == said(UNKNOWN)

    posted = backend.requests()
    assert [(seen.method, seen.path) for seen in posted] == [("POST", "/codes")] * 2
    assert json.loads(posted[0].body) == {"code": "42", "caller": DEFAULT_FROM_NUMBER}
    assert json.loads(posted[1].body) == {"code": "502", "caller": DEFAULT_FROM_NUMBER}
    assert posted[0].headers["content-type"] == "application/json"
    assert posted[0].headers["authorization"] == f"Bearer {TOKEN}"


# -- the allow-list ------------------------------------------------------------------------
@pytest.mark.parametrize("form", ["stdlib", "uvicorn"])
def test_a_host_off_the_allow_list_is_never_asked(
    form: str, backend: Backend, spawn: Processes, tmp_path: Path, request: Any
) -> None:
    served = serve(form, host_flow(backend), tmp_path / "host", spawn, request)
    # localhost is the backend too (it listens on 127.0.0.1), but only 127.0.0.1 is allowed.
    elsewhere = served.call(7401, context={"metadata.backend": "localhost"})
    elsewhere.dial()
    assert elsewhere.enter("42*") == said(UNKNOWN)
    assert not backend.requests(), "the backend heard from a lookup to a host not allowed"
    allowed = served.call(7402, context={"metadata.backend": "127.0.0.1"})
    allowed.dial()
    assert allowed.enter("42*") == transfer_to(phone_for("42"))
    assert [seen.path for seen in backend.requests()] == ["/codes/42"]
    served.process.stop()
    entries = logged_lookups(served.process)
    assert entries[0]["exit"] == "failed" and "not an allowed host" in entries[0]["why"]
    assert entries[1]["exit"] == "ok"


# -- a slow backend ------------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("form", FORMS)
def test_a_slow_backend_holds_up_only_the_calls_waiting_on_it(
    form: str, backend: Backend, spawn: Processes, tmp_path: Path, request: Any
) -> None:
    """While calls wait ~1.5 s on a slow backend, other calls' menu presses are answered at once.

    The presses' median latency is measured before the slow calls and while they are in
    flight, in the same run; blocking a worker or an event loop on a lookup would hold each
    press up to 1.5 s. gunicorn's one worker has 8 threads, so 4 slow calls leave it 4.
    """
    served = serve(form, greeting_flow(backend), tmp_path / "slow", spawn, request)
    waiting = 4 if form == "gunicorn" else 8
    ids = iter(range(7500, 7600))
    plain = [served.call(next(ids)) for _ in range(4)]
    for number, call in enumerate(plain):
        call.dial()
        assert call.enter(f"1{number}*")["prompt"][0] == f"Hello customer 1{number}."
    slow = [served.call(next(ids)) for _ in range(waiting)]
    for call in slow:
        call.dial()

    def press(limit: int, until: threading.Event | None = None) -> list[float]:
        took = []
        while len(took) < limit and not (until is not None and until.is_set() and took):
            call = plain[len(took) % len(plain)]
            started = time.perf_counter()
            answer = call.press("5")  # no key of the menu: asked again, nothing looked up
            took.append(time.perf_counter() - started)
            assert answer["prompt"][1].startswith("Press 1 to reach "), answer
        return took

    before = press(40)
    answers: dict[int, tuple[Any, float, float]] = {}
    done = threading.Event()

    def wait_on_backend(number: int) -> None:
        started = time.perf_counter()
        try:
            answer = slow[number].enter(f"9{number:02d}*")
        except Exception as error:  # said below, with the figures
            answer = repr(error)
        finally:
            done.set()
        answers[number] = (answer, started, time.perf_counter())

    threads = [threading.Thread(target=wait_on_backend, args=(n,)) for n in range(waiting)]
    for thread in threads:
        thread.start()
    in_flight = backend.wait_for("/codes/9", waiting, timeout=SLOW_SECONDS)
    during = press(40, until=done)
    finished_pressing = time.perf_counter()
    for thread in threads:
        thread.join(10)

    base, loaded = statistics.median(before), statistics.median(during)
    print(f"\n{form}: {waiting} calls waiting {SLOW_SECONDS} s on the backend; menu presses' "
          f"median {base * 1000:.1f} ms before, {loaded * 1000:.1f} ms during "
          f"({len(during)} presses, slowest {max(during) * 1000:.1f} ms), "
          f"ratio {loaded / base:.1f}")  # fmt: skip
    assert in_flight, "the slow lookups did not all reach the backend together"
    assert len(during) >= 10, f"only {len(during)} presses were answered while calls waited"
    assert all(end > finished_pressing for _, _, end in answers.values())
    assert loaded < max(0.2, 5 * base), "other calls waited on the slow backend"

    for number, call in enumerate(slow):
        answer, started, ended = answers[number]
        code = f"9{number:02d}"
        assert answer["prompt"] == [
            f"Hello customer {code}.",
            f"Press 1 to reach {phone_for(code)}.",
        ]
        assert ended - started >= SLOW_SECONDS * 0.9
        # The state kept after the lookup is this call's (with Redis, written after the wait).
        assert call.press("1") == transfer_to(phone_for(code))


# -- Redis going away while a call waits on its backend ------------------------------------
@pytest.mark.redis
@pytest.mark.parametrize("form", ["stdlib-redis", "uvicorn-redis"])
def test_redis_going_away_during_a_lookup_is_an_apology_and_no_second_lookup(
    form: str, backend: Backend, spawn: Processes, tmp_path: Path, request: Any
) -> None:
    """The call's state is written once its lookup is answered; when Redis has gone by then,
    the caller hears the store's apology (the sync store raises from the runtime's resume; the
    async one fails the write) and the backend is not asked again."""
    served = serve(form, greeting_flow(backend), tmp_path / "down", spawn, request)
    redis = request.getfixturevalue("redis_server")
    call = served.call(7701)
    call.dial()
    answers: list[Any] = []
    thread = threading.Thread(target=lambda: answers.append(call.enter("901*")))
    thread.start()
    assert backend.wait_for("/codes/9", 1)
    redis.stop()  # while the backend takes SLOW_SECONDS
    thread.join(15)
    assert answers == [said(STORE_DOWN_PROMPT)]
    assert [seen.path for seen in backend.requests()] == ["/codes/901"]
    redis.start()
    again = served.call(7702)
    assert again.dial() == {"prompt": [ASK], "num_characters": "*"}
    assert again.enter("42*")["prompt"] == [
        "Hello customer 42.",
        f"Press 1 to reach {phone_for('42')}.",
    ]
    served.process.stop()
    assert "Traceback" not in served.process.output()
