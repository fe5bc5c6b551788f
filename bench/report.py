"""`jaxl-designer report` on a large log: time and peak RSS of the reading process.

The log is made by the webhook's own app (in process) answering random Acme calls, written
gzip-compressed as it goes, so this script never holds it; the report then runs as its own
process (`jaxl-designer report`), whose peak RSS is read with `resource.getrusage`.

    .venv/bin/python bench/report.py                 # 1,000,000 lines
    .venv/bin/python bench/report.py --lines 100000
"""

from __future__ import annotations

import argparse
import gzip
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from callers import SCRIPTS  # noqa: E402

from jaxl_designer.core.examples import acme  # noqa: E402
from jaxl_designer.core.fileformat import save  # noqa: E402
from jaxl_designer.core.runtime import Runtime, request  # noqa: E402
from jaxl_designer.webhook.app import WebhookApp  # noqa: E402

HEADERS = {"content-type": "application/json"}


def make_log(path: Path, lines: int, seed: int = 1) -> int:
    """Write at least `lines` log lines of random Acme calls, 200 calls overlapping at a time."""
    import random

    rng = random.Random(seed)
    written = 0
    with gzip.open(path, "wt", compresslevel=1) as out:
        app = WebhookApp(Runtime(acme().to_document()), log=lambda line: out.write(line + "\n"))
        live: list[list[dict]] = []
        call_id = 0
        while written < lines or live:
            while written < lines and len(live) < 200:
                call_id += 1
                script = rng.choice(SCRIPTS["acme"])
                live.append(
                    [request(e, call_id, option=o, data=d) for e, o, d in reversed(script.actions)]
                )
            call = live[rng.randrange(len(live))]
            app.handle("POST", "/webhook/", "", HEADERS, json.dumps(call.pop()).encode())
            written += 1
            if not call:
                live.remove(call)
    return written


def main() -> None:
    """Make the log, then time the report over it."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        log, flow, page = (
            Path(folder, "acme.log.gz"),
            Path(folder, "acme.json"),
            Path(folder, "r.html"),
        )
        save(acme(), flow)
        started = time.perf_counter()
        written = make_log(log, args.lines)
        made = time.perf_counter() - started
        size = log.stat().st_size
        command = [str(Path(sys.executable).parent / "jaxl-designer"), "report", str(flow),
                   str(log), "-o", str(page)]  # fmt: skip
        started = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, check=True)
        took = time.perf_counter() - started
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(done.stdout.splitlines()[0])
    print(f"log: {written:,} lines, {size / 1e6:.1f} MB gzip, made in {made:.1f} s")
    print("| lines | log (gzip) | report time | lines/s | peak RSS |")
    print("|---|---|---|---|---|")
    print(f"| {written:,} | {size / 1e6:.1f} MB | {took:.1f} s | {written / took:,.0f} | "
          f"{peak:.0f} MiB |")  # fmt: skip


if __name__ == "__main__":
    main()
