"""Shared fixtures: free loopback ports, real processes started and stopped, a real Redis."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
BIN = Path(sys.executable).parent


def free_port() -> int:
    """A TCP port nothing listens on right now, on the loopback interface."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for_port(port: int, timeout: float = 15.0, process: Process | None = None) -> None:
    """Wait until something accepts connections on `port`; fail early if `process` dies."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.popen.poll() is not None:
            raise RuntimeError(f"{process.name} exited early:\n{process.output()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    detail = process.output() if process is not None else ""
    raise TimeoutError(f"nothing listens on port {port} after {timeout} s\n{detail}")


class Process:
    """A real subprocess whose output goes to a file, stopped by its own pid."""

    def __init__(
        self,
        args: Sequence[str],
        log: Path,
        *,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.name = " ".join(str(arg) for arg in args[:4])
        self.args = list(args)
        self.log = log
        full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
        with open(log, "ab") as out:
            self.popen = subprocess.Popen(
                self.args,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=full_env,
                cwd=cwd,
                start_new_session=True,
            )

    def output(self) -> str:
        """Everything the process wrote so far (stdout and stderr)."""
        return self.log.read_text(encoding="utf-8", errors="replace")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10.0) -> None:
        """Stop the process and its children (its own process group) and wait for it."""
        if self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, sig)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(timeout)

    def kill(self) -> None:
        """Kill the process at once, as a crash would."""
        self.stop(signal.SIGKILL)


class Processes:
    """Starts processes and stops every one of them at the end."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.started: list[Process] = []

    def start(
        self,
        args: Sequence[str],
        *,
        port: int | None = None,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        wait: bool = True,
    ) -> Process:
        """Start `args`; when `port` is given and `wait` is true, return once it listens."""
        log = self.folder / f"process-{len(self.started)}.log"
        process = Process(args, log, env=env, cwd=cwd)
        self.started.append(process)
        if port is not None and wait:
            wait_for_port(port, process=process)
        return process

    def stop_all(self) -> None:
        """Stop every process started here, newest first."""
        for process in reversed(self.started):
            process.stop()


@pytest.fixture
def spawn(tmp_path: Path) -> Iterator[Processes]:
    """Start real processes for one test; all are stopped after it."""
    processes = Processes(tmp_path)
    yield processes
    processes.stop_all()


@pytest.fixture
def port() -> int:
    """A free loopback port."""
    return free_port()


class RedisServer:
    """A real redis-server in a temporary folder, without persistence, restartable."""

    def __init__(self, processes: Processes, folder: Path, port: int) -> None:
        self.processes = processes
        self.folder = folder
        self.port = port
        self.url = f"redis://127.0.0.1:{port}/0"
        self.process: Process | None = None

    def start(self) -> RedisServer:
        """Start (or restart) the server on its port."""
        args = [
            "redis-server",
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(self.folder),
        ]
        self.process = self.processes.start(args, port=self.port)
        return self

    def stop(self) -> None:
        """Stop the server; its data is gone (nothing is saved)."""
        if self.process is not None:
            self.process.stop()
            self.process = None


def missing(reason: str) -> None:
    """Skip for a tool this machine lacks; in CI, where scripts/setup installs it, fail."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason}; CI must have it")
    pytest.skip(reason)


@pytest.fixture
def redis_server(spawn: Processes, tmp_path: Path) -> RedisServer:
    """A running redis-server on a free port; skipped where the binary is not installed."""
    if shutil.which("redis-server") is None:
        missing("redis-server is not installed (scripts/setup installs it)")
    folder = tmp_path / "redis"
    folder.mkdir()
    return RedisServer(spawn, folder, free_port()).start()


def request(
    port: int,
    method: str = "POST",
    path: str = "/webhook/",
    body: Any = None,
    *,
    headers: Mapping[str, str] | None = None,
    raw: bytes | None = None,
    connection: http.client.HTTPConnection | None = None,
) -> tuple[int, dict[str, str], Any]:
    """Send one request; return the status, headers (lower-case) and the parsed JSON answer.

    `body` is sent as JSON; `raw` is sent as it is. `connection` reuses a keep-alive connection.
    """
    conn = connection or http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    sent = {"Content-Type": "application/json"} if raw is None and body is not None else {}
    sent.update(headers or {})
    try:
        conn.request(method, path, body=data, headers=sent)
        response = conn.getresponse()
        payload = response.read()
    finally:
        if connection is None:
            conn.close()
    answer = json.loads(payload) if payload else None
    return response.status, {k.lower(): v for k, v in response.getheaders()}, answer


@pytest.fixture
def send() -> Callable[..., tuple[int, dict[str, str], Any]]:
    """`send(port, method, path, body, headers=..., raw=..., connection=...)`: one request."""
    return request


# -- reliability: raw HTTP, whole random calls under load, the exported Acme webhook ---------
# Shared by test_reliability, test_fuzz_http, test_load, test_faults, test_security and
# bench/soak.py, so the suite and the soak run exercise the same code.
import asyncio  # noqa: E402
import copy  # noqa: E402
import itertools  # noqa: E402
import random  # noqa: E402
import re  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402

#: What never belongs in an answer: a traceback, a source location, a dotted exception class.
LEAKS = re.compile(r'Traceback|File "|\b[A-Za-z_][\w]*(?:\.[A-Za-z_]\w*)+(?:Error|Exception):')


def export_acme(folder: Path) -> Path:
    """Export Acme into `folder` and return its webhook.py."""
    from jaxl_designer.core.examples import acme
    from jaxl_designer.exporter.export import export

    return export(acme(), folder).webhook


@pytest.fixture(scope="session")
def acme_webhook(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The generated Acme webhook.py, exported once per session into its own folder."""
    return export_acme(tmp_path_factory.mktemp("acme"))


