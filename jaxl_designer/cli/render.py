"""`jaxl-designer render FLOW.json -o OUT`: draw a flow as .svg, .png, .dot or .mmd (Mermaid)."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..core.fileformat import load
from ..drawing.render import RenderError, RenderOptions, render_file
from . import CommandError

__all__ = ["register", "run"]

FORMATS = (".svg", ".png", ".dot", ".mmd")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `render` verb."""
    parser = subparsers.add_parser(
        "render", help="draw a flow to an .svg, .png, .dot or .mmd (Mermaid) file"
    )
    parser.add_argument("flow", help="the flow file (JSON)")
    parser.add_argument(
        "-o",
        "--out",
        required=True,
        metavar="OUT",
        help="the drawing to write; its suffix names the format",
    )
    parser.add_argument(
        "--rankdir", choices=("TB", "LR"), default="TB", help="top to bottom (TB) or left to right"
    )
    parser.add_argument(
        "--words", type=int, default=6, metavar="N", help="words of each prompt shown (default 6)"
    )
    parser.add_argument(
        "--timeout", type=float, default=60.0, metavar="S", help="give up on dot after S seconds"
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Draw the flow file to `args.out`; print what was written."""
    if Path(args.out).suffix.lower() not in FORMATS:
        raise CommandError(f"{args.out}: unknown drawing format (use {', '.join(FORMATS)})")
    flow = load(args.flow)
    options = RenderOptions(rankdir=args.rankdir, prompt_words=max(args.words, 0))
    try:
        written = render_file(flow, args.out, options, timeout=args.timeout)
    except RenderError as error:
        raise CommandError(str(error)) from None
    except OSError as error:
        raise CommandError(f"{args.out}: cannot write: {error.strerror or error}") from None
    print(f"{written}: {len(flow)} nodes drawn")
    return 0
