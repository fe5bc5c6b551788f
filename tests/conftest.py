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


@pytest.fixture
def redis_server(spawn: Processes, tmp_path: Path) -> RedisServer:
    """A running redis-server on a free port; skipped where the binary is not installed."""
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
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
