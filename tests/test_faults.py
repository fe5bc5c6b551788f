"""Faults while calls are up: a worker killed, Redis restarted or down, clients that stall."""

from __future__ import annotations

import json
import os
import shlex
import signal
import socket
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import (
    BIN,
    Processes,
    Tally,
    children,
    exchange,
    free_port,
    http_request,
    play_calls,
    uvicorn_command,
    wait_for_port,
    webhook_command,
)

from jaxl_designer.core.runtime import STORE_DOWN_PROMPT
from jaxl_designer.core.simulator import request as webhook_request

MAIN = ["Welcome to Acme.", "Press 1 for sales.", "Press 2 to enter your order number.",
        "Press 9 to hear this again."]  # fmt: skip
LOST = "Sorry, we lost track of your call. Let us start again."
ORDER = {"prompt": ["Please enter your order number followed by star"], "num_characters": "*"}


def post(port: int, payload: Any, timeout: float = 5.0) -> tuple[int, Any]:
    reply, raw = exchange(port, http_request("POST", json.dumps(payload).encode()), timeout=timeout)
    assert reply is not None, raw
    return reply.status, reply.json()


def header_command(webhook: Path, program: str, port: int) -> list[str]:
    """The command the generated module's header tells users to serve it under `program` with.

    Run it in the module's folder, as the header says (gunicorn reads ./gunicorn.conf.py);
    uvicorn and the asyncio server are started by the module itself (`python webhook.py
    --uvicorn`, `--asyncio`): the last such line, the one with several workers.
    """
    text = webhook.read_text(encoding="utf-8")
    itself = program in ("uvicorn", "asyncio")
    start = f"python webhook.py --{program}" if itself else program
    line = [line.strip() for line in text.splitlines() if line.strip().startswith(start)][-1]
    # On loopback: an address others reach needs the token the header exports, which the
    # load clients here do not send.
    line = line.replace("9919", str(port)).replace("0.0.0.0", "127.0.0.1")
    args = shlex.split(line, comments=True)
    if itself:
        return [sys.executable, str(webhook), *args[2:]]
    args[0] = str(BIN / program)
    return [*args, "--chdir", str(webhook.parent)]


# -- a worker killed mid-load -----------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.redis
@pytest.mark.parametrize("program", ["gunicorn", "asyncio"])
def test_killing_a_worker_mid_load_loses_no_call(
    acme_webhook: Path, spawn: Processes, redis_server: Any, program: str
) -> None:
    """kill -9 one of two workers (gunicorn's, or `--asyncio --workers 2`), three times, while
    16 connections play calls.

    A request in flight on the killed worker fails at the connection level, and is sent again
    as Jaxl retries a webhook (or the caller redials). The lost try may have reached Redis, but
    its step was held until its answer was written (`Runtime.respond(held=True)`), so the retry
    hears what the first try would have: never the step after it, a restart or "lost track".
    Every call completes with every answer right.
    """
    port = free_port()
    env = {"JAXL_REDIS_URL": redis_server.url, "JAXL_WEBHOOK_LOG": "0"}
    master = spawn.start(
        header_command(acme_webhook, program, port), port=port, env=env, cwd=acme_webhook.parent
    )
    killed: list[int] = []
    concurrency = 16

    def kill_a_worker(tally: Tally) -> None:
        if tally.faults < 3 and tally.requests >= 1200 * (tally.faults + 1):
            workers = children(master.popen.pid)
            if len(workers) == 2:  # the last one killed is back: kill the other one
                victim = workers[tally.faults % 2]
                os.kill(victim, signal.SIGKILL)
                killed.append(victim)
                tally.faults += 1

    tally = play_calls(port, 900, concurrency=concurrency, seed=11, retry=True,
                       fault=kill_a_worker)  # fmt: skip
    assert tally.faults == 3, tally
    assert tally.calls == 900 and tally.mismatches == [], f"{tally}: {tally.mismatches[:3]}"
    assert tally.moved_twice == 0, tally
    # only requests in flight on a killed worker failed, each retried once and then answered
    assert len(tally.errors) <= tally.faults * concurrency, tally.errors
    assert tally.retried == len(tally.errors)
    deadline = time.monotonic() + 10
    while len(children(master.popen.pid)) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    survivors = children(master.popen.pid)
    assert len(survivors) == 2 and not set(killed) & set(survivors)  # replaced, each
    assert "Traceback" not in master.output()


# -- Redis restarted mid-call -------------------------------------------------------------------
def _stdlib(webhook: Path, port: int, url: str) -> tuple[list[str], dict[str, str]]:
    return webhook_command(webhook, port, "--redis-url", url), {}


def _uvicorn(webhook: Path, port: int, url: str) -> tuple[list[str], dict[str, str]]:
    return uvicorn_command(webhook, port), {"JAXL_REDIS_URL": url, "JAXL_WEBHOOK_LOG": "0"}


