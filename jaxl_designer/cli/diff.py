"""`jaxl-designer diff OLD.json NEW.json [-o diff.svg]`: what changed; exit 1 if anything did."""

from __future__ import annotations

import argparse

from ..core.diff import diff
from ..core.fileformat import load
from ..core.files import write_atomic
from ..drawing.backend import RenderError
from ..drawing.diff import render_diff_svg
from . import CommandError

__all__ = ["register", "run"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `diff` verb."""
    parser = subparsers.add_parser(
        "diff", help="list what changed between two flow files (exit 1 if anything did)"
    )
    parser.add_argument("old", help="the old flow file")
    parser.add_argument("new", help="the new flow file")
    parser.add_argument("-o", "--output", metavar="SVG", help="also draw the changes to this file")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Print one line per change, like diff(1): 0 when the flows are the same, 1 when not."""
    old, new = load(args.old), load(args.new)
    changes = diff(old, new)
    print(changes)
    if changes and changes.layout_moved:
        print("(node positions moved too; layout is not compared)")
    if args.output:
        try:
            svg = render_diff_svg(old, new)
        except RenderError as error:
            raise CommandError(f"cannot draw {args.output}: {error}") from None
        try:
            write_atomic(args.output, svg)
        except OSError as error:
            raise CommandError(f"{args.output}: cannot write: {error.strerror or error}") from None
    return 1 if changes else 0
