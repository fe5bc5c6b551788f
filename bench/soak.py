"""Soak: the reliability suite's fuzz, load and fault runs, longer, with the figures printed.

Everything runs on loopback against real processes this script starts and stops: the generated
Acme webhook (stdlib server), uvicorn with 2 workers and gunicorn with 2 workers sharing a
redis-server. Every run is bounded by its counts and by --limit seconds per phase.

Usage:
    .venv/bin/python bench/soak.py                      # about 6 minutes on 2 cores
    .venv/bin/python bench/soak.py --fuzz 2000 --calls 20000 --kills 10 --restarts 10

It prints one line per phase and a total: requests tried, faults injected, calls checked,
failures. It exits 1 when anything failed.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "tests"), str(ROOT)]

import conftest  # noqa: E402
import test_fuzz_http as fuzz  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from jaxl_designer.core.simulator import request as webhook_request  # noqa: E402

TOTAL = {"requests": 0, "faults": 0, "calls": 0, "failures": 0}


def report(
    phase: str, requests: int, faults: int, calls: int, failures: int, note: str = ""
) -> None:
    for key, value in zip(TOTAL, (requests, faults, calls, failures), strict=True):
        TOTAL[key] += value
    print(f"{phase:<34} {requests:>8} requests {faults:>4} faults {calls:>7} calls "
          f"{failures:>4} failures  {note}", flush=True)  # fmt: skip


def clean(process: Any) -> int:
    output = process.output()
    return int("Traceback" in output or "Exception occurred" in output)


def phase_fuzz(webhook: Path, processes: Any, examples: int, dribble: float) -> None:
    port = conftest.free_port()
    server = processes.start(conftest.webhook_command(webhook, port, "--timeout", "5"), port=port)
    fuzz.DRIBBLE = dribble
    fuzz.COUNTS.clear()

    @settings(max_examples=examples, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))  # fmt: skip
    @given(batch=st.lists(fuzz.hostile, min_size=10, max_size=30))
    def run(batch: list[Any]) -> None:
        fuzz.throw_all(port, batch)

    failures, note = 0, ""
    try:
        run()
    except Exception as error:  # hypothesis re-raises the shrunk failure
        failures, note = 1, f"first failure: {str(error).splitlines()[0][:200]}"
    tally = conftest.play_calls(port, 200, concurrency=16, seed=99)
    failures += len(tally.mismatches) + len(tally.errors) + clean(server)
    kinds = ", ".join(f"{k} {v}" for k, v in sorted(fuzz.COUNTS.items()) if k != "requests")
    report("fuzz, stdlib server", fuzz.COUNTS["requests"] + tally.requests, 0, tally.calls,
           failures, note or kinds)  # fmt: skip
    server.stop()


def phase_load(webhook: Path, processes: Any, redis: Any, calls: int, limit: float) -> None:
    port = conftest.free_port()
    server = processes.start(conftest.webhook_command(webhook, port), port=port)
    tally = conftest.play_calls(port, calls, concurrency=64, seed=1, limit=limit)
    report("load, stdlib server", tally.requests, 0, tally.calls,
           len(tally.mismatches) + len(tally.errors) + clean(server))  # fmt: skip
    server.stop()
    port = conftest.free_port()
    env = {"JAXL_REDIS_URL": redis.url, "JAXL_WEBHOOK_LOG": "0"}
    server = processes.start(conftest.uvicorn_command(webhook, port), port=port, env=env)
    tally = conftest.play_calls(port, calls, concurrency=64, seed=2, limit=limit)
    report("load, uvicorn x2 + redis", tally.requests, 0, tally.calls,
           len(tally.mismatches) + len(tally.errors) + clean(server))  # fmt: skip
    server.stop()


def phase_kills(webhook: Path, processes: Any, redis: Any, calls: int, kills: int,
                limit: float) -> None:  # fmt: skip
    port = conftest.free_port()
    env = {"JAXL_REDIS_URL": redis.url, "JAXL_WEBHOOK_LOG": "0"}
    command = [*conftest.gunicorn_command(webhook, port), "--threads", "8"]
    master = processes.start(command, port=port, env=env)
    every = max(1, calls * 7 // (kills + 1))

    def kill(tally: Any) -> None:
        if tally.faults < kills and tally.requests >= every * (tally.faults + 1):
            workers = conftest.children(master.popen.pid)
            if len(workers) == 2:
                os.kill(random.choice(workers), signal.SIGKILL)
                tally.faults += 1

    tally = conftest.play_calls(port, calls, concurrency=16, seed=3, retry=True, fault=kill,
                                limit=limit)  # fmt: skip
    lost = len(tally.errors) > tally.faults * 16  # more than the requests in flight
    report("kill -9 a gunicorn worker", tally.requests, tally.faults, tally.calls,
           len(tally.mismatches) + int(lost) + clean(master),
           f"{len(tally.errors)} requests lost in flight, all retried")  # fmt: skip
    master.stop()


def phase_restarts(webhook: Path, processes: Any, redis: Any, restarts: int) -> None:
    port = conftest.free_port()
    env = {"JAXL_REDIS_URL": redis.url, "JAXL_WEBHOOK_LOG": "0"}
    server = processes.start(conftest.uvicorn_command(webhook, port), port=port, env=env)
    requests = failures = 0
    lost = "Sorry, we lost track of your call. Let us start again."

    def post(payload: dict[str, Any]) -> tuple[int, Any]:
        nonlocal requests
        requests += 1
        reply, _ = conftest.exchange(
            port, conftest.http_request("POST", json.dumps(payload).encode())
        )
        return (reply.status, reply.json()) if reply else (-1, None)  # fmt: skip

    for n in range(restarts):
        call_id = 8_000_000 + n
        post(webhook_request(1, call_id))
        post(webhook_request(2, call_id, option="2"))
        redis.stop()
        status, answer = post(webhook_request(2, call_id, option="2", data="5*"))
        failures += status != 200 or "cannot take your call" not in answer["prompt"][0]
        redis.start()
        for _ in range(2):  # each worker's pool reconnects on its first request
            status, answer = post(webhook_request(2, call_id, option="2", data="5*"))
            if status == 200 and answer["prompt"][0] == lost:
                break
        failures += status != 200 or answer["prompt"][0] != lost
        status, answer = post(webhook_request(2, call_id, option="2"))
        failures += status != 200 or answer["num_characters"] != "*"
        post(webhook_request(3, call_id))
    report("restart redis mid-call, uvicorn x2", requests, restarts, restarts,
           failures + clean(server))  # fmt: skip
    server.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fuzz", type=int, default=600, help="fuzz examples (10-30 requests each)")
    parser.add_argument("--dribble", type=float, default=1.0, help="seconds a slow body takes")
    parser.add_argument("--calls", type=int, default=6000, help="whole calls per load run")
    parser.add_argument("--kills", type=int, default=6, help="gunicorn workers to kill -9")
    parser.add_argument("--kill-calls", type=int, default=3000, help="calls during the kills")
    parser.add_argument("--restarts", type=int, default=5, help="Redis restarts mid-call")
    parser.add_argument("--limit", type=float, default=300.0, help="seconds at most per run")
    args = parser.parse_args(argv)
    if shutil.which("redis-server") is None:
        print("soak: needs redis-server (apt-get install redis-server)", file=sys.stderr)
        return 2
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="jaxl-soak-") as folder:
        base = Path(folder)
        webhook = conftest.export_acme(base / "acme")
        processes = conftest.Processes(base)
        (base / "redis").mkdir()
        redis = conftest.RedisServer(processes, base / "redis", conftest.free_port()).start()
        try:
            phase_fuzz(webhook, processes, args.fuzz, args.dribble)
            phase_load(webhook, processes, redis, args.calls, args.limit)
            phase_kills(webhook, processes, redis, args.kill_calls, args.kills, args.limit)
            phase_restarts(webhook, processes, redis, args.restarts)
        finally:
            processes.stop_all()
    print(f"{'total':<34} {TOTAL['requests']:>8} requests {TOTAL['faults']:>4} faults "
          f"{TOTAL['calls']:>7} calls {TOTAL['failures']:>4} failures  "
          f"in {time.monotonic() - started:.0f} s")  # fmt: skip
    return 1 if TOTAL["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
