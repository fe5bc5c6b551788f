"""`jaxl-designer explore FLOW.json`: try every input a caller can give; exit 1 on traps."""

from __future__ import annotations

import argparse

from ..core.explorer import explore
from ..core.fileformat import load
from . import CommandError

__all__ = ["register", "run"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `explore` verb."""
    parser = subparsers.add_parser(
        "explore",
        help="call a flow every way a caller can: coverage, endless calls, dead ends",
    )
    parser.add_argument("flow", help="the flow file (JSON)")
    parser.add_argument(
        "--depth", type=int, metavar="N", help="at most N key presses or entries per call"
    )
    parser.add_argument("--env", help="the environment whose values fill {{parameters}}")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Print the exploration report; 1 when a call can never end or a caller gets stuck."""
    if args.depth is not None and args.depth < 0:
        raise CommandError(f"--depth {args.depth}: give a number of steps, 0 or more")
    flow = load(args.flow)
    try:
        exploration = explore(flow, depth=args.depth, env=args.env)
    except ValueError as error:  # an unknown environment, a piece that cannot be built
        raise CommandError(str(error)) from None
    print(exploration.report())
    return 0 if exploration.ok else 1
