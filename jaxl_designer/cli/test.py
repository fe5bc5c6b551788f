"""`jaxl-designer test FLOW.json SCENARIO.json...`: replay scenarios, one PASS/FAIL line each."""

from __future__ import annotations

import argparse

from ..core.fileformat import load
from ..core.scenarios import ScenarioError, run
from ..core.scenarios import load as load_scenario

__all__ = ["register", "run_tests"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `test` verb."""
    parser = subparsers.add_parser("test", help="replay scenario files against a flow")
    parser.add_argument("flow", help="the flow file")
    parser.add_argument("scenarios", nargs="+", metavar="SCENARIO", help="scenario files")
    parser.set_defaults(run=run_tests)


def run_tests(args: argparse.Namespace) -> int:
    """Print PASS or FAIL per scenario; exit 1 on any failure or unreadable scenario."""
    flow = load(args.flow)
    failed = 0
    for path in args.scenarios:
        try:
            result = run(flow, load_scenario(path))
        except (ScenarioError, ValueError) as error:
            print(f"FAIL {error}")
            failed += 1
            continue
        print(result)
        failed += not result.passed
    total = len(args.scenarios)
    print(f"{total - failed} passed, {failed} failed")
    return 1 if failed else 0
