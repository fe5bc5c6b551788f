"""Events per second through `jaxl_designer.core.runtime.Runtime`, in process, no HTTP.

Workloads (each the median of 5 rounds; each round a fresh Runtime with its MemoryStore):

- `acme calls`: whole Acme calls of 5 events (setup, press 2, "123*", press 1, teardown).
- `acme setups`: event 1 for a new call id, never torn down (the store's bound is hit).
- `big-N walks`: a flow of N nodes (`jaxl_designer.core.generate.big_flow(N)` when that module
  exists, else a menu tree built here: menus of 9 keys, leaves that hang up, transfer, or collect
  digits and go back to the top); calls that walk it with keys chosen at random (seeded, 1 in 10
  a key the menu lacks), up to 12 inputs, then a teardown.
- `big-N setups`: event 1 for new call ids on the big flow.

Three columns: `handle` (dict in, dict out), `held` (`respond(held=True)`, then `delivered`
with the turn's delivery: what the servers call, each step kept with its answer until it is
delivered) and `+json` (request bytes parsed with json.loads, the answer serialised with
json.dumps: what a server adds before HTTP).

Usage: python bench/runtime.py [--nodes 1000] [--rounds 5] [--events 100000]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from jaxl_designer.core.examples import acme  # noqa: E402
from jaxl_designer.core.prepare import prepare  # noqa: E402
from jaxl_designer.core.runtime import KEYS, MemoryStore, Runtime  # noqa: E402
from jaxl_designer.core.simulator import request  # noqa: E402


def _document(flow: Any) -> dict[str, Any]:
    if hasattr(flow, "to_document"):
        flow = prepare(flow, None)
        return flow.to_document()  # type: ignore[no-any-return]
    return dict(flow)


def acme_document() -> dict[str, Any]:
    return _document(acme())


def big_document(n: int) -> tuple[dict[str, Any], str]:
    """A flow of `n` nodes and where it came from."""
    try:
        from jaxl_designer.core.generate import big_flow  # type: ignore[import-not-found]
    except ImportError:
        return menu_tree(n), "menu tree built by bench/runtime.py"
    return _document(big_flow(n)), "jaxl_designer.core.generate.big_flow"


def menu_tree(n: int) -> dict[str, Any]:
    """Node i has children 9i+1 .. 9i+9; childless nodes are leaves of three kinds."""
    nodes: dict[str, Any] = {}
    for i in range(n):
        children = [c for c in range(9 * i + 1, 9 * i + 10) if c < n]
        name = f"n{i}"
        if children:
            edges = {str(k + 1): f"n{c}" for k, c in enumerate(children)}
            edges["0"] = "n0"
            nodes[name] = {
                "kind": "menu",
                "prompt": [f"Menu {i}.", "Choose from 1 to 9.", "Press 0 for the top."],
                "edges": edges,
            }
        elif i % 3 == 0:
            nodes[name] = {"kind": "hangup", "prompt": [f"Goodbye from {i}, {{code}}."]}
        elif i % 3 == 1:
            nodes[name] = {"kind": "transfer", "phone": f"+9180000{i:05d}"}
        else:
            nodes[name] = {
                "kind": "collect",
                "prompt": [f"Enter your code for {i}, then hash."],
                "var": "code",
                "terminator": "#",
                "edges": {"ok": "n0"},
            }
    return {"entry": "n0", "nodes": nodes}


def _req(event: int, call_id: int, option: str | None = None, data: str | None = None) -> Any:
    payload = request(event, call_id, option=option, data=data)
    payload["state"]["options"] = None
    return payload


def acme_calls(calls: int) -> list[list[dict[str, Any]]]:
    return [
        [
            _req(1, c),
            _req(2, c, "2"),
            _req(2, c, "2", "123*"),
            _req(2, c, "1"),
            _req(3, c),
        ]
        for c in range(1, calls + 1)
    ]


def setups(count: int) -> list[list[dict[str, Any]]]:
    return [[_req(1, c) for c in range(1, count + 1)]]


def walks(document: dict[str, Any], calls: int, seed: int = 1) -> list[list[dict[str, Any]]]:
    """Random calls through a flow, recorded by running them once."""
    rng = random.Random(seed)
    runtime = Runtime(document, MemoryStore(max_calls=calls + 1))
    out = []
    for c in range(1, calls + 1):
        script = [_req(1, c)]
        turn = runtime.respond(script[0])
        option: str | None = None
        for _ in range(12):
            if turn.waiting_on is None:
                break
            spec = document["nodes"][turn.waiting_on]
            if spec["kind"] == "menu":
                keys = [k for k in spec.get("edges", {}) if k in KEYS]
                option = rng.choice(keys) if keys and rng.random() > 0.1 else "#"
                step = _req(2, c, option)
            else:
                terminator = spec.get("terminator") or ""
                step = _req(2 if option else 1, c, option, f"{rng.randrange(10**5)}{terminator}")
            script.append(step)
            turn = runtime.respond(step)
        script.append(_req(3, c))
        runtime.respond(script[-1])
        out.append(script)
    return out


def measure(
    document: dict[str, Any],
    scripts: list[list[dict[str, Any]]],
    with_json: bool,
    rounds: int,
    held: bool = False,
) -> float:
    """Median events/s over `rounds`, each through a fresh runtime."""
    events = [step for script in scripts for step in script]
    bodies = [json.dumps(e).encode() for e in events] if with_json else []
    rates = []
    for _ in range(rounds):
        runtime = Runtime(document, MemoryStore())
        handle = runtime.handle
        if held:
            respond, delivered = runtime.respond, runtime.delivered
            start = time.perf_counter()
            for event in events:
                delivered(respond(event, held=True).delivery)
        elif with_json:
            loads, dumps = json.loads, json.dumps
            start = time.perf_counter()
            for body in bodies:
                dumps(handle(loads(body))).encode()
        else:
            start = time.perf_counter()
            for event in events:
                handle(event)
        rates.append(len(events) / (time.perf_counter() - start))
    return statistics.median(rates)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Events/s through Runtime, in process.")
    parser.add_argument("--nodes", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--events", type=int, default=100_000, help="events per round, about")
    args = parser.parse_args(argv)

    acme_doc = acme_document()
    big_doc, origin = big_document(args.nodes)
    walked = walks(big_doc, max(1, args.events // 6))
    per_call = sum(len(s) for s in walked) / len(walked)
    workloads = [
        ("acme calls", acme_doc, acme_calls(args.events // 5), 5.0),
        ("acme setups", acme_doc, setups(args.events), 1.0),
        (f"big-{len(big_doc['nodes'])} walks", big_doc, walked, per_call),
        (f"big-{len(big_doc['nodes'])} setups", big_doc, setups(args.events), 1.0),
    ]
    print(
        f"# bench/runtime.py: Python {sys.version.split()[0]}, median of {args.rounds} rounds;"
        f" big flow: {len(big_doc['nodes'])} nodes, {origin}"
    )
    head = f"{'workload':20} {'events':>8} {'ev/call':>7} {'handle ev/s':>12} {'held ev/s':>10}"
    head += f" {'+json ev/s':>11} {'us/event':>9} {'us/held':>8}"
    print(head)
    print("-" * len(head))
    for name, doc, scripts, ev_per_call in workloads:
        count = sum(len(s) for s in scripts)
        plain = measure(doc, scripts, False, args.rounds)
        kept = measure(doc, scripts, False, args.rounds, held=True)
        framed = measure(doc, scripts, True, args.rounds)
        print(
            f"{name:20} {count:8} {ev_per_call:7.1f} {plain:12.0f} {kept:10.0f} {framed:11.0f} "
            f"{1e6 / plain:9.2f} {1e6 / kept:8.2f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
