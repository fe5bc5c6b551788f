"""Several workers keeping calls in memory each refuse to start, unless told to serve anyway.

Each step of a Jaxl call is its own request, and uvicorn or gunicorn hands it to any worker:
without Redis, a worker that did not see the call's start answers it as a lost call. So the
exported module, imported by one of several workers with no JAXL_REDIS_URL, stops with one line
(exit status 3, which stops the server); JAXL_ALLOW_PRIVATE_STATE=1 serves with a warning, once
per worker. One worker, `python webhook.py` and workers sharing Redis say nothing.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import (
    Process,
    Processes,
    free_port,
    gunicorn_command,
    request,
    uvicorn_command,
    webhook_command,
)

from jaxl_designer.webhook.server import worker_processes

LOST = "a call whose requests reach different workers is lost"
REFUSED = (
    "webhook: {n} worker processes would keep calls in memory each: " + LOST + ". Set "
    "JAXL_REDIS_URL (pip install redis), serve with one worker, or set "
    "JAXL_ALLOW_PRIVATE_STATE=1 to serve so anyway\n"
)
WARNED = (
    "webhook: {n} worker processes keep calls in memory each: " + LOST + ". "
    "Set JAXL_REDIS_URL (pip install redis), or serve with one worker.\n"
)


def clean_env(**variables: str) -> dict[str, str]:
    """This environment without JAXL_ variables or WEB_CONCURRENCY, plus `variables`."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("JAXL_", "GUNICORN_")) and k != "WEB_CONCURRENCY"
    }
    return {**env, "GUNICORN_CMD_ARGS": "--no-control-socket", **variables}


def gunicorn_config(webhook: Path, port: int, workers: int) -> list[str]:
    """gunicorn with its worker count in a config file, not on the command line."""
    config = webhook.parent / "workers.conf.py"
    config.write_text(f"workers = {workers}\n")
    return [*gunicorn_command(webhook, port, 1)[:-2], "--config", str(config)]


#: The ways to start several workers: (command for a webhook and a port, extra variables).
SEVERAL: dict[str, tuple[Any, dict[str, str]]] = {
    "uvicorn": (lambda w, p: uvicorn_command(w, p, 2), {}),
    "uvicorn-web-concurrency": (lambda w, p: uvicorn_command(w, p, 1)[:-3],
                                {"WEB_CONCURRENCY": "3"}),
    "gunicorn": (lambda w, p: gunicorn_command(w, p, 2), {}),
    "gunicorn-threads": (lambda w, p: [*gunicorn_command(w, p, 2), "--threads", "8"], {}),
    "gunicorn-preload": (lambda w, p: [*gunicorn_command(w, p, 2), "--preload"], {}),
    "gunicorn-config-file": (lambda w, p: gunicorn_config(w, p, 2), {}),
    "gunicorn-web-concurrency": (lambda w, p: gunicorn_command(w, p, 1)[:-2],
                                 {"WEB_CONCURRENCY": "2"}),
}  # fmt: skip
COUNT = {"uvicorn-web-concurrency": 3}


def lines(process: Process, text: str, want: int, timeout: float = 30) -> int:
    """How many times `text` is in the process's output, waiting until `want` or the timeout."""
    deadline = time.monotonic() + timeout
    while process.output().count(text) < want and time.monotonic() < deadline:
        time.sleep(0.1)
    return process.output().count(text)


def booted(process: Process, port: int) -> None:
    """Wait until the server answers a request: a worker has imported the module."""
    status, _, answer = request(port, "GET", "/healthz")
    assert (status, answer) == (200, {"ok": True}), process.output()


