"""Side by side: the exported Acme webhook against the official SDK, over loopback HTTP.

Servers, each a subprocess on a free loopback port, pinned to core 0 (the load client runs on
core 1):

- `ours-uvicorn`   `uvicorn webhook:asgi`, one worker (httptools, uvloop)
- `ours-uvicorn-safe` `python webhook.py --uvicorn`, the shipped uvicorn command (h11 with its
                   16 KiB head limit, uvloop, the module's deadlines and connection cap)
- `ours-stdlib`    `python webhook.py` (its standard-library server)
- `ours-gunicorn`  `gunicorn webhook:wsgi`, one worker (gthread, 8 threads; --gunicorn-worker)
- `ours-redis`     `uvicorn webhook:asgi` with JAXL_REDIS_URL: call state in a real
                   redis-server (started on a free port, no persistence, also on core 0)
- `ours-granian-rsgi` `granian --interface rsgi webhook:rsgi`, one worker, with the flags the
                   module's docstring gives (HTTP/1 only, 16 KiB heads, 10 s head/idle deadline,
                   backpressure 1024)
- `ours-granian-asgi` the same with `--interface asgi webhook:asgi`
- `ours-uvicorn-sdkver` `ours-uvicorn` run by .venv-sdk's Python and uvicorn (the SDK's pinned
                   0.35; the module needs the standard library alone)
- `ours-asyncio`   `python webhook.py --asyncio`, the module's own asyncio server (uvloop)
- `sdk`            bench/sdk_server.py: bench/sdk_acme.py, the Acme flow written by hand as an
                   SDK app, served by the SDK's `_start_server(app)` under uvicorn, one worker
- `constant`       bench/constant_server.py under uvicorn: a constant answer, the HTTP ceiling
- `constant-granian` its RSGI app under granian, with ours' flags: granian's ceiling
- `constant-granian-asgi` its ASGI app under granian (`--interface asginl`: no lifespan)
- `constant-sdkver` `constant` run by .venv-sdk's Python and uvicorn (the SDK's stack's ceiling)
- `constant-asyncio` the constant answer from the module's own asyncio server: its framing, head
                   checks, deadlines and held-answer bookkeeping, the app's answer replaced
- `constant-raw`   a bare uvloop protocol answering each request's bytes: the load client's
                   ceiling, no HTTP checks at all

Each is run with and without per-request logging, one line per request on every side when "on":
uvicorn's access log for the SDK and the constant servers (granian's `--access-log` under
granian); for ours, the module's own JSON line (under uvicorn with --no-access-log, under
granian with its access log off, as the generated header says to run it, so nothing is logged
twice). "off": `--no-access-log`, JAXL_WEBHOOK_LOG=0 or `--no-log`. Server output goes to a file
in a temporary folder.
Modes: `setup` (event 1, a new call id each request) and `calls` (whole 5-request Acme calls,
every response checked against jaxl_designer's runtime). Concurrency 1, 16, 64.

All servers of a round run at once (idle, each costs nothing) and every cell is measured on
each server in turn (A B A B ...), so a slow spell of the machine hits both sides of a ratio;
N rounds (default 3); each cell is the median of its N runs; errors and mismatches are summed.
Before measuring, each server must answer one whole Acme call right. Prints a table with the
req/s and p99 ratios to the SDK's (median over rounds of the ratio within a round, same
logging, mode and concurrency), then exits.

Usage:
    python bench/webhook.py                # full run (about 20 minutes)
    python bench/webhook.py --quick        # smoke test: 1 round, 2 s, concurrency 16
    python bench/webhook.py --servers ours-uvicorn,sdk --logging off --runs 5
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import load  # noqa: E402

PY = str(ROOT / ".venv" / "bin" / "python")
SDK_PY = str(ROOT / ".venv-sdk" / "bin" / "python")
SERVER_CORE = "0"
CLIENT_CORE = "1"
REDIS_PGIDS: set[int] = set()
ALL_SERVERS = (
    "ours-uvicorn",
    "ours-uvicorn-safe",
    "ours-stdlib",
    "ours-gunicorn",
    "ours-redis",
    "ours-granian-rsgi",
    "ours-granian-asgi",
    "ours-uvicorn-sdkver",
    "ours-asyncio",
    "sdk",
    "constant",
    "constant-granian",
    "constant-granian-asgi",
    "constant-sdkver",
    "constant-asyncio",
    "constant-raw",
)
#: The flags the exported module's docstring gives granian, on one worker.
GRANIAN_FLAGS = ["--workers", "1", "--http", "1", "--no-ws", "--http1-buffer-size", "16384",
                 "--http1-header-read-timeout", "10000", "--backpressure", "1024"]  # fmt: skip
#: The servers that run on .venv-sdk's Python (the SDK's own pinned uvicorn).
SDK_STACK = ("sdk", "ours-uvicorn-sdkver", "constant-sdkver")


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def busy_cpu() -> float:
    """CPU seconds spent busy so far, all cores together (from /proc/stat)."""
    with open("/proc/stat") as stat:
        ticks = [int(x) for x in stat.readline().split()[1:9]]
    return (sum(ticks) - ticks[3] - ticks[4]) / CLOCK_TICKS


def group_cpu(pgids: set[int]) -> float:
    """CPU seconds used so far by the live processes of these process groups."""
    total = 0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) in pgids:
            total += int(fields[11]) + int(fields[12])
    return total / CLOCK_TICKS


def wait_quiet(limit: float, threshold: float = 0.15) -> float:
    """Wait (at most `limit` s) until other programs use under `threshold` of a core.

    Other helpers or test suites on this 2-core machine skew every figure; returns the share of
    a core that was busy in the last half-second checked.
    """
    deadline = time.monotonic() + limit
    while True:
        before = busy_cpu()
        time.sleep(0.5)
        share = (busy_cpu() - before) / 0.5
        if share < threshold or time.monotonic() >= deadline:
            return share


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _bin(name: str) -> str:
    return str(ROOT / ".venv" / "bin" / name)


@dataclass
class Server:
    """How to start one server under test."""

    name: str
    module: Path

    def command(self, port: int, log: bool, redis_url: str | None, worker: str) -> list[str]:
        here = str(self.module.parent)
        address = ["--host", "127.0.0.1", "--port", str(port)]
        if self.name in ("ours-uvicorn", "ours-redis", "ours-uvicorn-sdkver"):
            python = SDK_PY if self.name.endswith("sdkver") else PY
            cmd = [python, "-m", "uvicorn", "webhook:asgi", "--app-dir", here, *address]
            cmd += ["--workers", "1", "--http", "httptools", "--loop", "uvloop"]
            # The module writes its own JSON line per request (as the generated header says to
            # run it); uvicorn's access log on top would log every request twice.
            return [*cmd, "--no-access-log"]
        if self.name == "ours-stdlib":
            return [PY, str(self.module), *address] + ([] if log else ["--no-log"])
        if self.name in ("ours-uvicorn-safe", "ours-asyncio"):
            flag = "--" + self.name.rsplit("-", 1)[1].replace("safe", "uvicorn")
            return [PY, str(self.module), flag, *address] + ([] if log else ["--no-log"])
        if self.name in ("constant-asyncio", "constant-raw"):
            cmd = [PY, str(HERE / "constant_server.py"), *address]
            if self.name == "constant-raw":
                return [*cmd, "--raw"]
            return [*cmd, "--webhook-loop", str(self.module)]
        if self.name == "ours-gunicorn":
            cmd = [_bin("gunicorn"), "webhook:wsgi", "--chdir", here, "--workers", "1"]
            cmd += ["--bind", f"127.0.0.1:{port}", "--backlog", "2048"]
            if worker == "gthread":
                cmd += ["--worker-class", "gthread", "--threads", "8"]
            return cmd  # gunicorn writes no access log by default; the module logs its own line
        if self.name == "sdk":
            cmd = [SDK_PY, str(HERE / "sdk_server.py"), *address]
            return cmd + ([] if log else ["--no-access-log"])
        if self.name.startswith("ours-granian"):
            interface = self.name.rsplit("-", 1)[1]
            cmd = [_bin("granian"), "--interface", interface, f"webhook:{interface}"]
            # The module writes its own line per request; granian's access log stays off.
            return [*cmd, "--working-dir", here, *address, *GRANIAN_FLAGS]
        if self.name.startswith("constant-granian"):
            rsgi = self.name == "constant-granian"
            app = ["rsgi", "constant_server:rsgi"] if rsgi else ["asginl", "constant_server:asgi"]
            cmd = [_bin("granian"), "--interface", *app, "--working-dir", str(HERE)]
            return [*cmd, *address, *GRANIAN_FLAGS] + (["--access-log"] if log else [])
        if self.name in ("constant", "constant-sdkver"):
            python = SDK_PY if self.name == "constant-sdkver" else PY
            cmd = [python, str(HERE / "constant_server.py"), *address]
            return cmd + ([] if log else ["--no-access-log"])
        raise ValueError(self.name)

    def env(self, log: bool, redis_url: str | None) -> dict[str, str]:
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        env.pop("JAXL_REDIS_URL", None)
        if self.name == "ours-redis" and redis_url:
            env["JAXL_REDIS_URL"] = redis_url
        env.pop("JAXL_WEBHOOK_LOG", None)
        if self.name.startswith("ours") and not log:
            env["JAXL_WEBHOOK_LOG"] = "0"  # the module's own JSON request line, under a server
        return env


@contextlib.contextmanager
def running(
    cmd: list[str], env: dict[str, str] | None, logfile: Path, core: str = SERVER_CORE
) -> Iterator[subprocess.Popen[bytes]]:
    """Start a command pinned to `core` (the server's); yield the process; stop it by its pid."""
    with open(logfile, "ab") as out:
        proc = subprocess.Popen(
            ["taskset", "-c", core, *cmd],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=str(ROOT),
            start_new_session=True,
        )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)


