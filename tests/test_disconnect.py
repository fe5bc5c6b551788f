"""A client that leaves mid-answer: the server logs no application error and goes on serving."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from backend import Backend
from conftest import BIN, Processes, free_port, request

from jaxl_designer.core.flow import Flow
from jaxl_designer.exporter.export import export


@pytest.fixture
def backend() -> Iterator[Backend]:
    served = Backend(slow=0.5)
    yield served
    served.close()


def _setup(call_id: int, data: str | None = None) -> bytes:
    """Event 1 of a call: the dial, or (with `data`) digits entered before any key."""
    state = {"call_id": call_id, "from_number": "+919999900000", "to_number": "+918000000000"}
    body = json.dumps({"pk": 1, "event": 1, "option": None, "data": data, "state": state}).encode()
    head = b"POST /webhook/ HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    return head + b"Content-Length: %d\r\n\r\n" % len(body) + body


@pytest.mark.parametrize("http", ["httptools", "h11"])
def test_a_pipelining_client_that_leaves_mid_lookup_is_no_application_error(
    http: str, backend: Backend, tmp_path: Path, spawn: Processes
) -> None:
    host = f"127.0.0.1:{backend.port}"
    flow = Flow("codes")
    flow.collect("ask", "Your code, then star.", "code", terminator="*", then="find")
    flow.lookup("find", f"http://{host}/codes/{{code}}", save={"phone": "target.phone"},
                ok="agent", failed="sorry")  # fmt: skip
    flow.transfer("agent", phone="{phone}", invalid="sorry")
    flow.hangup("sorry", "Sorry.")
    flow.allowed_hosts = [host]
    webhook = export(flow, tmp_path / "codes").webhook
    port = free_port()
    server = spawn.start(
        [str(BIN / "uvicorn"), "webhook:asgi", "--port", str(port), "--http", http],
        port=port,
        cwd=webhook.parent,
        env={"JAXL_WEBHOOK_LOG": "0"},
    )
    for attempt in range(3):  # the code starts with 9: the backend takes 0.5 s to answer
        with socket.create_connection(("127.0.0.1", port)) as sock:
            call_id = 9_300_000 + attempt
            sock.sendall(_setup(call_id) + b"".join(_setup(call_id, "9*") for _ in range(4)))
            time.sleep(0.1)  # the first request waits on its lookup; the client leaves
    time.sleep(1.5)  # every lookup has come back and its answer found nobody
    status, _, answer = request(port, body={"pk": 1, "event": 1, "state": {"call_id": 1},
                                            "option": None, "data": None})  # fmt: skip
    assert status == 200 and answer["prompt"] == ["Your code, then star."]
    assert len(backend.requests("/codes/")) >= 3, "the lookups were under way when it left"
    assert "Exception in ASGI application" not in server.output()
    assert "Traceback" not in server.output()
