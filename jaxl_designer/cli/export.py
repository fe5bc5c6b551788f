"""`jaxl-designer export FLOW.json -o DIR`: write the flow's standalone webhook module."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..core.fileformat import load
from ..exporter.export import ExportError, export, export_examples
from . import CommandError

__all__ = ["register", "run"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `export` verb."""
    parser = subparsers.add_parser(
        "export", help="write flow.json and a standalone webhook.py for a flow"
    )
    parser.add_argument("flow", nargs="?", help="the flow file (JSON)")
    parser.add_argument("-o", "--out", metavar="DIR", help="the folder to write")
    parser.add_argument(
        "--examples", metavar="DIR", help="export every example flow into DIR/<name>/ instead"
    )
    parser.add_argument("--env", help="the environment whose values fill {{parameters}}")
    parser.add_argument(
        "--force", action="store_true", help="overwrite files jaxl-designer did not write"
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Export the flow; print the warnings, then what was written."""
    if args.examples:
        if args.flow or args.out:
            raise CommandError("--examples takes no flow file and no -o")
        try:
            results = export_examples(args.examples)
        except ExportError as error:
            raise CommandError(str(error)) from None
        for done in results:
            print(done)
        return 0
    if not args.flow or not args.out:
        raise CommandError("give a flow file and -o DIR (or --examples DIR)")
    path = Path(args.flow)
    flow = load(path)
    try:
        result = export(flow, args.out, force=args.force, env=args.env, base=path.parent)
    except ExportError as error:
        raise CommandError(str(error)) from None
    for problem in result.warnings:
        print(f"{args.flow}: {problem}")
    print(result)
    return 0
