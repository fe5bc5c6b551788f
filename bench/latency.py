"""The latency a caller would hear: ours against the SDK, at 64 and 256 connections and in a burst.

Servers are bench/webhook.py's (the same commands, pinned to core 0; the load client to core 1),
all started at once and measured in turn, A B A B, for `--runs` rounds; a cell is the median of
its rounds, and each ratio the median over rounds of the ratio within a round.

- Closed loop (`load.py`'s Python client, each connection sending its next request once the
  last is answered): setup and calls modes at 64 and 256 connections: req/s, p50, p99, p99.9.
- A burst (`load.py --open`, open loop: requests sent at set times whatever the server does,
  each one's latency counted from when it was due, so a server that falls behind is charged
  for the wait): setups at `--rate` a second for 3 s, ten times that for 2 s, then `--rate`
  again for 5 s, over 256 connections: p50, p99, p99.9 and max in each phase. The steady rate
  is one both sides answer with ease, and the burst is over what the SDK can answer.

Usage:
    python bench/latency.py                                  # ours-granian-rsgi against sdk
    python bench/latency.py --servers ours-uvicorn,sdk --runs 3 --rate 800
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from webhook import (  # noqa: E402  (bench/webhook.py: the same servers, started the same way)
    CLIENT_CORE,
    PY,
    Server,
    start_checked,
    wait_quiet,
)

ROOT = HERE.parent
CONNECTIONS = (64, 256)
MODES = ("setup", "calls")


def closed(port: int, mode: str, connections: int, seconds: float) -> dict[str, Any]:
    cmd = ["taskset", "-c", CLIENT_CORE, PY, str(HERE / "load.py"), "--port", str(port)]
    cmd += ["--mode", mode, "-c", str(connections), "-d", str(seconds), "--warmup", "0.5"]
    return _json(subprocess.run([*cmd, "--json"], capture_output=True, text=True, timeout=300))


def burst(port: int, rate: float) -> dict[str, Any]:
    phases = f"3:{rate:g},2:{rate * 10:g},5:{rate:g}"
    cmd = ["taskset", "-c", CLIENT_CORE, PY, str(HERE / "load.py"), "--port", str(port)]
    cmd += ["--open", phases, "-c", "256", "--json"]
    return _json(subprocess.run(cmd, capture_output=True, text=True, timeout=300))


def _json(out: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
    if out.returncode != 0 or not lines:
        raise RuntimeError(f"load.py failed: {out.stdout}\n{out.stderr}")
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def median(runs: list[dict[str, Any]], key: str) -> float:
    return statistics.median(run[key] for run in runs)


def versus(runs: list[dict[str, Any]], theirs: dict[int, dict[str, Any]], key: str) -> float:
    """The median over rounds of `key` in `runs` over the same round's in `theirs`."""
    return statistics.median(r[key] / theirs[r["round"]][key] for r in runs if r["round"] in theirs)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--module", type=Path, default=ROOT / "exported" / "acme" / "webhook.py")
    parser.add_argument("--servers", default="ours-granian-rsgi,sdk")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--duration", type=float, default=4.0, help="seconds per closed run")
    parser.add_argument("--rate", type=float, default=800.0, help="the steady rate (req/s)")
    parser.add_argument("--quiet-wait", type=float, default=20.0)
    args = parser.parse_args(argv)
    names = args.servers.split(",")
    options = argparse.Namespace(gunicorn_worker="gthread")
    closed_runs: dict[tuple[str, str, int], list[dict[str, Any]]] = {}
    bursts: dict[str, list[dict[str, Any]]] = {}
    with tempfile.TemporaryDirectory() as folder, contextlib.ExitStack() as stack:
        ports: dict[str, int] = {}
        broken: dict[tuple[str, bool], str] = {}
        for name in names:
            started = start_checked(
                Server(name, args.module), False, None, options, Path(folder), stack, broken
            )
            if started is None:
                print(f"{name}: {broken[(name, False)]}", file=sys.stderr)
                return 1
            ports[name] = started[0]
        for round_number in range(args.runs):
            for mode in MODES:
                for connections in CONNECTIONS:
                    for name in names:
                        wait_quiet(args.quiet_wait)
                        run = closed(ports[name], mode, connections, args.duration)
                        run["round"] = round_number
                        closed_runs.setdefault((name, mode, connections), []).append(run)
            for name in names:
                wait_quiet(args.quiet_wait)
                bursts.setdefault(name, []).append(burst(ports[name], args.rate))
            print(f"round {round_number + 1} of {args.runs} done", file=sys.stderr)
    print_tables(names, closed_runs, bursts, args)
    return 0


def print_tables(
    names: list[str],
    closed_runs: dict[tuple[str, str, int], list[dict[str, Any]]],
    bursts: dict[str, list[dict[str, Any]]],
    args: argparse.Namespace,
) -> None:
    base = names[-1]
    print(f"\nClosed loop, {args.duration:g} s runs, median of {args.runs} rounds; ratios against "
          f"{base}, median of the ratios within a round")  # fmt: skip
    print("| server | mode | conn | req/s | p50 ms | p99 ms | p99.9 ms | req/s vs | p99 vs "
          "| p99.9 vs | errors |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for mode in MODES:
        for connections in CONNECTIONS:
            theirs = {r["round"]: r for r in closed_runs[(base, mode, connections)]}
            for name in names:
                runs = closed_runs[(name, mode, connections)]

                ratios = [versus(runs, theirs, key) for key in ("rps", "p99_ms", "p999_ms")]
                errors = sum(r["errors"] + r["mismatches"] for r in runs)
                shown = " | ".join(f"{ratio:.2f}x" for ratio in ratios)
                print(f"| {name} | {mode} | {connections} | {median(runs, 'rps'):,.0f} | "
                      f"{median(runs, 'p50_ms'):.2f} | {median(runs, 'p99_ms'):.2f} | "
                      f"{median(runs, 'p999_ms'):.2f} | {shown} | {errors} |")  # fmt: skip
    rate = args.rate
    print(f"\nBurst: setups at {rate:g}/s for 3 s, {rate * 10:g}/s for 2 s, {rate:g}/s for 5 s, "
          f"open loop over 256 connections; median of {args.runs} rounds")  # fmt: skip
    print("| server | phase | rate | p50 ms | p99 ms | p99.9 ms | max ms | errors |")
    print("|---|---|---|---|---|---|---|---|")
    labels = ("before", "burst", "after")
    for name in names:
        runs = bursts[name]
        errors = sum(r["errors"] + r["mismatches"] for r in runs)
        for number, label in enumerate(labels):
            phases = [r["phases"][number] for r in runs]
            print(f"| {name} | {label} | {phases[0]['rate']:g}/s | {median(phases, 'p50_ms'):.2f} "
                  f"| {median(phases, 'p99_ms'):.2f} | {median(phases, 'p999_ms'):.2f} | "
                  f"{median(phases, 'max_ms'):.2f} | {errors} |")  # fmt: skip


if __name__ == "__main__":
    raise SystemExit(main())