def wait_ready(port: int, proc: subprocess.Popen[bytes], seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"it exited with code {proc.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on port {port} after {seconds} s")


@contextlib.contextmanager
def redis_server(tmp: Path) -> Iterator[str]:
    """A throwaway redis-server on a free loopback port, no persistence."""
    exe = shutil.which("redis-server")
    if exe is None:
        raise RuntimeError("redis-server is not installed (apt-get install -y redis-server)")
    port = free_port()
    cmd = [exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    cmd += ["--dir", str(tmp)]
    with running(cmd, None, tmp / "redis.log") as proc:
        wait_ready(port, proc)
        REDIS_PGIDS.add(proc.pid)
        try:
            yield f"redis://127.0.0.1:{port}/0"
        finally:
            REDIS_PGIDS.discard(proc.pid)


def client_run(
    port: int,
    mode: str,
    concurrency: int,
    seconds: float,
    warmup: float,
    client: str,
    pgids: set[int],
) -> dict[str, Any]:
    """One load run in its own process on the client core; returns load.py's JSON.

    Adds `other_cpu`: the share of a core that programs other than the server's process groups
    (`pgids`) and the client used meanwhile: anything over a few percent skews the figures.
    """
    import resource

    def children() -> float:
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        return usage.ru_utime + usage.ru_stime

    busy0, server0, client0, wall0 = busy_cpu(), group_cpu(pgids), children(), time.monotonic()
    result = _client_run(port, mode, concurrency, seconds, warmup, client)
    wall = time.monotonic() - wall0
    other = busy_cpu() - busy0 - (group_cpu(pgids) - server0) - (children() - client0)
    result["other_cpu"] = max(0.0, other / wall)
    return result


def _client_run(
    port: int, mode: str, concurrency: int, seconds: float, warmup: float, client: str
) -> dict[str, Any]:
    cmd = ["taskset", "-c", CLIENT_CORE, PY, str(HERE / "load.py"), "--port", str(port)]
    cmd += ["--mode", mode, "-c", str(concurrency), "-d", str(seconds), "--json"]
    cmd += ["--warmup", str(warmup), "--client", client if mode == "setup" else "python"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + warmup + 120)
    lines = [x for x in out.stdout.splitlines() if x.startswith("{")]
    if out.returncode != 0 or not lines:
        raise RuntimeError(f"load.py failed: {out.stdout}\n{out.stderr}")
    result: dict[str, Any] = json.loads(lines[-1])
    return result


@dataclass
class Cell:
    runs: list[dict[str, Any]] = field(default_factory=list)

    def median(self, key: str) -> float:
        return statistics.median(r[key] for r in self.runs)

    def worst(self, key: str) -> float:
        return max(float(r.get(key) or 0.0) for r in self.runs)

    def total(self, key: str) -> int:
        return sum(int(r[key]) for r in self.runs)

    def versus(self, other: Cell, key: str) -> float:
        """The median over rounds of this cell's figure over the other's in the same round."""
        theirs = {r["round"]: r[key] for r in other.runs}
        return statistics.median(
            r[key] / theirs[r["round"]] for r in self.runs if r["round"] in theirs
        )


def start_checked(
    server: Server,
    log: bool,
    redis_url: str | None,
    args: argparse.Namespace,
    tmp: Path,
    stack: contextlib.ExitStack,
    broken: dict[tuple[str, bool], str],
) -> tuple[int, int] | None:
    """Start a server for the rest of `stack` and check one whole call; its (port, pid)."""
    key = (server.name, log)
    if key in broken:
        return None
    port = free_port()
    cmd = server.command(port, log, redis_url, args.gunicorn_worker)
    logfile = tmp / f"{server.name}-{'log' if log else 'nolog'}.log"
    proc = stack.enter_context(running(cmd, server.env(log, redis_url), logfile))
    try:
        wait_ready(port, proc)
        problems = load.check_call("127.0.0.1", port)
    except (RuntimeError, OSError) as exc:
        problems = [str(exc)]
    if server.name.startswith("constant"):
        problems = []  # it answers setups only, by design
    if problems:
        tail = logfile.read_text(errors="replace")[-800:]
        broken[key] = "; ".join(problems)[:300] + f" | log: {tail}"
        return None
    return port, proc.pid


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--module", type=Path, default=ROOT / "exported" / "acme" / "webhook.py")
    parser.add_argument("--servers", default=",".join(ALL_SERVERS))
    parser.add_argument("--logging", choices=("both", "on", "off"), default="both")
    parser.add_argument("--modes", default="setup,calls")
    parser.add_argument("--concurrency", default="1,16,64")
    parser.add_argument("--runs", type=int, default=3, help="rounds; each cell is their median")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per run")
    parser.add_argument("--warmup", type=float, default=0.5, help="unmeasured seconds first")
    parser.add_argument(
        "--client",
        choices=("python", "wrk"),
        default="python",
        help="load client for setup mode (calls mode is always python)",
    )
    parser.add_argument("--gunicorn-worker", choices=("gthread", "sync"), default="gthread")
    parser.add_argument("--quick", action="store_true", help="1 round, 2 s, concurrency 16")
    parser.add_argument("--json", type=Path, help="also write every run to this file")
    parser.add_argument(
        "--quiet-wait",
        type=float,
        default=30.0,
        help="before each run wait up to this many s for other programs to idle",
    )
    args = parser.parse_args(argv)
    # Stopped by SIGTERM, still stop the servers and redis started here (the `finally` blocks).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if args.quick:
        args.runs, args.duration, args.concurrency, args.warmup = 1, 2.0, "16", 0.2
    names = [s for s in args.servers.split(",") if s]
    unknown = set(names) - set(ALL_SERVERS)
    if unknown:
        parser.error(f"unknown servers {sorted(unknown)}; choose from {', '.join(ALL_SERVERS)}")
    module = args.module.resolve()
    notes = []
    if not module.exists():
        notes.append(f"{module} does not exist: the ours-* servers are skipped")
        names = [n for n in names if not n.startswith("ours")]
    if not Path(SDK_PY).exists() and set(names) & set(SDK_STACK):
        notes.append("no .venv-sdk (run scripts/sdk-venv): the servers on its Python are skipped")
        names = [n for n in names if n not in SDK_STACK]
    if not Path(_bin("granian")).exists() and any("granian" in n for n in names):
        notes.append("no granian (pip install granian): the granian servers are skipped")
        names = [n for n in names if "granian" not in n]
    if "ours-redis" in names and shutil.which("redis-server") is None:
        notes.append("no redis-server: ours-redis is skipped")
        names.remove("ours-redis")
    logs = {"both": [False, True], "on": [True], "off": [False]}[args.logging]
    modes = [m for m in args.modes.split(",") if m]
    levels = [int(c) for c in args.concurrency.split(",") if c]
    servers = [Server(n, module) for n in names]

    print(
        f"# bench/webhook.py: {len(servers)} servers x logging {args.logging} x modes "
        f"{modes} x concurrency {levels}; {args.runs} round(s) of {args.duration:g} s; "
        f"server on core {SERVER_CORE}, client on core {CLIENT_CORE}",
        flush=True,
    )
    for note in notes:
        print("# note:", note, flush=True)

    cells: dict[tuple[str, bool, str, int], Cell] = {}
    broken: dict[tuple[str, bool], str] = {}
    every: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="jaxl-bench-") as tmpdir:
        tmp = Path(tmpdir)
        redis_cm = redis_server(tmp) if any(s.name == "ours-redis" for s in servers) else None
        with redis_cm or contextlib.nullcontext() as redis_url:
            for round_no in range(args.runs):
                for log in logs:
                    # Every server up at once (idle ones cost nothing), so each cell runs A B A B
                    # within seconds and a slow spell of this shared machine hits both sides.
                    with contextlib.ExitStack() as stack:
                        ports = {}
                        for server in servers:
                            ready = start_checked(server, log, redis_url, args, tmp, stack, broken)
                            if ready is not None:
                                ports[server.name] = ready
                        for mode in modes:
                            for level in levels:
                                for server in servers:
                                    if server.name not in ports:
                                        continue
                                    if server.name.startswith("constant") and mode == "calls":
                                        continue
                                    port, pid = ports[server.name]
                                    wait_quiet(args.quiet_wait)
                                    result = client_run(
                                        port,
                                        mode,
                                        level,
                                        args.duration,
                                        args.warmup,
                                        args.client,
                                        {pid} | REDIS_PGIDS,
                                    )
                                    result.update(server=server.name, log=log, round=round_no)
                                    every.append(result)
                                    cell = cells.setdefault((server.name, log, mode, level), Cell())
                                    cell.runs.append(result)
                                    print(
                                        f"#  round {round_no + 1} {server.name:21} "
                                        f"log={'on ' if log else 'off'} "
                                        + load.format_line(result)
                                        + f"  other {result['other_cpu']:.0%}",
                                        flush=True,
                                    )
    if args.json:
        args.json.write_text(json.dumps(every, indent=1))
    print_table(cells, servers, logs, modes, levels, broken)
    return 1 if broken else 0


