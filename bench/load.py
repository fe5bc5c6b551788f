"""Load client for a Jaxl webhook: keep-alive HTTP/1.1, every response checked.

Two modes, both on loopback only and bounded by a duration or a count:

- `setup`: event 1 (setup) for a new call id on every request.
- `calls`: whole Acme calls of 5 requests (setup, press 2, data "123*", press 1, teardown as
  DELETE); each response is compared with what `jaxl_designer.core.runtime.Runtime` answers.

Two clients:

- `python` (default): asyncio (uvloop when installed) on raw transports, one connection per
  concurrent caller, a hand-rolled HTTP/1.1 parser; every response body is checked (a body already
  seen to be right is recognised by its bytes, any other is parsed and compared as JSON, with the
  SDK's `"mark": null` ignored). Supports both modes.
- `wrk`: the `wrk` program with `bench/wrk/setup.lua`; setup mode only (wrk cannot tell which
  connection a response came from, so it cannot follow a call). Every body is compared with the
  exact bytes the server answered to a setup checked beforehand.

A third, `--open`, sends setups at set rates whatever the server does (a burst, say), each
request's latency counted from when it was due, so a server that falls behind is charged for the
wait (no coordinated omission); the client's timer ticks every millisecond.

Usage:
    python bench/load.py --port 8000 --mode calls --concurrency 16 --duration 5
    python bench/load.py --port 8000 --mode setup --client wrk --json

It prints one line of results (or JSON with --json). Pin it away from the server yourself, e.g.
`taskset -c 1 python bench/load.py ...` with the server under `taskset -c 0`.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

PATH = "/webhook/"
MARK = b"@CALL_ID@"
SENTINEL = 987654321987


# -- what a call sends and what it must get back -------------------------------------------
def _request(event: int, call_id: int, option: str | None, data: str | None) -> dict[str, Any]:
    from jaxl_designer.core.simulator import request

    payload = request(event, call_id, option=option, data=data)
    # The SDK's pydantic model requires state.options; real Jaxl traffic carries it.
    payload["state"]["options"] = None
    return payload


#: The 5 requests of an Acme call: (HTTP method, event, option, data).
CALL_STEPS: list[tuple[str, int, str | None, str | None]] = [
    ("POST", 1, None, None),
    ("POST", 2, "2", None),
    ("POST", 2, "2", "123*"),
    ("POST", 2, "1", None),
    ("DELETE", 3, None, None),
]


def expected_responses() -> list[dict[str, Any]]:
    """What our runtime answers to each step of the Acme call, computed in process."""
    from jaxl_designer.core.examples import acme
    from jaxl_designer.core.prepare import prepare
    from jaxl_designer.core.runtime import Runtime

    flow = prepare(acme(), None)
    document = flow.to_document() if hasattr(flow, "to_document") else flow
    runtime = Runtime(document)
    return [runtime.handle(_request(ev, 42, opt, data)) for _, ev, opt, data in CALL_STEPS]


def body_template(event: int, option: str | None, data: str | None) -> bytes:
    """The JSON body with the call id replaced by @CALL_ID@."""
    text = json.dumps(_request(event, SENTINEL, option, data), separators=(",", ":"))
    return text.replace(str(SENTINEL), MARK.decode()).encode()


def normalize(value: Any) -> Any:
    """A response as compared: the SDK's pydantic models add `"mark": null` to prompts."""
    if isinstance(value, dict) and value.get("mark", 0) is None:
        value = {k: v for k, v in value.items() if k != "mark"}
    return value


#: What `parse_response` gives for an answer with neither a length nor chunks (not supported).
UNFRAMED: Any = object()


def parse_response(buf: bytes) -> Any:
    """The first whole HTTP/1.1 response in `buf`: (status, body, whether the server closes,
    the bytes after it); None while it is not all there; `UNFRAMED` when it cannot be framed."""
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        return None
    head = buf[:end].lower()
    start = end + 4
    close = b"\r\nconnection: close" in head or head.startswith(b"http/1.0")
    at = head.find(b"\r\ncontent-length:")
    if at >= 0:
        stop = head.find(b"\r\n", at + 2)
        length = int(head[at + 17 : stop if stop >= 0 else len(head)])
        if len(buf) < start + length:
            return None
        return int(head[9:12]), buf[start : start + length], close, buf[start + length :]
    if b"\r\ntransfer-encoding: chunked" in head:
        tail = buf.find(b"\r\n0\r\n\r\n", start - 2)
        if tail < 0:
            return None
        body, pos = b"", start
        while True:
            eol = buf.find(b"\r\n", pos)
            size = int(buf[pos:eol].split(b";")[0], 16)
            if size == 0:
                break
            body += buf[eol + 2 : eol + 2 + size]
            pos = eol + 4 + size
        return int(head[9:12]), body, close, buf[tail + 7 :]
    return UNFRAMED