def webhook_command(webhook: Path, port: int, *extra: str) -> list[str]:
    """`python webhook.py` on loopback, without the request log."""
    return [PYTHON, str(webhook), "--host", "127.0.0.1", "--port", str(port), "--no-log", *extra]


def uvicorn_command(webhook: Path, port: int, workers: int = 2) -> list[str]:
    """`uvicorn webhook:asgi` with `workers` worker processes."""
    return [str(BIN / "uvicorn"), "webhook:asgi", "--app-dir", str(webhook.parent),
            "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
            "--no-access-log"]  # fmt: skip


def gunicorn_command(webhook: Path, port: int, workers: int = 2) -> list[str]:
    """`gunicorn webhook:wsgi` with `workers` sync worker processes."""
    return [str(BIN / "gunicorn"), "webhook:wsgi", "--chdir", str(webhook.parent),
            "--bind", f"127.0.0.1:{port}", "--workers", str(workers)]  # fmt: skip


def children(pid: int) -> list[int]:
    """The pids of a process's direct children (Linux /proc)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            found += [int(p) for p in (task / "children").read_text().split()]
    return found


@dataclass
class Reply:
    """A raw HTTP answer: its status, lower-case headers and body; `raw` is every byte read."""

    status: int
    headers: dict[str, str]
    body: bytes
    raw: bytes

    def json(self) -> Any:
        """The body parsed as JSON."""
        return json.loads(self.body)


def parse_reply(raw: bytes) -> Reply | None:
    """The first HTTP response in `raw`, or None when there is no whole one."""
    head, sep, rest = raw.partition(b"\r\n\r\n")
    if not sep or not head.startswith(b"HTTP/1."):
        return None
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", len(rest)))
    if len(rest) < length:
        return None
    return Reply(status, headers, rest[:length], raw)


def exchange(
    port: int,
    data: bytes,
    *,
    pieces: int = 1,
    over: float = 0.0,
    half_close: bool = False,
    timeout: float = 10.0,
) -> tuple[Reply | None, bytes]:
    """Send `data` on a fresh connection (in `pieces` spread `over` seconds) and read the answer.

    Returns the parsed answer (None when none came) and every byte the server sent. Reading stops
    at the first whole answer or when the server closes; a hang raises `socket.timeout`.
    """
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        size = max(1, -(-len(data) // pieces))
        try:
            for start in range(0, len(data), size):
                sock.sendall(data[start : start + size])
                if over and pieces > 1:
                    time.sleep(over / pieces)
            if half_close:
                sock.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered early and closed: read what it said
        received = b""
        while True:
            reply = parse_reply(received)
            if reply is not None:
                return reply, received
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                chunk = b""
            if not chunk:
                return parse_reply(received), received
            received += chunk


def http_request(
    method: str, body: bytes, path: str = "/webhook/", headers: Mapping[str, str] | None = None
) -> bytes:
    """One HTTP/1.1 request as bytes, JSON content type and length unless `headers` say else."""
    sent = {"Host": "127.0.0.1", "Content-Type": "application/json",
            "Content-Length": str(len(body))}  # fmt: skip
    sent.update(headers or {})
    head = "".join(f"{name}: {value}\r\n" for name, value in sent.items() if value is not None)
    return f"{method} {path} HTTP/1.1\r\n{head}\r\n".encode("latin-1") + body


# -- whole random Acme calls, each answer predicted by the runtime in process ----------------
@dataclass
class Step:
    """One request of a call: how it is sent and what the in-process runtime answered to it."""

    method: str
    payload: dict[str, Any]
    expected: dict[str, Any]
    teardown: bool = False


class PlayedCall:
    """One random Acme call: each step is chosen from where the call waits, as a caller would."""

    def __init__(self, calls: CallPlan, call_id: int) -> None:
        self.plan = calls
        self.call_id = call_id
        self.waiting: str | None = None
        self.option: str | None = None
        self.ended = False
        self.done = False
        self.steps = 0

    def next_step(self) -> Step:
        """Choose the caller's next action, build its request, and predict the answer."""
        rnd = self.plan.rnd
        self.steps += 1
        if self.ended or self.steps > 14 or (self.steps > 1 and rnd.random() < 0.04):
            method = "DELETE" if rnd.random() < 0.5 else "POST"
            return self._step(method, 3, teardown=True)
        if self.waiting is None:
            return self._step("POST", 1)
        if self.waiting == "main":
            key = rnd.choice("1222299777#")
            return self._step("POST", 2, option=key)
        if self.waiting == "order":
            roll = rnd.random()
            if roll < 0.7:
                digits = str(rnd.randrange(1, 10 ** rnd.randint(1, 12))) + "*"
            elif roll < 0.8:
                digits = "12a*"
            elif roll < 0.9:
                digits = "9" * rnd.randint(65, 90) + "*"  # longer than the runtime keeps
            else:
                return self._step("POST", 2, option=rnd.choice("13#"))  # a key at a collect
            event = 1 if self.option is None else 2
            return self._step("POST", event, option=self.option, data=digits)
        key = rnd.choice("11122258")  # confirm
        return self._step("POST", 2, option=key)

    def _step(self, method: str, event: int, teardown: bool = False, **fields: Any) -> Step:
        from jaxl_designer.core.simulator import request as webhook_request

        if fields.get("option") is not None and fields.get("data") is None:
            self.option = fields["option"]
        payload = webhook_request(event, self.call_id, **fields)
        step = Step(method, payload, {}, teardown)
        step.expected = self.apply(step)
        return step

    def apply(self, step: Step) -> dict[str, Any]:
        """Run the step through the in-process runtime and follow where the call now waits."""
        turn = self.plan.runtime.respond(copy.deepcopy(step.payload))
        self.waiting = turn.waiting_on
        response = turn.response
        if step.teardown:
            self.done = True
        elif "prompt" not in response or response.get("num_characters") == 0:
            self.ended = True
        return response

    def settle_retry(self, step: Step, answer: Any) -> bool:
        """After a lost answer and a retry: was `answer` right, had the lost try landed or not?

        A request whose answer was lost may or may not have changed the call on the server, so
        the retry's answer is right if it is what a first try gets, or what a second try gets.
        """
        store = self.plan.runtime.store
        once = copy.deepcopy(store.load(self.call_id))
        state = (self.waiting, self.ended, self.done)
        if answer == step.expected:
            return True
        twice = self.apply(step)
        if answer == twice:
            return True
        if once is None:
            store.drop(self.call_id)
        else:
            store.save(self.call_id, once)
        self.waiting, self.ended, self.done = state
        return False


