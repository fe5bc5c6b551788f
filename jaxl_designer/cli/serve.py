"""`jaxl-designer serve FLOW.json`: answer Jaxl webhook requests for a flow, no file generated."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from ..fileformat import load
from ..prepare import prepare
from ..server import serve_flow
from ..validation import errors, validate
from . import CommandError

__all__ = ["register", "run"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `serve` verb."""
    parser = subparsers.add_parser("serve", help="serve a flow as a Jaxl webhook over HTTP")
    parser.add_argument("flow", help="the flow file (JSON)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=9919, help="port to listen on (9919)")
    parser.add_argument(
        "--redis-url",
        default=os.environ.get("JAXL_REDIS_URL") or None,
        help="keep call state in Redis (env JAXL_REDIS_URL)",
    )
    parser.add_argument(
        "--token",
        default=os.environ.get("JAXL_WEBHOOK_TOKEN") or None,
        help="require this secret in X-Jaxl-Token or ?token= (env JAXL_WEBHOOK_TOKEN)",
    )
    parser.add_argument("--env", help="the environment whose values fill {{parameters}}")
    parser.add_argument("--no-log", action="store_true", help="no JSON line per request")
    parser.add_argument("--ttl", type=int, default=3600, help="seconds an idle call is kept")
    parser.add_argument(
        "--max-calls", type=int, default=100_000, help="calls kept in memory without Redis"
    )
    parser.add_argument(
        "--timeout", type=float, default=30.0, help="seconds before an idle connection is closed"
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Refuse a flow with errors; otherwise serve it until interrupted."""
    if args.max_calls < 1 or args.ttl < 1 or args.timeout <= 0:
        raise CommandError("--max-calls, --ttl and --timeout must be positive")
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
    return serve_flow(
        document,
        host=args.host,
        port=args.port,
        redis_url=args.redis_url,
        token=args.token,
        log=not args.no_log,
        ttl=args.ttl,
        max_calls=args.max_calls,
        timeout=args.timeout,
    )
