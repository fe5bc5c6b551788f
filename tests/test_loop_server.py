"""The module's asyncio server (`python webhook.py --asyncio`), on real sockets.

What the other serving forms' tests check of it (framing, attacks, lost answers, the token) is in
test_framing.py, test_attacks.py, test_idempotent.py and test_security.py, where it is one form
among the others. Here: what an event loop changes. Pipelined requests are answered in order
even when one waits on a backend; a call waiting on its backend holds up no other connection;
`Expect: 100-continue`, HTTP/1.0 and `Connection: close` are honoured; a client that never reads
its answers costs a bounded amount of memory; SIGTERM lets answers in flight finish; several
worker processes share the port, and one that dies is replaced.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from backend import Backend
from conftest import PYTHON, Processes, children, exchange, free_port, http_request, parse_reply
from test_attacks import rss_mb
from test_idempotent import ASK, pin_flow

from jaxl_designer.core.simulator import request as webhook_request
from jaxl_designer.exporter.export import export

SLOW = 0.6  # seconds the backend takes for a code starting with 9


@pytest.fixture(scope="module")
def backend() -> Any:
    serving = Backend(slow=SLOW)
    yield serving
    serving.close()


@pytest.fixture(scope="module")
def pin_webhook(backend: Backend, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A flow that asks the backend for a caller's name from the code they enter."""
    folder = tmp_path_factory.mktemp("pin")
    export(pin_flow(backend), folder)
    return folder / "webhook.py"


def serve(spawn: Processes, webhook: Path, *extra: str, env: dict[str, str] | None = None) -> int:
    port = free_port()
    args = [PYTHON, str(webhook), "--asyncio", "--port", str(port), *extra]
    spawn.start(args, port=port, env={"JAXL_WEBHOOK_LOG": "0", **(env or {})}, cwd=webhook.parent)
    return port


def post(payload: Any, **headers: str) -> bytes:
    return http_request("POST", json.dumps(payload).encode(), "/webhook/", headers)


def read_answers(sock: socket.socket, count: int, timeout: float = 10.0) -> list[Any]:
    """Read `count` whole answers from a keep-alive connection, in order."""
    sock.settimeout(timeout)
    received, found = b"", []
    while len(found) < count:
        reply = parse_reply(received)
        if reply is not None:
            found.append(reply)
            received = received[received.index(b"\r\n\r\n") + 4 + len(reply.body) :]
            continue
        chunk = sock.recv(65536)
        if not chunk:
            break
        received += chunk
    return found


def test_pipelined_requests_are_answered_in_order_when_one_waits_on_a_backend(
    pin_webhook: Path, spawn: Processes
) -> None:
    port = serve(spawn, pin_webhook)
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(post(webhook_request(1, 501)))
        assert read_answers(sock, 1)[0].json()["prompt"] == [ASK]
        # Three requests in one write: the middle one's lookup takes SLOW seconds.
        sock.sendall(
            post(webhook_request(1, 502))
            + post(webhook_request(2, 501, data="9123*"))
            + post(webhook_request(1, 503))
        )
        started = time.monotonic()
        first, second, third = read_answers(sock, 3)
        took = time.monotonic() - started
    assert first.json()["prompt"] == [ASK]
    assert second.json()["prompt"] == ["Hello customer 9123. Your PIN, then star."]
    assert third.json()["prompt"] == [ASK]
    assert took >= SLOW - 0.05  # the third waited its turn behind the lookup


def test_a_call_waiting_on_its_backend_holds_up_no_other_connection(
    pin_webhook: Path, spawn: Processes
) -> None:
    port = serve(spawn, pin_webhook)
    exchange(port, post(webhook_request(1, 601)))
    with socket.create_connection(("127.0.0.1", port)) as waiting:
        started = time.monotonic()
        waiting.sendall(post(webhook_request(2, 601, data="9777*")))
        time.sleep(0.05)
        # Meanwhile other callers are answered at once.
        for call_id in range(602, 612):
            reply, raw = exchange(port, post(webhook_request(1, call_id)))
            assert reply is not None and reply.json()["prompt"] == [ASK], raw
        others = time.monotonic() - started
        looked_up = read_answers(waiting, 1)[0]
        took = time.monotonic() - started
    assert others < SLOW, f"the other callers waited {others:.2f} s behind the lookup"
    assert looked_up.json()["prompt"] == ["Hello customer 9777. Your PIN, then star."]
    assert took >= SLOW - 0.05


def test_expect_100_continue_gets_its_interim_answer_before_the_body(
    acme_webhook: Path, spawn: Processes
) -> None:
    port = serve(spawn, acme_webhook)
    body = json.dumps(webhook_request(1, 701)).encode()
    request = http_request("POST", body, "/webhook/", {"Expect": "100-continue"})
    head = request[: len(request) - len(body)]
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(head)
        interim = sock.recv(65536)
        assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(body)
        (reply,) = read_answers(sock, 1)
    assert reply.status == 200 and reply.json()["prompt"][0] == "Welcome to Acme."