def _asyncio(webhook: Path, port: int, url: str) -> tuple[list[str], dict[str, str]]:
    return webhook_command(webhook, port, "--asyncio", "--workers", "2"), {"JAXL_REDIS_URL": url}


@pytest.mark.redis
@pytest.mark.parametrize(
    "server",
    [_stdlib, _uvicorn, _asyncio],
    ids=["stdlib", "uvicorn-2-workers", "asyncio-2-workers"],
)
def test_a_redis_restart_mid_call_is_the_recovery_prompt_then_the_call_goes_on(
    acme_webhook: Path, spawn: Processes, redis_server: Any, server: Any
) -> None:
    port = free_port()
    args, env = server(acme_webhook, port, redis_server.url)
    process = spawn.start(args, port=port, env=env)
    call_id = 5_000_001
    assert post(port, webhook_request(1, call_id))[1]["prompt"] == MAIN
    assert post(port, webhook_request(2, call_id, option="2")) == (200, ORDER)
    redis_server.stop()
    # while Redis is away: the flow's apology, at once, never a 500
    started = time.monotonic()
    status, answer = post(port, webhook_request(2, call_id, option="2", data="77*"))
    assert (status, answer) == (200, {"prompt": STORE_DOWN_PROMPT, "num_characters": 0})
    assert time.monotonic() - started < 3
    redis_server.start()  # back, empty: it kept nothing (no persistence)
    for _ in range(2):  # both workers' pools reconnect by themselves
        status, answer = post(port, webhook_request(2, call_id, option="2", data="77*"))
        assert status == 200
        if answer["prompt"][0] == LOST:
            break
    assert answer == {"prompt": [LOST, *MAIN], "num_characters": 1}
    assert post(port, webhook_request(2, call_id, option="2")) == (200, ORDER)
    confirm = post(port, webhook_request(2, call_id, option="2", data="78*"))
    assert confirm[1]["prompt"][0] == "You entered 78."
    assert "Traceback" not in process.output()


# -- started while Redis is down ----------------------------------------------------------------
@pytest.mark.redis
@pytest.mark.parametrize("program", ["uvicorn", "gunicorn", "asyncio"])
def test_workers_started_with_redis_down_say_so_and_serve_once_it_is_back(
    acme_webhook: Path, spawn: Processes, redis_server: Any, program: str
) -> None:
    redis_server.stop()
    port = free_port()
    env = {"JAXL_REDIS_URL": redis_server.url, "JAXL_WEBHOOK_LOG": "0"}
    process = spawn.start(
        header_command(acme_webhook, program, port), port=port, env=env, cwd=acme_webhook.parent
    )
    said = f"webhook: Redis at {redis_server.url} is not answering; serving anyway"
    deadline = time.monotonic() + 10
    while said not in process.output() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert said in process.output()
    assert "Traceback" not in process.output()
    assert post(port, webhook_request(1, 6_000_001)) == (
        200,
        {"prompt": STORE_DOWN_PROMPT, "num_characters": 0},
    )
    redis_server.start()
    tally = play_calls(port, 100, concurrency=8, seed=13)
    assert (tally.calls, tally.mismatches, tally.errors) == (100, [], []), tally


# -- clients that stall -----------------------------------------------------------------------
def _stall(port: int) -> list[socket.socket]:
    """Connections that say nothing, or send a head and part of the body, then stay open."""
    stalled = [socket.create_connection(("127.0.0.1", port)) for _ in range(6)]
    for sock in stalled[3:]:
        sock.sendall(b"POST /webhook/ HTTP/1.1\r\nHost: x\r\nContent-Length: 500\r\n\r\n{")
    return stalled


@pytest.mark.parametrize("program", ["uvicorn", "gunicorn", "asyncio"])
def test_stalled_clients_do_not_stop_others_being_served(
    acme_webhook: Path, spawn: Processes, program: str
) -> None:
    """Run as the generated header says, with several workers; their state is each their own
    (allowed explicitly here: one call, one request), since this is about connections."""
    port = free_port()
    command = header_command(acme_webhook, program, port)
    if program in ("uvicorn", "asyncio"):
        command += ["--host", "127.0.0.1"]
    env = {"JAXL_WEBHOOK_LOG": "0", "JAXL_ALLOW_PRIVATE_STATE": "1"}
    spawn.start(command, port=port, env=env, cwd=acme_webhook.parent)
    wait_for_port(port)
    stalled = _stall(port)
    try:
        started = time.monotonic()
        for call_id in range(7_000_001, 7_000_011):
            assert post(port, webhook_request(1, call_id), timeout=3)[1]["prompt"] == MAIN
        assert time.monotonic() - started < 3
    finally:
        for sock in stalled:
            sock.close()
