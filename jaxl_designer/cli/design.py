"""`jaxl-designer design FLOW.json`: the designer as a web page for a flow file, saved as edited."""

from __future__ import annotations

import argparse
import sys

from ..core.report import LogError, read
from ..web.server import DesignerPage, make_server
from . import CommandError

__all__ = ["register", "run"]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `design` verb."""
    parser = subparsers.add_parser(
        "design", help="open the designer as a web page for a flow file (saved after each edit)"
    )
    parser.add_argument("flow", help="the flow file (JSON); a new one is made on the first edit")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    parser.add_argument("--port", type=int, default=8765, help="port to listen on (8765)")
    parser.add_argument(
        "--traffic",
        metavar="LOG",
        nargs="+",
        help="draw the real calls of these request logs over the flow (plain or gzip)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Serve the designer page until interrupted."""
    if not 0 <= args.port <= 65535:
        raise CommandError(f"--port {args.port}: not a port number (0 to 65535)")
    page = DesignerPage(args.flow)
    if args.traffic:
        try:
            page.editor.show_traffic(read(args.traffic))
        except LogError as error:
            raise CommandError(str(error)) from None
    try:
        server = make_server(page, args.host, args.port)
    except OSError as error:
        raise CommandError(f"cannot listen on {args.host}:{args.port}: {error.strerror}") from None
    host, port = str(server.server_address[0]), int(server.server_address[1])
    print(f"designing {args.flow} at http://{host}:{port}/ (Ctrl+C stops)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("stopped", file=sys.stderr)
    finally:
        server.server_close()
    return 0
