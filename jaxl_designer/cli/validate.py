"""`jaxl-designer validate FLOW.json`: one line per problem, non-zero exit on errors."""

from __future__ import annotations

import argparse

from ..core.fileformat import load
from ..core.validation import errors, validate

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `validate` verb."""
    parser = subparsers.add_parser("validate", help="check a flow file and list its problems")
    parser.add_argument("flow", help="the flow file (JSON)")
    parser.add_argument("--strict", action="store_true", help="fail on warnings too")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """List every problem of the flow file, `file: severity code where: message`."""
    flow = load(args.flow)
    problems = validate(flow)
    for problem in problems:
        print(f"{args.flow}: {problem}")
    failed = errors(problems) or (args.strict and problems)
    if not problems:
        print(f"{args.flow}: ok ({len(flow)} nodes)")
    return 1 if failed else 0
