"""Resident memory of a webhook server under a long stream of calls.

Two phases, each on a freshly started server (pinned to core 0; this client on core 1):

1. `setups`: N setup requests (event 1) for new call ids, never torn down. Every call waits at
   the main menu, so a store without a bound grows forever; ours must level off once it holds
   its maximum number of calls (MemoryStore's bound, 100,000 by default).
2. `calls`: N whole Acme calls (5 requests each, every response checked).

RSS is read from /proc/PID/status (VmRSS) of the server process at start and every 100,000
setups or calls (`--every`). Prints one table and exits.

Usage:
    python bench/memory.py                      # N = 1,000,000 (several minutes)
    python bench/memory.py --calls 200000       # shorter
    python bench/memory.py --servers ours-uvicorn,sdk --calls 200000
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import load  # noqa: E402
import webhook  # noqa: E402


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="RSS of a webhook server over many calls.")
    parser.add_argument("--calls", type=int, default=1_000_000, help="setups, then whole calls")
    parser.add_argument("--every", type=int, default=100_000, help="sample RSS this often")
    parser.add_argument("--servers", default="ours-uvicorn", help="ours-uvicorn, ours-stdlib, sdk")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--phases", default="setups,calls")
    parser.add_argument("--module", type=Path, default=webhook.ROOT / "exported/acme/webhook.py")
    args = parser.parse_args(argv)
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {int(webhook.CLIENT_CORE)})
    names = [n for n in args.servers.split(",") if n]
    for name in names:
        if name not in ("ours-uvicorn", "ours-stdlib", "sdk", "constant"):
            parser.error(f"{name}: memory runs on one process (ours-uvicorn, ours-stdlib, sdk)")
    if any(n.startswith("ours") for n in names) and not args.module.exists():
        print(f"# {args.module} does not exist: the ours-* servers are skipped")
        names = [n for n in names if not n.startswith("ours")]
    expected = load.expected_responses()
    print(
        f"# bench/memory.py: N = {args.calls:,} per phase, RSS every {args.every:,}, "
        f"concurrency {args.concurrency}, logging off",
        flush=True,
    )
    rows: list[tuple[str, str, int, float, float, str]] = []
    with tempfile.TemporaryDirectory(prefix="jaxl-mem-") as tmpdir:
        for name in names:
            server = webhook.Server(name, args.module.resolve())
            for phase in [p for p in args.phases.split(",") if p]:
                mode = "setup" if phase == "setups" else "calls"
                port = webhook.free_port()
                cmd = server.command(port, False, None, "gthread")
                logfile = Path(tmpdir, f"{name}-{phase}.log")
                with webhook.running(cmd, server.env(False, None), logfile) as proc:
                    webhook.wait_ready(port, proc)
                    started = time.perf_counter()
                    rows.append((name, phase, 0, rss_mb(proc.pid), 0.0, ""))

                    def sample(
                        done: int,
                        name: str = name,
                        phase: str = phase,
                        pid: int = proc.pid,
                        t0: float = started,
                    ) -> None:
                        rows.append((name, phase, done, rss_mb(pid), time.perf_counter() - t0, ""))
                        print(
                            f"#  {name} {phase} {done:>9,}  RSS {rows[-1][3]:7.1f} MB", flush=True
                        )

                    result = load.run_python(
                        "127.0.0.1",
                        port,
                        mode,
                        args.concurrency,
                        None,
                        args.calls,
                        expected=expected,
                        progress_every=args.every,
                        on_progress=sample,
                    )
                    note = (
                        f"{result['rps']:.0f} req/s, errors {result['errors']}, "
                        f"mismatches {result['mismatches']}"
                    )
                    last = rows[-1]
                    rows[-1] = (*last[:5], note)
    print()
    head = f"{'server':13} {'phase':6} {'done':>10} {'RSS MB':>8} {'growth MB':>9} {'seconds':>8}"
    print(head)
    print("-" * len(head))
    base: dict[tuple[str, str], float] = {}
    for name, phase, done, rss, seconds, note in rows:
        start = base.setdefault((name, phase), rss)
        print(
            f"{name:13} {phase:6} {done:10,} {rss:8.1f} {rss - start:9.1f} {seconds:8.1f}"
            + (f"  {note}" if note else "")
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