class CallPlan:
    """A source of random Acme calls, reproducible from `seed`, with fresh call ids."""

    def __init__(self, seed: int, first_id: int | None = None) -> None:
        from jaxl_designer.core.examples import acme
        from jaxl_designer.core.runtime import Runtime

        self.rnd = random.Random(seed)
        self.runtime = Runtime(acme().to_document())
        start = first_id if first_id is not None else self.rnd.randrange(10**9, 10**12)
        self.ids = itertools.count(start)

    def new(self) -> PlayedCall:
        """A new call, not yet dialled."""
        return PlayedCall(self, next(self.ids))


@dataclass
class Tally:
    """What a load run did: requests, whole calls checked, and everything that went wrong."""

    requests: int = 0
    calls: int = 0
    mismatches: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    retried: int = 0
    faults: int = 0
    #: Retries answered as a second try would be: the lost try had moved the call on.
    moved_twice: int = 0

    def __str__(self) -> str:
        return (
            f"{self.requests} requests, {self.calls} calls checked, {self.faults} faults, "
            f"{self.retried} retried ({self.moved_twice} moved the call twice), "
            f"{len(self.mismatches)} mismatches, {len(self.errors)} errors"
        )


class _Connection:
    """One keep-alive HTTP/1.1 connection on asyncio streams."""

    def __init__(self, port: int, timeout: float) -> None:
        self.port = port
        self.timeout = timeout
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def send(self, method: str, body: bytes) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        assert self.reader is not None
        self.writer.write(http_request(method, body))
        head = await asyncio.wait_for(self.reader.readuntil(b"\r\n\r\n"), self.timeout)
        lines = head.decode("latin-1").split("\r\n")
        headers = {k.strip().lower(): v.strip() for k, _, v in (x.partition(":") for x in lines)}
        payload = await asyncio.wait_for(
            self.reader.readexactly(int(headers["content-length"])), self.timeout
        )
        if headers.get("connection", "").lower() == "close":
            self.close()
        return int(lines[0].split(" ", 2)[1]), payload

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