@pytest.mark.parametrize(
    ("version", "connection", "closes"),
    [
        ("HTTP/1.0", None, True),
        ("HTTP/1.0", "keep-alive", False),
        ("HTTP/1.1", "close", True),
        ("HTTP/1.1", None, False),
    ],
)
def test_http_1_0_and_connection_close_end_the_connection_after_the_answer(
    acme_webhook: Path, spawn: Processes, version: str, connection: str | None, closes: bool
) -> None:
    port = serve(spawn, acme_webhook)
    request = post(webhook_request(1, 801), Connection=connection)  # type: ignore[arg-type]
    request = request.replace(b" HTTP/1.1\r\n", f" {version}\r\n".encode(), 1)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(request)
        (reply,) = read_answers(sock, 1)
        assert reply.status == 200
        assert (reply.headers.get("connection") == "close") is closes
        sock.settimeout(1.0)
        if closes:
            assert sock.recv(100) == b""
        else:  # still open: a second request is answered
            sock.sendall(post(webhook_request(1, 802)))
            assert read_answers(sock, 1)[0].status == 200


def test_a_client_that_never_reads_its_answers_costs_bounded_memory(
    acme_webhook: Path, spawn: Processes
) -> None:
    """It pipelines 40 MB of requests and reads nothing: the server stops reading from it once
    its answers fill the socket, serves everyone else meanwhile, and closes it after `timeout`."""
    port = serve(spawn, acme_webhook, "--timeout", "2")
    pid = spawn.started[-1].popen.pid
    before = rss_mb(pid)
    one = post(webhook_request(1, 901))
    hog = socket.create_connection(("127.0.0.1", port))
    hog.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    hog.setblocking(False)
    sent, most, started = 0, before, time.monotonic()
    batch = one * 200
    while sent < 40 * 1024 * 1024 and time.monotonic() - started < 6:
        try:
            sent += hog.send(batch)
        except BlockingIOError:
            time.sleep(0.01)  # the server has stopped reading: the kernel's buffers are full
        except OSError:
            break  # closed by the server
        most = max(most, rss_mb(pid))
        reply, raw = exchange(port, post(webhook_request(1, 902)), timeout=2)
        assert reply is not None and reply.status == 200, raw
    # The server stopped reading long before 40 MB, and cut the connection after its timeout.
    hog.setblocking(True)
    hog.settimeout(5)
    try:
        while hog.recv(65536):
            pass
        cut = True
    except ConnectionResetError:
        cut = True
    except TimeoutError:
        cut = False
    hog.close()
    print(f"sent {sent / 1e6:.1f} MB, RSS {before:.1f} -> {most:.1f} MB")
    # What was sent sits in the kernel's socket buffers (several MB on loopback), not the server.
    assert sent < 30 * 1024 * 1024, f"the server read {sent} bytes it could not answer"
    assert most - before < 30, f"RSS grew from {before:.1f} to {most:.1f} MB"
    assert cut, "the connection that does not read was not closed"


def test_sigterm_lets_an_answer_in_flight_finish(pin_webhook: Path, spawn: Processes) -> None:
    port = serve(spawn, pin_webhook)
    process = spawn.started[-1]
    exchange(port, post(webhook_request(1, 1001)))
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(post(webhook_request(2, 1001, data="9555*")))
        time.sleep(0.1)  # the lookup is under way
        process.popen.send_signal(signal.SIGTERM)
        (reply,) = read_answers(sock, 1)
    assert reply.json()["prompt"] == ["Hello customer 9555. Your PIN, then star."]
    assert process.popen.wait(10) == 0
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()


