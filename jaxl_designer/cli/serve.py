"""`jaxl-designer serve FLOW.json`: answer Jaxl webhook requests for a flow, no file generated."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..core.fileformat import load
from ..core.prepare import prepare
from ..core.validation import errors, validate
from ..webhook.server import serve_flow, serve_flow_asyncio
from ..webhook.settings import Settings
from . import CommandError

__all__ = ["register", "run"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `serve` verb."""
    parser = subparsers.add_parser("serve", help="serve a flow as a Jaxl webhook over HTTP")
    parser.add_argument("flow", help="the flow file (JSON)")
    parser.add_argument("--env", help="the environment whose values fill {{parameters}}")
    Settings.add_arguments(parser)
    parser.add_argument(
        "--asyncio",
        action="store_true",
        help="serve on one asyncio event loop (uvloop's when installed): the fastest",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Refuse bad settings, an address others reach without a token, or a flow with errors;
    otherwise serve the flow until interrupted."""
    try:
        settings = Settings.from_args(args)
    except ValueError as error:
        raise CommandError(str(error)) from None
    refusal = settings.open_to_all()
    if refusal is not None:  # as the exported module refuses it
        raise CommandError(refusal)
    path = Path(args.flow)
    flow = load(path)
    found = errors(validate(flow, path.parent))
    if found:
        listed = "; ".join(str(problem) for problem in found)
        raise CommandError(f"{args.flow}: {len(found)} error(s): {listed}")
    try:
        document = prepare(flow, args.env, path.parent).to_document()
    except ValueError as error:
        raise CommandError(str(error)) from None
    if args.asyncio:
        return serve_flow_asyncio(document, settings)
    return serve_flow(document, settings)
