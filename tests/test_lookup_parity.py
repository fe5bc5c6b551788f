"""Parity for flows with lookups: every explored route answers alike on the simulator and over HTTP.

On the simulator a route's lookups are answered by the stubs the explorer chose for it; over HTTP
the exported webhook asks a real backend in this process, which serves exactly those answers for
that route (a timeout by not answering in time, a failure as the status the stub gives). The
webhook runs under the standard-library server and under uvicorn, which ask in different ways.
"""

from __future__ import annotations

import http.client
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from conftest import Processes, free_port, request

from jaxl_designer.core.explorer import explore
from jaxl_designer.core.flow import Flow
from jaxl_designer.core.simulator import Stub
from jaxl_designer.exporter.export import export

#: Each lookup of these flows waits this long: a stub's timeout is served as a longer silence.
TIMEOUT = 0.3
ROOT = Path(__file__).resolve().parent.parent


class ScriptedBackend:
    """Answers each lookup as the simulator's stubs would: the first stub that matches, and
    stubs with the same URL in turn, the last one repeating."""

    def __init__(self) -> None:
        self.stubs: list[Stub] = []
        self.asked: dict[tuple[str, str], int] = {}
        self.lock = threading.Lock()
        backend = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                backend.answer(self)

            do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.host = f"127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def play(self, stubs: Sequence[Stub]) -> None:
        """Answer the next lookups with these stubs, counting turns afresh."""
        with self.lock:
            self.stubs = list(stubs)
            self.asked = {}

    def _pick(self, method: str, url: str) -> Stub | None:
        with self.lock:
            first = next((s for s in self.stubs if s.matches(method, url)), None)
            if first is None:
                return None
            turns = [s for s in self.stubs if s.url == first.url and s.method in (None, method)]
            key = (method, first.url)
            count = self.asked.get(key, 0)
            self.asked[key] = count + 1
            return turns[min(count, len(turns) - 1)]

    def answer(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        handler.rfile.read(length)
        stub = self._pick(handler.command, f"http://{self.host}{handler.path}")
        if stub is None:
            status, body = 599, b"no stub"
        elif stub.timeout:
            time.sleep(TIMEOUT + 0.4)  # the webhook has given up by now
            return
        elif stub.error:
            handler.close_connection = True
            handler.connection.shutdown(2)
            return
        else:
            status, body = stub.status, stub.body
        handler.send_response(status)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _endings(flow: Flow) -> None:
    flow.transfer("agent", phone="{phone}", invalid="sorry")
    flow.say("unknown", "Sorry, we could not find that code.", then="ask")
    flow.hangup("sorry", "Sorry, we cannot connect you right now.")


def code_flow(host: str) -> Flow:
    """The SDK's request_code_and_send_to_phone, finished: the code decides the number."""
    flow = Flow("code")
    flow.collect("ask", "Please enter your code followed by star sign", "code", terminator="*")
    flow.connect("ask", "ok", "find")
    flow.lookup(
        "find",
        f"http://{host}/codes/{{code}}",
        save={"phone": "target.phone"},
        timeout=TIMEOUT,
        ok="agent",
        failed="unknown",
        timed_out="sorry",
    )
    _endings(flow)
    flow.allowed_hosts = [host]
    return flow


def confirm_flow(host: str) -> Flow:
    """The SDK's request_and_confirm_code_then_send_to_phone, finished; the code is POSTed."""
    flow = Flow("confirm")
    flow.collect("ask", "Please enter your code followed by star sign", "code", terminator="*")
    flow.connect("ask", "ok", "confirm")
    flow.menu(
        "confirm",
        ["You entered {code}.", "Press 1 to confirm.", "Press 2 to re-enter your code."],
        keys={"1": "find", "2": "ask"},
    )
    flow.lookup(
        "find",
        f"http://{host}/codes",
        method="POST",
        body={"code": "{code}", "caller": "{from_number}"},
        save={"phone": "target.phone", "name": "name"},
        timeout=TIMEOUT,
        prompt="One moment, {code}.",
        ok="greet",
        failed="unknown",
    )
    flow.say("greet", "Connecting you to {name}.", then="agent")
    _endings(flow)
    flow.allowed_hosts = [host]
    return flow


def order_flow(host: str) -> Flow:
    """The shipped order_status piece, with a branch on what the backend said."""
    flow = Flow("orders")
    flow.say("hello", "Welcome to the order desk.", then="orders")
    flow.subflow(
        "orders",
        "order_status",
        {"url": f"http://{host}/orders/{{order}}", "timeout": TIMEOUT},
        exits={"done": "bye", "gave_up": "bye", "unavailable": "sorry"},
    )
    flow.hangup("bye", "Thank you for calling.")
    flow.hangup("sorry", "Sorry, the order desk cannot help right now.")
    flow.allowed_hosts = [host]
    return flow


FLOWS: dict[str, Callable[[str], Flow]] = {
    "code": code_flow,
    "confirm": confirm_flow,
    "orders": order_flow,
}


@pytest.fixture(scope="module")
def backend() -> Iterator[ScriptedBackend]:
    served = ScriptedBackend()
    yield served
    served.close()


def _serve(form: str, webhook: Path, spawn: Processes) -> int:
    port = free_port()
    if form == "stdlib":
        args = [sys.executable, str(webhook), "--port", str(port), "--no-log"]
    else:
        uvicorn = str(ROOT / ".venv" / "bin" / "uvicorn")
        args = [uvicorn, "webhook:asgi", "--port", str(port), "--no-access-log"]
    spawn.start(args, port=port, cwd=webhook.parent, env={"JAXL_WEBHOOK_LOG": "0"})
    return port


@pytest.mark.parametrize("form", ["stdlib", "uvicorn"])
@pytest.mark.parametrize("name", sorted(FLOWS))
def test_every_explored_route_with_lookups_answers_the_same_over_http(
    name: str, form: str, backend: ScriptedBackend, tmp_path: Path, spawn: Processes
) -> None:
    flow = FLOWS[name](backend.host)
    exploration = explore(flow)
    assert exploration.node_coverage == 1.0
    exits = {
        (o.node.rsplit("/", 1)[-1], o.exit) for r in exploration.paths.values() for o in r.outcomes
    }
    ways = {"ok", "failed", "timeout"} if name != "confirm" else {"ok", "failed"}
    assert {exit for _, exit in exits} == ways, "the explorer takes every way out of the lookup"
    port = _serve(form, export(flow, tmp_path / name).webhook, spawn)
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    routes = list({repr(route): route for route in exploration.paths.values()}.values())
    checked = 0
    for route in routes:
        call = route.play(flow)
        backend.play(route.stubs())
        for step in call.steps:
            method = "DELETE" if step.request["event"] == 3 else "POST"
            status, _, answer = request(port, method, body=step.request, connection=connection)
            assert (status, answer) == (200, step.response), (name, str(route), step.request)
            checked += 1
    assert checked >= len(routes) >= 3