@pytest.mark.parametrize("form", SEVERAL)
def test_several_workers_without_redis_refuse_to_start(acme_webhook: Path, form: str) -> None:
    command, variables = SEVERAL[form]
    out = subprocess.run(
        command(acme_webhook, free_port()),
        env=clean_env(**variables),
        capture_output=True,
        text=True,
        timeout=60,  # a server that started anyway would still be running
    )
    line = REFUSED.format(n=COUNT.get(form, 2))
    assert line in out.stderr, out.stderr
    assert out.stderr.count(line) <= COUNT.get(form, 2)  # once per worker at most
    assert "webhook.py" not in out.stderr  # no traceback through the module
    if form.startswith("gunicorn"):
        assert out.returncode != 0  # "Worker failed to boot" (3; 1 when gunicorn races its halt)


@pytest.mark.parametrize("form", ["uvicorn", "gunicorn"])
def test_the_opt_out_serves_and_warns_once_per_worker(
    acme_webhook: Path, spawn: Processes, form: str
) -> None:
    command, _ = SEVERAL[form]
    port = free_port()
    env = clean_env(JAXL_ALLOW_PRIVATE_STATE="1")
    server = spawn.start(command(acme_webhook, port), port=port, env=env)
    booted(server, port)
    assert lines(server, WARNED.format(n=2), 2) == 2, server.output()
    time.sleep(0.5)
    server.stop()
    assert server.output().count(WARNED.format(n=2)) == 2
    assert "would keep calls" not in server.output()


def test_a_bad_opt_out_is_one_line(acme_webhook: Path) -> None:
    env = clean_env(JAXL_ALLOW_PRIVATE_STATE="maybe")
    out = subprocess.run(
        [sys.executable, "-c", "import webhook"],
        cwd=acme_webhook.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    message = (
        "JAXL_ALLOW_PRIVATE_STATE='maybe': not on (1, yes, true, on) or off (0, no, false, off)"
    )
    assert (out.returncode, out.stderr) == (3, f"webhook: {message}\n")


#: The ways to start one process that serves: each must say nothing about workers.
ONE = {
    "uvicorn-1": lambda w, p: uvicorn_command(w, p, 1),
    "uvicorn-reload": lambda w, p: [*uvicorn_command(w, p, 2), "--reload"],
    "gunicorn-1": lambda w, p: gunicorn_command(w, p, 1),
    "script": lambda w, p: webhook_command(w, p),
}


@pytest.mark.parametrize("form", ONE)
def test_one_worker_is_silent(acme_webhook: Path, spawn: Processes, form: str) -> None:
    port = free_port()
    server = spawn.start(ONE[form](acme_webhook, port), port=port, env=clean_env())
    booted(server, port)
    time.sleep(0.5)
    server.stop()
    assert "worker processes" not in server.output()
    assert "webhook: " not in server.output().replace("webhook: serving", "")


@pytest.mark.redis
@pytest.mark.parametrize("form", ["uvicorn", "gunicorn"])
def test_workers_sharing_redis_are_silent(
    acme_webhook: Path, spawn: Processes, redis_server: Any, form: str
) -> None:
    command, _ = SEVERAL[form]
    port = free_port()
    env = clean_env(JAXL_REDIS_URL=redis_server.url, JAXL_WEBHOOK_LOG="0")
    server = spawn.start(command(acme_webhook, port), port=port, env=env)
    for _ in range(4):  # reach both workers, most likely
        booted(server, port)
    time.sleep(1)
    server.stop()
    assert "worker processes" not in server.output()
    assert "webhook: " not in server.output()


# -- how the count is read: the server's own settings, on the stack of the import ---------
def test_no_server_is_one_worker() -> None:
    assert worker_processes() == 1


def test_a_uvicorn_config_on_the_stack_is_read() -> None:
    uvicorn = pytest.importorskip("uvicorn")

    def under(config: Any) -> int:
        return worker_processes()

    assert under(uvicorn.Config("webhook:asgi", workers=3)) == 3
    assert under(uvicorn.Config("webhook:asgi", workers=1)) == 1
    assert under(uvicorn.Config("webhook:asgi", workers=3, reload=True)) == 1  # one process