class Checker:
    """Checks response bodies against the expected JSON of each step, caching good bytes."""

    def __init__(self, expected: list[dict[str, Any]]) -> None:
        self.expected = expected
        self.good: list[set[bytes]] = [set() for _ in expected]
        self.samples: list[str] = []

    def ok(self, step: int, body: bytes) -> bool:
        if body in self.good[step]:
            return True
        try:
            value = json.loads(body)
        except ValueError:
            value = None
        if normalize(value) == self.expected[step]:
            if len(self.good[step]) < 8:
                self.good[step].add(body)
            return True
        if len(self.samples) < 3:
            self.samples.append(f"step {step}: got {body[:300]!r}")
        return False


# -- results --------------------------------------------------------------------------------
def summarize(
    client: str,
    mode: str,
    concurrency: int,
    seconds: float,
    requests: int,
    calls: int,
    latencies_s: list[float],
    errors: int,
    mismatches: int,
    samples: list[str] | None = None,
    cpu: float | None = None,
) -> dict[str, Any]:
    latencies_s.sort()

    def pct(p: float) -> float:
        if not latencies_s:
            return float("nan")
        return latencies_s[min(len(latencies_s) - 1, int(p / 100 * len(latencies_s)))] * 1000

    return {
        "client": client,
        "mode": mode,
        "concurrency": concurrency,
        "seconds": round(seconds, 3),
        "requests": requests,
        "calls": calls,
        "rps": requests / seconds if seconds else 0.0,
        "cps": calls / seconds if seconds else 0.0,
        "p50_ms": pct(50),
        "p90_ms": pct(90),
        "p99_ms": pct(99),
        "p999_ms": pct(99.9),
        "max_ms": latencies_s[-1] * 1000 if latencies_s else float("nan"),
        "errors": errors,
        "mismatches": mismatches,
        "client_cpu": cpu,  # the client's CPU time / wall time: 1.0 means it is the bottleneck
        "samples": samples or [],
    }


# -- the Python client ----------------------------------------------------------------------
class _Run:
    """Shared state of one run: stop condition, counters, checker, request bytes."""

    def __init__(
        self,
        host: str,
        port: int,
        mode: str,
        deadline: float | None,
        budget: int | None,
        checker: Checker,
        call_ids: Any,
        progress_every: int,
        on_progress: Callable[[int], None] | None,
    ) -> None:
        self.host, self.port, self.mode = host, port, mode
        self.deadline = deadline
        self.budget = budget  # requests (setup) or calls (calls) still to start
        self.checker = checker
        self.call_ids = call_ids
        self.requests = 0
        self.calls = 0
        self.errors = 0
        self.mismatches = 0
        self.latencies: list[float] = []
        self.progress_every = progress_every
        self.on_progress = on_progress
        self.next_progress = progress_every
        self.live = 0
        #: Whether requests go out: not while the connections open, one after another (the
        #: first ones' answers would wait behind the server accepting the rest: up to 2 s of
        #: latency at 256 connections that no caller of a running server meets).
        self.going = False
        self.finished: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.steps = CALL_STEPS if mode == "calls" else CALL_STEPS[:1]
        self.templates = []
        for method, event, option, data in self.steps:
            prefix, suffix = body_template(event, option, data).split(MARK)
            head = (
                f"{method} {PATH} HTTP/1.1\r\nHost: {host}:{port}\r\n"
                "Content-Type: application/json\r\nContent-Length: "
            ).encode()
            self.templates.append((head, prefix, suffix, len(prefix) + len(suffix)))

    def take(self) -> bool:
        """May a worker start one more unit (a setup request, or a whole call)?"""
        if self.deadline is not None and time.perf_counter() >= self.deadline:
            return False
        if self.budget is not None:
            if self.budget <= 0:
                return False
            self.budget -= 1
        return True

    def build(self, step: int, call_id: int) -> bytes:
        head, prefix, suffix, size = self.templates[step]
        ident = str(call_id).encode()
        return b"".join((head, str(size + len(ident)).encode(), b"\r\n\r\n", prefix, ident, suffix))

    def done_one(self) -> None:
        self.live -= 1
        if self.live == 0 and not self.finished.done():
            self.finished.set_result(None)


