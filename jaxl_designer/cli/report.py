"""`jaxl-designer report FLOW.json LOG...`: where real callers went, drawn; real paths as tests."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..core.fileformat import load
from ..core.files import write_atomic, write_atomic_bytes
from ..core.realcalls import altered, altered_edges, group, scenarios
from ..drawing.backend import RenderError
from ..drawing.diff import render_diff
from ..drawing.traffic import TrafficReport
from . import CommandError

__all__ = ["register", "run"]

FORMATS = (".html", ".svg", ".png", ".dot")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `report` verb."""
    parser = subparsers.add_parser(
        "report", help="count the calls in request logs and draw them on the flow"
    )
    parser.add_argument("flow", help="the flow file the calls ran on")
    parser.add_argument("logs", nargs="+", metavar="LOG", help="request logs (plain or gzip)")
    parser.add_argument(
        "-o", "--out", metavar="OUT", help="write the report: .html, .svg, .png or .dot"
    )
    parser.add_argument("--top", type=int, default=10, metavar="N", help="top paths shown")
    parser.add_argument(
        "--scenarios",
        metavar="DIR",
        help="write each real path as a scenario file here (replay with 'test')",
    )
    parser.add_argument(
        "--per-path", type=int, default=1, metavar="N", help="scenarios kept per path (default 1)"
    )
    parser.add_argument(
        "--against",
        metavar="NEW.json",
        help="replay the real paths on a new revision and list those it alters (exit 1 if any)",
    )
    parser.add_argument(
        "--diff",
        metavar="OUT",
        help="with --against: draw the change (.svg or .png), the real paths it alters heavy",
    )
    parser.add_argument(
        "--max-open",
        type=int,
        default=100_000,
        metavar="N",
        help="calls in progress kept while reading (default 100000)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Print the counts; write the drawing, scenarios and the replay as asked."""
    if args.out and Path(args.out).suffix.lower() not in FORMATS:
        raise CommandError(f"{args.out}: unknown report format (use {', '.join(FORMATS)})")
    if args.diff and not args.against:
        raise CommandError("--diff draws a change: give the new flow with --against")
    if args.diff and Path(args.diff).suffix.lower() not in (".svg", ".png"):
        raise CommandError(f"{args.diff}: unknown drawing format (use .svg or .png)")
    flow = load(args.flow)
    new = load(args.against) if args.against else None
    wanted = bool(args.scenarios or new)
    paths, traffic = group(args.logs, per_path=max(args.per_path, 1) if wanted else 0,
                           max_open=max(args.max_open, 1))  # fmt: skip
    shown = TrafficReport(flow, traffic)
    print(shown)
    if args.out:
        try:
            written = shown.save(args.out, top=args.top)
        except RenderError as error:
            raise CommandError(str(error)) from None
        except OSError as error:
            raise CommandError(f"{args.out}: cannot write: {error.strerror or error}") from None
        print(f"{written}: written")
    if not wanted:
        return 0
    made, failed = scenarios(flow, paths)
    for path, logged in failed:
        where = "{}:{}".format(*logged.where)
        print(f"not rebuilt ({where}, call {logged.call_id}): {path}: does it run on this flow?")
    if args.scenarios:
        folder = Path(args.scenarios)
        try:
            folder.mkdir(parents=True, exist_ok=True)
            for number, scenario in enumerate(made, 1):
                text = json.dumps(scenario, indent=2, ensure_ascii=False) + "\n"
                write_atomic(folder / f"real-{number:03d}.json", text)
        except OSError as error:
            raise CommandError(f"{folder}: cannot write: {error.strerror or error}") from None
        print(f"{folder}: {len(made)} scenarios for {len(paths)} real paths")
    if new is None:
        return 0
    changed = altered(new, made)
    calls = sum(int(scenario.get("calls", 0)) for scenario, _ in changed)
    print(
        f"{args.against}: {len(changed)} of {len(made)} real paths ({calls} calls) answer otherwise"
    )
    for _, result in changed:
        print(result)
    if args.diff:
        fmt = Path(args.diff).suffix.lower()[1:]
        try:
            drawn = render_diff(flow, new, fmt, real=altered_edges(changed))
            write_atomic_bytes(args.diff, drawn)
        except RenderError as error:
            raise CommandError(str(error)) from None
        except OSError as error:
            raise CommandError(f"{args.diff}: cannot write: {error.strerror or error}") from None
        print(f"{args.diff}: written")
    return 1 if changed else 0
