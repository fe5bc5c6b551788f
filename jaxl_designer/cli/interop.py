"""`jaxl-designer import-jaxl` and `export-jaxl`: Jaxl's IVR schema in and out, with losses."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from ..core.fileformat import load, save
from ..core.files import write_atomic
from ..interop import InteropError, from_jaxl, to_jaxl
from . import CommandError

__all__ = ["export_jaxl", "import_jaxl", "register"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `import-jaxl` and `export-jaxl` verbs."""
    parser = subparsers.add_parser(
        "import-jaxl", help="read a Jaxl IVR-simulator schema into a flow file"
    )
    parser.add_argument("input", metavar="IN.json", help="the Jaxl schema (ivrs, phones, ...)")
    parser.add_argument("-o", "--output", metavar="FLOW.json", required=True)
    parser.set_defaults(run=import_jaxl)
    parser = subparsers.add_parser(
        "export-jaxl", help="write a flow as a Jaxl IVR-simulator schema"
    )
    parser.add_argument("flow", metavar="FLOW.json", help="the flow file")
    parser.add_argument("-o", "--output", metavar="OUT.json", required=True)
    parser.set_defaults(run=export_jaxl)


def _read_json(path: str) -> Any:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CommandError(f"{path}: no such file") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise CommandError(f"{path}: not valid JSON: {error}") from None
    except OSError as error:
        raise CommandError(f"{path}: cannot read: {error.strerror}") from None


def _report(source: str, lines: list[str]) -> None:
    for line in lines:
        print(f"{source}: {line}", file=sys.stderr)


def import_jaxl(args: argparse.Namespace) -> int:
    """Write the flow; each feature that did not map is one line on stderr."""
    try:
        result = from_jaxl(_read_json(args.input), name=Path(args.input).stem)
    except InteropError as error:
        raise CommandError(f"{args.input}: {error}") from None
    save(result.flow, args.output)
    _report(args.input, result.unmapped)
    print(f"wrote {args.output} ({len(result.flow)} nodes, {len(result.unmapped)} not mapped)")
    return 0


def export_jaxl(args: argparse.Namespace) -> int:
    """Write the Jaxl schema; each part of the flow left out is one line on stderr."""
    result = to_jaxl(load(args.flow))
    text = json.dumps(result.document, indent=2, ensure_ascii=False) + "\n"
    write_atomic(args.output, text)
    _report(args.flow, result.unmapped)
    count = len(result.document["ivrs"])
    print(f"wrote {args.output} ({count} IVRs, {len(result.unmapped)} not mapped)")
    return 0