class _Worker(asyncio.Protocol):
    """One simulated caller on one keep-alive connection (reconnecting when the server closes)."""

    def __init__(self, run: _Run) -> None:
        self.run = run
        self.transport: asyncio.Transport | None = None
        self.buf = b""
        self.step = 0
        self.call_id = 0
        self.sent_at = 0.0
        self.waiting = False
        self.stopped = False
        self.resume: Callable[[], None] | None = None

    # connection
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.buf = b""
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        resume, self.resume = self.resume, None
        if resume is None and not self.run.going:
            return  # the run begins once every connection is open (`_python_run`)
        (resume or self._begin)()

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        if self.stopped:
            return
        if self.waiting:  # the server dropped a request: count it, start a new call
            self.run.errors += 1
            self.waiting = False
            self.resume = self._begin
        elif self.resume is None:
            self.resume = self._next
        asyncio.get_running_loop().create_task(self._reconnect())

    async def _reconnect(self) -> None:
        run = self.run
        for _ in range(50):
            try:
                await asyncio.get_running_loop().create_connection(lambda: self, run.host, run.port)
                return
            except OSError:
                run.errors += 1
                await asyncio.sleep(0.01)
        self._stop()

    # calls
    def _begin(self) -> None:
        if not self.run.take():
            self._stop()
            return
        self.call_id = next(self.run.call_ids)
        self.step = 0
        self._send()

    def _send(self) -> None:
        if self.transport is None:
            return
        self.waiting = True
        self.sent_at = time.perf_counter()
        self.transport.write(self.run.build(self.step, self.call_id))

    def _next(self) -> None:
        if self.step + 1 < len(self.run.steps):
            self.step += 1
            if self.run.deadline is not None and time.perf_counter() >= self.run.deadline:
                self._stop()
                return
            self._send()
        else:
            self._begin()

    def _stop(self) -> None:
        if self.stopped:
            return
        self.stopped = True
        if self.transport is not None:
            self.transport.close()
        self.run.done_one()

    # responses
    def data_received(self, data: bytes) -> None:
        self.buf += data
        while self.waiting:
            parsed = parse_response(self.buf)
            if parsed is None:
                return
            if parsed is UNFRAMED:
                self.run.errors += 1
                self.waiting = False
                self._stop()
                return
            status, body, close, self.buf = parsed
            self._complete(status, body, close)

    def _complete(self, status: int, body: bytes, close: bool) -> None:
        run = self.run
        now = time.perf_counter()
        self.waiting = False
        run.requests += 1
        run.latencies.append(now - self.sent_at)
        if status != 200:
            run.errors += 1
        elif not run.checker.ok(self.step, body):
            run.mismatches += 1
        if run.mode == "calls" and self.step == len(run.steps) - 1:
            run.calls += 1
        if run.on_progress is not None:
            units = run.calls if run.mode == "calls" else run.requests
            if units >= run.next_progress:
                run.next_progress += run.progress_every
                run.on_progress(units)
        if close:  # the server closes after this answer: go on over a new connection
            self.resume = self._next
            if self.transport is not None:
                self.transport.close()
            return
        self._next()


async def _python_run(
    host: str,
    port: int,
    mode: str,
    concurrency: int,
    duration: float | None,
    count: int | None,
    expected: list[dict[str, Any]],
    call_base: int,
    progress_every: int,
    on_progress: Callable[[int], None] | None,
) -> dict[str, Any]:
    import itertools

    checker = Checker(expected)
    run = _Run(
        host,
        port,
        mode,
        None,
        count,
        checker,
        itertools.count(call_base),
        progress_every,
        on_progress,
    )
    loop = asyncio.get_running_loop()
    workers = [_Worker(run) for _ in range(concurrency)]
    run.live = len(workers)
    for worker in workers:
        try:
            await loop.create_connection(lambda w=worker: w, host, port)  # type: ignore[misc]
        except OSError:
            run.errors += 1
            worker.stopped = True
            run.done_one()
    cpu0 = time.process_time()
    started = time.perf_counter()
    run.deadline = started + duration if duration is not None else None
    run.going = True
    for worker in workers:
        if not worker.stopped and worker.transport is not None:
            worker._begin()
    guard = (duration or 0) + 60 if count is None else None
    try:
        await asyncio.wait_for(run.finished, guard)
    except asyncio.TimeoutError:  # a server that stopped answering: report what was done
        run.errors += sum(1 for w in workers if not w.stopped)
        for worker in workers:
            worker._stop()
    seconds = time.perf_counter() - started
    cpu = (time.process_time() - cpu0) / seconds
    return summarize(
        "python",
        mode,
        concurrency,
        seconds,
        run.requests,
        run.calls,
        run.latencies,
        run.errors,
        run.mismatches,
        checker.samples,
        cpu,
    )