def test_several_workers_without_redis_are_refused_in_one_line(acme_webhook: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JAXL_")}
    args = [sys.executable, str(acme_webhook), "--asyncio", "--workers", "2", "--port", "0"]
    out = subprocess.run(args, env=env, capture_output=True, text=True, timeout=30)
    assert out.returncode == 2
    assert out.stderr.count("\n") == 1 and "JAXL_REDIS_URL" in out.stderr, out.stderr
    both = [sys.executable, str(acme_webhook), "--asyncio", "--uvicorn", "--port", "0"]
    out = subprocess.run(both, env=env, capture_output=True, text=True, timeout=30)
    assert out.returncode == 2 and "choose one" in out.stderr and out.stderr.count("\n") == 1


def test_workers_share_the_port_and_one_that_dies_is_replaced(
    acme_webhook: Path, spawn: Processes
) -> None:
    port = serve(spawn, acme_webhook, "--workers", "2", env={"JAXL_ALLOW_PRIVATE_STATE": "1"})
    parent = spawn.started[-1].popen.pid
    deadline = time.monotonic() + 10
    while len(children(parent)) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    workers = children(parent)
    assert len(workers) == 2, workers
    os.kill(workers[0], signal.SIGKILL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        now = children(parent)
        if len(now) == 2 and workers[0] not in now:
            break
        time.sleep(0.05)
    now = children(parent)
    assert len(now) == 2 and workers[0] not in now, (workers, now)
    for call_id in range(1101, 1111):  # whichever worker takes it, each is answered
        reply, raw = exchange(port, post(webhook_request(1, call_id)))
        assert reply is not None and reply.status == 200, raw
    assert "starting another" in spawn.started[-1].output()
    # SIGHUP reads a flow file again; with none, it changes nothing (no worker dies of it).
    os.kill(parent, signal.SIGHUP)
    time.sleep(0.3)
    assert children(parent) == now
    reply, raw = exchange(port, post(webhook_request(1, 1111)))
    assert reply is not None and reply.status == 200, raw


def test_each_request_logs_one_json_line(pin_webhook: Path, spawn: Processes) -> None:
    port = serve(spawn, pin_webhook, env={"JAXL_WEBHOOK_LOG": "1"})
    exchange(port, post(webhook_request(1, 1201)))
    exchange(port, post(webhook_request(2, 1201, data="1234*")))
    exchange(port, http_request("GET", b"", "/nowhere"))
    process = spawn.started[-1]
    process.stop()
    lines = [json.loads(line) for line in process.output().splitlines() if line.startswith("{")]
    assert [(line["status"], line["call_id"]) for line in lines] == [
        (200, 1201),
        (200, 1201),
        (404, None),
    ]
    assert lines[1]["lookups"][0]["exit"] == "ok"


@pytest.mark.parametrize(
    ("request_line", "status"),
    [
        (b"GET /healthz HTTP/2.0", 505),
        (b"GET /healthz", 400),
        (b"GET  /healthz HTTP/1.1", 400),
    ],
)
def test_a_request_line_it_cannot_serve_is_refused_in_json_and_closed(
    acme_webhook: Path, spawn: Processes, request_line: bytes, status: int
) -> None:
    port = serve(spawn, acme_webhook)
    reply, raw = exchange(port, request_line + b"\r\nHost: x\r\n\r\n")
    assert reply is not None, raw
    assert reply.status == status and reply.headers["connection"] == "close"
    assert set(reply.json()) == {"error"}
    assert "Traceback" not in spawn.started[-1].output()
    # The server goes on: the next connection is served.
    reply, raw = exchange(port, post(webhook_request(1, 1301)))
    assert reply is not None and reply.status == 200, raw


def test_head_says_the_gets_length_sends_no_body_and_the_connection_goes_on(
    acme_webhook: Path, spawn: Processes
) -> None:
    port = serve(spawn, acme_webhook)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"HEAD /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        received = b""
        while received.count(b"HTTP/1.1 200") < 2 or not received.endswith(b'{"ok":true}'):
            chunk = sock.recv(65536)
            assert chunk, received
            received += chunk
    head, get = received.split(b"\r\n\r\n", 1)
    assert b"Content-Length: 11" in head  # RFC 9110 8.6: the length a GET would have
    assert get.startswith(b"HTTP/1.1 200 OK") and get.endswith(b'\r\n\r\n{"ok":true}')


# -- found by review: each failed before its fix ---------------------------------------------
def _server_side_established(port: int, client_port: int) -> bool:
    """Whether the server's end of the connection from `client_port` is still open (Linux)."""
    wanted = f":{port:04X}", f":{client_port:04X}"
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError), open(table) as rows:
            for row in list(rows)[1:]:
                local, remote, state = row.split()[1:4]
                if local.endswith(wanted[0]) and remote.endswith(wanted[1]):
                    return state == "01"
    return False


@pytest.mark.parametrize("last", ["connection-close", "answered-later"])
def test_a_client_that_does_not_read_is_cut_even_as_its_connection_closes_or_waits(
    acme_webhook: Path, spawn: Processes, last: str
) -> None:
    """Its answers fill the socket; then a request that closes the connection (`Connection:
    close`), or one answered off the short path (GET /healthz): the server still cuts it after
    `--timeout`, where closing had waited for the client forever and the cap never freed it."""
    port = serve(spawn, acme_webhook, "--timeout", "2")
    plain = b"POST /webhook/ HTTP/1.1\r\nContent-Length: 1\r\n\r\nx"
    ending = {
        "connection-close": b"POST /webhook/ HTTP/1.1\r\nConnection: close\r\n"
        b"Content-Length: 1\r\n\r\nx",
        "answered-later": b"GET /healthz HTTP/1.1\r\n\r\n",
    }
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
    sock.connect(("127.0.0.1", port))
    sock.settimeout(0.2)
    client_port = sock.getsockname()[1]
    # Until the server stops reading (or, past its deadline, cuts the connection already).
    with contextlib.suppress(TimeoutError, BlockingIOError, ConnectionError):
        for _ in range(400):
            sock.send(plain * 100 + (ending[last] if last == "answered-later" else b""))
            time.sleep(0.02)
    if last == "connection-close":
        with contextlib.suppress(TimeoutError, BlockingIOError, ConnectionError):
            sock.send(ending[last])
    deadline = time.monotonic() + 8
    while _server_side_established(port, client_port) and time.monotonic() < deadline:
        time.sleep(0.2)
    still = _server_side_established(port, client_port)
    sock.close()
    assert not still, "the server kept a connection whose client reads nothing past --timeout"


def test_blank_lines_do_not_keep_a_connection_open(acme_webhook: Path, spawn: Processes) -> None:
    port = serve(spawn, acme_webhook, "--timeout", "2", env={"JAXL_HEADER_TIMEOUT": "2"})
    with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
        started = time.monotonic()
        closed = False
        while time.monotonic() - started < 8 and not closed:
            try:
                sock.sendall(b"\r\n")
                time.sleep(1.2)
                closed = sock.recv(100, socket.MSG_DONTWAIT) == b""
            except BlockingIOError:
                continue
            except OSError:
                closed = True
        took = time.monotonic() - started
    assert closed and took < 4.5, f"open after {took:.1f} s of blank lines"


def test_every_request_that_expects_100_continue_gets_it(
    acme_webhook: Path, spawn: Processes
) -> None:
    port = serve(spawn, acme_webhook)
    with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
        for call_id in (1401, 1402, 1403):
            body = json.dumps(webhook_request(1, call_id)).encode()
            request = http_request("POST", body, "/webhook/", {"Expect": "100-continue"})
            sock.sendall(request[: len(request) - len(body)])
            assert sock.recv(65536) == b"HTTP/1.1 100 Continue\r\n\r\n", call_id
            sock.sendall(body)
            assert read_answers(sock, 1)[0].status == 200


def test_pipelined_requests_then_the_clients_end_are_all_answered(
    acme_webhook: Path, spawn: Processes
) -> None:
    port = serve(spawn, acme_webhook)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n" * 3)  # each answered later
        sock.shutdown(socket.SHUT_WR)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    assert received.count(b'{"ok":true}') == 3, received


def test_connection_close_among_other_options_closes(acme_webhook: Path, spawn: Processes) -> None:
    port = serve(spawn, acme_webhook)
    with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
        sock.sendall(
            b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close, TE\r\nTE: trailers\r\n\r\n"
        )
        (reply,) = read_answers(sock, 1)
        assert reply.headers["connection"] == "close" and sock.recv(100) == b""


def _wait_for_workers(parent: int, count: int) -> list[int]:
    """Wait until `parent` has `count` workers each in its event loop (waiting in epoll, Linux):
    serving, its app made."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        workers = children(parent)
        waiting = []
        for pid in workers:
            with contextlib.suppress(OSError):
                waiting.append("epoll" in Path(f"/proc/{pid}/wchan").read_text())
        if len(workers) == count and all(waiting) and len(waiting) == count:
            return workers
        time.sleep(0.05)
    raise AssertionError(f"{count} workers of {parent} not serving: {children(parent)}")


def test_a_replacement_worker_that_cannot_start_leaves_the_others_serving(
    acme_webhook: Path, spawn: Processes, tmp_path: Path
) -> None:
    """The flow file is broken after start (the workers keep the flow they have); a worker
    killed then cannot start again: it is tried again, and the other one serves meanwhile."""
    flow_file = tmp_path / "flow.json"
    flow_file.write_text((acme_webhook.parent / "flow.json").read_text())
    env = {"JAXL_ALLOW_PRIVATE_STATE": "1"}
    port = serve(spawn, acme_webhook, "--workers", "2", "--flow", str(flow_file), env=env)
    parent = spawn.started[-1].popen.pid
    _wait_for_workers(parent, 2)  # both serving: each has read the flow file
    flow_file.write_text("{ not a flow")
    os.kill(children(parent)[0], signal.SIGKILL)
    time.sleep(2.5)  # a try or two to start again, each refused
    assert spawn.started[-1].popen.poll() is None, spawn.started[-1].output()
    for call_id in range(1501, 1506):
        reply, raw = exchange(port, post(webhook_request(1, call_id)))
        assert reply is not None and reply.status == 200, raw
    assert "could not start; trying again" in spawn.started[-1].output()
