"""The `jaxl-designer` command: one verb per module in this package."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from ..core.errors import JaxlDesignerError

__all__ = ["CommandError", "main"]

#: Verb modules, each with `register(subparsers)` that sets `run=function(args) -> exit code`.
VERBS = [
    "validate",
    "diff",
    "interop",
    "call",
    "test",
    "export",
    "serve",
    "explore",
    "render",
    "design",
    "report",
]


class CommandError(JaxlDesignerError):
    """A mistake in how the command was called: printed as one line, exit status 2."""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every verb registered."""
    parser = argparse.ArgumentParser(
        prog="jaxl-designer",
        description="Design, simulate, test and export Jaxl IVR call flows.",
    )
    subparsers = parser.add_subparsers(dest="verb", metavar="VERB", required=True)
    for verb in VERBS:
        importlib.import_module(f"{__name__}.{verb}").register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args))
    except JaxlDesignerError as error:
        print(f"jaxl-designer {args.verb}: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