CONNECTION_ERRORS = (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError)


async def _play(
    port: int,
    plan: CallPlan,
    total: int,
    concurrency: int,
    *,
    retry: bool,
    fault: Callable[[Tally], None] | None,
    timeout: float,
    deadline: float,
) -> Tally:
    tally = Tally()
    ready: asyncio.Queue[PlayedCall] = asyncio.Queue()
    started = 0
    for _ in range(min(total, concurrency * 2)):  # more calls than connections: they interleave
        ready.put_nowait(plan.new())
        started += 1
    finished = asyncio.Event()

    async def worker() -> None:
        nonlocal started
        connection = _Connection(port, timeout)
        try:
            while not finished.is_set():
                try:
                    call = await asyncio.wait_for(ready.get(), 0.5)
                except asyncio.TimeoutError:
                    continue
                step = call.next_step()
                body = json.dumps(step.payload).encode()
                tries = 0
                while True:
                    tries += 1
                    tally.requests += 1
                    try:
                        status, payload = await connection.send(step.method, body)
                        answer = json.loads(payload)
                        break
                    except (*CONNECTION_ERRORS, asyncio.TimeoutError) as error:
                        connection.close()
                        tally.errors.append(f"call {call.call_id}: {type(error).__name__}")
                        if not retry or tries > 5 or time.monotonic() > deadline:
                            status, answer = -1, None
                            break
                        tally.retried += 1
                        await asyncio.sleep(0.05)
                right = status == 200 and (
                    answer == step.expected
                    if tries == 1 or status != 200
                    else call.settle_retry(step, answer)
                )
                if right and tries > 1 and answer != step.expected:
                    tally.moved_twice += 1
                if not right and len(tally.mismatches) < 1000:
                    tally.mismatches.append(
                        f"call {call.call_id} {step.method} {step.payload['event']} "
                        f"{step.payload['option']!r} {step.payload['data']!r}: expected "
                        f"{step.expected}, got {status} {answer}"
                    )
                if fault is not None:
                    fault(tally)
                if call.done:
                    tally.calls += 1
                    if started < total and time.monotonic() < deadline:
                        started += 1
                        ready.put_nowait(plan.new())
                    elif tally.calls >= started:
                        finished.set()
                else:
                    ready.put_nowait(call)
                if time.monotonic() > deadline and not finished.is_set():
                    tally.errors.append("deadline passed before every call finished")
                    finished.set()
        finally:
            connection.close()

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return tally


def play_calls(
    port: int,
    total: int,
    *,
    concurrency: int = 64,
    seed: int = 0,
    retry: bool = False,
    fault: Callable[[Tally], None] | None = None,
    timeout: float = 10.0,
    limit: float = 120.0,
) -> Tally:
    """Play `total` whole random Acme calls over `concurrency` keep-alive connections.

    Every call's steps go out on whichever connection is free, so one call's requests travel
    over many connections (and so reach every worker); each answer is compared with what the
    runtime in process answers to the same step. `fault(tally)` runs after each answer, to
    inject faults mid-load; with `retry`, a request whose connection failed is sent again.
    """
    plan = CallPlan(seed)
    deadline = time.monotonic() + limit
    tally = asyncio.run(
        _play(
            port,
            plan,
            total,
            concurrency,
            retry=retry,
            fault=fault,
            timeout=timeout,
            deadline=deadline,
        )
    )
    TALLIES.append(tally)
    return tally


#: Every load run of this process, for a report of the figures.
TALLIES: list[Tally] = []