def run_python(
    host: str,
    port: int,
    mode: str = "setup",
    concurrency: int = 16,
    duration: float | None = 5.0,
    count: int | None = None,
    *,
    expected: list[dict[str, Any]] | None = None,
    call_base: int | None = None,
    progress_every: int = 100_000,
    on_progress: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """One bounded run of the Python client; `count` is requests (setup) or calls (calls)."""
    if duration is None and count is None:
        raise ValueError("give a duration or a count")
    if expected is None:
        expected = expected_responses()
    if call_base is None:
        call_base = random.randrange(10**6, 9 * 10**6) * 10**6
    try:
        import uvloop

        runner: Callable[..., Any] = uvloop.run
    except ImportError:
        runner = asyncio.run
    return runner(  # type: ignore[no-any-return]
        _python_run(
            host,
            port,
            mode,
            concurrency,
            duration,
            count,
            expected,
            call_base,
            progress_every,
            on_progress,
        )
    )


# -- open loop: requests at a set rate, whatever the server does ------------------------------
class _OpenConn(asyncio.Protocol):
    """One keep-alive connection of the open-loop pool: one request at a time."""

    def __init__(self, pool: _OpenPool) -> None:
        self.pool = pool
        self.transport: asyncio.Transport | None = None
        self.buf = b""
        self.due = 0.0  # when the request in flight was due to be sent (its latency's start)
        self.phase = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.transport is not None and self.due:
            self.pool.errors += 1
        self.transport = None
        self.pool.lost(self)

    def send(self, due: float, phase: int, request: bytes) -> None:
        assert self.transport is not None
        self.due, self.phase, self.buf = due, phase, b""
        self.transport.write(request)

    def data_received(self, data: bytes) -> None:
        self.buf += data
        parsed = parse_response(self.buf)
        if parsed is None:
            return
        pool = self.pool
        if parsed is UNFRAMED:
            pool.errors += 1
            status, body, close = 0, b"", True
        else:
            status, body, close, self.buf = parsed
        pool.done(self, status, body)
        self.due = 0.0
        if close and self.transport is not None:
            self.transport.close()
        else:
            pool.free(self)


class _OpenPool:
    """Sends setup requests at the rates of `phases`, over `connections` kept-alive
    connections; a request due while every connection is busy waits its turn, and its latency
    counts from when it was due (no coordinated omission)."""

    def __init__(self, host: str, port: int, connections: int, call_base: int) -> None:
        self.host, self.port, self.connections = host, port, connections
        self.idle: list[_OpenConn] = []
        self.queue: collections.deque[tuple[float, int, int]] = collections.deque()
        self.latencies: list[list[float]] = []
        self.errors = 0
        self.mismatches = 0
        self.checker = Checker(expected_responses()[:1])
        self.ids = iter(range(call_base, call_base + 10**9))
        prefix, suffix = body_template(1, None, None).split(MARK)
        self.head = (
            f"POST {PATH} HTTP/1.1\r\nHost: {host}:{port}\r\n"
            "Content-Type: application/json\r\nContent-Length: "
        ).encode()
        self.prefix, self.suffix = prefix, suffix

    def request(self) -> bytes:
        ident = str(next(self.ids)).encode()
        size = len(self.prefix) + len(ident) + len(self.suffix)
        return b"".join((self.head, b"%d\r\n\r\n" % size, self.prefix, ident, self.suffix))

    def due(self, when: float, phase: int) -> None:
        if self.idle:
            self.idle.pop().send(when, phase, self.request())
        else:
            self.queue.append((when, phase, 0))

    def free(self, conn: _OpenConn) -> None:
        if self.queue:
            when, phase, _ = self.queue.popleft()
            conn.send(when, phase, self.request())
        else:
            self.idle.append(conn)

    def done(self, conn: _OpenConn, status: int, body: bytes) -> None:
        self.latencies[conn.phase].append(time.perf_counter() - conn.due)
        if status != 200:
            self.errors += 1
        elif not self.checker.ok(0, body):
            self.mismatches += 1

    def lost(self, conn: _OpenConn) -> None:
        if conn in self.idle:
            self.idle.remove(conn)
        asyncio.get_running_loop().create_task(self.connect())

    async def connect(self) -> None:
        loop = asyncio.get_running_loop()
        conn = _OpenConn(self)
        for _ in range(50):
            try:
                await loop.create_connection(lambda: conn, self.host, self.port)
                self.free(conn)
                return
            except OSError:
                self.errors += 1
                await asyncio.sleep(0.01)


async def _open_run(
    host: str, port: int, phases: list[tuple[float, float]], connections: int, call_base: int
) -> dict[str, Any]:
    pool = _OpenPool(host, port, connections, call_base)
    pool.latencies = [[] for _ in phases]
    await asyncio.gather(*(pool.connect() for _ in range(connections)))
    started = time.perf_counter()
    at = started
    for number, (seconds, rate) in enumerate(phases):
        end, sent = at + seconds, 0
        while True:
            now = time.perf_counter()
            due_all = min(int((min(now, end) - at) * rate), int(seconds * rate))
            while sent < due_all:  # every request due by now, each stamped when it was due
                pool.due(at + sent / rate, number)
                sent += 1
            if now >= end:
                break
            await asyncio.sleep(min(0.001, end - now))
        at = end
    deadline = time.perf_counter() + 30
    while (pool.queue or len(pool.idle) < connections) and time.perf_counter() < deadline:
        await asyncio.sleep(0.01)
    results = []
    for (seconds, rate), latencies in zip(phases, pool.latencies, strict=True):
        latencies.sort()

        def pct(p: float, got: list[float] = latencies) -> float:
            if not got:
                return float("nan")
            return got[min(len(got) - 1, int(p / 100 * len(got)))] * 1000

        results.append({"seconds": seconds, "rate": rate, "requests": len(latencies),
                        "p50_ms": pct(50), "p99_ms": pct(99), "p999_ms": pct(99.9),
                        "max_ms": latencies[-1] * 1000 if latencies else float("nan")})  # fmt: skip
    return {"phases": results, "errors": pool.errors, "mismatches": pool.mismatches,
            "samples": pool.checker.samples, "connections": connections}  # fmt: skip


def run_open(
    host: str,
    port: int,
    phases: list[tuple[float, float]],
    connections: int = 256,
    call_base: int | None = None,
) -> dict[str, Any]:
    """Setup requests at a set rate per phase ((seconds, requests a second) each), whatever the
    server does: each phase's latencies (p50, p99, p99.9, max, from when each was due)."""
    if call_base is None:
        call_base = random.randrange(10**6, 9 * 10**6) * 10**6
    try:
        import uvloop

        runner: Callable[..., Any] = uvloop.run
    except ImportError:
        runner = asyncio.run
    return runner(_open_run(host, port, phases, connections, call_base))  # type: ignore[no-any-return]


# -- the wrk client -------------------------------------------------------------------------
def run_wrk(
    host: str,
    port: int,
    mode: str = "setup",
    concurrency: int = 16,
    duration: float = 5.0,
    *,
    expected: list[dict[str, Any]] | None = None,
    call_base: int | None = None,
) -> dict[str, Any]:
    """One run of wrk (one thread) with bench/wrk/setup.lua; setup mode only."""
    if mode != "setup":
        raise ValueError("the wrk client runs setup mode only; use --client python for calls")
    wrk = shutil.which("wrk")
    if wrk is None:
        raise SystemExit("wrk is not installed: apt-get install -y wrk")
    if expected is None:
        expected = expected_responses()
    if call_base is None:
        call_base = random.randrange(1000, 9000) * 10**9
    # wrk compares bytes: take the exact body this server answers to a setup, once checked.
    probe = _probe(host, port, body_template(1, None, None).replace(MARK, b"1"))
    if normalize(json.loads(probe)) != expected[0]:
        return summarize("wrk", mode, concurrency, 0.0, 0, 0, [], 0, 1, [f"probe: {probe!r}"])
    with tempfile.TemporaryDirectory() as tmp:
        template = Path(tmp, "template.json")
        template.write_bytes(body_template(1, None, None))
        expect = Path(tmp, "expect.json")
        expect.write_bytes(probe)
        env = dict(
            os.environ,
            JAXL_TEMPLATE=str(template),
            JAXL_EXPECT=str(expect),
            JAXL_CALL_BASE=str(call_base),
            JAXL_PATH=PATH,
        )
        script = Path(__file__).with_name("wrk") / "setup.lua"
        out = subprocess.run(
            [
                wrk,
                "-t1",
                f"-c{concurrency}",
                f"-d{max(1, round(duration))}s",
                "--timeout",
                "5s",
                "-s",
                str(script),
                f"http://{host}:{port}{PATH}",
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=duration + 60,
            check=False,
        )
    line = next((x for x in out.stdout.splitlines() if x.startswith("JSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk failed: {out.stdout}\n{out.stderr}")
    raw = json.loads(line[5:])
    seconds = raw["duration_us"] / 1e6
    result = summarize(
        "wrk",
        mode,
        concurrency,
        seconds,
        raw["requests"],
        0,
        [],
        raw["errors"],
        raw["mismatches"],
    )
    result.update(p50_ms=raw["p50_us"] / 1000, p90_ms=raw["p90_us"] / 1000)
    result.update(p99_ms=raw["p99_us"] / 1000)
    return result


def _probe(host: str, port: int, body: bytes, method: str = "POST") -> bytes:
    """One request on its own connection; returns the response body."""
    import http.client

    conn = http.client.HTTPConnection(host, port, timeout=10)
    try:
        conn.request(method, PATH, body, {"Content-Type": "application/json"})
        response = conn.getresponse()
        return response.read()
    finally:
        conn.close()


def check_call(host: str, port: int) -> list[str]:
    """Send one Acme call and return the problems found (empty when every answer is right)."""
    expected = expected_responses()
    problems = []
    call_id = random.randrange(10**9, 2 * 10**9)
    for step, (method, event, option, data) in enumerate(CALL_STEPS):
        body = body_template(event, option, data).replace(MARK, str(call_id).encode())
        got = _probe(host, port, body, method)
        try:
            value = normalize(json.loads(got))
        except ValueError:
            value = got
        if value != expected[step]:
            problems.append(f"step {step} ({method} event {event}): {got[:200]!r}")
    return problems


def format_line(result: dict[str, Any]) -> str:
    return (
        f"{result['client']:6} {result['mode']:5} c={result['concurrency']:<3} "
        f"{result['rps']:9.0f} req/s {result['cps']:8.0f} calls/s  "
        f"p50 {result['p50_ms']:.2f} p90 {result['p90_ms']:.2f} p99 {result['p99_ms']:.2f} ms  "
        f"errors {result['errors']} mismatches {result['mismatches']}"
        + (f"  client cpu {result['client_cpu']:.0%}" if result.get("client_cpu") else "")
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--mode", choices=("setup", "calls"), default="setup")
    parser.add_argument("--client", choices=("python", "wrk"), default="python")
    parser.add_argument("--concurrency", "-c", type=int, default=16)
    parser.add_argument("--duration", "-d", type=float, default=5.0, help="seconds (default 5)")
    parser.add_argument(
        "--count", type=int, help="stop after this many requests (setup) or calls (calls)"
    )
    parser.add_argument("--warmup", type=float, default=0.0, help="seconds of unmeasured load")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument(
        "--open",
        metavar="PHASES",
        help="open loop instead: setup requests at set rates, e.g. 3:800,2:8000,5:800 "
        "(seconds:requests a second, each phase in turn) over --concurrency connections",
    )
    args = parser.parse_args(argv)
    if not (args.host.startswith("127.") or args.host in ("localhost", "::1")):
        parser.error("load goes to loopback addresses only")
    if args.concurrency < 1:
        parser.error("--concurrency must be at least 1")
    if args.open:
        try:
            phases = [(float(a), float(b)) for a, b in (p.split(":") for p in args.open.split(","))]
        except ValueError:
            parser.error(f"--open {args.open!r}: phases are seconds:rate, comma-separated")
        opened = run_open(args.host, args.port, phases, args.concurrency)
        print(json.dumps(opened) if args.json else opened)
        return 0
    expected = expected_responses()
    if args.warmup > 0:
        run_python(
            args.host, args.port, args.mode, args.concurrency, args.warmup, None, expected=expected
        )
    if args.client == "wrk":
        result = run_wrk(
            args.host, args.port, args.mode, args.concurrency, args.duration, expected=expected
        )
    else:
        duration = None if args.count else args.duration
        result = run_python(
            args.host,
            args.port,
            args.mode,
            args.concurrency,
            duration,
            args.count,
            expected=expected,
        )
    if args.json:
        print(json.dumps(result))
    else:
        print(format_line(result))
        for sample in result["samples"]:
            print("  mismatch:", sample)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