def print_table(
    cells: dict[tuple[str, bool, str, int], Cell],
    servers: list[Server],
    logs: list[bool],
    modes: list[str],
    levels: list[int],
    broken: dict[tuple[str, bool], str],
) -> None:
    print()
    head = (
        f"{'server':21} {'logging':7} {'mode':5} {'conc':>4} {'req/s':>8} {'calls/s':>8} "
        f"{'p50 ms':>7} {'p90 ms':>7} {'p99 ms':>7} {'errors':>6} {'mismatch':>8} "
        f"{'vs sdk':>6} {'p99 vs':>6} {'other':>5}"
    )
    print(head)
    print("-" * len(head))
    for log in logs:
        for mode in modes:
            for level in levels:
                sdk = cells.get(("sdk", log, mode, level))
                for server in servers:
                    cell = cells.get((server.name, log, mode, level))
                    if cell is None:
                        continue
                    rps = cell.median("rps")
                    ratio = f"{cell.versus(sdk, 'rps'):5.2f}x" if sdk else "     -"
                    p99 = f"{cell.versus(sdk, 'p99_ms'):5.2f}x" if sdk else "     -"
                    cps = f"{cell.median('cps'):8.0f}" if mode == "calls" else f"{'-':>8}"
                    print(
                        f"{server.name:21} {'on' if log else 'off':7} {mode:5} {level:4} "
                        f"{rps:8.0f} {cps} {cell.median('p50_ms'):7.2f} "
                        f"{cell.median('p90_ms'):7.2f} {cell.median('p99_ms'):7.2f} "
                        f"{cell.total('errors'):6} {cell.total('mismatches'):8} {ratio} {p99} "
                        f"{cell.worst('other_cpu'):5.0%}"
                    )
    print(
        "vs sdk, p99 vs: the median over rounds of req/s (p99 latency) over the SDK's in the same "
        "round, same logging, mode and concurrency."
    )
    print(
        "other: the most CPU (share of one core) that programs other than the server, redis and "
        "the client used during any run of the cell; over ~10% the figures are skewed."
    )
    for (name, log), why in broken.items():
        print(f"BROKEN {name} logging={'on' if log else 'off'}: {why}")


if __name__ == "__main__":
    raise SystemExit(main())
